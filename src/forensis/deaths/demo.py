"""Demonstration death investigations, made through the same services the screens use.

Four made-up deaths, one at each early stage of the medical examiner's work, so the pages show something and a
browser test can take a body from the scene, or an autopsy from the pathologist's table, to the end:

1. Stann Creek: a man found in a river, logged at the scene by the scene technician, who still holds the body;
   the pathologist is named; waiting for the morgue to receive it.
2. Belize District: a woman stabbed at home (a former partner is the suspect), received at the morgue; the
   autopsy is recorded (homicide, sharp object) but not yet signed, and femoral blood went to toxicology.
3. Orange Walk: an unidentified man (body tag number, estimated age range) found in a cane field, received; the
   second pathologist's autopsy is recorded with the manner pending, and samples went to histopathology and
   toxicology.
4. Toledo: a pedestrian struck on the highway, received at the morgue; the autopsy is assigned to the pathologist
   but not started.

Nothing is released (releasing issues signed reports, and the demo data is made before any signing key exists).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from forensis.accounts.models import Agency, User
from forensis.evidence.models import ItemType, SealStatus, StorageLocation
from forensis.lab import services as lab_services
from forensis.lab.models import Discipline, Method

from . import body_custody, services
from .models import DeathInvestigation


def seed_deaths(cold_room: StorageLocation) -> list[DeathInvestigation]:
    """The four demo deaths; bodies received at the morgue go to ``cold_room``. Needs the demo users (scenetech,
    examiner, examiner2) and the demo catalogue (the pathology method PATH-AUTOPSY, pathologists' authorisations).
    """
    users = {user.username: user for user in User.objects.filter(username__in=["scenetech", "examiner", "examiner2"])}
    scenetech, examiner, examiner2 = users["scenetech"], users["examiner"], users["examiner2"]
    agencies = {agency.code: agency for agency in Agency.objects.all()}
    disciplines = {discipline.code: discipline for discipline in Discipline.objects.all()}
    autopsy_method = Method.objects.get(code="PATH-AUTOPSY", is_active=True)
    now = timezone.now()
    today = timezone.localdate()

    def receive(investigation: DeathInvestigation, pathologist: User, condition: str):
        """The pathologist receives the body from the scene technician, who confirms in person."""
        return body_custody.receive_body(
            pathologist,
            investigation,
            handed_over_by=scenetech,
            confirmed_in_person=True,
            location=cold_room,
            seal_status=SealStatus.INTACT,
            condition=condition,
        )

    # 1. At the scene: the scene technician holds the body until the morgue receives it.
    river = services.log_death(
        scenetech,
        agency=agencies["BPD-SC"],
        agency_case_number="SC-CR-2026-0058",
        body_seal_number="SC-BB-0581",
        identified=True,
        decedent_name="Winston Arana",
        sex="M",
        age=41,
        nationality="Belizean",
        pregnancy="na",
        death_at=None,
        district="SC",
        death_place="North Stann Creek River, Dangriga",
        discovered_at=now - timedelta(hours=3),
        discovery_place="Riverbank behind the Dangriga market",
        pathologist=examiner,
        circumstances=(
            "Seen by fishermen in the river at first light. No injuries visible at the scene. "
            "Last seen leaving a bar on Commerce Street the evening before."
        ),
    )

    # 2. A woman stabbed at home: received, autopsy recorded but not signed, femoral blood sent to toxicology.
    stabbing = services.log_death(
        scenetech,
        agency=agencies["BPD-BZ"],
        agency_case_number="BZ-CR-2026-0389",
        offence_codes=["0101"],
        body_seal_number="BZ-BB-1142",
        identified=True,
        decedent_name="Yolanda Castellanos",
        sex="F",
        age=29,
        nationality="Belizean",
        pregnancy="no",
        death_at=now - timedelta(hours=20),
        district="BZ",
        death_place="Residence on Banak Street, Belize City",
        discovered_at=now - timedelta(hours=19, minutes=35),
        discovery_place="Residence on Banak Street, Belize City",
        pathologist=examiner,
        relationship="former_partner",
        perpetrator_sex="M",
        prior_violence="yes",
        sexual_violence="no",
        mutilation="no",
        body_disposed_in_public="no",
        illegal_exploitation="no",
        deprived_of_liberty="no",
        sex_work="no",
        circumstances=(
            "Neighbours heard shouting and called the police. The former partner, against whom she held a "
            "protection order, was seen leaving the house."
        ),
    )
    request = receive(stabbing, examiner, "Body bag sealed, tag legible. Clothing bloodstained.")
    lab_services.start_examination(examiner, request, method=autopsy_method)
    services.record_autopsy(
        examiner,
        stabbing,
        performed_on=today,
        type="full",
        findings=(
            "Three stab wounds of the chest and an incised wound of the left forearm (defence injury). "
            "The wound in the fourth left intercostal space penetrates the right ventricle; 450 mL of blood in "
            "the pericardial sac. No significant natural disease."
        ),
        immediate_cause="Hypovolaemic shock",
        immediate_icd10="R57.1",
        antecedent_cause="Stab wound of the chest penetrating the heart",
        antecedent_icd10="S26.0",
        underlying_cause="Assault with a knife",
        underlying_icd10="X99",
        contributing_conditions="",
        manner="homicide",
        mechanism="sharp_object",
    )
    services.take_sample(
        examiner,
        stabbing,
        discipline=disciplines["toxicology"],
        type=ItemType.BLOOD,
        description="Femoral blood, 10 mL in a sodium fluoride tube",
    )

    # 3. Unidentified, decomposed: received, the second pathologist's autopsy recorded with the manner pending.
    cane_field = services.log_death(
        scenetech,
        agency=agencies["BPD-OW"],
        agency_case_number="OW-CR-2026-0117",
        body_seal_number="OW-BB-0240",
        identified=False,
        tag_number="OW-T-2026-014",
        sex="M",
        age_min=40,
        age_max=55,
        pregnancy="na",
        death_at=now - timedelta(days=5),
        death_time_estimated=True,
        district="OW",
        death_place="Cane field off the San José road, Orange Walk District",
        discovered_at=now - timedelta(hours=30),
        discovery_place="Cane field off the San José road, Orange Walk District",
        pathologist=examiner2,
        circumstances="Found by cane cutters. No identity documents; a tattoo of a star on the right shoulder.",
    )
    receive(cane_field, examiner2, "Moderate decomposition. Body bag sealed.")
    request = services.autopsy_request(cane_field)
    lab_services.start_examination(examiner2, request, method=autopsy_method)
    services.record_autopsy(
        examiner2,
        cane_field,
        performed_on=today,
        type="full",
        findings=(
            "Moderate decomposition. No fractures, no penetrating injuries. Heart enlarged (480 g) with "
            "moderate coronary atherosclerosis. Cause of death undetermined pending histology and toxicology."
        ),
        immediate_cause="Undetermined, pending histology and toxicology",
        immediate_icd10="R99",
        manner="pending",
    )
    services.take_sample(
        examiner2,
        cane_field,
        discipline=disciplines["histopathology"],
        type=ItemType.OTHER,
        description="Tissue in formalin: heart, lungs, liver, kidneys",
    )
    services.take_sample(
        examiner2,
        cane_field,
        discipline=disciplines["toxicology"],
        type=ItemType.OTHER,
        description="Liver tissue, 50 g, frozen",
    )

    # 4. A pedestrian struck on the highway: received at the morgue, autopsy assigned, not started.
    highway = services.log_death(
        scenetech,
        agency=agencies["BPD-TOL"],
        agency_case_number="TOL-TR-2026-0021",
        offence_codes=["01032"],
        body_seal_number="TOL-BB-0077",
        identified=True,
        decedent_name="Eulalia Sho",
        sex="F",
        age=67,
        nationality="Belizean",
        pregnancy="na",
        death_at=now - timedelta(hours=14),
        district="TOL",
        death_place="Southern Highway near Big Falls, Toledo District",
        discovered_at=now - timedelta(hours=14),
        discovery_place="Southern Highway near Big Falls, Toledo District",
        pathologist=examiner,
        perpetrator_sex="M",
        relationship="stranger",
        circumstances="Struck by a pickup truck while walking on the shoulder after dark; the driver stopped.",
    )
    receive(highway, examiner, "Body bag sealed. Multiple abrasions visible.")

    return [river, stabbing, cane_field, highway]
