from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from forensis.accounts import services
from forensis.accounts.models import AgencyType, User
from forensis.accounts.roles import Role
from forensis.core.vocabulary import District
from forensis.deaths.demo import seed_deaths
from forensis.evidence.demo import seed_morgue, seed_storage
from forensis.evidence.models import SealStatus
from forensis.intake import services as intake
from forensis.intake.models import Kit
from forensis.lab.demo import seed_catalogue

DEMO_PASSWORD = "Forensis-demo-2026"  # noqa: S105  (printed for the demo; never used in production)

AGENCIES = [
    ("NFSS", "National Forensic Science Service", AgencyType.LABORATORY, District.BELIZE),
    ("BPD-BZ", "Belize District Police — Queen Street Station", AgencyType.POLICE, District.BELIZE),
    ("BPD-CY", "Cayo District Police — San Ignacio Station", AgencyType.POLICE, District.CAYO),
    ("BPD-OW", "Orange Walk District Police", AgencyType.POLICE, District.ORANGE_WALK),
    ("BPD-CZL", "Corozal District Police", AgencyType.POLICE, District.COROZAL),
    ("BPD-SC", "Stann Creek District Police — Dangriga Station", AgencyType.POLICE, District.STANN_CREEK),
    ("BPD-TOL", "Toledo District Police — Punta Gorda Station", AgencyType.POLICE, District.TOLEDO),
    ("ODPP", "Office of the Director of Public Prosecutions", AgencyType.PROSECUTOR, District.BELIZE),
    ("SC-BZ", "Supreme Court of Belize", AgencyType.COURT, District.BELIZE),
    ("BCO", "Belize Crime Observatory", AgencyType.OBSERVATORY, District.BELIZE),
]

# (username, first name, last name, agency code, role)
USERS = [
    ("admin", "Ana", "Admin", "NFSS", Role.ADMINISTRATOR),
    ("manager", "Marcus", "Young", "NFSS", Role.LAB_MANAGER),
    ("custodian", "Carla", "Pook", "NFSS", Role.EVIDENCE_CUSTODIAN),
    ("analyst", "Andre", "Flowers", "NFSS", Role.ANALYST),
    ("reviewer", "Rosa", "Cal", "NFSS", Role.REVIEWER),
    ("examiner", "Dr. Elena", "Marin", "NFSS", Role.MEDICAL_EXAMINER),
    ("examiner2", "Dr. Rafael", "Quiroz", "NFSS", Role.MEDICAL_EXAMINER),
    ("scenetech", "Samuel", "Bol", "NFSS", Role.SCENE_TECHNICIAN),
    ("officer", "Omar", "Garcia", "BPD-BZ", Role.AGENCY_OFFICER),
    ("officer.cayo", "Olivia", "Chan", "BPD-CY", Role.AGENCY_OFFICER),
    ("prosecutor", "Priya", "Usher", "ODPP", Role.PROSECUTOR),
    ("statistician", "Sofia", "Tun", "BCO", Role.STATISTICIAN),
    ("auditor", "Arthur", "Vernon", "NFSS", Role.AUDITOR),
]


class Command(BaseCommand):
    help = "Load demonstration agencies, users, casework and death investigations, if the database has no users yet."

    def handle(self, *args, **options):
        if User.objects.exists():
            self.stdout.write("Demo data not loaded: the database already has users.")
        else:
            self._seed()
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.print_logins()

    @transaction.atomic
    def _seed(self):
        self._seed_people()
        seed_catalogue(User.objects.get(username="manager"))
        self._seed_cases()
        self._seed_deaths()

    def _seed_people(self):
        agencies = {}
        for code, name, agency_type, district in AGENCIES:
            agencies[code] = services.create_agency(None, code=code, name=name, type=agency_type, district=district)
        for username, first, last, agency_code, role in USERS:
            services.create_user(
                None,
                username=username,
                password=DEMO_PASSWORD,
                agency=agencies[agency_code],
                roles=[role],
                first_name=first,
                last_name=last,
                email=f"{username}@demo.forensis.invalid",
            )

    def _seed_cases(self):
        """A few submissions in every state, made through the same services the screens use."""
        users = {u.username: u for u in User.objects.all()}
        officer, cayo, custodian = users["officer"], users["officer.cayo"], users["custodian"]
        now = timezone.now()
        kits = {kit.name: kit for kit in Kit.objects.all()}

        def pre_log(actor, kit, *, number, offences, district, town, days_ago, people, narrative):
            submission = intake.create_submission(actor, kit=kits[kit])
            items = [
                intake.ItemData(
                    {n: getattr(i, n) for n in intake.ITEM_FIELDS} | {"seal_number": f"{number}-S{i.position}"},
                    list(i.disciplines.all()),
                )
                for i in submission.items.all()
            ]
            return intake.update_submission(
                actor,
                submission,
                fields={
                    "agency_case_number": number,
                    "offence_codes": offences,
                    "district": district,
                    "town": town,
                    "incident_at": now - timedelta(days=days_ago),
                    "narrative": narrative,
                },
                people=people,
                items=items,
            )

        def receive(submission, handed_over_by, broken_seal_note=""):
            checks = {i.pk: intake.ItemCheck() for i in submission.items.all()}
            if broken_seal_note:
                first = submission.items.first()
                checks[first.pk] = intake.ItemCheck(seal_status=SealStatus.BROKEN, deviation_note=broken_seal_note)
            return intake.receive_submission(custodian, submission, checks=checks, handed_over_by=handed_over_by)

        shooting = pre_log(
            officer,
            "Firearm and ammunition set",
            number="BZ-CR-2026-0311",
            offences=["0101"],
            district="BZ",
            town="Belize City",
            days_ago=9,
            narrative="Man shot on Mahogany Street.",
            people=[
                {"role": "deceased", "name": "Kevin Usher", "sex": "M", "age": 27},
                {"role": "suspect", "name": "Unknown", "sex": "U"},
            ],
        )
        receive(
            intake.submit_submission(officer, shooting), officer, broken_seal_note="Envelope seal torn at one corner"
        )
        assault = pre_log(
            officer,
            "Sexual assault kit",
            number="BZ-CR-2026-0342",
            offences=["03011"],
            district="BZ",
            town="Ladyville",
            days_ago=2,
            narrative="Reported at Karl Heusner Memorial Hospital.",
            people=[
                {"role": "victim", "name": "Withheld (minor)", "sex": "F", "age": 15, "relationship_to_victim": ""}
            ],
        )
        intake.submit_submission(officer, assault)
        pre_log(
            officer,
            "Toxicology kit (driving)",
            number="BZ-TR-2026-0077",
            offences=["02072"],
            district="BZ",
            town="Belize City",
            days_ago=0,
            narrative="Driver stopped at a checkpoint.",
            people=[],
        )
        drugs = pre_log(
            cayo,
            "Toxicology kit (driving)",
            number="CY-TR-2026-0102",
            offences=["02072"],
            district="CY",
            town="San Ignacio",
            days_ago=5,
            narrative="Collision on the George Price Highway.",
            people=[{"role": "suspect", "name": "Luis Pook", "sex": "M", "age": 34}],
        )
        receive(intake.submit_submission(cayo, drugs), cayo)
        seed_storage(custodian)

    def _seed_deaths(self):
        """The morgue, and four deaths at the scene, at the morgue and on the pathologist's table."""
        morgue = seed_morgue(User.objects.get(username="custodian"))
        seed_deaths(morgue["Morgue cold room"])

    def print_logins(self):
        demo_users = User.objects.filter(username__in=[u[0] for u in USERS]).select_related("agency")
        if not demo_users:
            return
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD})")
        for user in demo_users.order_by("pk"):
            roles = ", ".join(str(r.label) for r in user.roles)
            self.stdout.write(f"  {user.username:<14} {roles:<22} {user.agency.name}")
        self.stdout.write("")
