from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from forensis.core.vocabulary import District

from .scoping import AgencyScopedQuerySet, scoped_by


class AgencyType(models.TextChoices):
    LABORATORY = "laboratory", _("Forensic laboratory")
    POLICE = "police", _("Police station or unit")
    PROSECUTOR = "prosecutor", pgettext_lazy("agency type", "Prosecutor")
    COURT = "court", _("Court")
    OBSERVATORY = "observatory", _("Crime observatory")
    PARTNER = "partner", _("Partner system")


class Agency(models.Model):
    """An organisation whose people use Forensis. Agencies are deactivated, never deleted."""

    code = models.SlugField(
        _("code"), max_length=32, unique=True, help_text=_("Short stable identifier, e.g. BZ-POLICE-HQ.")
    )
    name = models.CharField(_("name"), max_length=200, unique=True)
    type = models.CharField(_("type"), max_length=20, choices=AgencyType.choices)
    district = models.CharField(_("district"), max_length=3, choices=District.choices, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    report_language = models.CharField(
        _("report language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default="en",
        help_text=_("The language of the reports the laboratory issues to this agency."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = scoped_by("pk").as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        permissions = [("manage_agencies", _("Can create and change agencies"))]

    def __str__(self) -> str:
        return self.name

    def delete(self, *args, **kwargs):
        raise PermissionDenied(_("Agencies are deactivated, never deleted."))


class ForensisUserManager(UserManager.from_queryset(AgencyScopedQuerySet)):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        """`forensis createsuperuser`: an administrator of the laboratory, created through the service."""
        from .roles import Role
        from .services import create_agency, create_user

        laboratory = extra_fields.pop("agency", None)
        if laboratory is None:
            laboratory = Agency.objects.filter(type=AgencyType.LABORATORY).order_by("pk").first()
        if laboratory is None:
            laboratory = create_agency(None, code="LAB", name="Forensic Laboratory", type=AgencyType.LABORATORY)
        return create_user(
            None,
            username=username,
            password=password,
            agency=laboratory,
            roles=[Role.ADMINISTRATOR],
            email=email or "",
            is_superuser=True,
        )


class User(AbstractUser):
    """A person who signs in. Users are deactivated, never deleted (their actions stay attributable)."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="users", verbose_name=_("agency"))
    badge_number = models.CharField(_("badge or staff number"), max_length=40, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)

    objects = ForensisUserManager()

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")
        permissions = [
            ("manage_users", _("Can create users, change their roles and deactivate them")),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def delete(self, *args, **kwargs):
        raise PermissionDenied(_("Users are deactivated, never deleted."))

    @property
    def role_codes(self) -> list[str]:
        if not hasattr(self, "_role_codes"):
            self._role_codes = sorted(self.groups.values_list("name", flat=True))
        return self._role_codes

    @property
    def roles(self):
        from .roles import Role

        return [Role(code) for code in self.role_codes if code in Role.values]

    def has_role(self, *roles) -> bool:
        return any(str(role) in self.role_codes for role in roles)

    @property
    def is_laboratory_staff(self) -> bool:
        return self.agency.type == AgencyType.LABORATORY

    @property
    def mfa_required(self) -> bool:
        """CJIS baseline: MFA for every laboratory user and administrator; agency users by setting."""
        from django.conf import settings

        from .roles import Role

        if self.is_laboratory_staff or self.is_superuser or self.has_role(Role.ADMINISTRATOR):
            return True
        return settings.FORENSIS_MFA_FOR_AGENCY_USERS
