from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from forensis.accounts.scoping import scoped_by
from forensis.cases.models import Incident
from forensis.core import iccs
from forensis.evidence.models import DescribedItem, SealStatus


class Kit(models.Model):
    """A template that pre-fills typical items and requested examinations (e.g. a sexual assault kit)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("kit")
        verbose_name_plural = _("kits")
        permissions = [("manage_kits", _("Can create and change submission kits"))]

    def __str__(self) -> str:
        return self.name


class KitItem(DescribedItem):
    kit = models.ForeignKey(Kit, on_delete=models.CASCADE, related_name="items")
    disciplines = models.ManyToManyField("lab.Discipline", verbose_name=_("requested examinations"))

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.description


class SubmissionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    RECEIVED = "received", _("Received")


class Submission(Incident):
    """What an agency brings to the laboratory: pre-logged online, or entered at the counter (walk-in)."""

    reference = models.CharField(_("submission number"), max_length=32, unique=True)
    agency = models.ForeignKey(
        "accounts.Agency", on_delete=models.PROTECT, related_name="submissions", verbose_name=_("agency")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("entered by")
    )
    submitting_officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("submitting officer")
    )
    status = models.CharField(
        _("status"), max_length=12, choices=SubmissionStatus.choices, default=SubmissionStatus.DRAFT, db_index=True
    )
    walk_in = models.BooleanField(_("walk-in"), default=False)
    kit = models.ForeignKey(Kit, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("kit"))
    # Blank is allowed on a draft; submit_submission requires both.
    agency_case_number = models.CharField(_("agency case number"), max_length=64, blank=True)
    offence_codes = models.JSONField(_("offences"), default=list, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True, db_index=True)
    case = models.ForeignKey(
        "cases.Case",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="submissions",
        verbose_name=_("case"),
    )
    received_at = models.DateTimeField(_("received"), null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("received by"),
    )
    receipt_number = models.CharField(_("receipt number"), max_length=32, blank=True)

    objects = scoped_by("agency").as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")
        permissions = [("receive_submission", _("Can receive submissions and take custody at the laboratory"))]

    def __str__(self) -> str:
        return self.reference

    @property
    def offences(self) -> list[tuple[str, str]]:
        return [(code, iccs.label(code)) for code in self.offence_codes]

    @property
    def has_deviations(self) -> bool:
        return any(item.deviation for item in self.items.all())


class Presence(models.TextChoices):
    PRESENT = "present", _("Present")
    MISSING = "missing", _("Missing")
    EXTRA = "extra", _("Extra (not on the list)")


class SubmissionItem(DescribedItem):
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    seal_number = models.CharField(_("seal number"), max_length=64, blank=True)
    collected_by = models.CharField(_("collected by"), max_length=200, blank=True)
    collected_at = models.DateTimeField(_("collected"), null=True, blank=True)
    collected_place = models.CharField(_("where collected"), max_length=255, blank=True)
    disciplines = models.ManyToManyField("lab.Discipline", verbose_name=_("requested examinations"))
    # Recorded at reception:
    presence = models.CharField(_("present?"), max_length=8, choices=Presence.choices, blank=True)
    seal_status = models.CharField(_("seal"), max_length=8, choices=SealStatus.choices, blank=True)
    condition = models.CharField(_("condition"), max_length=500, blank=True)
    deviation_note = models.CharField(_("deviation"), max_length=500, blank=True)
    item = models.OneToOneField(
        "evidence.Item", on_delete=models.PROTECT, null=True, blank=True, related_name="submission_item"
    )

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["submission", "position"], name="unique_item_position")]

    def __str__(self) -> str:
        return f"{self.position}. {self.description}"

    @property
    def deviation(self) -> bool:
        """ISO/IEC 17025 7.4.3: anything at receipt that differs from what was declared."""
        return bool(
            self.presence in (Presence.MISSING, Presence.EXTRA)
            or self.seal_status == SealStatus.BROKEN
            or (self.seal_number and self.seal_status == SealStatus.NONE)
            or self.deviation_note
        )
