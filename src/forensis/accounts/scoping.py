"""Agency scoping: the one place that decides whose data a user may see.

Every view, API endpoint and export obtains its rows through ``Model.objects.visible_to(user)``.
Laboratory staff see every agency's records; people of an outside agency (police, prosecutor, court,
partner) see only their own agency's; a statistician sees no record at all, only aggregates.
"""

from __future__ import annotations

import enum

from django.db import models


class Scope(enum.Enum):
    ALL = "all"
    OWN_AGENCY = "own_agency"
    NOTHING = "nothing"


AGGREGATE_ONLY_ROLES = frozenset({"statistician"})


def access_scope(user) -> Scope:
    if user is None or not user.is_authenticated or not user.is_active:
        return Scope.NOTHING
    roles = set(user.role_codes)
    if roles and roles <= AGGREGATE_ONLY_ROLES:
        return Scope.NOTHING
    if user.is_laboratory_staff:
        return Scope.ALL
    return Scope.OWN_AGENCY


class AgencyScopedQuerySet(models.QuerySet):
    """A queryset whose rows belong to an agency. ``agency_lookup`` is the path to the agency's key.

    ``shared_lookup``, when set, is the path to further agencies a row is shared with (the prosecutor and the
    court named as contacts of a case see its reports); their users see the row as if it were their own.
    """

    agency_lookup = "agency"
    shared_lookup = ""

    def visible_to(self, user) -> AgencyScopedQuerySet:
        scope = access_scope(user)
        if scope is Scope.ALL:
            return self
        if scope is Scope.NOTHING:
            return self.none()
        own = models.Q(**{self.agency_lookup: user.agency_id})
        if self.shared_lookup:
            # A subquery, not a join: a row shared twice must not come back twice.
            shared = self.model._base_manager.filter(**{self.shared_lookup: user.agency_id}).values("pk")
            own |= models.Q(pk__in=shared)
        return self.filter(own)


def scoped_by(agency_lookup: str, *, shared_with: str = "") -> type[AgencyScopedQuerySet]:
    """A scoped queryset class for a model that reaches its agency through ``agency_lookup``."""
    return type(
        f"ScopedBy_{agency_lookup}",
        (AgencyScopedQuerySet,),
        {"agency_lookup": agency_lookup, "shared_lookup": shared_with},
    )
