from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from forensis.accounts.scoping import scoped_by
from forensis.core.files import StoredFile


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
    """The stage a request is in. Each transition is a function in ``lab.services`` and keeps its timestamp."""

    REQUESTED = "requested", _("Waiting for assignment")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    DRAFT_COMPLETE = "draft_complete", _("Draft complete — waiting for technical review")
    TECHNICAL_REVIEW = "technical_review", _("Technically reviewed — waiting for administrative review")
    ADMINISTRATIVE_REVIEW = "administrative_review", _("Reviewed — ready for release")
    RELEASED = "released", _("Released")
    CANCELLED = "cancelled", _("Cancelled")


#: Requests that are still someone's work (for backlog and workload).
OPEN_STATUSES = (
    RequestStatus.REQUESTED,
    RequestStatus.ASSIGNED,
    RequestStatus.IN_PROGRESS,
    RequestStatus.DRAFT_COMPLETE,
    RequestStatus.TECHNICAL_REVIEW,
    RequestStatus.ADMINISTRATIVE_REVIEW,
)


class Priority(models.IntegerChoices):
    ROUTINE = 0, _("Routine")
    HIGH = 1, _("High (violent crime)")
    RUSH = 2, _("Rush")


class ServiceRequest(models.Model):
    """One discipline's work on a set of items of a case. Created at receipt, one per requested discipline."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="requests")
    discipline = models.ForeignKey(Discipline, on_delete=models.PROTECT, related_name="requests")
    items = models.ManyToManyField("evidence.Item", related_name="requests")
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("raised from")
    )
    status = models.CharField(
        _("status"), max_length=24, choices=RequestStatus.choices, default=RequestStatus.REQUESTED, db_index=True
    )
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices, default=Priority.ROUTINE)
    court_date = models.DateField(_("court date"), null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_requests",
        verbose_name=_("analyst"),
    )
    cancel_reason = models.CharField(_("reason for cancelling"), max_length=500, blank=True)
    # Stage timestamps (turnaround statistics). A send-back clears the later stages, so each is ≥ the previous.
    requested_at = models.DateTimeField(_("requested"))
    assigned_at = models.DateTimeField(_("assigned"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    draft_completed_at = models.DateTimeField(_("draft completed"), null=True, blank=True)
    technical_reviewed_at = models.DateTimeField(_("technically reviewed"), null=True, blank=True)
    administrative_reviewed_at = models.DateTimeField(_("administratively reviewed"), null=True, blank=True)
    released_at = models.DateTimeField(_("released"), null=True, blank=True, db_index=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    received_month = models.CharField(max_length=7, db_index=True)
    #: "YYYY-MM" of ``released_at`` in the laboratory's time zone (statistics group released work by it).
    released_month = models.CharField(max_length=7, blank=True, db_index=True)

    objects = scoped_by("case__agency").as_manager()

    class Meta:
        ordering = ["-priority", "court_date", "requested_at", "pk"]
        verbose_name = _("service request")
        verbose_name_plural = _("service requests")
        permissions = [
            ("assign_request", _("Can assign and prioritise requests")),
            ("perform_examination", _("Can examine items and record results")),
            ("review_request", _("Can review requests")),
            ("release_request", _("Can release reviewed requests")),
            ("manage_catalogue", _("Can manage methods, instruments, reagent lots and authorisations")),
        ]
        indexes = [
            # The backlog now: the requests neither released nor cancelled, per discipline and age.
            models.Index(
                fields=["discipline", "requested_at"],
                condition=models.Q(released_at__isnull=True, cancelled_at__isnull=True),
                name="lab_request_open_idx",
            ),
            models.Index(fields=["court_date"], name="lab_request_court_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.case.lab_number} {self.discipline.name}"


class RequestTransition(models.Model):
    """Every change of a request's stage, with who, when and why (send-backs and cancellations)."""

    request = models.ForeignKey(ServiceRequest, on_delete=models.PROTECT, related_name="transitions")
    from_status = models.CharField(max_length=24, choices=RequestStatus.choices)
    to_status = models.CharField(max_length=24, choices=RequestStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.request}: {self.from_status} → {self.to_status}"


class Method(models.Model):
    """A method / SOP of a discipline, in versions; only active versions can be chosen for new work."""

    discipline = models.ForeignKey(Discipline, on_delete=models.PROTECT, related_name="methods")
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=200)
    version = models.CharField(_("version"), max_length=20)
    effective_from = models.DateField(_("effective from"))
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        ordering = ["discipline", "code", "-effective_from"]
        constraints = [models.UniqueConstraint(fields=["code", "version"], name="unique_method_version")]
        verbose_name = _("method")
        verbose_name_plural = _("methods")

    def __str__(self) -> str:
        return f"{self.code} v{self.version} — {self.name}"


class Authorization(models.Model):
    """An analyst's competency for a discipline (all its methods) or for one method, until an expiry date."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="authorizations")
    discipline = models.ForeignKey(Discipline, on_delete=models.PROTECT, related_name="authorizations")
    method = models.ForeignKey(
        Method, on_delete=models.PROTECT, null=True, blank=True, help_text=_("Empty: every method of the discipline.")
    )
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"))
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["user", "discipline", "-valid_until"]
        verbose_name = _("authorisation")
        verbose_name_plural = _("authorisations")

    def __str__(self) -> str:
        scope = self.method or _("all methods")
        return f"{self.user} — {self.discipline} ({scope}) → {self.valid_until}"


class Instrument(models.Model):
    name = models.CharField(_("name"), max_length=200)
    serial_number = models.CharField(_("serial number"), max_length=100, unique=True)
    discipline = models.ForeignKey(
        Discipline, on_delete=models.PROTECT, null=True, blank=True, related_name="instruments"
    )
    calibration_due = models.DateField(_("calibration due"))
    maintenance_due = models.DateField(_("maintenance due"), null=True, blank=True)
    is_active = models.BooleanField(_("in service"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("instrument")
        verbose_name_plural = _("instruments")

    def __str__(self) -> str:
        return f"{self.name} ({self.serial_number})"


class ReagentLot(models.Model):
    reagent = models.CharField(_("reagent"), max_length=200)
    lot_number = models.CharField(_("lot number"), max_length=100)
    expiry = models.DateField(_("expiry date"))
    discipline = models.ForeignKey(
        Discipline, on_delete=models.PROTECT, null=True, blank=True, related_name="reagent_lots"
    )

    class Meta:
        ordering = ["reagent", "expiry"]
        constraints = [models.UniqueConstraint(fields=["reagent", "lot_number"], name="unique_reagent_lot")]
        verbose_name = _("reagent lot")
        verbose_name_plural = _("reagent lots")

    def __str__(self) -> str:
        return f"{self.reagent} lot {self.lot_number} (exp. {self.expiry})"


class Examination(models.Model):
    """The analyst's record of the work on a request: method version, instrument, reagent lots, notes."""

    request = models.OneToOneField(ServiceRequest, on_delete=models.PROTECT, related_name="examination")
    analyst = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    method = models.ForeignKey(Method, on_delete=models.PROTECT, verbose_name=_("method"))
    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("instrument")
    )
    reagent_lots = models.ManyToManyField(ReagentLot, blank=True, verbose_name=_("reagent lots"))
    worksheet = models.ForeignKey(
        "Worksheet", on_delete=models.PROTECT, null=True, blank=True, related_name="examinations"
    )
    notes = models.TextField(_("notes"), blank=True)
    deviations = models.TextField(_("deviations from the method"), blank=True)
    started_at = models.DateTimeField(_("started"))

    def __str__(self) -> str:
        return f"{self.request} ({self.method})"


class Result(models.Model):
    """One structured result for one item. Reviewed results are never edited: a change is a new version."""

    examination = models.ForeignKey(Examination, on_delete=models.PROTECT, related_name="results")
    item = models.ForeignKey("evidence.Item", on_delete=models.PROTECT, related_name="results")
    data = models.JSONField(_("result"))
    version = models.PositiveIntegerField(default=1)
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    change_reason = models.CharField(_("reason for the change"), max_length=500, blank=True)
    is_current = models.BooleanField(default=True, db_index=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["item", "version"]

    def __str__(self) -> str:
        return f"{self.item} v{self.version}"


class Attachment(StoredFile):
    """An instrument file or photo of an examination, stored with its SHA-256."""

    examination = models.ForeignKey(Examination, on_delete=models.PROTECT, related_name="attachments")
    file = models.FileField(upload_to="examinations/%Y/")


class SignatureMeaning(models.TextChoices):
    AUTHORED = "authored", _("Authored")
    TECHNICALLY_REVIEWED = "technically_reviewed", _("Technically reviewed")
    ADMINISTRATIVELY_REVIEWED = "administratively_reviewed", _("Administratively reviewed")
    RELEASED = "released", _("Released")


class Signature(models.Model):
    """An electronic signature (21 CFR Part 11): printed name, meaning, time, and the hash of what was signed.

    Given only after the signer re-entered their password; bound to the request's results by ``content_hash``.
    """

    request = models.ForeignKey(ServiceRequest, on_delete=models.PROTECT, related_name="signatures")
    meaning = models.CharField(_("meaning"), max_length=32, choices=SignatureMeaning.choices)
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signer_name = models.CharField(_("signed by"), max_length=200)
    signed_at = models.DateTimeField(_("signed"))
    content_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["signed_at", "pk"]

    def __str__(self) -> str:
        return f"{self.signer_name}: {self.get_meaning_display()}"


class ReviewStage(models.TextChoices):
    TECHNICAL = "technical", _("Technical review")
    ADMINISTRATIVE = "administrative", _("Administrative review")


class ChecklistQuestion(models.Model):
    """A question a reviewer must answer yes to before approving (per stage, optionally per discipline)."""

    stage = models.CharField(_("review"), max_length=16, choices=ReviewStage.choices)
    discipline = models.ForeignKey(
        Discipline, on_delete=models.PROTECT, null=True, blank=True, help_text=_("Empty: every discipline.")
    )
    text = models.CharField(_("question"), max_length=300)
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        ordering = ["stage", "pk"]

    def __str__(self) -> str:
        return self.text


class Review(models.Model):
    """A reviewer's decision: approved (with a signature) or sent back (with a reason)."""

    request = models.ForeignKey(ServiceRequest, on_delete=models.PROTECT, related_name="reviews")
    stage = models.CharField(_("review"), max_length=16, choices=ReviewStage.choices)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved = models.BooleanField(_("approved"))
    reason = models.CharField(_("reason"), max_length=1000, blank=True)
    checklist = models.JSONField(_("checklist answers"), default=dict)
    signature = models.OneToOneField(Signature, on_delete=models.PROTECT, null=True, blank=True)
    reviewed_at = models.DateTimeField()

    class Meta:
        ordering = ["reviewed_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_stage_display()}: {'approved' if self.approved else 'sent back'}"


class Worksheet(models.Model):
    """A batch of requests of one discipline run together (e.g. 20 blood alcohol samples on one instrument)."""

    reference = models.CharField(_("worksheet number"), max_length=32, unique=True)
    discipline = models.ForeignKey(Discipline, on_delete=models.PROTECT, related_name="worksheets")
    analyst = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.reference
