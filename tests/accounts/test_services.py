import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from forensis.accounts import services
from forensis.accounts.models import User
from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from tests.conftest import PASSWORD


def test_create_user_records_audit_event_without_password(admin_user, police):
    user = services.create_user(
        admin_user,
        username="newofficer",
        password=PASSWORD,
        agency=police,
        roles=[Role.AGENCY_OFFICER],
        first_name="Nia",
    )
    event = AuditEvent.objects.get(action="user.created", object_id=str(user.pk))
    assert event.actor_username == "admin"
    assert event.after["roles"] == ["agency_officer"]
    assert event.after["agency"] == "POL-A"
    assert PASSWORD not in str(event.after)
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("password", "message"),
    [("short1!", "too short"), ("password123", "too common"), ("newofficer1", "too similar")],
)
def test_weak_passwords_are_refused_and_nothing_is_saved(admin_user, police, password, message):
    with pytest.raises(ValidationError) as exc:
        services.create_user(
            admin_user, username="newofficer", password=password, agency=police, roles=[Role.AGENCY_OFFICER]
        )
    assert message in str(exc.value.message_dict["password"])
    assert not User.objects.filter(username="newofficer").exists()


def test_laboratory_role_refused_for_police_user(admin_user, police):
    with pytest.raises(ValidationError, match="laboratory role"):
        services.create_user(admin_user, username="x1", password=PASSWORD, agency=police, roles=[Role.ANALYST])
    assert not User.objects.filter(username="x1").exists()


def test_duplicate_username_is_a_clear_error(admin_user, police):
    with pytest.raises(ValidationError) as exc:
        services.create_user(
            admin_user, username="admin", password=PASSWORD, agency=police, roles=[Role.AGENCY_OFFICER]
        )
    assert "username" in exc.value.message_dict


def test_only_user_managers_may_create_users(make_user, police):
    analyst = make_user(Role.ANALYST)
    with pytest.raises(PermissionDenied):
        services.create_user(analyst, username="x2", password=PASSWORD, agency=police, roles=[Role.AGENCY_OFFICER])


def test_roles_change_is_audited_with_before_and_after(admin_user, make_user):
    analyst = make_user(Role.ANALYST)
    services.update_user(admin_user, analyst, roles=[Role.ANALYST, Role.REVIEWER])
    event = AuditEvent.objects.get(action="user.roles_changed")
    assert event.before == {"roles": ["analyst"]}
    assert event.after == {"roles": ["analyst", "reviewer"]}
    analyst.refresh_from_db()
    assert sorted(analyst.groups.values_list("name", flat=True)) == ["analyst", "reviewer"]


def test_update_without_change_writes_no_event(admin_user, officer):
    before = AuditEvent.objects.count()
    services.update_user(admin_user, officer, first_name=officer.first_name)
    assert AuditEvent.objects.count() == before


def test_users_are_deactivated_never_deleted(admin_user, officer):
    with pytest.raises(ValidationError, match="reason"):
        services.set_user_active(admin_user, officer, False, reason=" ")
    services.set_user_active(admin_user, officer, False, reason="left the force")
    officer.refresh_from_db()
    assert not officer.is_active
    with pytest.raises(PermissionDenied):
        officer.delete()
    assert User.objects.filter(pk=officer.pk).exists()
    assert AuditEvent.objects.filter(action="user.deactivated", reason="left the force").exists()


def test_admin_cannot_deactivate_self_or_drop_own_admin_role(admin_user):
    with pytest.raises(ValidationError):
        services.set_user_active(admin_user, admin_user, False, reason="oops")
    with pytest.raises(ValidationError):
        services.update_user(admin_user, admin_user, roles=[Role.ANALYST])


def test_agencies_are_never_deleted(admin_user, police):
    with pytest.raises(PermissionDenied):
        police.delete()
    services.set_agency_active(admin_user, police, False, reason="merged into another station")
    police.refresh_from_db()
    assert not police.is_active


def test_agency_update_is_audited(admin_user, police):
    services.update_agency(admin_user, police, name="Police Alpha")
    event = AuditEvent.objects.get(action="agency.updated")
    assert event.before == {"name": "Police A"} and event.after == {"name": "Police Alpha"}


def test_user_changes_own_password_and_admin_resets_others(admin_user, officer):
    services.set_password(officer, officer, "An0ther-long-phrase")
    with pytest.raises(PermissionDenied):
        services.set_password(officer, admin_user, "An0ther-long-phrase")
    services.set_password(admin_user, officer, "Reset-by-admin-42", reason="forgotten")
    assert AuditEvent.objects.filter(action="user.password_changed").count() == 1
    assert AuditEvent.objects.filter(action="user.password_reset", reason="forgotten").count() == 1


def test_createsuperuser_goes_through_the_service(db):
    user = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    assert user.is_superuser and user.is_laboratory_staff and user.has_role(Role.ADMINISTRATOR)
    assert AuditEvent.objects.filter(action="user.created", object_id=str(user.pk)).exists()


@pytest.mark.argon2
def test_passwords_are_hashed_with_argon2(officer):
    officer.refresh_from_db()
    assert officer.password.startswith("argon2")
