"""The administration area: who may open it, and that it changes data only through the services."""

import pytest
from django.urls import reverse

from forensis.accounts.models import Agency, User
from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent

MANAGE_PAGES = ["accounts:user_list", "accounts:user_new", "accounts:agency_list", "accounts:agency_new"]


@pytest.mark.parametrize("url_name", MANAGE_PAGES)
@pytest.mark.parametrize("role", [Role.AGENCY_OFFICER, Role.ANALYST, Role.STATISTICIAN, Role.PROSECUTOR])
def test_people_without_the_role_get_403(signed_in, make_user, make_agency, role, url_name):
    from forensis.accounts.models import AgencyType
    from forensis.accounts.roles import OUTSIDE_ROLES

    agency = make_agency(AgencyType.POLICE) if role in OUTSIDE_ROLES else None
    client = signed_in(make_user(role, agency=agency))
    assert client.get(reverse(url_name)).status_code == 403


def test_lab_manager_may_list_users_but_not_change_them(signed_in, make_user, officer):
    client = signed_in(make_user(Role.LAB_MANAGER))
    assert client.get(reverse("accounts:user_list")).status_code == 200
    assert client.get(reverse("accounts:user_edit", args=[officer.pk])).status_code == 403
    response = client.post(reverse("accounts:user_action", args=[officer.pk, "deactivate"]), {"reason": "x"})
    assert response.status_code == 403
    officer.refresh_from_db()
    assert officer.is_active


def test_admin_creates_a_user(signed_in, admin_user, police):
    client = signed_in(admin_user)
    response = client.post(
        reverse("accounts:user_new"),
        {
            "username": "new.officer",
            "first_name": "New",
            "last_name": "Officer",
            "email": "n@example.org",
            "agency": police.pk,
            "roles": ["agency_officer"],
            "password": "Long-enough-pass-1",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="new.officer")
    assert user.agency == police and user.role_codes == ["agency_officer"]


def test_bad_user_form_shows_errors_and_saves_nothing(signed_in, admin_user, police):
    client = signed_in(admin_user)
    response = client.post(
        reverse("accounts:user_new"),
        {
            "username": "bad.one",
            "agency": police.pk,
            "roles": ["analyst"],
            "password": "short",
        },
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "laboratory role" in body or "too short" in body
    assert not User.objects.filter(username="bad.one").exists()


def test_admin_deactivates_with_reason_from_the_page(signed_in, admin_user, officer):
    client = signed_in(admin_user)
    no_reason = client.post(reverse("accounts:user_action", args=[officer.pk, "deactivate"]), {"reason": ""})
    assert no_reason.status_code == 302
    officer.refresh_from_db()
    assert officer.is_active
    client.post(reverse("accounts:user_action", args=[officer.pk, "deactivate"]), {"reason": "retired"})
    officer.refresh_from_db()
    assert not officer.is_active
    assert AuditEvent.objects.filter(action="user.deactivated", reason="retired", actor_username="admin").exists()


def test_user_list_filters_and_sorts(signed_in, admin_user, officer, other_officer):
    client = signed_in(admin_user)
    body = client.get(reverse("accounts:user_list"), {"agency": officer.agency.pk}).content.decode()
    assert "officer.b" not in body and ">officer<" in body
    assert client.get(reverse("accounts:user_list"), {"sort": "-username"}).status_code == 200


def test_admin_edits_an_agency(signed_in, admin_user, police):
    client = signed_in(admin_user)
    response = client.post(
        reverse("accounts:agency_edit", args=[police.pk]),
        {
            "code": police.code,
            "name": "Police A (renamed)",
            "type": police.type,
            "district": "BZ",
            "report_language": "es",
        },
    )
    assert response.status_code == 302
    renamed = Agency.objects.get(pk=police.pk)
    assert (renamed.name, renamed.report_language) == ("Police A (renamed)", "es")


def test_audit_log_page_for_auditors_only_and_viewing_is_audited(signed_in, make_user, officer):
    auditor = make_user(Role.AUDITOR)
    assert signed_in(officer).get(reverse("audit:event_list")).status_code == 403
    client = signed_in(auditor)
    response = client.get(reverse("audit:event_list"), {"action": "user."})
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action="audit.viewed", actor_username=auditor.username).exists()


def test_every_role_has_a_home_page(signed_in, make_user, make_agency):
    from forensis.accounts.models import AgencyType
    from forensis.accounts.roles import OUTSIDE_ROLES, PERSON_ROLES

    for role in map(Role, dict(PERSON_ROLES)):
        agency = make_agency(AgencyType.POLICE) if role in OUTSIDE_ROLES else None
        user = make_user(role, agency=agency)
        body = signed_in(user).get("/").content.decode()
        assert str(role.label) in body, role


def test_admin_sets_a_new_password_with_reason(signed_in, admin_user, officer):
    client = signed_in(admin_user)
    url = reverse("accounts:user_set_password", args=[officer.pk])
    client.post(url, {"password": "short", "reason": "forgot"})
    officer.refresh_from_db()
    assert not officer.check_password("short")
    client.post(url, {"password": "Brand-new-phrase-7", "reason": "forgot it"})
    officer.refresh_from_db()
    assert officer.check_password("Brand-new-phrase-7")
    assert AuditEvent.objects.filter(action="user.password_reset", reason="forgot it").exists()
