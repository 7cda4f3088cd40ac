"""Death investigations: the medical examiner's record of a death, its body, its autopsy and its context.

The body is an evidence item of the police case with its own custody ledger; the autopsy is the pathology
service request's examination, so it is assigned, signed, reviewed twice and released like any other work,
and its tests (toxicology, histopathology) are child requests of it. What statistics group by (sex, age group,
district, month, manner, mechanism) is stored in columns, never computed per row.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from forensis.accounts.scoping import scoped_by
from forensis.cases.models import Relationship
from forensis.core.vocabulary import District, Sex

#: The oldest age accepted for a person, in years.
MAX_AGE = 120


class Pregnancy(models.TextChoices):
    NOT_PREGNANT = "no", _("Not pregnant")
    PREGNANT = "pregnant", _("Pregnant")
    POSTPARTUM = "postpartum", _("Pregnant in the last 42 days")
    NOT_APPLICABLE = "na", _("Not applicable")
    UNKNOWN = "unknown", _("Unknown")


class AgeGroup(models.TextChoices):
    """The age groups of UNODC homicide statistics (SDG 16.1.1)."""

    CHILD = "0-14", _("0–14")
    YOUTH = "15-29", _("15–29")
    ADULT = "30-44", _("30–44")
    MIDDLE = "45-59", _("45–59")
    OLDER = "60+", _("60 and over")
    UNKNOWN = "unknown", _("Unknown")


#: Lower bound of each age group (years), in order.
AGE_GROUP_BOUNDS = (
    (0, AgeGroup.CHILD),
    (15, AgeGroup.YOUTH),
    (30, AgeGroup.ADULT),
    (45, AgeGroup.MIDDLE),
    (60, AgeGroup.OLDER),
)


def age_group_of(age: int) -> str:
    group = AgeGroup.CHILD
    for lower, candidate in AGE_GROUP_BOUNDS:
        if age >= lower:
            group = candidate
    return group


class Manner(models.TextChoices):
    NATURAL = "natural", _("Natural")
    ACCIDENT = "accident", _("Accident")
    SUICIDE = "suicide", _("Suicide")
    HOMICIDE = "homicide", _("Homicide")
    UNDETERMINED = "undetermined", _("Undetermined")
    PENDING = "pending", _("Pending investigation")


class Mechanism(models.TextChoices):
    FIREARM = "firearm", _("Firearm")
    SHARP_OBJECT = "sharp_object", _("Sharp object")
    BLUNT_OBJECT = "blunt_object", _("Blunt object")
    STRANGULATION = "strangulation", _("Strangulation or suffocation")
    POISONING = "poisoning", _("Poisoning")
    BURNS = "burns", _("Burns")
    DROWNING = "drowning", _("Drowning")
    OTHER = "other", pgettext_lazy("mechanism of death", "Other")


class AutopsyType(models.TextChoices):
    FULL = "full", _("Full autopsy")
    EXTERNAL = "external", _("External examination only")


class YesNoUnknown(models.TextChoices):
    YES = "yes", _("Yes")
    NO = "no", _("No")
    UNKNOWN = "unknown", _("Unknown")


class BodyReceiver(models.TextChoices):
    FUNERAL_HOME = "funeral_home", _("Funeral home")
    FAMILY = "family", _("Family")


#: The UNODC–UN Women statistical framework (2022) variables recorded for every death, each yes / no / unknown.
FRAMEWORK_INDICATORS = (
    "prior_violence",
    "sexual_violence",
    "mutilation",
    "body_disposed_in_public",
    "illegal_exploitation",
    "deprived_of_liberty",
    "sex_work",
    "gender_hate_motive",
)

#: Relationships that make the killing of a woman or girl gender-related by themselves (the framework's first
#: two groups: intimate partners and other family members).
FAMILY_RELATIONSHIPS = (Relationship.INTIMATE_PARTNER, Relationship.FORMER_PARTNER, Relationship.FAMILY)


def _framework_field(label, help_text):
    return models.CharField(
        label, max_length=8, choices=YesNoUnknown.choices, default=YesNoUnknown.UNKNOWN, help_text=help_text
    )


class DeathInvestigation(models.Model):
    """A death the medical examiner's office takes part in: decedent, when and where, who, and the context."""

    number = models.CharField(_("death investigation number"), max_length=32, unique=True)
    case = models.ForeignKey(
        "cases.Case", on_delete=models.PROTECT, related_name="death_investigations", verbose_name=_("case")
    )
    body = models.OneToOneField(
        "evidence.Item", on_delete=models.PROTECT, related_name="death_investigation", verbose_name=_("body")
    )
    # The decedent.
    identified = models.BooleanField(_("identified"), default=True)
    decedent_name = models.CharField(_("name of the deceased"), max_length=200, blank=True)
    tag_number = models.CharField(
        _("body tag number"), max_length=32, blank=True, help_text=_("Required while the deceased is unidentified.")
    )
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, default=Sex.UNKNOWN, db_index=True)
    age = models.PositiveSmallIntegerField(
        _("age (years)"), null=True, blank=True, validators=[MaxValueValidator(MAX_AGE)]
    )
    age_min = models.PositiveSmallIntegerField(
        _("estimated age from"), null=True, blank=True, validators=[MaxValueValidator(MAX_AGE)]
    )
    age_max = models.PositiveSmallIntegerField(
        _("estimated age to"), null=True, blank=True, validators=[MaxValueValidator(MAX_AGE)]
    )
    #: From the age, or from the estimated range when it lies inside one group; else unknown.
    age_group = models.CharField(
        _("age group"), max_length=8, choices=AgeGroup.choices, default=AgeGroup.UNKNOWN, db_index=True
    )
    nationality = models.CharField(_("nationality"), max_length=64, blank=True)
    pregnancy = models.CharField(
        _("pregnancy status"), max_length=12, choices=Pregnancy.choices, default=Pregnancy.UNKNOWN
    )
    # When and where.
    death_at = models.DateTimeField(_("date and time of death"), null=True, blank=True)
    death_time_estimated = models.BooleanField(_("time of death estimated"), default=False)
    district = models.CharField(_("district of death"), max_length=3, choices=District.choices, db_index=True)
    death_place = models.CharField(_("place of death"), max_length=255)
    discovered_at = models.DateTimeField(_("date and time of discovery"))
    discovery_place = models.CharField(_("place of discovery"), max_length=255, blank=True)
    #: "YYYY-MM" of death (of discovery when the date of death is unknown) in the laboratory's time zone.
    month = models.CharField(max_length=7, db_index=True)
    # Who.
    scene_technician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("scene technician"),
    )
    pathologist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("pathologist"),
    )
    logged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    logged_at = models.DateTimeField(_("logged"))
    # Context: the UNODC–UN Women statistical framework on gender-related killings, as data.
    relationship = models.CharField(
        _("victim–perpetrator relationship"),
        max_length=20,
        choices=Relationship.choices,
        default=Relationship.UNKNOWN,
    )
    perpetrator_sex = models.CharField(
        _("sex of the perpetrator"), max_length=1, choices=Sex.choices, default=Sex.UNKNOWN
    )
    prior_violence = _framework_field(
        _("prior violence known"), _("Physical, sexual or psychological violence by the perpetrator before.")
    )
    sexual_violence = _framework_field(_("sexual violence"), _("Before or after the killing."))
    mutilation = _framework_field(_("mutilation of the body"), "")
    body_disposed_in_public = _framework_field(_("body disposed of in a public place"), "")
    illegal_exploitation = _framework_field(
        _("illegal exploitation"), _("Trafficking in persons, forced labour or slavery.")
    )
    deprived_of_liberty = _framework_field(_("abducted or deprived of liberty"), "")
    sex_work = _framework_field(_("worked in the sex industry"), "")
    gender_hate_motive = _framework_field(_("gender-based hate motive"), _("Targeted because of a bias against women."))
    circumstances = models.TextField(_("circumstances"), blank=True)

    objects = scoped_by("case__agency", shared_with="case__contacts__agency").as_manager()

    class Meta:
        ordering = ["-logged_at", "-pk"]
        verbose_name = _("death investigation")
        verbose_name_plural = _("death investigations")
        permissions = [
            ("receive_body", _("Can receive bodies at the morgue")),
            ("release_body", _("Can release bodies to a funeral home or family")),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def decedent(self) -> str:
        """The name, or "Unidentified (tag …)"."""
        if self.identified and self.decedent_name:
            return self.decedent_name
        return str(_("Unidentified (tag %(tag)s)") % {"tag": self.tag_number or "—"})

    @property
    def age_shown(self) -> str:
        if self.age is not None:
            return str(self.age)
        if self.age_min is not None or self.age_max is not None:
            low, high = (value if value is not None else "?" for value in (self.age_min, self.age_max))
            return f"{low}–{high}"
        return ""

    @property
    def gender_related(self) -> bool | None:
        """Whether the killing of a woman or girl is gender-related under the UNODC–UN Women framework.

        None when it does not apply (not a homicide, or the victim is not female) or the manner is not yet known.
        """
        autopsy = getattr(self, "autopsy", None)
        if self.sex != Sex.FEMALE or autopsy is None or autopsy.manner != Manner.HOMICIDE:
            return None
        if self.relationship in FAMILY_RELATIONSHIPS:
            return True
        return any(getattr(self, name) == YesNoUnknown.YES for name in FRAMEWORK_INDICATORS)


class AutopsyRecord(models.Model):
    """The pathologist's findings: the cause-of-death chain with ICD-10 codes, the manner and the mechanism.

    It belongs to the examination of the pathology request, so it is signed, reviewed and released with it;
    once released, a change (of the manner of death, say) is an amendment of the autopsy report.
    """

    investigation = models.OneToOneField(DeathInvestigation, on_delete=models.PROTECT, related_name="autopsy")
    examination = models.OneToOneField("lab.Examination", on_delete=models.PROTECT, related_name="autopsy")
    performed_on = models.DateField(_("date of the autopsy"))
    type = models.CharField(_("type"), max_length=10, choices=AutopsyType.choices)
    findings = models.TextField(_("summary of findings"), blank=True)
    immediate_cause = models.CharField(_("immediate cause"), max_length=300, blank=True)
    immediate_icd10 = models.CharField(_("ICD-10"), max_length=8, blank=True)
    antecedent_cause = models.CharField(_("antecedent cause (due to)"), max_length=300, blank=True)
    antecedent_icd10 = models.CharField(_("ICD-10"), max_length=8, blank=True)
    underlying_cause = models.CharField(_("underlying cause"), max_length=300, blank=True)
    underlying_icd10 = models.CharField(_("ICD-10"), max_length=8, blank=True)
    contributing_conditions = models.CharField(_("contributing conditions"), max_length=500, blank=True)
    manner = models.CharField(
        _("manner of death"), max_length=12, choices=Manner.choices, default=Manner.PENDING, db_index=True
    )
    mechanism = models.CharField(_("mechanism"), max_length=16, choices=Mechanism.choices, blank=True, db_index=True)
    recorded_at = models.DateTimeField(_("last changed"))

    #: The fields the pathologist writes, in the order of the form and of the signed snapshot.
    FIELDS = (
        "performed_on",
        "type",
        "findings",
        "immediate_cause",
        "immediate_icd10",
        "antecedent_cause",
        "antecedent_icd10",
        "underlying_cause",
        "underlying_icd10",
        "contributing_conditions",
        "manner",
        "mechanism",
    )
    #: The cause-of-death chain: (name, its text field, its ICD-10 field), immediate first.
    CAUSE_CHAIN = (
        ("immediate", "immediate_cause", "immediate_icd10"),
        ("antecedent", "antecedent_cause", "antecedent_icd10"),
        ("underlying", "underlying_cause", "underlying_icd10"),
    )

    class Meta:
        verbose_name = _("autopsy record")
        verbose_name_plural = _("autopsy records")

    def __str__(self) -> str:
        return f"{self.investigation.number} ({self.get_type_display()})"

    def snapshot(self) -> dict[str, str]:
        """What the pathologist signs: part of the request's content hash (``lab.services.content_hash``)."""
        return {name: str(getattr(self, name)) for name in self.FIELDS}

    def completion_problems(self) -> list[str]:
        """What must be recorded before the pathologist signs the autopsy."""
        problems = []
        if not self.immediate_cause or not self.immediate_icd10:
            problems.append(str(_("Record the immediate cause of death with its ICD-10 code.")))
        if not self.findings.strip():
            problems.append(str(_("Summarise the findings.")))
        return problems


class BodyRelease(models.Model):
    """Who took the body away (a funeral home or the family), their identity, and that they signed for it."""

    investigation = models.OneToOneField(DeathInvestigation, on_delete=models.PROTECT, related_name="release")
    custody_event = models.OneToOneField("evidence.CustodyEvent", on_delete=models.PROTECT, related_name="+")
    receiver_kind = models.CharField(_("released to"), max_length=16, choices=BodyReceiver.choices)
    receiver_name = models.CharField(_("name of the person collecting"), max_length=200)
    organisation = models.CharField(_("funeral home"), max_length=200, blank=True)
    relationship = models.CharField(_("relationship to the deceased"), max_length=100, blank=True)
    identity_document = models.CharField(_("identity document"), max_length=100)
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    released_at = models.DateTimeField(_("released"))

    class Meta:
        verbose_name = _("body release")
        verbose_name_plural = _("body releases")

    def __str__(self) -> str:
        return f"{self.investigation.number} → {self.receiver_name}"
