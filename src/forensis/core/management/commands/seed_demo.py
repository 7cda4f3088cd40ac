from django.core.management.base import BaseCommand
from django.db import transaction

from forensis.accounts import services
from forensis.accounts.models import AgencyType, User
from forensis.accounts.roles import Role
from forensis.core.vocabulary import District

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
    ("scenetech", "Samuel", "Bol", "NFSS", Role.SCENE_TECHNICIAN),
    ("officer", "Omar", "Garcia", "BPD-BZ", Role.AGENCY_OFFICER),
    ("officer.cayo", "Olivia", "Chan", "BPD-CY", Role.AGENCY_OFFICER),
    ("prosecutor", "Priya", "Usher", "ODPP", Role.PROSECUTOR),
    ("statistician", "Sofia", "Tun", "BCO", Role.STATISTICIAN),
    ("auditor", "Arthur", "Vernon", "NFSS", Role.AUDITOR),
]


class Command(BaseCommand):
    help = "Load demonstration agencies and one user per role, if the database has no users yet."

    def handle(self, *args, **options):
        if User.objects.exists():
            self.stdout.write("Demo data not loaded: the database already has users.")
        else:
            self._seed()
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.print_logins()

    @transaction.atomic
    def _seed(self):
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

    def print_logins(self):
        demo_users = User.objects.filter(username__in=[u[0] for u in USERS]).select_related("agency")
        if not demo_users:
            return
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD})")
        for user in demo_users.order_by("pk"):
            roles = ", ".join(str(r.label) for r in user.roles)
            self.stdout.write(f"  {user.username:<14} {roles:<22} {user.agency.name}")
        self.stdout.write("")
