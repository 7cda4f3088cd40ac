from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Outcome(models.TextChoices):
    SUCCESS = "success", _("Success")
    FAILURE = "failure", _("Failure")
    DENIED = "denied", _("Denied")


class AuditEvent(models.Model):
    """One entry of the append-only, hash-chained audit log.

    ``hash = sha256(canonical_json(event without id and hash) + prev_hash)``; see ``audit.chain``.
    Database triggers (migration 0002) reject UPDATE and DELETE on this table on both engines.
    The actor is kept as a plain id plus a copy of the username, roles and agency at the time, so an
    entry stands on its own and never blocks or follows a change to the user.
    """

    occurred_at = models.DateTimeField(_("time"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_username = models.CharField(_("user"), max_length=150, blank=True)
    actor_roles = models.CharField(_("roles"), max_length=300, blank=True)
    actor_agency = models.CharField(_("agency"), max_length=32, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    object_type = models.CharField(_("object type"), max_length=64, blank=True, db_index=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    source = models.CharField(
        _("source"), max_length=64, blank=True, help_text=_("Client address, or 'cli' for the command line.")
    )
    prev_hash = models.CharField(max_length=64, unique=True)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor_username or '-'} {self.action}"
