from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from django.db import models, transaction
from django.utils.translation import gettext_lazy as _


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


class Migrated(models.Model):
    """Provenance of a record brought over from an old system by ``forensis import-legacy``.

    ``legacy_source`` names the old system (the mapping's ``[source] name``), ``legacy_id`` the record's key
    there, ``import_batch`` the import that last created or corrected it. Records made in Forensis leave
    them empty. The fields an import fills (``MIGRATED_FIELDS``) of a migrated record change only through an
    audited correction (``core.corrections``): a re-import, or a person correcting ``CORRECTABLE_FIELDS``.
    """

    #: The fields an import fills: read-only for a migrated record outside ``core.corrections.correcting()``.
    MIGRATED_FIELDS: ClassVar[tuple[str, ...]] = ()
    #: Those a person may correct by hand (``core.corrections.correct_migrated``).
    CORRECTABLE_FIELDS: ClassVar[tuple[str, ...]] = ()

    legacy_source = models.CharField(_("legacy source"), max_length=64, blank=True, editable=False)
    legacy_id = models.CharField(_("legacy ID"), max_length=64, blank=True, editable=False)
    import_batch = models.ForeignKey(
        "legacy.ImportBatch",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("import batch"),
    )

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        from forensis.core.corrections import check_read_only

        check_read_only(self, kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    @property
    def is_migrated(self) -> bool:
        return bool(self.legacy_id)

    @classmethod
    def legacy_constraint(cls, name: str) -> models.UniqueConstraint:
        """One record per legacy key and source (records made in Forensis have no key)."""
        return models.UniqueConstraint(
            fields=["legacy_source", "legacy_id"], condition=~models.Q(legacy_id=""), name=name
        )


@dataclass
class MigrationOutcome:
    """What a ``migrate_*`` service did with the legacy records it was given (legacy ID → primary key).

    ``unchanged``: the record differed from its last import but already matched what Forensis holds.
    ``refused``: a correction the service will not apply (legacy ID → the reason), e.g. moving an item
    to another case; the record in Forensis stays as it was.
    """

    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)

    @property
    def saved(self) -> dict[str, int]:
        """Every record that exists in Forensis after the call."""
        return {**self.unchanged, **self.updated, **self.created}


def in_chunks(values: Iterable, size: int = 500) -> Iterator[list]:
    """``values`` in lists of at most ``size`` (keeps ``__in`` lookups under SQLite's parameter limit)."""
    chunk: list = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def migrated(queryset: models.QuerySet, source: str, legacy_ids: Sequence[str] | None = None) -> models.QuerySet:
    """The records of ``queryset`` brought over from ``source`` (and under these legacy IDs), unordered.

    The condition ``legacy_id != ''`` is spelt out so that both engines use the partial unique index of
    ``Migrated.legacy_constraint`` (SQLite only uses a partial index when the query repeats its condition).
    """
    queryset = queryset.filter(legacy_source=source).exclude(legacy_id="").order_by()
    return queryset if legacy_ids is None else queryset.filter(legacy_id__in=legacy_ids)


def migrated_objects(queryset: models.QuerySet, source: str, legacy_ids: Sequence[str]) -> dict[str, models.Model]:
    """The records of ``queryset`` brought over from ``source`` under these legacy IDs, by legacy ID."""
    found = {}
    for chunk in in_chunks(sorted(set(legacy_ids))):
        for obj in migrated(queryset, source, chunk):
            found[obj.legacy_id] = obj
    return found


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
