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
from forensis.api.feed import publish
from forensis.api.models import Topic
from forensis.audit.services import record
from forensis.core import iccs
from forensis.core.models import yearly_number

from .models import CustodyEvent, Destruction, Item, ItemStatus, Purpose, RetentionRule
from .outsourcing import _check_not_in_open_shipment
from .services import append_custody_event, check_handling, locked_items, person_name


def _years_after(moment, years: int):
    """The same day ``years`` later; 29 February becomes 1 March in a year without it."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, month=3, day=1)


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
        until = _years_after(item.received_at, rule.retain_years)
        if now < until:
            return _("Item %(label)s must be kept until %(date)s (%(rule)s).") % {
                "label": item.label,
                "date": timezone.localtime(until).date(),
                "rule": rule.note or rule.offence_prefix,
            }
    return None


def _check_disposable(items: list[Item]) -> None:
    _check_not_in_open_shipment(items)  # else that shipment could never be sent
    problems = [problem for item in items if (problem := retention_problem(item))]
    if problems:
        raise ValidationError(problems)


@transaction.atomic
def return_to_agency(actor: User, items: Iterable[Item], officer: User, *, note: str = "") -> list[CustodyEvent]:
    """Hand items back to an officer of the submitting agency, who confirmed with their password."""
    require_permission(actor, "evidence.dispose_item")
    locked = locked_items(items)
    check_handling(actor, locked)
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
        publish(Topic.ITEM_RETURNED, item.case, item=item.label, returned_to=str(officer), note=note)
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
    locked = locked_items(items)
    check_handling(actor, locked)
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


RULE_FIELDS = ("offence_prefix", "biological_only", "retain_years", "note")


def _rule_snapshot(rule: RetentionRule) -> dict:
    return {name: getattr(rule, name) for name in RULE_FIELDS}


@transaction.atomic
def save_retention_rule(actor: User, rule: RetentionRule | None, *, reason: str = "", **fields) -> RetentionRule:
    """Create a retention rule, or change one (a change needs a reason: it may shorten what must be kept).

    ``fields``: ``offence_prefix`` (an ICCS code or the start of one), ``biological_only``, ``retain_years``
    (None: keep indefinitely) and ``note``. One rule per prefix and kind of item.
    """
    require_permission(actor, "evidence.change_retentionrule")
    unknown = set(fields) - set(RULE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown retention rule fields: {', '.join(sorted(unknown))}")
    before = None
    if rule is None:
        rule = RetentionRule()
    else:
        rule = RetentionRule.objects.select_for_update().get(pk=rule.pk)
        before = _rule_snapshot(rule)
        if not reason.strip():
            raise ValidationError({"reason": _("Give the reason for changing the rule.")})
    for name, value in fields.items():
        setattr(rule, name, value.strip() if isinstance(value, str) else value)
    errors = {}
    if not any(code.startswith(rule.offence_prefix) for code in iccs.OFFENCES) or not rule.offence_prefix:
        errors["offence_prefix"] = _("%(prefix)s is not an ICCS offence code or the start of one.") % {
            "prefix": rule.offence_prefix or "—"
        }
    if rule.retain_years == 0:
        errors["retain_years"] = _("Enter at least one year, or leave it empty to keep indefinitely.")
    clash = RetentionRule.objects.filter(offence_prefix=rule.offence_prefix, biological_only=rule.biological_only)
    if rule.pk:
        clash = clash.exclude(pk=rule.pk)
    if clash.exists():
        errors["offence_prefix"] = _("There is already a rule for %(prefix)s and this kind of item.") % {
            "prefix": rule.offence_prefix
        }
    if errors:
        raise ValidationError(errors)
    rule.full_clean()
    after = _rule_snapshot(rule)
    if after == before:
        return rule
    rule.save()
    record(
        "retention_rule.created" if before is None else "retention_rule.changed",
        actor=actor,
        obj=rule,
        before=before,
        after=after,
        reason=reason.strip(),
    )
    return rule
