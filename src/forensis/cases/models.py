from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from forensis.accounts.scoping import scoped_by
from forensis.core import iccs
from forensis.core.models import Migrated
from forensis.core.vocabulary import District, Sex


class Incident(models.Model):
    """When and where it happened, as the agency reported it: shared by submissions and the cases they open."""

    incident_at = models.DateTimeField(_("incident date and time"), null=True, blank=True)
    district = models.CharField(_("district"), max_length=3, choices=District.choices, blank=True)
    town = models.CharField(_("town or village"), max_length=100, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    narrative = models.TextField(_("narrative"), blank=True)

    #: The fields a received submission passes on to the case it opens.
    FIELDS = ("incident_at", "district", "town", "address", "latitude", "longitude", "narrative")

    class Meta:
        abstract = True

    @property
    def place(self) -> str:
        return ", ".join(part for part in (self.address, self.town, self.get_district_display()) if part)


class Case(Incident, Migrated):
    """A laboratory case: created when the first submission for an agency case is received."""

    lab_number = models.CharField(_("lab case number"), max_length=32, unique=True)
    agency = models.ForeignKey(
        "accounts.Agency", on_delete=models.PROTECT, related_name="cases", verbose_name=_("agency")
    )
    agency_case_number = models.CharField(_("agency case number"), max_length=64, db_index=True)
    received_at = models.DateTimeField(_("received"), db_index=True)
    #: "YYYY-MM" of receipt in the laboratory's time zone: statistics group by it without date functions.
    received_month = models.CharField(max_length=7, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    #: The prosecutor and court named as the case's contacts see it too (they receive its reports).
    objects = scoped_by("agency", shared_with="contacts__agency").as_manager()

    MIGRATED_FIELDS = (
        "lab_number",
        "agency",
        "agency_case_number",
        "received_at",
        "district",
        "incident_at",
        "town",
        "narrative",
    )
    CORRECTABLE_FIELDS = ("agency_case_number", "received_at", "district", "incident_at", "town", "narrative")

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        indexes = [
            models.Index(fields=["agency", "agency_case_number"]),
            # Statistics filtered by district select on the month received.
            models.Index(fields=["district", "received_month"], name="cases_case_district_month_idx"),
        ]
        constraints = [Migrated.legacy_constraint("unique_case_legacy_id")]

    def __str__(self) -> str:
        return self.lab_number

    def derive_from_corrected(self, changed) -> list[str]:
        """After a correction: the stored month follows the date of receipt."""
        if "received_at" not in changed:
            return []
        from .services import lab_month

        self.received_month = lab_month(self.received_at)
        return ["received_month"]


class CaseOffence(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="offences")
    code = models.CharField(_("ICCS code"), max_length=8, choices=iccs.choices(), db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "code"], name="unique_case_offence")]
        ordering = ["code"]

    def __str__(self) -> str:
        return iccs.label(self.code)


class PersonRole(models.TextChoices):
    VICTIM = "victim", _("Victim")
    SUSPECT = "suspect", _("Suspect")
    DECEASED = "deceased", _("Deceased")
    REFERENCE = "reference", _("Reference (elimination)")


class Relationship(models.TextChoices):
    INTIMATE_PARTNER = "intimate_partner", _("Intimate partner")
    FORMER_PARTNER = "former_partner", _("Former partner")
    FAMILY = "family", _("Family member")
    ACQUAINTANCE = "acquaintance", _("Acquaintance")
    STRANGER = "stranger", _("Stranger")
    UNKNOWN = "unknown", _("Unknown")


class Person(Migrated):
    """A person involved, first named on a submission; joins the case when the submission is received."""

    submission = models.ForeignKey(
        "intake.Submission", on_delete=models.CASCADE, related_name="people", null=True, blank=True
    )
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="people", null=True, blank=True)
    role = models.CharField(_("role"), max_length=16, choices=PersonRole.choices)
    name = models.CharField(_("name"), max_length=200, help_text=_("Or 'unknown'."))
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    age = models.PositiveSmallIntegerField(_("age"), null=True, blank=True, validators=[MaxValueValidator(120)])
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    relationship_to_victim = models.CharField(
        _("relationship to the victim"), max_length=20, choices=Relationship.choices, blank=True
    )

    MIGRATED_FIELDS = ("case", "role", "name", "sex", "age")
    CORRECTABLE_FIELDS = ("role", "name", "sex", "age")

    class Meta:
        ordering = ["pk"]
        verbose_name = _("person")
        verbose_name_plural = _("people")
        constraints = [Migrated.legacy_constraint("unique_person_legacy_id")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()})"
