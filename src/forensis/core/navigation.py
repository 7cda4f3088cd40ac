"""The main menu: one list, each entry shown to users who hold its permission.

Apps add their entries here as they land, so the menu always matches what a role may open.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class MenuEntry:
    label: str | Promise
    url_name: str
    permission: str | None = None  # None: every signed-in user

    def visible_to(self, user) -> bool:
        return self.permission is None or user.has_perm(self.permission)


MENU = [
    MenuEntry(_("Home"), "core:home"),
    MenuEntry(_("Submissions"), "intake:list", "intake.view_submission"),
    MenuEntry(_("Reception"), "intake:reception", "intake.receive_submission"),
    MenuEntry(_("Users"), "accounts:user_list", "accounts.view_user"),
    MenuEntry(_("Agencies"), "accounts:agency_list", "accounts.view_agency"),
    MenuEntry(_("Kits"), "intake:kits", "intake.manage_kits"),
    MenuEntry(_("Audit log"), "audit:event_list", "audit.view_auditevent"),
]


def menu_for(user, current_path: str) -> list[dict]:
    entries = []
    for entry in MENU:
        if entry.visible_to(user):
            url = reverse(entry.url_name)
            active = current_path == url if url == "/" else current_path.startswith(url)
            entries.append({"label": entry.label, "url": url, "url_name": entry.url_name, "active": active})
    return entries
