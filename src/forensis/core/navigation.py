"""The main menu: one list, each entry shown to users who hold (any of) its permissions.

Entries with ``children`` are dropdowns, shown when at least one child is. Apps add their entries here as they
land, so the menu always matches what a role may open.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class MenuEntry:
    label: str | Promise
    url_name: str = ""
    permissions: tuple[str, ...] = ()  # any of them; empty: every signed-in user
    children: tuple[MenuEntry, ...] = field(default_factory=tuple)

    def visible_to(self, user) -> bool:
        return not self.permissions or any(user.has_perm(p) for p in self.permissions)


MENU = [
    MenuEntry(_("Home"), "core:home"),
    MenuEntry(_("Submissions"), "intake:list", ("intake.view_submission",)),
    MenuEntry(_("Reception"), "intake:reception", ("intake.receive_submission",)),
    MenuEntry(_("Reports"), "reports:list", ("reports.view_report",)),
    MenuEntry(
        _("Deaths"),
        children=(
            MenuEntry(_("Death investigations"), "deaths:list", ("deaths.view_deathinvestigation",)),
            MenuEntry(_("Manner pending"), "deaths:pending", ("deaths.view_deathinvestigation",)),
            MenuEntry(_("Log a death"), "deaths:new", ("deaths.add_deathinvestigation",)),
        ),
    ),
    MenuEntry(
        _("Laboratory"),
        children=(
            MenuEntry(_("My worklist"), "lab:worklist", ("lab.perform_examination",)),
            MenuEntry(_("Triage board"), "lab:triage", ("lab.assign_request",)),
            MenuEntry(_("Reviews"), "lab:reviews", ("lab.review_request", "lab.release_request")),
            MenuEntry(_("Disciplines"), "lab:disciplines", ("lab.manage_catalogue",)),
            MenuEntry(_("Methods"), "lab:methods", ("lab.manage_catalogue",)),
            MenuEntry(_("Instruments"), "lab:instruments", ("lab.manage_catalogue",)),
            MenuEntry(_("Reagent lots"), "lab:reagent_lots", ("lab.manage_catalogue",)),
            MenuEntry(_("Authorisations"), "lab:authorizations", ("lab.manage_catalogue",)),
            MenuEntry(_("Review checklists"), "lab:checklists", ("lab.manage_catalogue",)),
        ),
    ),
    MenuEntry(
        _("Evidence"),
        children=(
            MenuEntry(_("My custody"), "evidence:my_custody", ("evidence.view_item",)),
            MenuEntry(_("Scan and move"), "evidence:scan", ("evidence.view_item",)),
            MenuEntry(_("Storage locations"), "evidence:locations", ("evidence.view_item",)),
            MenuEntry(_("Overdue items"), "evidence:overdue", ("evidence.move_item", "accounts.view_user")),
            MenuEntry(_("Shipments"), "evidence:shipments", ("evidence.manage_shipments",)),
            MenuEntry(_("Return to agency"), "evidence:return", ("evidence.dispose_item",)),
            MenuEntry(_("Destruction"), "evidence:destructions", ("evidence.dispose_item",)),
            MenuEntry(
                _("Retention rules"),
                "evidence:retention_rules",
                ("evidence.dispose_item", "evidence.change_retentionrule"),
            ),
            MenuEntry(_("Custody check"), "evidence:gap_check", ("audit.view_auditevent", "accounts.view_user")),
        ),
    ),
    MenuEntry(
        _("Statistics"),
        children=(
            MenuEntry(_("Policy indicators"), "statistics:policy", ("statistics.view_statistics",)),
            MenuEntry(_("Laboratory management"), "statistics:management", ("statistics.view_statistics",)),
            MenuEntry(_("Homicide reconciliation"), "statistics:reconciliation", ("statistics.view_statistics",)),
            MenuEntry(_("Open data"), "statistics:open_data", ("statistics.view_statistics",)),
            MenuEntry(_("Population figures"), "statistics:population", ("statistics.view_statistics",)),
        ),
    ),
    MenuEntry(
        _("Administration"),
        children=(
            MenuEntry(_("Users"), "accounts:user_list", ("accounts.view_user",)),
            MenuEntry(_("Agencies"), "accounts:agency_list", ("accounts.view_agency",)),
            MenuEntry(_("Partner API tokens"), "api_tokens:token_list", ("api.view_partnertoken",)),
            MenuEntry(_("Kits"), "intake:kits", ("intake.manage_kits",)),
            MenuEntry(_("Audit log"), "audit:event_list", ("audit.view_auditevent",)),
            MenuEntry(_("Legacy import"), "legacy:list", ("legacy.run_import",)),
        ),
    ),
]


def _entry(entry: MenuEntry, user, current_path: str) -> dict | None:
    if entry.children:
        children = [c for c in (_entry(child, user, current_path) for child in entry.children) if c]
        if not children:
            return None
        return {"label": entry.label, "children": children, "active": any(c["active"] for c in children)}
    if not entry.visible_to(user):
        return None
    url = reverse(entry.url_name)
    active = current_path == url if url == "/" else current_path.startswith(url)
    return {"label": entry.label, "url": url, "url_name": entry.url_name, "active": active}


def menu_for(user, current_path: str) -> list[dict]:
    return [item for item in (_entry(entry, user, current_path) for entry in MENU) if item]


def links_for(user) -> list[dict]:
    """Every page of the menu the user may open, flattened (home page shortcuts)."""
    flat = []
    for item in menu_for(user, ""):
        flat.extend(item.get("children", [item]))
    return flat
