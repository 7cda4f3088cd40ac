"""Shared vocabularies: the words every app uses for the same things."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class District(models.TextChoices):
    BELIZE = "BZ", _("Belize")
    CAYO = "CY", _("Cayo")
    ORANGE_WALK = "OW", _("Orange Walk")
    COROZAL = "CZL", _("Corozal")
    STANN_CREEK = "SC", _("Stann Creek")
    TOLEDO = "TOL", _("Toledo")


class Sex(models.TextChoices):
    FEMALE = "F", _("Female")
    MALE = "M", _("Male")
    UNKNOWN = "U", _("Unknown")
