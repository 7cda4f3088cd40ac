"""The administrator's import pages: upload, dry run then import, progress, reports, filters, and who may open them."""

from __future__ import annotations

import re
from contextlib import nullcontext

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from forensis.accounts.models import AgencyType
from forensis.accounts.roles import Role
from forensis.cases.models import Case
from forensis.legacy import services
from forensis.legacy.models import BatchStatus, ImportBatch

from .conftest import SAMPLE

pytestmark = pytest.mark.django_db

SOURCE = "sample-access-export"


def upload(path, name=None, content=None):
    return SimpleUploadedFile(name or path.name, path.read_bytes() if content is None else content)


def sample_files():
    return [upload(path) for path in sorted((SAMPLE / "data").glob("*.csv"))]


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def admin_client(signed_in, importer):
    return signed_in(importer)


def start(client, capture=None, *, mode="dry_run", limit="", mapping=None, files=None):
    """Submit the new-import form; with ``capture`` (django_capture_on_commit_callbacks) the queued import runs at
    once, without it the import stays queued (the test's transaction never commits: no worker takes it)."""
    data = {
        "mapping_file": mapping or upload(SAMPLE / "mapping.toml"),
        "source_files": sample_files() if files is None else files,
        "mode": mode,
        "limit": limit,
    }
    with capture(execute=True) if capture else nullcontext():
        return client.post(reverse("legacy:new"), data)


def batch_of(response) -> ImportBatch:
    assert response.status_code == 302, response.content.decode()[:2000]
    number = response.url.rstrip("/").rsplit("/", 1)[-1]
    return ImportBatch.objects.get(number=number)


def made_batch(user, *, status=BatchStatus.COMPLETED, number="IMP-2026-09999", **fields) -> ImportBatch:
    return ImportBatch.objects.create(
        number=number, source_name="s", mapping_name="m.toml", started_by=user, status=status, **fields
    )


# --- dry run, then import ------------------------------------------------------------------------------------------


def test_a_dry_run_then_the_import_through_the_pages(admin_client, data_dir, django_capture_on_commit_callbacks):
    page = admin_client.get(reverse("legacy:new"))
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.content.decode()
    assert re.search(r'<input type="file" name="source_files"[^>]* multiple', page.content.decode())

    response = start(admin_client, django_capture_on_commit_callbacks)
    dry = batch_of(response)
    assert (dry.status, dry.dry_run) == (BatchStatus.COMPLETED, True), dry.error
    assert not Case.objects.filter(legacy_source=SOURCE).exists()

    body = admin_client.get(response.url).content.decode()
    assert f"Dry run {dry.number} queued." in body
    assert 'data-testid="summary"' in body and 'data-testid="reconciliation"' in body
    assert 'data-testid="reconciliation-verdict" data-balances="yes"' in body
    assert 'data-balances="no"' not in body
    assert 'data-testid="import-for-real"' in body and 'data-testid="run-again"' in body
    assert 'data-testid="progress"' not in body and "hx-get" not in body  # finished: nothing polls
    assert 'data-code="orphan"' in body  # rejections by reason, and the rejected rows
    assert dry.mapping_text and "sample-access-export" in body  # the mapping, in its collapsible block
    created = dry.counts["entities"]["cases"]["created"]
    assert created == 16

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("legacy:repeat", args=[dry.number]), {"mode": "import"})
    real = batch_of(response)
    assert real.number != dry.number
    assert (real.status, real.dry_run) == (BatchStatus.COMPLETED, False), real.error
    assert Case.objects.filter(legacy_source=SOURCE).count() == created
    body = admin_client.get(response.url).content.decode()
    assert f"Import {real.number} queued." in body
    assert 'data-testid="import-for-real"' not in body and 'data-testid="run-again"' in body
    assert 'data-testid="dry-run-note"' not in body

    listing = admin_client.get(reverse("legacy:list")).content.decode()
    assert listing.count('data-testid="batch-row"') == 2
    assert 'data-testid="dry-run-badge"' in listing and 'data-testid="import-badge"' in listing
    assert listing.count('data-status="completed"') == 2 and "text-bg-success" in listing


def test_run_again_repeats_as_it_was_run_and_the_limit_is_kept(
    admin_client, data_dir, django_capture_on_commit_callbacks
):
    first = batch_of(start(admin_client, django_capture_on_commit_callbacks, mode="import", limit="3"))
    assert first.limit == 3 and first.counts["entities"]["cases"]["created"] == 3
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("legacy:repeat", args=[first.number]), {"mode": "again"})
    again = batch_of(response)
    assert (again.dry_run, again.limit, again.status) == (False, 3, BatchStatus.COMPLETED)
    assert again.counts["entities"]["cases"]["unchanged"] == 3
    assert Case.objects.filter(legacy_source=SOURCE).count() == 3


def test_a_bad_mapping_shows_each_problem_and_keeps_the_choices(
    admin_client, data_dir, django_capture_on_commit_callbacks
):
    text = (SAMPLE / "mapping.toml").read_bytes()
    text = text.replace(b'kind = "csv"', b'kind = "cvs"').replace(b'key = "CaseID"', b'key = "CaseID"\ncolour = "red"')
    response = start(
        admin_client,
        django_capture_on_commit_callbacks,
        mode="import",
        limit="7",
        mapping=SimpleUploadedFile("mapping.toml", text),
    )
    assert response.status_code == 200
    body = response.content.decode()
    problems = re.findall(r'data-testid="error-mapping_file">([^<]*)<', body)
    assert len(problems) >= 2, problems
    assert any("cvs" in problem for problem in problems) and any("colour" in problem for problem in problems)
    assert re.search(r'value="import"[^>]*checked', body)
    assert 'value="7"' in body
    assert 'data-testid="choose-again"' in body
    assert not ImportBatch.objects.exists()
    assert not any((data_dir / services.UPLOADS_FOLDER).iterdir())


def test_missing_files_are_named_on_the_form(admin_client, data_dir, django_capture_on_commit_callbacks):
    response = start(admin_client, django_capture_on_commit_callbacks, files=[])
    assert response.status_code == 200
    assert 'data-testid="error-source_files"' in response.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("legacy:new"), {"source_files": sample_files(), "mode": "dry_run"})
    assert response.status_code == 200
    assert 'data-testid="error-mapping_file"' in response.content.decode()

    response = start(admin_client, django_capture_on_commit_callbacks, limit="0")
    assert 'data-testid="error-limit"' in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_a_plain_refusal_shows_above_the_form(admin_client, data_dir, settings, django_capture_on_commit_callbacks):
    settings.FORENSIS_LEGACY_UPLOAD_MB = 0
    response = start(admin_client, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert "MB together" in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_what_cannot_be_repeated_says_why(admin_client, importer):
    from_command_line = made_batch(importer)
    response = admin_client.post(
        reverse("legacy:repeat", args=[from_command_line.number]), {"mode": "again"}, follow=True
    )
    assert "command line" in response.content.decode()
    running = made_batch(importer, status=BatchStatus.RUNNING, number="IMP-2026-09998", upload_dir="/nowhere")
    response = admin_client.post(reverse("legacy:repeat", args=[running.number]), {"mode": "import"}, follow=True)
    assert "has not finished" in response.content.decode()
    response = admin_client.post(reverse("legacy:repeat", args=[running.number]), {"mode": "nonsense"}, follow=True)
    assert response.status_code == 200
    assert ImportBatch.objects.count() == 2
    assert admin_client.get(reverse("legacy:repeat", args=[running.number])).status_code == 405


# --- progress ------------------------------------------------------------------------------------------------------


def test_a_queued_import_waits_for_the_worker_and_its_page_polls(admin_client, data_dir):
    batch = batch_of(start(admin_client))
    assert batch.status == BatchStatus.QUEUED
    body = admin_client.get(reverse("legacy:detail", args=[batch.number])).content.decode()
    progress_url = reverse("legacy:progress", args=[batch.number])
    assert f'hx-get="{progress_url}"' in body and 'hx-trigger="every 2s"' in body
    assert "Waiting for the background worker" in body
    assert 'data-testid="import-for-real"' not in body and 'data-testid="run-again"' not in body

    fragment = admin_client.get(progress_url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "Waiting for the background worker" in fragment.content.decode()
    assert "<html" not in fragment.content.decode()


def test_the_progress_fragment_shows_stage_count_and_percent_then_reloads_the_page(admin_client, importer):
    batch = made_batch(importer, status=BatchStatus.RUNNING, progress={"stage": "cases", "done": 1250, "total": 5000})
    url = reverse("legacy:progress", args=[batch.number])
    fragment = admin_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "Reading the cases" in fragment
    assert "1,250 / 5,000 (25 %)" in fragment
    assert 'max="5000" value="1250"' in fragment
    assert 'hx-trigger="every 2s"' in fragment

    ImportBatch.objects.filter(pk=batch.pk).update(progress={"stage": "saving", "done": 3, "total": None})
    fragment = admin_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "Saving the cases" in fragment and "max=" not in fragment  # no total: an indeterminate bar

    ImportBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.COMPLETED)
    finished = admin_client.get(url, headers={"HX-Request": "true"})
    assert finished.status_code == 200 and finished.headers["HX-Refresh"] == "true"
    plain = admin_client.get(url).content.decode()  # without htmx: the fragment, which no longer polls
    assert 'data-testid="finished"' in plain and "hx-get" not in plain


def test_a_failed_import_shows_its_error(admin_client, importer):
    batch = made_batch(importer, status=BatchStatus.FAILED, error="line 5001 is not valid utf-8")
    body = admin_client.get(reverse("legacy:detail", args=[batch.number])).content.decode()
    assert 'data-testid="batch-error"' in body and "line 5001 is not valid utf-8" in body
    assert 'data-testid="run-again"' not in body  # run from the command line: run it there again


def test_a_reconciliation_line_that_does_not_balance_is_marked(admin_client, importer):
    line = {"entity": "cases", "year": 2019, "imported": 3, "rejected": 1, "collapsed": 0, "skipped": 0}
    counts = {
        "entities": {"cases": {"read": 5, "created": 3, "rejected": 1, "reasons": {"orphan": 1}}},
        "totals": {"read": 5, "created": 3, "rejected": 1},
        "reconciliation": [
            {**line, "source_rows": 5, "explained": False},
            {**line, "year": 2020, "source_rows": 4, "explained": True},
        ],
    }
    batch = made_batch(importer, counts=counts)
    body = admin_client.get(reverse("legacy:detail", args=[batch.number])).content.decode()
    assert 'data-testid="reconciliation-verdict" data-balances="no"' in body
    assert body.count('data-testid="balance-badge" data-balances="no"') == 2  # the 2019 line and all years
    assert body.count('data-testid="balance-badge" data-balances="yes"') == 1


# --- reports ------------------------------------------------------------------------------------------------------


def test_the_report_files_download_and_nothing_else_does(admin_client, data_dir, django_capture_on_commit_callbacks):
    batch = batch_of(start(admin_client, django_capture_on_commit_callbacks))
    body = admin_client.get(reverse("legacy:detail", args=[batch.number])).content.decode()
    for name in ("summary.txt", "rejections.csv", "reconciliation.csv"):
        url = reverse("legacy:report", args=[batch.number, name])
        assert f'href="{url}"' in body
        response = admin_client.get(url)
        assert response.status_code == 200
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert f"{batch.number}-{name}" in response.headers["Content-Disposition"]
        content = b"".join(response.streaming_content)
        assert content
    rejections = b"".join(
        admin_client.get(reverse("legacy:report", args=[batch.number, "rejections.csv"])).streaming_content
    )
    assert rejections.decode("utf-8-sig").startswith("source,row,column,value,reason,entity,legacy_id,kind")

    (data_dir / "secret_key").write_text("not for download")
    base = reverse("legacy:detail", args=[batch.number])
    for name in ("secret_key", "..%2F..%2Fsecret_key", "../../secret_key", "mapping.toml", "summary.TXT"):
        assert admin_client.get(f"{base}reports/{name}").status_code == 404, name

    (data_dir / "legacy-reports" / batch.number / "summary.txt").unlink()
    assert admin_client.get(reverse("legacy:report", args=[batch.number, "summary.txt"])).status_code == 404
    body = admin_client.get(base).content.decode()
    assert 'data-testid="report-summary.txt"' not in body and 'data-testid="report-rejections.csv"' in body
    unknown = reverse("legacy:report", args=["IMP-1900-00001", "summary.txt"])
    assert admin_client.get(unknown).status_code == 404
    command_line = made_batch(batch.started_by)
    assert admin_client.get(reverse("legacy:report", args=[command_line.number, "summary.txt"])).status_code == 404


# --- filters ------------------------------------------------------------------------------------------------------


def test_the_rejected_rows_filter_by_kind_and_reason(admin_client, data_dir, django_capture_on_commit_callbacks):
    batch = batch_of(start(admin_client, django_capture_on_commit_callbacks))
    url = reverse("legacy:detail", args=[batch.number])
    everything = admin_client.get(url).content.decode()
    codes = set(re.findall(r'data-testid="rejection-row" data-code="([^"]+)"', everything))
    assert {"orphan", "conflicting_duplicate"} <= codes
    orphans = admin_client.get(url, {"code": "orphan"}).content.decode()
    assert set(re.findall(r'data-testid="rejection-row" data-code="([^"]+)"', orphans)) == {"orphan"}
    people = admin_client.get(url, {"entity": "people"}).content.decode()
    assert people.count('data-testid="rejection-row"') == batch.rejections.filter(entity="people").count()


def test_filters_with_bad_values_give_a_page_not_an_error(admin_client, data_dir, django_capture_on_commit_callbacks):
    batch = batch_of(start(admin_client, django_capture_on_commit_callbacks))
    listing = reverse("legacy:list")
    for query in (
        {"status": "bogus", "dry_run": "maybe", "source": "nowhere"},
        {"sort": "nonsense"},
        {"sort": "-created"},
        {"page": "999"},
        {"page": "x"},
        {"source": SOURCE, "dry_run": "yes", "status": "completed"},
    ):
        response = admin_client.get(listing, query)
        assert response.status_code == 200, query
    assert 'data-testid="batch-row"' in admin_client.get(listing, {"source": SOURCE, "dry_run": "yes"}).content.decode()
    assert 'data-testid="batch-row"' not in admin_client.get(listing, {"dry_run": "no"}).content.decode()
    detail = reverse("legacy:detail", args=[batch.number])
    for query in ({"entity": "bogus", "code": "nope"}, {"page": "999"}, {"sort": "x"}, {"sort": "-row_number"}):
        assert admin_client.get(detail, query).status_code == 200, query
    assert admin_client.get(reverse("legacy:detail", args=["IMP-1900-00001"])).status_code == 404


# --- who may use the pages -------------------------------------------------------------------------------------------


@pytest.fixture
def some_batch(importer):
    return made_batch(importer)


def legacy_urls(batch):
    return [
        reverse("legacy:list"),
        reverse("legacy:new"),
        reverse("legacy:detail", args=[batch.number]),
        reverse("legacy:progress", args=[batch.number]),
        reverse("legacy:repeat", args=[batch.number]),
        reverse("legacy:report", args=[batch.number, "summary.txt"]),
    ]


@pytest.fixture(params=["officer", "other_officer", "statistician", "lab_manager", "analyst", "auditor"])
def outsider(request, make_user, make_agency):
    if request.param in ("officer", "other_officer"):
        return request.getfixturevalue(request.param)
    if request.param == "statistician":
        return make_user(Role.STATISTICIAN, agency=make_agency(AgencyType.POLICE))
    return make_user(Role(request.param))


def test_everyone_but_an_administrator_gets_403(signed_in, outsider, some_batch, data_dir):
    client = signed_in(outsider)
    for url in legacy_urls(some_batch):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"mode": "import"}).status_code == 403, url
    assert ImportBatch.objects.count() == 1


def test_the_anonymous_user_is_sent_to_sign_in(client, some_batch):
    login = reverse("accounts:login")
    for url in legacy_urls(some_batch):
        for response in (client.get(url), client.post(url, {"mode": "import"})):
            assert response.status_code == 302 and response.url.startswith(login), url


def test_only_administrators_hold_the_permission_and_see_the_menu_entry(signed_in, importer, make_user, admin_user):
    manager = make_user(Role.LAB_MANAGER)
    assert importer.has_perm("legacy.run_import") and not manager.has_perm("legacy.run_import")
    assert f'href="{reverse("legacy:list")}"' in signed_in(importer).get("/").content.decode()
    assert f'href="{reverse("legacy:list")}"' not in signed_in(manager).get("/").content.decode()
    services.check_may_import(importer)


def test_a_superuser_may_import(signed_in, make_user, sample_agencies):
    superuser = make_user(Role.AUDITOR, is_superuser=True)
    services.check_may_import(superuser)
    assert signed_in(superuser).get(reverse("legacy:list")).status_code == 200
