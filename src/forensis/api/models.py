"""The exchange with partner systems: their tokens, retried POSTs, the change feed and its webhooks."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from forensis.accounts.scoping import scoped_by


class Resource(models.TextChoices):
    """What a partner token may reach. Each names a group of endpoints (docs/api.md)."""

    SUBMISSIONS = "submissions", _("Submissions (pre-log)")
    CASES = "cases", _("Cases, people, items and custody")
    REQUESTS = "requests", _("Examination requests and their status")
    REPORTS = "reports", _("Released reports")
    STATISTICS = "statistics", _("Statistics and open data")
    FEED = "feed", _("Change feed and webhooks")


class Access(models.TextChoices):
    READ = "read", _("Read only")
    WRITE = "write", _("Read and write")


class PartnerToken(models.Model):
    """A credential an administrator issues to one partner system, bound to one agency.

    Only the SHA-256 of the token is stored (the token is 256 random bits, so a fast hash is enough; it is
    shown once, when issued). The token acts through its own account (``user``, role *partner system*, no
    password), so the service functions, the agency scoping and the audit log treat it like anyone else.
    """

    name = models.SlugField(
        _("name"), max_length=60, unique=True, help_text=_("e.g. police-rms. Shown in the audit log.")
    )
    agency = models.ForeignKey(
        "accounts.Agency", on_delete=models.PROTECT, related_name="partner_tokens", verbose_name=_("agency")
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="partner_token", editable=False
    )
    resources = models.JSONField(_("resources"), default=list)
    access = models.CharField(_("access"), max_length=8, choices=Access.choices, default=Access.READ)
    prefix = models.CharField(_("token begins with"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    rate_limit = models.PositiveIntegerField(
        _("requests per minute"), default=600, help_text=_("Calls beyond this within a minute are refused (429).")
    )
    #: Empty when issued from the command line (``forensis api-token issue``).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(_("issued"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    revoke_reason = models.CharField(_("reason for revoking"), max_length=300, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    #: The rate limit's current one-minute window (its start, in whole minutes since the epoch) and calls in it.
    window_minute = models.BigIntegerField(default=0, editable=False)
    window_calls = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("partner token")
        verbose_name_plural = _("partner tokens")
        default_permissions = ("view",)
        permissions = [("manage_partnertoken", _("Can issue and revoke partner tokens"))]

    def __str__(self) -> str:
        return self.name

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_usable(self) -> bool:
        return not self.is_revoked and not self.is_expired

    def allows(self, resource: str, *, write: bool = False) -> bool:
        return resource in self.resources and (not write or self.access == Access.WRITE)

    def get_resources_display(self) -> list[str]:
        labels = dict(Resource.choices)
        return [str(labels.get(code, code)) for code in self.resources]


class IdempotencyRecord(models.Model):
    """The answer to a POST made with an ``Idempotency-Key``: a retry with the same key gets it again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the method, path and body.")
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField(null=True)
    location = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="unique_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class Topic(models.TextChoices):
    CASE_RECEIVED = "case.received", _("Case received")
    REQUEST_STATUS = "request.status_changed", _("Request status changed")
    REPORT_RELEASED = "report.released", _("Report released")
    ITEM_RETURNED = "item.returned", _("Item returned")


class Change(models.Model):
    """One entry of the change feed. The key is the cursor: entries are numbered in the order they commit.

    ``forensis.api.feed.publish`` writes them inside the service's transaction, under the audit chain's lock,
    so a partner reading ``after=N`` never misses an entry that commits later with a smaller number.
    """

    occurred_at = models.DateTimeField(db_index=True)
    topic = models.CharField(max_length=32, choices=Topic.choices, db_index=True)
    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="+")
    data = models.JSONField(default=dict)

    objects = scoped_by("agency", shared_with="case__contacts__agency").as_manager()

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["agency", "id"], name="api_change_agency_idx")]

    def __str__(self) -> str:
        return f"{self.pk} {self.topic}"


class WebhookSubscription(models.Model):
    """Push the token's feed entries to a partner's address as they happen (optional; the feed is the record)."""

    token = models.OneToOneField(PartnerToken, on_delete=models.CASCADE, related_name="webhook")
    url = models.URLField(
        _("address"),
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text=_("https://… on the partner's system."),
    )
    secret = models.CharField(max_length=64, editable=False)
    topics = models.JSONField(_("topics"), default=list)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("webhook")

    def __str__(self) -> str:
        return f"{self.token.name} → {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed (gave up)")


class WebhookDelivery(models.Model):
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    change = models.ForeignKey(Change, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["subscription", "change"], name="unique_webhook_delivery")]

    def __str__(self) -> str:
        return f"{self.change_id} → {self.subscription_id} ({self.status})"
