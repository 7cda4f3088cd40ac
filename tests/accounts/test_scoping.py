import pytest

from forensis.accounts.models import Agency, User
from forensis.accounts.roles import Role
from forensis.accounts.scoping import Scope, access_scope


def test_laboratory_staff_see_every_agency(make_user, police, other_police):
    analyst = make_user(Role.ANALYST)
    assert access_scope(analyst) is Scope.ALL
    assert set(Agency.objects.visible_to(analyst)) == {analyst.agency, police, other_police}


def test_officer_sees_only_own_agency(officer, other_officer):
    assert list(Agency.objects.visible_to(officer)) == [officer.agency]
    assert list(User.objects.visible_to(officer)) == [officer]


def test_statistician_sees_no_records(make_user, make_agency):
    from forensis.accounts.models import AgencyType

    observatory = make_agency(AgencyType.OBSERVATORY)
    statistician = make_user(Role.STATISTICIAN, agency=observatory)
    assert access_scope(statistician) is Scope.NOTHING
    assert not Agency.objects.visible_to(statistician).exists()


@pytest.mark.parametrize("user", [None])
def test_anonymous_sees_nothing(db, user):
    assert not Agency.objects.visible_to(user).exists()


def test_deactivated_user_sees_nothing(officer, admin_user):
    from forensis.accounts.services import set_user_active

    set_user_active(admin_user, officer, False, reason="suspended")
    officer.refresh_from_db()
    assert not Agency.objects.visible_to(officer).exists()
