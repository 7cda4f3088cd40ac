"""The roles of Forensis as Django groups with explicit permissions.

``ROLE_PERMISSIONS`` is the single table of who may do what; ``sync_roles`` makes the groups match it
after every migration (it adds and removes permissions, so the table is the truth). Each app that
adds a permission names the roles that get it here.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", _("Administrator")
    LAB_MANAGER = "lab_manager", _("Laboratory manager")
    EVIDENCE_CUSTODIAN = "evidence_custodian", _("Evidence custodian")
    ANALYST = "analyst", _("Analyst")
    REVIEWER = "reviewer", _("Reviewer")
    MEDICAL_EXAMINER = "medical_examiner", _("Medical examiner")
    SCENE_TECHNICIAN = "scene_technician", _("Scene technician")
    AGENCY_OFFICER = "agency_officer", _("Agency officer")
    PROSECUTOR = "prosecutor", _("Prosecutor")
    STATISTICIAN = "statistician", _("Statistician")
    AUDITOR = "auditor", _("Auditor")
    #: The account of a partner system's API token (``forensis.api``); never given to a person.
    PARTNER_SYSTEM = "partner_system", _("Partner system (API token)")

    def group(self) -> Group:
        return Group.objects.get_or_create(name=self.value)[0]


#: Roles a person outside the laboratory may hold; every other role is for laboratory staff.
OUTSIDE_ROLES = frozenset({Role.AGENCY_OFFICER, Role.PROSECUTOR, Role.STATISTICIAN})
#: Roles an administrator may give a person (a partner system's role comes with its API token).
PERSON_ROLES = [(role.value, role.label) for role in Role if role != Role.PARTNER_SYSTEM]

_CASE_READERS = [
    Role.ADMINISTRATOR,
    Role.LAB_MANAGER,
    Role.EVIDENCE_CUSTODIAN,
    Role.ANALYST,
    Role.REVIEWER,
    Role.MEDICAL_EXAMINER,
    Role.SCENE_TECHNICIAN,
    Role.AGENCY_OFFICER,
    Role.PROSECUTOR,
    Role.AUDITOR,
]

#: permission → the roles that hold it. Statisticians hold none of the case-level permissions.
PERMISSION_ROLES: dict[str, list[Role]] = {
    "accounts.manage_users": [Role.ADMINISTRATOR],
    "accounts.manage_agencies": [Role.ADMINISTRATOR],
    "accounts.view_user": [Role.ADMINISTRATOR, Role.LAB_MANAGER, Role.AUDITOR],
    "accounts.view_agency": [Role.ADMINISTRATOR, Role.LAB_MANAGER, Role.EVIDENCE_CUSTODIAN, Role.AUDITOR],
    "audit.view_auditevent": [Role.ADMINISTRATOR, Role.AUDITOR],
    "cases.view_case": [*_CASE_READERS, Role.PARTNER_SYSTEM],
    "intake.view_submission": [
        Role.PARTNER_SYSTEM,
        Role.ADMINISTRATOR,
        Role.LAB_MANAGER,
        Role.EVIDENCE_CUSTODIAN,
        Role.SCENE_TECHNICIAN,
        Role.AGENCY_OFFICER,
        Role.AUDITOR,
    ],
    "intake.add_submission": [
        Role.AGENCY_OFFICER,
        Role.SCENE_TECHNICIAN,
        Role.EVIDENCE_CUSTODIAN,
        Role.PARTNER_SYSTEM,
    ],
    "intake.receive_submission": [Role.EVIDENCE_CUSTODIAN],
    "intake.manage_kits": [Role.ADMINISTRATOR],
    "evidence.view_item": [
        Role.ADMINISTRATOR,
        Role.LAB_MANAGER,
        Role.EVIDENCE_CUSTODIAN,
        Role.ANALYST,
        Role.REVIEWER,
        Role.MEDICAL_EXAMINER,
        Role.SCENE_TECHNICIAN,
        Role.AUDITOR,
    ],
    # The medical examiner's office keeps the bodies in the morgue and takes samples from them.
    "evidence.move_item": [Role.EVIDENCE_CUSTODIAN, Role.MEDICAL_EXAMINER],
    "evidence.dispose_item": [Role.EVIDENCE_CUSTODIAN],
    "evidence.manage_shipments": [Role.EVIDENCE_CUSTODIAN],
    "evidence.manage_locations": [Role.EVIDENCE_CUSTODIAN, Role.LAB_MANAGER, Role.ADMINISTRATOR],
    "evidence.change_retentionrule": [Role.LAB_MANAGER, Role.ADMINISTRATOR],
    "lab.view_servicerequest": [
        Role.ADMINISTRATOR,
        Role.LAB_MANAGER,
        Role.EVIDENCE_CUSTODIAN,
        Role.ANALYST,
        Role.REVIEWER,
        Role.MEDICAL_EXAMINER,
        Role.AUDITOR,
    ],
    "lab.assign_request": [Role.LAB_MANAGER],
    "lab.perform_examination": [Role.ANALYST, Role.MEDICAL_EXAMINER],
    # A second pathologist reviews an autopsy technically (authorisations limit everyone to their disciplines).
    "lab.review_request": [Role.REVIEWER, Role.LAB_MANAGER, Role.MEDICAL_EXAMINER],
    "lab.release_request": [Role.LAB_MANAGER, Role.REVIEWER],
    "lab.manage_catalogue": [Role.LAB_MANAGER, Role.ADMINISTRATOR],
    "reports.view_report": [*_CASE_READERS, Role.PARTNER_SYSTEM],
    "deaths.view_deathinvestigation": _CASE_READERS,
    "deaths.add_deathinvestigation": [Role.SCENE_TECHNICIAN, Role.MEDICAL_EXAMINER],
    "deaths.change_deathinvestigation": [Role.SCENE_TECHNICIAN, Role.MEDICAL_EXAMINER, Role.LAB_MANAGER],
    "deaths.receive_body": [Role.MEDICAL_EXAMINER, Role.EVIDENCE_CUSTODIAN],
    "deaths.release_body": [Role.MEDICAL_EXAMINER, Role.EVIDENCE_CUSTODIAN],
    "reports.amend_report": [Role.LAB_MANAGER],
    "reports.download_discovery": [Role.PROSECUTOR, Role.LAB_MANAGER],
    "reports.add_casecontact": [Role.AGENCY_OFFICER, Role.EVIDENCE_CUSTODIAN, Role.LAB_MANAGER],
    "reports.delete_casecontact": [Role.AGENCY_OFFICER, Role.EVIDENCE_CUSTODIAN, Role.LAB_MANAGER],
    "legacy.run_import": [Role.ADMINISTRATOR],
    "legacy.correct_migrated": [Role.ADMINISTRATOR, Role.LAB_MANAGER],
    "statistics.change_population": [Role.ADMINISTRATOR],
    "statistics.view_statistics": [Role.ADMINISTRATOR, Role.LAB_MANAGER, Role.MEDICAL_EXAMINER, Role.STATISTICIAN],
    "api.view_partnertoken": [Role.ADMINISTRATOR, Role.AUDITOR],
    "api.manage_partnertoken": [Role.ADMINISTRATOR],
}

ROLE_PERMISSIONS: dict[Role, list[str]] = {
    role: [permission for permission, roles in PERMISSION_ROLES.items() if role in roles] for role in Role
}


def _permission(dotted: str) -> Permission:
    app_label, codename = dotted.split(".", 1)
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def sync_roles() -> None:
    for role, dotted_names in ROLE_PERMISSIONS.items():
        role.group().permissions.set([_permission(name) for name in dotted_names])


def sync_roles_after_migrate(sender, app_config=None, using="default", plan=None, **kwargs) -> None:
    """post_migrate receiver. Django emits post_migrate once per app; before the last app's permissions
    exist the sync is skipped, and the emission after them completes it."""
    try:
        sync_roles()
    except Permission.DoesNotExist:
        return
