"""The population figures that turn counts into rates (homicide victims per 100,000, SDG 16.1.1).

One figure per district and year; a blank district is the whole country. The census figures are seeded by
migration 0002 (see docs/statistics.md for their sources); administrators add the Statistical Institute's
mid-year estimates for the other years through ``statistics.services.set_population``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from forensis.core.vocabulary import District

#: The years a population figure may be given for.
MIN_YEAR, MAX_YEAR = 1900, 2100


class Population(models.Model):
    district = models.CharField(
        _("district"),
        max_length=3,
        choices=District.choices,
        blank=True,
        help_text=_("Empty: the whole country."),
    )
    year = models.PositiveSmallIntegerField(_("year"))
    population = models.PositiveIntegerField(_("population"))
    source = models.CharField(
        _("source"), max_length=300, blank=True, help_text=_("Where the figure comes from (census, estimate).")
    )

    class Meta:
        ordering = ["-year", "district"]
        verbose_name = _("population figure")
        verbose_name_plural = _("population figures")
        constraints = [models.UniqueConstraint(fields=["district", "year"], name="unique_population_district_year")]
        # The statistics pages (dashboards, bulletin, reconciliation, open data) show aggregates only.
        permissions = [("view_statistics", _("Can see the statistics dashboards and open data"))]

    def __str__(self) -> str:
        place = self.get_district_display() if self.district else _("Whole country")
        return f"{place} {self.year}: {self.population}"
