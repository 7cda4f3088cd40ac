"""Changing the population table (the only statistics data a person writes): audited, administrators only."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from forensis.accounts.models import User
from forensis.accounts.services import require_permission
from forensis.audit.services import record
from forensis.core.vocabulary import District

from .models import MAX_YEAR, MIN_YEAR, Population

#: No district of the region's countries comes near this; a bigger number is a typing error.
MAX_POPULATION = 100_000_000


def _whole_number(value, field: str, errors: dict[str, list[str]]) -> int | None:
    if isinstance(value, bool):
        value = None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        errors.setdefault(field, []).append(_("Enter a whole number."))
        return None
    return number


@transaction.atomic
def set_population(
    actor: User | None, *, district: str, year, population, source: str = "", reason: str = ""
) -> Population:
    """Set (create or change) the population of ``district`` (blank: the whole country) in ``year``.

    Refused unless the figure is a whole number above zero and the year between 1900 and 2100. A change of an
    existing figure is audited with its before and after values; setting the same figure again changes nothing.
    """
    require_permission(actor, "statistics.change_population")
    errors: dict[str, list[str]] = {}
    district = (district or "").strip()
    if district and district not in District.values:
        errors["district"] = [_("%(code)s is not a district.") % {"code": district}]
    year = _whole_number(year, "year", errors)
    if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
        errors["year"] = [_("The year must be between %(min)s and %(max)s.") % {"min": MIN_YEAR, "max": MAX_YEAR}]
    population = _whole_number(population, "population", errors)
    if population is not None and not 0 < population <= MAX_POPULATION:
        errors["population"] = [_("The population must be a whole number above zero.")]
    source = (source or "").strip()
    if len(source) > 300:
        errors["source"] = [_("Keep the source under 300 characters.")]
    if errors:
        raise ValidationError(errors)
    figure = Population.objects.select_for_update().filter(district=district, year=year).first()
    before = {"population": figure.population, "source": figure.source} if figure else None
    after = {"population": population, "source": source}
    if before == after:
        return figure
    if figure is None:
        figure = Population.objects.create(district=district, year=year, population=population, source=source)
    else:
        figure.population, figure.source = population, source
        figure.save(update_fields=["population", "source"])
    record(
        "population.set",
        actor=actor,
        obj=figure,
        before=before,
        after={"district": district, "year": year, **after},
        reason=reason.strip(),
    )
    return figure
