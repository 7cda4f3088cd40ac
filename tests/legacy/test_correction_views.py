"""The page that corrects a migrated record by hand, and the provenance shown on the case page."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent
from forensis.cases.models import Case, Person
from forensis.evidence.models import Item
from forensis.legacy.models import LegacyResult
from forensis.legacy.pipeline import run_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def imported(importer, sample_mapping, tmp_path):
    return run_import(sample_mapping, actor=importer, report_dir=tmp_path / "report")


@pytest.fixture
def case(imported):
    return Case.objects.filter(legacy_source="sample-access-export", legacy_results__isnull=False).first()


@pytest.fixture
def manager(make_user):
    return make_user(Role.LAB_MANAGER, username="manager")


def url(kind, pk):
    return reverse("legacy:correct", args=[kind, pk])


def test_the_case_page_shows_provenance_legacy_results_and_correction_links(case, manager, signed_in):
    page = signed_in(manager).get(reverse("cases:detail", args=[case.lab_number])).content.decode()
    assert 'data-testid="case-provenance"' in page and case.legacy_id in page
    assert 'data-testid="case-legacy-results"' in page
    assert 'data-testid="correct-case"' in page and 'data-testid="correct-result"' in page


def test_an_analyst_sees_the_provenance_but_no_correction_link(case, make_user, signed_in):
    page = signed_in(make_user(Role.ANALYST)).get(reverse("cases:detail", args=[case.lab_number])).content.decode()
    assert 'data-testid="case-provenance"' in page
    assert 'data-testid="correct-case"' not in page


@pytest.mark.parametrize(
    ("kind", "model", "field", "value"),
    [
        ("case", Case, "town", "Corrected Town"),
        ("person", Person, "name", "Corrected Name"),
        ("item", Item, "description", "Corrected description"),
        ("result", LegacyResult, "result", "Corrected result"),
    ],
)
def test_a_manager_corrects_each_kind_of_record_with_a_reason(case, manager, signed_in, kind, model, field, value):
    obj = model.objects.filter(legacy_source="sample-access-export").exclude(legacy_id="").first()
    client = signed_in(manager)
    form = client.get(url(kind, obj.pk))
    assert form.status_code == 200 and b'data-testid="correction-form"' in form.content
    data = {name: field_value for name, field_value in form.context["form"].initial.items() if field_value is not None}
    for name, initial in list(data.items()):
        if hasattr(initial, "strftime"):
            data[name] = timezone.localtime(initial).strftime("%Y-%m-%dT%H:%M:%S")
        elif hasattr(initial, "pk"):
            data[name] = initial.pk
    data.update({field: value, "reason": "Checked against the paper register"})
    response = client.post(url(kind, obj.pk), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    obj.refresh_from_db()
    assert getattr(obj, field) == value
    event = AuditEvent.objects.filter(action="legacy.corrected").latest("pk")
    assert event.after == {field: value} and event.reason == "Checked against the paper register"


def test_a_bad_value_or_no_reason_shows_the_error_and_changes_nothing(case, manager, signed_in):
    person = Person.objects.filter(case__legacy_source="sample-access-export").exclude(legacy_id="").first()
    client = signed_in(manager)
    response = client.post(url("person", person.pk), {"role": person.role, "name": "x", "sex": "M", "age": "500"})
    assert response.status_code == 200
    assert response.context["form"].errors.keys() >= {"age", "reason"}
    before = person.name
    person.refresh_from_db()
    assert person.name == before


@pytest.mark.parametrize("role", [Role.ANALYST, Role.EVIDENCE_CUSTODIAN, Role.STATISTICIAN, Role.AGENCY_OFFICER])
def test_people_without_the_permission_get_403_and_change_nothing(case, make_user, signed_in, role, police):
    user = make_user(role, agency=police) if role == Role.AGENCY_OFFICER else make_user(role)
    client = signed_in(user)
    assert client.get(url("case", case.pk)).status_code == 403
    assert client.post(url("case", case.pk), {"town": "x", "reason": "y"}).status_code == 403
    case.refresh_from_db()
    assert case.town != "x"


def test_the_agency_of_the_case_and_another_agency_cannot_correct_it(case, signed_in, make_user):
    own_officer = make_user(Role.AGENCY_OFFICER, agency=case.agency)
    assert signed_in(own_officer).post(url("case", case.pk), {"town": "x", "reason": "y"}).status_code == 403
    case.refresh_from_db()
    assert case.town != "x"


def test_unknown_kinds_records_made_in_forensis_and_missing_records_are_404(case, manager, signed_in):
    client = signed_in(manager)
    made_here = Case.objects.filter(legacy_id="").first()
    assert client.get(url("submission", case.pk)).status_code == 404
    assert client.get(url("case", 10**9)).status_code == 404
    if made_here:
        assert client.get(url("case", made_here.pk)).status_code == 404


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(case, client):
    response = client.get(url("case", case.pk))
    assert response.status_code == 302 and "login" in response["Location"]
