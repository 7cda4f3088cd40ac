"""Uploads: hostile file names, files lying about their type, files over the limit, and how they come back.

Every upload goes through the real page, as a multipart body written here byte for byte (Django's test client
would strip the path from a file name before sending it, so it could not send ``../../etc/passwd``). The pages
that take files: an examination's attachments, an external laboratory's results, the public report verification,
and the police homicide list of the statistics reconciliation.

What must hold: no file name is ever used as a path (each file is stored under the data directory, named by its
request and hash), the name is kept only as text, no upload answers a server error, an upload over the limit is
refused with a message and nothing is stored, and a download is always an attachment of opaque bytes
(``application/octet-stream``, ``nosniff``) whatever the uploader claimed: never a page a browser would render.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests.security.conftest import PASSWORD, World, script_problems

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"

#: File names that try to leave the upload folder, hide their type, or break a header.
HOSTILE_NAMES = [
    "../../etc/passwd",
    "../../../../../../tmp/forensis-pwned.txt",
    "/etc/passwd",
    "..\\..\\windows\\win.ini",
    "C:\\boot.ini",
    "report.pdf\x00.html",
    "report.pdf.html",
    "image.svg",
    "..",
    "a" * 300 + ".pdf",
    "b" * 5000 + ".pdf",
    "\u202egnp.exe",
    'quote".pdf',
    "line\r\nX-Injected: yes.pdf",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "&lt;script&gt;alert(1)&lt;/script&gt;.pdf",
]
#: Where the second name above would land if it were used as a path.
TRAVERSAL_TARGET = Path("/tmp/forensis-pwned.txt")  # noqa: S108  (only checked never to exist)
#: Contents that claim to be something else: (name, declared type, bytes).
LIARS = [
    ("report.pdf", "application/pdf", b"<html><body><script>alert(1)</script></body></html>"),
    ("photo.jpg", "image/jpeg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
    ("data.pdf.html", "text/html", b"<script>alert(1)</script>"),
    ("polyglot.pdf", "application/pdf", b"%PDF-1.4\n<html><script>alert(1)</script></html>\n%%EOF"),
    ("page.xhtml", "application/xhtml+xml", b'<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script>'),
]
#: Content types a browser renders (or runs): a download must never carry one.
RENDERED_TYPES = (
    "text/html",
    "image/svg+xml",
    "application/xhtml+xml",
    "text/xml",
    "application/xml",
    "text/javascript",
)


def multipart(fields: dict[str, str], files: dict[str, tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body with the file names exactly as given (as a hostile client would send them)."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content_type, data) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(head.encode("utf-8", "surrogateescape") + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def post_file(client: Client, url: str, fields: dict, field: str, filename: str, content_type: str, data: bytes):
    body, multipart_type = multipart(fields, {field: (filename, content_type, data)})
    return client.generic("POST", url, body, content_type=multipart_type)


@pytest.fixture(scope="module")
def upload_world(module_db, tmp_path_factory) -> World:
    """A toxicology case in examination (its analyst attaches files), and an item at an external laboratory (the
    custodian attaches its results); a received case is all the rest needs."""
    from django.test import override_settings
    from django.utils import timezone

    from forensis.evidence import outsourcing
    from forensis.lab import services as lab
    from tests.security.conftest import _catalogue, _intake, _people

    world = World()
    media = tmp_path_factory.mktemp("uploads")
    with override_settings(MEDIA_ROOT=media):
        _people(world)
        _catalogue(world)
        _intake(world)
    world.objects["media"] = media
    request = world.case.requests.get(discipline__code="toxicology")
    lab.assign(world.users["manager"], request, world.users["analyst"])
    lab.start_examination(world.users["analyst"], request, method=world.method_toxicology, instrument=world.instrument)
    world.objects["request"] = request
    custodian = world.users["custodian"]
    shipment = outsourcing.prepare_shipment(custodian, [world.swab_out], laboratory="External DNA laboratory")
    world.objects["shipment"] = outsourcing.ship(custodian, shipment, tracking_number="TRK-1")
    del timezone
    return world


@pytest.fixture
def media(upload_world, settings):
    settings.MEDIA_ROOT = upload_world.media
    return Path(upload_world.media)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend=MODEL_BACKEND)
    return client


def stored_files(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()}


class Target:
    """A page that takes a file and the page (or pattern) its files are downloaded from."""

    def __init__(self, world, kind: str):
        self.kind = kind
        if kind == "attachment":
            self.client = signed_in(world.users["analyst"])
            self.url = reverse("lab:examination", args=[world.request.pk])
            self.fields, self.field = {"action": "attach"}, "attach-file"
        else:
            self.client = signed_in(world.users["custodian"])
            self.url = reverse("evidence:shipment", args=[world.shipment.reference])
            self.fields, self.field = {"action": "results"}, "results-file"
        self.world = world

    def model(self):
        from forensis.evidence.models import ShipmentResult
        from forensis.lab.models import Attachment

        return Attachment if self.kind == "attachment" else ShipmentResult

    def upload(self, filename: str, content_type: str = "application/pdf", data: bytes = b"%PDF-1.4 data\n"):
        return post_file(self.client, self.url, self.fields, self.field, filename, content_type, data)

    def download_url(self, stored) -> str:
        if self.kind == "attachment":
            return reverse("lab:attachment", args=[self.world.request.pk, stored.pk])
        return reverse("evidence:shipment_result", args=[self.world.shipment.reference, stored.pk])


@pytest.fixture(params=["attachment", "shipment_result"])
def target(request, db, upload_world, media) -> Target:
    return Target(upload_world, request.param)


def assert_safe_download(response, data: bytes) -> None:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200
    assert body == data, "the download is not the bytes uploaded"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;"), disposition
    assert "\r" not in disposition and "\n" not in disposition
    assert response.headers["Content-Type"].split(";")[0] == "application/octet-stream", response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("filename", HOSTILE_NAMES)
def test_hostile_file_names_never_become_paths(target, media, filename):
    model = target.model()
    before = set(model.objects.values_list("pk", flat=True))
    data = f"contents of {filename!r}".encode()
    response = target.upload(filename, data=data)
    assert response.status_code in (200, 302, 400), response.status_code
    assert not TRAVERSAL_TARGET.exists()
    created = model.objects.exclude(pk__in=before)
    if response.status_code != 302:  # refused (no usable name, a header too long to read): nothing kept
        assert not created.exists()
        assert script_problems(response.content.decode()) == []
        return
    stored = created.get()
    path = Path(stored.file.path).resolve()
    assert path.is_relative_to(media.resolve()), f"{filename!r} was stored at {path}"
    assert path.read_bytes() == data and stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.sha256[:16] in path.name and "/" not in stored.original_name and "\\" not in stored.original_name
    assert len(stored.original_name) <= 255 and "\x00" not in stored.original_name
    assert_safe_download(target.client.get(target.download_url(stored)), data)
    page = target.client.get(response.headers["Location"])
    assert page.status_code == 200 and script_problems(page.content.decode()) == []


@pytest.mark.parametrize(("filename", "declared", "data"), LIARS, ids=[liar[0] for liar in LIARS])
def test_files_lying_about_their_type_come_back_as_opaque_downloads(target, filename, declared, data):
    model = target.model()
    before = set(model.objects.values_list("pk", flat=True))
    response = target.upload(filename, declared, data)
    assert response.status_code == 302
    stored = model.objects.exclude(pk__in=before).get()
    download = target.client.get(target.download_url(stored))
    assert_safe_download(download, data)
    assert download.headers["Content-Type"].split(";")[0] not in RENDERED_TYPES


def test_an_upload_over_the_limit_is_refused_and_nothing_is_stored(target, media, monkeypatch):
    """The limits are 100 MB (attachments) and 50 MB (external results); lowered here so the test stays small."""
    from forensis.evidence import outsourcing
    from forensis.lab import services as lab

    limit = 4096
    monkeypatch.setattr(lab, "MAX_ATTACHMENT_BYTES", limit)
    monkeypatch.setattr(outsourcing, "MAX_RESULT_BYTES", limit)
    model = target.model()
    rows, files = model.objects.count(), stored_files(media)
    response = target.upload("big.pdf", data=b"x" * (limit + 1))
    assert response.status_code == 200
    assert "The file is larger than" in response.content.decode()
    assert model.objects.count() == rows and stored_files(media) == files
    accepted = target.upload("exactly.pdf", data=b"x" * limit)
    assert accepted.status_code == 302 and model.objects.count() == rows + 1


def test_the_verification_page_takes_any_bytes_calmly(db, upload_world, monkeypatch):
    """The public page that checks a report PDF: a page or a polyglot pretending to be a PDF is just "not a report
    of this laboratory", and a file over its limit (50 MB, lowered here) is refused with a message."""
    from forensis.reports import forms

    client = Client()  # nobody signed in: the page is public
    url = reverse("reports:verify")
    for name, declared, data in LIARS:
        response = post_file(client, url, {}, "file", name, declared, data)
        assert response.status_code in (200, 400), (name, response.status_code)
        assert script_problems(response.content.decode()) == []
    monkeypatch.setattr(forms, "MAX_VERIFY_BYTES", 1024)
    response = post_file(client, url, {}, "file", "big.pdf", "application/pdf", b"%PDF" + b"x" * 1024)
    assert response.status_code == 400 and "The file is larger than" in response.content.decode()


def test_the_police_list_upload_shows_its_rows_as_text(db, upload_world):
    """The reconciliation reads an uploaded CSV and shows what it found (nothing is stored): hostile cells, and a
    page pretending to be a CSV, come back as text or as a refusal."""
    client = signed_in(upload_world.users["admin"])
    url = reverse("statistics:reconciliation")
    hostile_csv = (
        b'police_reference,date_of_death,district,victim_name\r\n"<script>alert(1)</script>",2026-01-05,BZ,'
        b'"""><svg onload=alert(1)>"\r\n"=cmd|\' /C calc\'!A0",not a date,<b>XX</b>,x\r\n'
    )
    for name, declared, data in [("list.csv", "text/csv", hostile_csv), *LIARS]:
        response = post_file(client, url, {"district": ""}, "police_list", name, declared, data)
        assert response.status_code in (200, 400), (name, response.status_code)
        assert script_problems(response.content.decode()) == [], name


def test_upload_forms_require_their_own_signed_in_person(db, upload_world, media):
    """Another analyst cannot attach to someone else's examination, and the officer cannot attach results."""
    from forensis.accounts import services as accounts
    from forensis.accounts.roles import Role
    from forensis.lab.models import Attachment

    stranger = accounts.create_user(
        None, username="stranger", password=PASSWORD, agency=upload_world.agencies["lab"], roles=[Role.ANALYST]
    )
    rows = Attachment.objects.count()
    url = reverse("lab:examination", args=[upload_world.request.pk])
    response = post_file(
        signed_in(stranger), url, {"action": "attach"}, "attach-file", "x.pdf", "application/pdf", b"x"
    )
    assert response.status_code in (403, 404) and Attachment.objects.count() == rows
    officer = signed_in(upload_world.users["officer"])
    url = reverse("evidence:shipment", args=[upload_world.shipment.reference])
    response = post_file(officer, url, {"action": "results"}, "results-file", "x.pdf", "application/pdf", b"x")
    assert response.status_code in (403, 404)
