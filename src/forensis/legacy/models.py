"""What an import of an old database leaves behind: its batch, its rejections, and the fingerprints that make a
re-run change nothing.

Cases, people and items brought over are ordinary Forensis records with provenance (``core.models.Migrated``);
the results of the old system are kept here as they were recorded (``LegacyResult``), never turned into
requests, examinations or signatures that did not happen.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from forensis.accounts.scoping import scoped_by
from forensis.core.models import Migrated


class Entity(models.TextChoices):
    """The kinds of record a mapping brings over, in the order they are read."""

    CASES = "cases", _("Cases")
    PEOPLE = "people", _("People")
    ITEMS = "items", _("Items")
    RESULTS = "results", _("Results")
    LOCATIONS = "locations", _("Locations")


class BatchStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    INTERRUPTED = "interrupted", _("Interrupted")


class ImportBatch(models.Model):
    """One run of an import (dry runs included), from the command line or the administrator's page: who ran which
    mapping, when, with what outcome. A run started on the page is "queued" until the background worker takes it.
    """

    number = models.CharField(_("import number"), max_length=32, unique=True)
    source_name = models.CharField(_("legacy source"), max_length=64, db_index=True)
    mapping_name = models.CharField(_("mapping file"), max_length=255)
    mapping_text = models.TextField(_("mapping"), blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("started by")
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=BatchStatus.choices, default=BatchStatus.RUNNING, db_index=True
    )
    dry_run = models.BooleanField(_("dry run"), default=False)
    limit = models.PositiveIntegerField(_("limit (cases)"), null=True, blank=True)
    #: The summary: rows read, created, updated, unchanged, rejected by reason, duplicates collapsed, per entity.
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    report_dir = models.CharField(_("report folder"), max_length=500, blank=True)
    error = models.TextField(_("error"), blank=True)
    #: Where the page stored the uploaded mapping and source files (blank for a run from the command line).
    upload_dir = models.CharField(_("upload folder"), max_length=500, blank=True)
    #: How far a running import is: {"stage": "cases" | … | "saving", "done": n, "total": n or null}.
    progress = models.JSONField(_("progress"), default=dict, blank=True)
    #: The process running it: a batch "running" whose process is gone was interrupted (killed, power cut).
    pid = models.PositiveIntegerField(_("process"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("import batch")
        verbose_name_plural = _("import batches")
        permissions = [("run_import", _("Can import legacy data"))]

    def __str__(self) -> str:
        return self.number


class Rejection(models.Model):
    """One problem of one source row that kept it out of Forensis (a row may have several)."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="rejections")
    entity = models.CharField(_("entity"), max_length=12, choices=Entity.choices)
    source_table = models.CharField(_("source table"), max_length=255)
    row_number = models.PositiveIntegerField(_("row"), null=True, blank=True)
    legacy_id = models.CharField(_("legacy ID"), max_length=64, blank=True)
    column = models.CharField(_("column"), max_length=255, blank=True)
    value = models.TextField(_("value"), blank=True)
    #: A stable category for counting (``missing``, ``unknown_code``, ``orphan``, …); ``reason`` is the sentence.
    code = models.CharField(_("kind"), max_length=32, db_index=True)
    reason = models.CharField(_("reason"), max_length=500)

    class Meta:
        ordering = ["batch", "pk"]
        verbose_name = _("rejected row")
        verbose_name_plural = _("rejected rows")

    def __str__(self) -> str:
        return f"{self.source_table}:{self.row_number} {self.reason}"


class LegacyRecord(models.Model):
    """The fingerprint of a legacy record as last brought over: a re-run compares it to decide what changed.

    ``fingerprint`` is the SHA-256 of the record's canonical JSON (after the mapping's transforms); ``object_pk``
    is the key of the Forensis record it became (a case, person, item, legacy result, or the item's
    migrated custody event for a location).
    """

    legacy_source = models.CharField(max_length=64)
    entity = models.CharField(max_length=12, choices=Entity.choices)
    legacy_id = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="+")
    object_pk = models.PositiveBigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["legacy_source", "entity", "legacy_id"], name="unique_legacy_record")
        ]

    def __str__(self) -> str:
        return f"{self.legacy_source}:{self.entity}:{self.legacy_id}"


class LegacyResult(Migrated):
    """A result as the old system recorded it: the discipline, the finding, a value, who reported it and when."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="legacy_results")
    item = models.ForeignKey("evidence.Item", on_delete=models.PROTECT, related_name="legacy_results")
    discipline = models.ForeignKey(
        "lab.Discipline", on_delete=models.PROTECT, related_name="+", verbose_name=_("discipline")
    )
    result = models.TextField(_("result"))
    value = models.DecimalField(_("value"), max_digits=20, decimal_places=6, null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=32, blank=True)
    reported_at = models.DateTimeField(_("reported"), null=True, blank=True)
    analyst = models.CharField(_("analyst (as recorded)"), max_length=200, blank=True)

    objects = scoped_by("case__agency").as_manager()

    MIGRATED_FIELDS = ("case", "item", "discipline", "result", "value", "unit", "reported_at", "analyst")
    CORRECTABLE_FIELDS = ("discipline", "result", "value", "unit", "reported_at", "analyst")

    class Meta:
        ordering = ["item", "reported_at", "pk"]
        verbose_name = _("legacy result")
        verbose_name_plural = _("legacy results")
        permissions = [("correct_migrated", _("Can correct records brought over from an old system"))]
        constraints = [Migrated.legacy_constraint("unique_legacy_result_id")]

    def __str__(self) -> str:
        return f"{self.item} {self.discipline.code}: {self.result[:60]}"

    @property
    def value_text(self) -> str:
        """The value as recorded, without the trailing zeros of its column ("0.5", not "0.500000")."""
        return "" if self.value is None else format(self.value.normalize(), "f")
