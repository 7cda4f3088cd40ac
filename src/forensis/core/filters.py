"""Filters shared by the list pages (django-filter)."""

from __future__ import annotations

import django_filters
from django.utils.functional import Promise


def date_filter(field_name: str, lookup_expr: str, label: str | Promise) -> django_filters.DateFilter:
    """A date filter on the date part of ``field_name`` (a date-time), with the browser's date picker."""
    return django_filters.DateFilter(
        field_name=field_name,
        lookup_expr=f"date__{lookup_expr}",
        label=label,
        widget=django_filters.widgets.forms.DateInput(attrs={"type": "date"}),
    )


def filters_of(request) -> dict[str, str]:
    """The filters a list was asked with (the query's non-empty parameters), for the audit log. NUL characters are
    dropped: PostgreSQL stores none, and a hostile ``?q=%00`` must not turn the page into a server error."""
    return {key.replace("\x00", ""): value.replace("\x00", "") for key, value in request.GET.items() if value}
