"""Reports: what leaves the laboratory. A report has a number and versions (the original and its amendments).

Each version's PDF is written once, signed (PAdES) and stored with its SHA-256; it is never regenerated. An
amendment is a new version that names the one it supersedes and the reason; the old one stays retrievable.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from forensis.accounts.scoping import scoped_by


class ReportKind(models.TextChoices):
    EXAMINATION = "examination", _("Examination report")
    AUTOPSY = "autopsy", _("Autopsy report")
    DEATH_CERTIFICATE = "death_certificate", _("Cause-of-death certificate")


class Report(models.Model):
    """A report's identity: its unique number, the case and the work it reports on."""

    number = models.CharField(_("report number"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=ReportKind.choices, default=ReportKind.EXAMINATION)
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="reports", verbose_name=_("case"))
    #: The released work it reports on; a request issues one report of each kind it has (an autopsy issues the
    #: autopsy report and the cause-of-death certificate).
    request = models.ForeignKey(
        "lab.ServiceRequest", on_delete=models.PROTECT, null=True, blank=True, related_name="reports"
    )
    created_at = models.DateTimeField(_("first issued"))

    objects = scoped_by("case__agency", shared_with="case__contacts__agency").as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        constraints = [models.UniqueConstraint(fields=["request", "kind"], name="one_report_of_each_kind")]
        permissions = [
            ("amend_report", _("Can amend released reports")),
            ("download_discovery", _("Can download a case's discovery packet")),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def current_version(self) -> ReportVersion | None:
        """The latest version: every later version supersedes the one before it."""
        return self.versions.order_by("-version").first()


class ReportVersion(models.Model):
    """One issued PDF of a report. Append-only (database triggers): a row is never changed or deleted.

    An amendment does not touch the version it supersedes; the new version names it in ``supersedes``.
    """

    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField(_("version"))
    file = models.FileField(upload_to="reports/%Y/")
    sha256 = models.CharField(_("SHA-256 of the PDF"), max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    #: SHA-256 of the report's content (what the PDF says); printed in each page's QR code with the number.
    content_hash = models.CharField(max_length=64)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    issued_at = models.DateTimeField(_("issued"))
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    amendment_reason = models.CharField(_("reason for the amendment"), max_length=1000, blank=True)

    objects = scoped_by("report__case__agency", shared_with="report__case__contacts__agency").as_manager()

    class Meta:
        ordering = ["report", "version"]
        constraints = [
            models.UniqueConstraint(fields=["report", "version"], name="unique_report_version"),
            models.CheckConstraint(condition=Q(version=1) | ~Q(amendment_reason=""), name="amendment_has_reason"),
        ]
        verbose_name = _("report version")
        verbose_name_plural = _("report versions")

    def __str__(self) -> str:
        return f"{self.report.number} v{self.version}"

    @property
    def superseding(self) -> ReportVersion | None:
        """The version that amended this one, or None while it is current."""
        try:
            return self.superseded_by
        except ReportVersion.DoesNotExist:
            return None

    @property
    def is_current(self) -> bool:
        return self.superseding is None

    @property
    def superseded_at(self) -> datetime | None:
        superseding = self.superseding
        return superseding.issued_at if superseding else None

    @property
    def filename(self) -> str:
        return f"{self.report.number}-v{self.version}.pdf"


class Amendment(models.Model):
    """A request to amend a released report: the reason, and the version it produced once re-released."""

    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="amendments")
    reason = models.CharField(_("reason for the amendment"), max_length=1000)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    issued_version = models.OneToOneField(
        ReportVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="amendment"
    )

    class Meta:
        ordering = ["requested_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["report"], condition=Q(issued_version__isnull=True), name="one_open_amendment_per_report"
            )
        ]

    def __str__(self) -> str:
        return f"{self.report}: {self.reason}"


class ContactRole(models.TextChoices):
    PROSECUTOR = "prosecutor", pgettext_lazy("case contact", "Prosecutor")
    COURT = "court", _("Court")


class CaseContact(models.Model):
    """A prosecutor or court that receives the case's reports (a link by e-mail, and access in the portal)."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="contacts")
    role = models.CharField(_("role"), max_length=16, choices=ContactRole.choices)
    agency = models.ForeignKey(
        "accounts.Agency", on_delete=models.PROTECT, related_name="case_contacts", verbose_name=_("agency")
    )
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail"))
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["role", "name"]
        constraints = [models.UniqueConstraint(fields=["case", "email"], name="unique_case_contact_email")]
        verbose_name = _("case contact")
        verbose_name_plural = _("case contacts")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()}, {self.agency})"
