from forensis.deaths import services
from forensis.reports.models import Report


def test_flow(morgue):
    morgue.recorded()
    tox = services.take_sample(morgue.pathologist, morgue.investigation, discipline=morgue.lab.toxicology, type="blood", description="Femoral blood")
    morgue.released()
    reports = Report.objects.filter(request=morgue.autopsy_request())
    assert sorted(r.kind for r in reports) == ["autopsy", "death_certificate"]
    release = services.release_body(morgue.custodian, morgue.reload(), receiver_kind="funeral_home", receiver_name="Joe Doe", identity_document="SSN 1234", acknowledged=True, organisation="Lord's Funeral Home")
    assert release.custody_event.purpose == "body_release"
    assert tox.parent_id


def test_stats(morgue):
    from forensis.deaths.statistics import count_homicide_victims, gender_related_killings
    morgue.recorded()
    inv = morgue.reload()
    assert count_homicide_victims("sex", "age_group", "mechanism", "district", "month") == {("F", "15-29", "firearm", "BZ", inv.month): 1}
    g = gender_related_killings()
    assert g["female_victims"] == 1 and g["gender_related"] == 1 and g["relationship:intimate_partner"] == 1
