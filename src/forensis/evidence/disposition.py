"""The end of an item's life in the laboratory: retention rules, return to the agency, witnessed destruction.

A legal hold or a retention rule blocks every disposition; each disposition is a custody event like any other.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from forensis.accounts.models import User
from forensis.accounts.services import require_permission
from forensis.audit.services import record
from forensis.core.models import yearly_number

from .models import CustodyEvent, Destruction, Item, ItemStatus, Purpose, RetentionRule
from .services import _check_handling, _locked_items, append_custody_event, person_name


def retention_problem(item: Item, *, now=None) -> str | None:
    """Why a retention rule still keeps ``item`` in the laboratory, or None."""
    now = now or timezone.now()
    codes = list(item.case.offences.values_list("code", flat=True))
    for rule in RetentionRule.objects.all():
        if not any(code.startswith(rule.offence_prefix) for code in codes):
            continue
        if rule.biological_only and not item.biological:
            continue
        if rule.retain_years is None:
            return _("Item %(label)s must be kept indefinitely (%(rule)s).") % {
                "label": item.label,
                "rule": rule.note or rule.offence_prefix,
            }
        until = item.received_at.replace(year=item.received_at.year + rule.retain_years)
        if now < until:
            return _("Item %(label)s must be kept until %(date)s (%(rule)s).") % {
                "label": item.label,
                "date": timezone.localtime(until).date(),
                "rule": rule.note or rule.offence_prefix,
            }
    return None


def _check_disposable(items: list[Item]) -> None:
    problems = [problem for item in items if (problem := retention_problem(item))]
    if problems:
        raise ValidationError(problems)


@transaction.atomic
def return_to_agency(actor: User, items: Iterable[Item], officer: User, *, note: str = "") -> list[CustodyEvent]:
    """Hand items back to an officer of the submitting agency, who confirmed with their password."""
    require_permission(actor, "evidence.dispose_item")
    locked = _locked_items(items)
    _check_handling(actor, locked)
    foreign = [i.label for i in locked if i.case.agency_id != officer.agency_id]
    if foreign or not officer.is_active:
        raise ValidationError(
            _("%(person)s is not an active member of the agency that submitted %(labels)s.")
            % {"person": person_name(officer), "labels": ", ".join(foreign) or "—"}
        )
    _check_disposable(locked)
    events = []
    for item in locked:
        events.append(
            append_custody_event(
                item,
                released_by=actor,
                received_by=officer,
                purpose=Purpose.RETURN,
                location=officer.agency.name,
                note=note,
                acknowledged_by_releaser=True,
                acknowledged_by_receiver=True,
            )
        )
        Item.objects.filter(pk=item.pk).update(status=ItemStatus.RETURNED)
    record("item.returned", actor=actor, obj=officer, after={"items": [i.label for i in locked]}, reason=note)
    return events


@transaction.atomic
def destroy_items(actor: User, items: Iterable[Item], witness: User, *, method: str) -> Destruction:
    """Destroy items before a witness (two people, each re-authenticated by the view)."""
    require_permission(actor, "evidence.dispose_item")
    if witness.pk == actor.pk or not witness.is_active or not witness.is_laboratory_staff:
        raise ValidationError({"witness": _("The witness must be another member of the laboratory staff.")})
    if not method.strip():
        raise ValidationError({"method": _("Describe how the items are destroyed (e.g. incineration).")})
    locked = _locked_items(items)
    _check_handling(actor, locked)
    _check_disposable(locked)
    now = timezone.now()
    destruction = Destruction.objects.create(
        reference=yearly_number("DES", "destruction", now),
        method=method.strip(),
        performed_by=actor,
        witnessed_by=witness,
        performed_at=now,
    )
    destruction.items.set(locked)
    for item in locked:
        append_custody_event(
            item,
            released_by=actor,
            received_by=None,
            received_by_name=_("Destroyed"),
            purpose=Purpose.DESTRUCTION,
            occurred_at=now,
            witness_name=person_name(witness),
            note=f"{destruction.reference}: {method.strip()}",
            acknowledged_by_releaser=True,
            acknowledged_by_receiver=True,
        )
        Item.objects.filter(pk=item.pk).update(status=ItemStatus.DESTROYED)
    record(
        "item.destroyed",
        actor=actor,
        obj=destruction,
        after={"items": [i.label for i in locked], "witness": witness.username, "method": method.strip()},
    )
    return destruction
