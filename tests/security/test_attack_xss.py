"""Stored cross-site scripting: hostile text typed into every free-text field, then every page, PDF, download and
API answer that shows it.

The world (``tests/security/conftest.py``) writes the hostile text — a script element, attribute breakouts with
event handlers, a ``javascript:`` URL, a ``</textarea>`` breakout, template syntax, an RTL override, full-width
brackets — through the real services into every free-text field a person (or an old database, or a partner
system) can fill. Then each of several people walks the site from the home page, following every link it shows
(``walk``), and every answer is checked: HTML pages run none of it (no event-handler attribute, no script URL, no
inline script that alerts, none of the vectors raw), PDFs show it as literal text and never fail to render, the
discovery packet's members likewise, and the API returns it verbatim as JSON.

A model text field that is neither filled by the world nor listed below with a reason fails
``test_every_free_text_field_is_filled_or_explained``: a new field is attacked as soon as it exists.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections import Counter

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from tests.security.conftest import (
    COMBO,
    HOSTILE_URL,
    LONG,
    hostile,
    pdf_text,
    script_problems,
    shows_hostile_text,
    squashed,
    vectors_in,
    walk,
)

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"

#: Text fields nobody types: the application writes them (numbers, codes, hashes, months, paths, links).
WRITTEN_BY_THE_APPLICATION = {
    "core.Counter.key": "the name of a number sequence, chosen in code",
    "core.Notification.url": "a link built with reverse()",
    "accounts.User.password": "a password hash",
    "audit.AuditEvent.actor_username": "copied from the user name, which is format-checked",
    "audit.AuditEvent.actor_roles": "role codes",
    "audit.AuditEvent.actor_agency": "the agency code, which is format-checked",
    "audit.AuditEvent.action": "an event name chosen in code",
    "audit.AuditEvent.object_type": "a model label",
    "audit.AuditEvent.object_id": "a database key",
    "audit.AuditEvent.source": "the client address or 'cli'",
    "audit.AuditEvent.prev_hash": "a SHA-256",
    "audit.AuditEvent.hash": "a SHA-256",
    "cases.Case.lab_number": "numbered by the laboratory",
    "cases.Case.received_month": "YYYY-MM",
    "intake.Submission.reference": "numbered by the laboratory",
    "intake.Submission.receipt_number": "numbered by the laboratory",
    "evidence.StorageLocation.code": "the barcode, numbered LOC…",
    "evidence.Item.label": "case number and item number",
    "evidence.CustodyEvent.prev_hash": "a SHA-256",
    "evidence.CustodyEvent.hash": "a SHA-256",
    "evidence.Shipment.reference": "numbered by the laboratory",
    "evidence.ShipmentResult.sha256": "a SHA-256",
    "evidence.Destruction.reference": "numbered by the laboratory",
    "lab.ServiceRequest.received_month": "YYYY-MM",
    "lab.ServiceRequest.released_month": "YYYY-MM",
    "lab.Attachment.sha256": "a SHA-256",
    "lab.Signature.content_hash": "a SHA-256",
    "lab.Worksheet.reference": "numbered by the laboratory",
    "reports.Report.number": "numbered by the laboratory",
    "reports.ReportVersion.sha256": "a SHA-256",
    "reports.ReportVersion.content_hash": "a SHA-256",
    "deaths.DeathInvestigation.number": "numbered by the laboratory",
    "deaths.DeathInvestigation.month": "YYYY-MM",
    "legacy.ImportBatch.number": "numbered by the laboratory",
    "legacy.ImportBatch.report_dir": "a folder the import chooses",
    "legacy.ImportBatch.upload_dir": "a folder the import chooses",
    "legacy.Rejection.code": "a category chosen in code (missing, unknown_code, …)",
    "legacy.LegacyRecord.legacy_source": "import bookkeeping (the fingerprints of records brought over), never shown",
    "legacy.LegacyRecord.legacy_id": "import bookkeeping, never shown",
    "legacy.LegacyRecord.fingerprint": "a SHA-256",
    "api.PartnerToken.prefix": "random hex",
    "api.PartnerToken.key_hash": "a SHA-256",
    "api.IdempotencyRecord.key": "a partner system's Idempotency-Key header: compared, never shown on a page",
    "api.IdempotencyRecord.method": "the HTTP method",
    "api.IdempotencyRecord.path": "the request path, never shown on a page",
    "api.IdempotencyRecord.fingerprint": "a SHA-256",
    "api.IdempotencyRecord.location": "a URL built with reverse()",
    "api.WebhookSubscription.secret": "random hex",
    "api.WebhookDelivery.last_error": "the HTTP status or the network error of a delivery",
}


def _model_field_refuses(label: str):
    def check(world):
        app_model, name = label.rsplit(".", 1)
        model = apps.get_model(app_model)
        model._meta.get_field(name).clean(hostile(model._meta.get_field(name).max_length), None)

    return check


def _icd10_refuses(world):
    from forensis.core import icd10

    icd10.clean(hostile(8))


def _retention_prefix_refuses(world):
    from forensis.evidence import disposition

    disposition.save_retention_rule(world.users["manager"], None, offence_prefix=hostile(8), retain_years=1)


def _token_name_refuses(world):
    from datetime import timedelta

    from django.utils import timezone

    from forensis.api import tokens

    tokens.issue_token(
        world.users["admin"],
        name=hostile(60),
        agency=world.agencies["police"],
        resources=["cases"],
        access="read",
        expires_at=timezone.now() + timedelta(days=1),
    )


#: Text fields a person types that accept only a format (a code, an e-mail address, a URL): how the hostile text
#: is refused. A refusal is proved by ``test_format_checked_fields_refuse_the_hostile_text``.
FORMAT_CHECKED = {
    "accounts.Agency.code": _model_field_refuses("accounts.Agency.code"),
    "accounts.Agency.email": _model_field_refuses("accounts.Agency.email"),
    "accounts.User.username": _model_field_refuses("accounts.User.username"),
    "accounts.User.email": _model_field_refuses("accounts.User.email"),
    "reports.CaseContact.email": _model_field_refuses("reports.CaseContact.email"),
    "lab.Discipline.code": _model_field_refuses("lab.Discipline.code"),
    "lab.Method.code": _model_field_refuses("lab.Method.code"),
    "deaths.AutopsyRecord.immediate_icd10": _icd10_refuses,
    "deaths.AutopsyRecord.antecedent_icd10": _icd10_refuses,
    "deaths.AutopsyRecord.underlying_icd10": _icd10_refuses,
    "evidence.RetentionRule.offence_prefix": _retention_prefix_refuses,
    "api.PartnerToken.name": _token_name_refuses,
}
#: Fields whose hostile value is not the hostile text itself (a URL cannot hold spaces): what to look for instead.
SPECIAL_PROBES = {"api.WebhookSubscription.url": HOSTILE_URL}

#: Result fields (``lab.results``) of kind "text", by discipline: the world records a toxicology result.
RESULT_TEXT_COVERED = {("toxicology", "analyte")}
#: The others, shown by the same ``describe_result`` on the same pages and PDFs as the analyte.
RESULT_TEXT_SAME_PATH = {
    ("seized-drugs", "substance"),
    ("firearms", "ibis_entry"),
    ("ibis", "ibis_entry"),
    ("ibis", "findings"),
    ("pathology", "findings"),
}


def free_text_fields() -> list[tuple[str, models.Field]]:
    """Every CharField and TextField of Forensis's models that is not a choice among fixed values."""
    found = []
    for model in apps.get_models():
        if not model.__module__.startswith("forensis."):
            continue
        for field in model._meta.get_fields():
            if isinstance(field, models.CharField | models.TextField) and not field.choices:
                found.append((f"{model._meta.label}.{field.name}", field))
    return found


def test_every_free_text_field_is_filled_or_explained(db, hostile_world):
    """Each free-text field holds the hostile text somewhere, or is listed above as written by the application or
    format-checked. A field added later fails here until the world fills it or it is listed with its reason."""
    missing, filled, vectors = [], [], 0
    for label, field in free_text_fields():
        if label in WRITTEN_BY_THE_APPLICATION or label in FORMAT_CHECKED:
            continue
        probe = SPECIAL_PROBES.get(label, COMBO[: min(field.max_length or 23, 23)])
        values = field.model.objects.filter(**{f"{field.name}__contains": probe}).values_list(field.name, flat=True)
        if not values:
            missing.append(f"{label} (max_length {field.max_length})")
            continue
        filled.append(label)
        vectors += max(len(vectors_in(value)) for value in values)
    assert not missing, "free-text fields the attack never filled (fill them in build_world or list them): " + (
        ", ".join(missing)
    )
    stale = sorted(
        (set(WRITTEN_BY_THE_APPLICATION) | set(FORMAT_CHECKED)) - {label for label, _f in free_text_fields()}
    )
    assert not stale, f"listed fields that no longer exist: {stale}"
    print(f"\n{len(filled)} free-text fields hold the hostile text ({vectors} field × vector pairs)")


def test_every_text_result_field_is_filled_or_explained(db, hostile_world):
    from forensis.lab.models import Result
    from forensis.lab.results import RESULT_FIELDS, fields_for

    text_fields = {
        (code, spec.name) for code in [*RESULT_FIELDS, "pathology"] for spec in fields_for(code) if spec.kind == "text"
    }
    for discipline, name in RESULT_TEXT_COVERED:
        stored = Result.objects.filter(examination__request__discipline__code=discipline).values_list("data", flat=True)
        assert any(data.get(name) == LONG for data in stored), (discipline, name)
    assert text_fields == RESULT_TEXT_COVERED | RESULT_TEXT_SAME_PATH, "a text result field is new: attack it"


@pytest.mark.parametrize("label", sorted(FORMAT_CHECKED))
def test_format_checked_fields_refuse_the_hostile_text(db, hostile_world, label):
    check = FORMAT_CHECKED[label]
    with pytest.raises(ValidationError):
        check(hostile_world)


@pytest.mark.parametrize("address", [LONG, "javascript:alert(1)", "data:text/html,<script>alert(1)</script>"])
def test_webhook_addresses_refuse_script_urls_and_the_hostile_text(address):
    """The webhook address is shown on the token's page: only http(s) addresses without spaces are taken (the
    world stores the hostile text that survives that rule, ``HOSTILE_URL``)."""
    field = apps.get_model("api.WebhookSubscription")._meta.get_field("url")
    with pytest.raises(ValidationError):
        field.clean(address, None)


def test_the_page_checker_sees_each_vector_raw_and_none_escaped():
    """The check every page goes through: the hostile text pasted raw into a text node, a double-quoted and a
    single-quoted attribute, a textarea or a link is caught; the same text escaped (as Django escapes) is not."""
    raw_pages = [
        f"<p>{COMBO}</p>",
        f'<input value="{COMBO}">',
        f"<input value='{COMBO[46:]}'>",
        f"<textarea>{COMBO}</textarea>",
        f'<a href="{LONG}">x</a>',
        "<p>alert(3)49 2026</p>",
    ]
    for page in raw_pages:
        assert script_problems(page), page
    escaped = escape(LONG)
    assert script_problems(f'<p>{escaped}</p><input value="{escaped}"><textarea>{escaped}</textarea>') == []
    assert script_problems(f'<a href="/search?q={escaped}">x</a>') == []
    data = json.dumps({"label": COMBO}).replace("<", "\\u003C").replace(">", "\\u003E")
    assert script_problems(f'<script id="chart" type="application/json">{data}</script>') == []


# --- walking the site -------------------------------------------------------------------------------------------

#: Who walks: the laboratory's superuser sees nearly every page; the others see the pages of their role (the
#: officer's portal, the prosecutor's case and discovery packet, the analyst's examination).
WALKERS = ("admin", "officer", "prosecutor", "analyst")


@pytest.fixture(scope="module")
def walks(hostile_world) -> dict:
    found = {}
    for key in WALKERS:
        client = Client()
        client.force_login(hostile_world.users[key], backend=MODEL_BACKEND)
        found[key] = walk(client)
    return found


def _html(pages):
    return [page for page in pages if page.content_type.startswith("text/html")]


@pytest.mark.parametrize("walker", WALKERS)
def test_pages_never_run_the_hostile_text(db, walks, walker):
    pages = walks[walker]
    broken = [f"{page.status} {page.url} (linked from {page.found_on})" for page in pages if page.status >= 500]
    assert not broken, "pages that failed: " + "; ".join(broken)
    problems = {page.url: found for page in _html(pages) if (found := script_problems(page.text))}
    assert not problems, "pages that would run the hostile text:\n" + "\n".join(
        f"  {url}: {found[:3]}" for url, found in problems.items()
    )
    shown = [page.url for page in _html(pages) if shows_hostile_text(page.text)]
    assert len(shown) >= 10, f"{walker} saw the hostile text on only {shown}: the walk did not reach the data"
    kinds = Counter(page.content_type.split(";")[0] for page in pages)
    print(f"\n{walker}: {len(pages)} answers {dict(kinds)}, hostile text shown escaped on {len(shown)} pages")


def test_the_pages_that_show_each_record_show_the_hostile_text_escaped(db, hostile_world, walks):
    """The detail pages, lists and edit forms of every kind of record were reached, and each displayed the text."""
    w = hostile_world
    expected = [
        reverse("cases:detail", args=[w.case.lab_number]),
        reverse("intake:detail", args=[w.submission.reference]),
        reverse("intake:list"),
        reverse("evidence:item", args=[w.blood.label]),
        reverse("evidence:item", args=[w.sub_item.label]),
        reverse("evidence:location", args=[w.location.code]),
        reverse("evidence:shipment", args=[w.shipment.reference]),
        reverse("evidence:destruction", args=[w.destruction.reference]),
        reverse("evidence:retention_rules"),
        reverse("lab:request", args=[w.request.pk]),
        reverse("lab:methods"),
        reverse("lab:instruments"),
        reverse("lab:reagent_lots"),
        reverse("lab:checklists"),
        reverse("reports:detail", args=[w.report.number]),
        reverse("reports:list"),
        reverse("deaths:detail", args=[w.investigation.number]),
        reverse("deaths:list"),
        reverse("accounts:user_list"),
        reverse("accounts:agency_list"),
        reverse("accounts:user_edit", args=[w.users["officer"].pk]),
        reverse("intake:kits"),
        reverse("api_tokens:token_detail", args=["partner-police"]),
        reverse("audit:event_list"),
        reverse("legacy:detail", args=[w.batch.number]),
        reverse("statistics:population"),
    ]
    pages = {page.url: page for page in walks["admin"]}
    unreached = [url for url in expected if url not in pages]
    assert not unreached, f"the walk never reached {unreached}"
    # Every page names the signed-in person (whose name is hostile too): a page shows a record's text when it holds
    # the text more often than a page of the site's frame alone does.
    frame = escaped_count(pages[reverse("accounts:change_password")].text)
    silent = [url for url in expected if escaped_count(pages[url].text) <= frame]
    assert not silent, f"pages that do not show their records' hostile text (escaped): {silent}"
    # the forms filled in: the officer's draft, the analyst's examination in progress
    for walker, url in (
        ("officer", reverse("intake:edit", args=[w.draft.reference])),
        ("analyst", reverse("lab:examination", args=[w.request.pk])),
    ):
        seen = {page.url: page for page in walks[walker]}
        assert url in seen, f"{walker} never reached {url}"
        frame = escaped_count(seen[reverse("accounts:change_password")].text)
        assert escaped_count(seen[url].text) > frame and "<textarea" in seen[url].text, url


def escaped_count(page: str) -> int:
    return page.count("&lt;svg onload=alert(1)&gt;")


def test_edit_forms_keep_the_hostile_text_inside_their_fields(db, hostile_world, walks):
    """In a form the text sits in a value="…" attribute or inside <textarea>: it must come back out unchanged
    (escaped once, never twice, and never closing the element)."""
    pages = {page.url: page for page in walks["admin"]}
    police = hostile_world.agencies["police"]
    agency_form = pages[reverse("accounts:agency_edit", args=[police.pk])].text
    death_form = pages[reverse("deaths:edit", args=[hostile_world.investigation.number])].text
    assert f'value="{escape(police.name)}"' in agency_form
    textarea = re.search(r"<textarea[^>]*>\s*(.*?)</textarea>", death_form, re.S)
    assert textarea and "&lt;/textarea&gt;" in textarea.group(1) and "&amp;lt;" not in textarea.group(1)
    assert death_form.count("</textarea>") == death_form.count("<textarea")


# --- PDFs, packets, downloads ---------------------------------------------------------------------------------------

#: Vectors a PDF must show literally (after whitespace is squashed: the PDF wraps long values anywhere).
LITERAL_IN_PDFS = ('"><svg onload=alert(1)>', "<script>alert(2)</script>")


#: Where uploaded files are downloaded (their bytes are the uploader's, not a PDF Forensis drew).
UPLOADED_FILES = re.compile(r"^/(requests/\d+/attachments|shipments/[^/]+/results)/\d+/$")


def _pdfs(walks):
    seen = {}
    for pages in walks.values():
        for page in pages:
            if page.content_type.startswith("application/pdf") and not UPLOADED_FILES.match(page.url):
                seen.setdefault(page.url.split("?")[0], page)
    return seen


def test_pdfs_render_and_show_the_hostile_text_literally(db, hostile_world, walks):
    pdfs = _pdfs(walks)
    kinds = {re.sub(r"[A-Z]+-[-A-Z0-9./]+", "…", url) for url in pdfs}
    assert len(kinds) >= 8, f"the walk found only these kinds of PDF: {sorted(kinds)}"
    failed = [url for url, page in pdfs.items() if page.status != 200]
    assert not failed, f"PDFs that failed to render: {failed}"
    literal, missing = [], []
    for url, page in pdfs.items():
        text = squashed(pdf_text(page.body))
        assert text, f"{url} has no text"
        if all(squashed(vector) in text for vector in LITERAL_IN_PDFS):
            literal.append(url)
        elif "alert(" in text or "svgonload" in text:
            literal.append(url)  # a narrow label or table cell cuts the value short: shown, as text, in part
        else:
            missing.append(url)
    # Every PDF shows some of the hostile text, except those of the other agency's case (written without it).
    missing = [url for url in missing if hostile_world.other_case.lab_number not in url]
    assert not missing, f"PDFs that show none of the hostile text: {missing}"
    print(f"\n{len(pdfs)} PDFs rendered; {len(literal)} show the hostile text as literal text")


def test_discovery_packet_holds_the_hostile_text_as_data_only(db, hostile_world, walks):
    url = reverse("reports:discovery", args=[hostile_world.case.lab_number])
    page = next(page for page in walks["prosecutor"] if page.url == url)
    assert page.status == 200 and page.content_type == "application/zip"
    assert "attachment" in page.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(page.body)) as packet:
        names = packet.namelist()
        for name in names:
            assert not name.startswith("/") and ".." not in name.split("/"), f"unsafe member name {name!r}"
            data = packet.read(name)
            if name.endswith(".pdf") and data.startswith(b"%PDF"):
                pdf_text(data)  # parses
            if name.endswith((".html", ".htm", ".svg")):
                pytest.fail(f"the packet carries a page a browser would run: {name}")
        manifest = json.loads(packet.read("manifest.json"))
    assert manifest and "packet.pdf" in names
    assert squashed("<script>alert(2)</script>") in squashed(pdf_text(packet_pdf(page.body)))


def packet_pdf(body: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(body)) as packet:
        return packet.read("packet.pdf")


def test_uploaded_files_with_hostile_names_download_safely(db, hostile_world, walks):
    downloads = [page for pages in walks.values() for page in pages if UPLOADED_FILES.match(page.url)]
    assert downloads, "the walk found no uploaded file to download"
    for page in downloads:
        assert page.status == 200
        assert page.headers["Content-Disposition"].startswith("attachment")
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.content_type.split(";")[0] not in ("text/html", "image/svg+xml", "application/xhtml+xml")
        assert "\n" not in page.headers["Content-Disposition"] and "\r" not in page.headers["Content-Disposition"]


# --- the API ------------------------------------------------------------------------------------------------------


def test_the_api_returns_the_hostile_text_verbatim_as_json(db, hostile_world):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {hostile_world.token.key}")
    w = hostile_world
    urls = [
        "/api/v1/cases/",
        f"/api/v1/cases/{w.case.lab_number}/",
        f"/api/v1/cases/{w.case.lab_number}/niem/",
        f"/api/v1/items/?case={w.case.lab_number}",
        f"/api/v1/items/{w.blood.label}/",
        f"/api/v1/items/{w.blood.label}/custody-events/",
        f"/api/v1/custody-events/?case={w.case.lab_number}",
        "/api/v1/requests/",
        "/api/v1/reports/",
        "/api/v1/submissions/",
        f"/api/v1/submissions/{w.submission.reference}/",
        "/api/v1/feed/",
    ]
    shown = 0
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        assert response["Content-Type"].startswith("application/json"), url
        assert response["X-Content-Type-Options"] == "nosniff"
        body = json.loads(response.content)  # valid JSON, whatever the text
        text = json.dumps(body, ensure_ascii=False)
        assert "&lt;" not in text, f"{url} HTML-escapes data: a partner system would store &lt;"
        shown += COMBO[:23] in text
    assert shown >= 6, "the API answers hardly show the hostile text"


# --- reflected: hostile text in the address -----------------------------------------------------------------------


def test_filters_and_refused_parameters_never_reflect_markup(db, hostile_world):
    """Every list page's filters (and the few pages that refuse a parameter with a message) given the hostile text
    in the address: the answer shows it escaped, or as plain text, never as markup."""
    from tests.security.conftest import requests_for, search_parameters

    client = Client()
    client.force_login(hostile_world.users["admin"], backend=MODEL_BACKEND)
    parameters, problems = 0, []
    for url, names, together in search_parameters(hostile_world):
        parameters += len(names)
        for attacked, query in requests_for(url, names, together, COMBO):
            response = client.get(url, query)
            content_type = response.headers.get("Content-Type", "")
            if response.status_code >= 500:
                problems.append(f"{url} ?{attacked}: {response.status_code}")
            elif content_type.startswith("text/html") and (found := script_problems(response.content.decode())):
                problems.append(f"{url} ?{attacked}: {found[:2]}")
    assert not problems, "\n".join(problems)
    assert parameters >= 70
    print(f"\n{parameters} parameters given the hostile text: none reflected as markup")
