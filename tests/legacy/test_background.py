"""Imports started from the administrator's page: upload, queue, the worker's run, and what is refused."""

from __future__ import annotations

import os

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from forensis.accounts.roles import Role
from forensis.cases.models import Case
from forensis.legacy import services
from forensis.legacy.models import BatchStatus, ImportBatch
from forensis.legacy.tasks import run_queued_import

from .conftest import SAMPLE

pytestmark = pytest.mark.django_db


def upload(path, name=None):
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def sample_files():
    return [upload(path) for path in sorted((SAMPLE / "data").glob("*.csv"))]


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_a_queued_import_runs_in_the_worker_and_keeps_its_progress(
    importer, data_dir, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.queue_import(
            importer, mapping_file=upload(SAMPLE / "mapping.toml"), source_files=sample_files(), dry_run=False
        )
    batch.refresh_from_db()
    assert batch.status == BatchStatus.COMPLETED, batch.error
    created = batch.counts["entities"]["cases"]["created"]
    assert created > 0
    assert Case.objects.filter(legacy_source="sample-access-export").count() == created
    assert batch.progress["stage"] == "saving" and batch.progress["done"] == batch.progress["total"]
    assert batch.pid == os.getpid()
    assert (data_dir / "legacy-reports" / batch.number / "rejections.csv").exists()
    assert batch.upload_dir.startswith(str(data_dir))


def test_a_dry_run_from_the_page_saves_nothing(importer, data_dir, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.queue_import(
            importer, mapping_file=upload(SAMPLE / "mapping.toml"), source_files=sample_files(), dry_run=True
        )
    batch.refresh_from_db()
    assert batch.status == BatchStatus.COMPLETED and batch.dry_run
    assert batch.counts["entities"]["cases"]["created"] > 0
    assert not Case.objects.filter(legacy_source="sample-access-export").exists()


def test_the_task_never_runs_a_batch_twice(importer, data_dir, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.queue_import(
            importer, mapping_file=upload(SAMPLE / "mapping.toml"), source_files=sample_files(), dry_run=False
        )
    cases = Case.objects.count()
    assert run_queued_import.call(batch.pk) == BatchStatus.COMPLETED
    assert Case.objects.count() == cases


def test_only_an_administrator_may_queue_an_import(make_user, sample_agencies, data_dir):
    manager = make_user(Role.LAB_MANAGER)
    with pytest.raises(PermissionDenied):
        services.queue_import(
            manager, mapping_file=upload(SAMPLE / "mapping.toml"), source_files=sample_files(), dry_run=True
        )
    assert not ImportBatch.objects.exists()
    assert not (data_dir / services.UPLOADS_FOLDER).exists() or not any((data_dir / services.UPLOADS_FOLDER).iterdir())


@pytest.mark.parametrize(
    ("mapping_text", "field", "words"),
    [
        (b"this is not toml = = =", "mapping_file", "not valid TOML"),
        (
            (SAMPLE / "mapping.toml").read_bytes().replace(b'path = "data"', b'path = "../../etc"'),
            "mapping_file",
            "beside the mapping",
        ),
        (
            (SAMPLE / "mapping.toml")
            .read_bytes()
            .replace(b'kind = "csv"\npath = "data"', b'kind = "sql"\nurl = "sqlite:////etc/passwd.db"')
            .replace(b'encoding = "cp1252"\ndelimiter = ";"\n', b""),
            "mapping_file",
            "as a file",
        ),
    ],
)
def test_a_bad_mapping_is_refused_with_its_problems_and_nothing_is_kept(
    importer, data_dir, mapping_text, field, words
):
    with pytest.raises(ValidationError) as refused:
        services.queue_import(
            importer,
            mapping_file=SimpleUploadedFile("mapping.toml", mapping_text),
            source_files=sample_files(),
            dry_run=True,
        )
    assert words in " ".join(refused.value.message_dict[field])
    assert not ImportBatch.objects.exists()
    assert not any((data_dir / services.UPLOADS_FOLDER).iterdir())


def test_source_files_are_required_and_names_must_differ(importer, data_dir):
    with pytest.raises(ValidationError) as refused:
        services.queue_import(importer, mapping_file=upload(SAMPLE / "mapping.toml"), source_files=[], dry_run=True)
    assert "source_files" in refused.value.message_dict
    twice = [upload(SAMPLE / "data" / "cases.csv"), upload(SAMPLE / "data" / "cases.csv")]
    with pytest.raises(ValidationError) as refused:
        services.queue_import(importer, mapping_file=upload(SAMPLE / "mapping.toml"), source_files=twice, dry_run=True)
    assert "same name" in str(refused.value)


def test_an_uploaded_name_cannot_climb_out_of_its_folder(importer, data_dir, django_capture_on_commit_callbacks):
    files = [upload(path, name="../../" + path.name) for path in sorted((SAMPLE / "data").glob("*.csv"))]
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.queue_import(
            importer, mapping_file=upload(SAMPLE / "mapping.toml"), source_files=files, dry_run=True
        )
    stored = sorted(path.name for path in (data_dir / services.UPLOADS_FOLDER).rglob("*.csv"))
    assert stored == sorted(path.name for path in (SAMPLE / "data").glob("*.csv"))
    batch.refresh_from_db()
    assert batch.status == BatchStatus.COMPLETED


def test_a_running_batch_whose_process_is_gone_is_marked_interrupted(importer):
    alive = ImportBatch.objects.create(
        number="IMP-1", source_name="s", mapping_name="m", started_by=importer, status="running", pid=os.getpid()
    )
    dead = ImportBatch.objects.create(
        number="IMP-2", source_name="s", mapping_name="m", started_by=importer, status="running", pid=2**22 + 12345
    )
    assert services.mark_interrupted() == ["IMP-2"]
    alive.refresh_from_db()
    dead.refresh_from_db()
    assert (alive.status, dead.status) == (BatchStatus.RUNNING, BatchStatus.INTERRUPTED)


def test_a_dry_run_from_the_page_can_be_repeated_for_real(importer, data_dir, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        dry = services.queue_import(
            importer, mapping_file=upload(SAMPLE / "mapping.toml"), source_files=sample_files(), dry_run=True
        )
    dry.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        real = services.repeat_import(importer, dry, dry_run=False)
    real.refresh_from_db()
    assert (real.status, real.dry_run, real.upload_dir) == (BatchStatus.COMPLETED, False, dry.upload_dir)
    assert real.counts["entities"]["cases"]["created"] == dry.counts["entities"]["cases"]["created"]
    assert Case.objects.filter(import_batch=real).count() == real.counts["entities"]["cases"]["created"]


def test_an_import_from_the_command_line_cannot_be_repeated_from_the_page(importer):
    batch = ImportBatch.objects.create(
        number="IMP-1", source_name="s", mapping_name="m", started_by=importer, status="completed"
    )
    with pytest.raises(ValidationError, match="command line"):
        services.repeat_import(importer, batch, dry_run=False)
