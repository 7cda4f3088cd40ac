"""Records brought over from an old system are read-only; they change only through an audited correction.

A migrated record (``core.models.Migrated`` with a legacy ID) refuses, in ``save()``, any change to the fields
its import filled (the model's ``MIGRATED_FIELDS``) unless the change is made inside ``correcting()``. Two
paths open it, both audited ``legacy.corrected`` with the before and after values:

- a re-import of a corrected source (the ``migrate_*`` services of the owning apps), with the batch as reason;
- a person correcting a record by hand (``correct_migrated``), with the reason they give.

Work Forensis does on the record afterwards (custody moves, a legal hold, consumption) is not in
``MIGRATED_FIELDS`` and goes on as for any record.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from forensis.audit.services import record

_correcting: ContextVar[bool] = ContextVar("correcting_migrated_records", default=False)


class MigratedRecordReadOnly(ValidationError):
    """A change to data an import brought over, attempted outside a correction."""


@contextmanager
def correcting() -> Iterator[None]:
    """Within this block, migrated records may be saved with changed ``MIGRATED_FIELDS`` (the caller audits)."""
    token = _correcting.set(True)
    try:
        yield
    finally:
        _correcting.reset(token)


def check_read_only(obj: models.Model, update_fields) -> None:
    """Refuse to save ``obj`` if it is migrated and one of its imported fields differs from the database."""
    if not obj.pk or not getattr(obj, "legacy_id", "") or _correcting.get():
        return
    names = [field.attname for field in _migrated_fields(obj)]
    if update_fields is not None:
        wanted = set(update_fields)
        names = [name for name in names if name in wanted or name.removesuffix("_id") in wanted]
    if not names:
        return
    stored = type(obj)._base_manager.filter(pk=obj.pk).values(*names).first()
    if stored is None:
        return
    changed = [name for name in names if stored[name] != getattr(obj, name)]
    if changed:
        raise MigratedRecordReadOnly(
            _(
                "%(record)s was brought over from %(source)s (legacy ID %(id)s): its %(fields)s can only be changed "
                "by an audited correction."
            )
            % {
                "record": obj,
                "source": obj.legacy_source,
                "id": obj.legacy_id,
                "fields": ", ".join(str(obj._meta.get_field(name).verbose_name) for name in changed),
            }
        )


def apply_correction(
    actor, obj: models.Model, changed: Mapping[str, tuple[Any, Any]], *, reason: str, also_save: Sequence[str] = ()
) -> None:
    """The one way a migrated record changes: set each changed field to its new value, save, and audit.

    ``changed`` maps a name to (before, after); names that are not fields of ``obj`` (a case's offences, kept in
    their own table by the caller) are audited only. ``also_save`` names fields the caller derived.
    """
    names = {name for field in obj._meta.concrete_fields for name in (field.name, field.attname)}
    fields = [name for name in changed if name in names]
    for name in fields:
        setattr(obj, name, changed[name][1])
    with correcting():
        obj.save(update_fields=[*fields, *also_save])
    record(
        "legacy.corrected",
        actor=actor,
        obj=obj,
        before={name: values[0] for name, values in changed.items()},
        after={name: values[1] for name, values in changed.items()},
        reason=reason,
    )


def _migrated_fields(obj: models.Model) -> list[models.Field]:
    return [obj._meta.get_field(name) for name in type(obj).MIGRATED_FIELDS]


def correctable_fields(model: type[models.Model]) -> tuple[str, ...]:
    """The fields a person may correct by hand (``CORRECTABLE_FIELDS``, a subset of ``MIGRATED_FIELDS``)."""
    return tuple(getattr(model, "CORRECTABLE_FIELDS", ()))


@transaction.atomic
def correct_migrated(actor, obj: models.Model, changes: Mapping[str, Any], *, reason: str) -> bool:
    """Correct fields of a migrated record by hand, with a reason; audited before/after. False: nothing differed.

    Only the model's ``CORRECTABLE_FIELDS`` may be corrected (keys and numbers printed on labels never are);
    the new values are validated by the model's own field rules.
    """
    if not actor.has_perm("legacy.correct_migrated"):
        raise PermissionDenied(_("You may not correct records brought over from the old system."))
    if not getattr(obj, "legacy_id", ""):
        raise ValidationError(_("This record was made in Forensis, not brought over from an old system."))
    allowed = correctable_fields(type(obj))
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise ValidationError(_("These fields cannot be corrected: %(fields)s.") % {"fields": ", ".join(unknown)})
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the record is corrected.")})
    changed = {name: (getattr(obj, name), value) for name, value in changes.items() if getattr(obj, name) != value}
    if not changed:
        return False
    for name, (_before, after) in changed.items():
        setattr(obj, name, after)
    obj.full_clean(
        exclude=[field.name for field in obj._meta.fields if field.name not in changed], validate_unique=False
    )
    derived = obj.derive_from_corrected(changed) if hasattr(obj, "derive_from_corrected") else []
    apply_correction(actor, obj, changed, reason=reason.strip(), also_save=derived)
    return True
