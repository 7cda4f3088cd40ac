from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from forensis.accounts.scoping import scoped_by


class Discipline(models.Model):
    """A laboratory section that examines evidence (seeded; administrators may add more)."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    outsourced = models.BooleanField(
        _("outsourced"), default=False, help_text=_("Sent to an external laboratory (e.g. casework STR DNA).")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("discipline")
        verbose_name_plural = _("disciplines")

    def __str__(self) -> str:
        return str(_(self.name))


class RequestStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    DRAFT_COMPLETE = "draft_complete", _("Draft complete")
    TECHNICAL_REVIEW = "technical_review", _("Technical review")
    ADMINISTRATIVE_REVIEW = "administrative_review", _("Administrative review")
    RELEASED = "released", _("Released")
    CANCELLED = "cancelled", _("Cancelled")


class ServiceRequest(models.Model):
    """One discipline's work on a set of items of a case. Created at receipt, one per requested discipline."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="requests")
    discipline = models.ForeignKey(Discipline, on_delete=models.PROTECT, related_name="requests")
    items = models.ManyToManyField("evidence.Item", related_name="requests")
    status = models.CharField(
        _("status"), max_length=24, choices=RequestStatus.choices, default=RequestStatus.REQUESTED, db_index=True
    )
    requested_at = models.DateTimeField(_("requested"))
    received_month = models.CharField(max_length=7, db_index=True)

    objects = scoped_by("case__agency").as_manager()

    class Meta:
        ordering = ["requested_at", "pk"]
        verbose_name = _("service request")
        verbose_name_plural = _("service requests")

    def __str__(self) -> str:
        return f"{self.case.lab_number} {self.discipline.name}"
