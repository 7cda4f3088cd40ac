from __future__ import annotations

from django.db import models, transaction


class Counter(models.Model):
    """Gap-free numbering for identifiers people read (lab case numbers, submissions, receipts)."""

    key = models.CharField(max_length=64, unique=True)
    value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


@transaction.atomic
def next_number(key: str) -> int:
    """The next number for ``key``; the row lock makes concurrent callers wait, so no number repeats."""
    counter, _created = Counter.objects.select_for_update().get_or_create(key=key)
    counter.value += 1
    counter.save(update_fields=["value"])
    return counter.value


def yearly_number(prefix: str, counter: str, moment) -> str:
    """``PREFIX-YYYY-NNNNN``, numbered per year (in the laboratory's time zone) without gaps."""
    from django.utils import timezone

    year = timezone.localtime(moment).year
    return f"{prefix}-{year}-{next_number(f'{counter}-{year}'):05d}"


class Notification(models.Model):
    """An in-app message to one user (also e-mailed when they have an address)."""

    recipient = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="notifications")
    message = models.CharField(max_length=500)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.message
