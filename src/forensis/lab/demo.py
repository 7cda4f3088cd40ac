"""Demonstration catalogue: methods, instruments, reagent lots, checklists and authorisations."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from forensis.accounts.models import User

from . import services
from .models import ChecklistQuestion, Discipline, Instrument, Method, ReagentLot, ReviewStage

METHODS = [
    ("toxicology", "TOX-BAC-HS", "Blood alcohol by headspace GC-FID", "4.2"),
    ("seized-drugs", "DRG-GCMS", "Seized drug identification by GC-MS", "3.0"),
    ("seized-drugs", "DRG-WT", "Net weight determination", "2.1"),
    ("serology", "SER-PRESUMPTIVE", "Presumptive and confirmatory tests for body fluids", "5.0"),
    ("firearms", "FA-COMP", "Comparison microscopy of fired components", "2.3"),
    ("ibis", "FA-IBIS", "IBIS entry and correlation", "1.4"),
    ("pathology", "PATH-AUTOPSY", "Medicolegal autopsy", "1.0"),
    ("pathology", "PATH-EXT", "External examination", "1.0"),
    ("histopathology", "HIST-HE", "Tissue processing and H&E staining", "2.0"),
]
INSTRUMENTS = [
    ("toxicology", "GC-FID Agilent 8890", "US2201A001", 120),
    ("seized-drugs", "GC-MS Agilent 5977B", "US2105M017", 60),
    ("firearms", "Leica FSC comparison microscope", "LFSC-3391", 300),
    ("toxicology", "GC-FID Agilent 7890 (retired calibration)", "US1703A552", -10),
]
LOTS = [
    ("toxicology", "n-Propanol internal standard", "NP-2611", 180),
    ("toxicology", "Ethanol calibrator 0.08 g/100 mL", "EC-0825", 90),
    ("serology", "Phenolphthalein reagent", "KM-2207", 60),
    ("seized-drugs", "Methanol HPLC grade", "MEOH-5521", 365),
    ("toxicology", "Ethanol control (expired)", "EC-0412", -5),
]
#: (stage, discipline code or None for every discipline, question).
CHECKLIST = [
    (ReviewStage.TECHNICAL, None, "The method and its version are appropriate and were followed."),
    (ReviewStage.TECHNICAL, None, "Results are supported by the data, with units and uncertainty where required."),
    (
        ReviewStage.TECHNICAL,
        "pathology",
        "The cause-of-death chain follows from the findings, its ICD-10 codes fit the conditions described, "
        "and the manner and mechanism are supported.",
    ),
    (ReviewStage.ADMINISTRATIVE, None, "Case and item numbers, names and dates are correct and consistent."),
    (ReviewStage.ADMINISTRATIVE, None, "Chain of custody is complete for every item examined."),
]
#: Who is authorised for which disciplines: two pathologists, so one can review the other's autopsies.
AUTHORIZATIONS = {
    "analyst": ["toxicology", "seized-drugs", "serology", "firearms", "ibis"],
    "reviewer": ["toxicology", "seized-drugs", "serology", "firearms", "ibis"],
    "examiner": ["pathology", "histopathology"],
    "examiner2": ["pathology"],
}


def seed_catalogue(manager: User) -> None:
    today = timezone.localdate()
    disciplines = {d.code: d for d in Discipline.objects.all()}
    for code, method_code, name, version in METHODS:
        services.save_catalogue_entry(
            manager,
            Method,
            discipline=disciplines[code],
            code=method_code,
            name=name,
            version=version,
            effective_from=today - timedelta(days=400),
        )
    for code, name, serial, due_in in INSTRUMENTS:
        services.save_catalogue_entry(
            manager,
            Instrument,
            discipline=disciplines[code],
            name=name,
            serial_number=serial,
            calibration_due=today + timedelta(days=due_in),
        )
    for code, reagent, lot, expires_in in LOTS:
        services.save_catalogue_entry(
            manager,
            ReagentLot,
            discipline=disciplines[code],
            reagent=reagent,
            lot_number=lot,
            expiry=today + timedelta(days=expires_in),
        )
    for stage, code, text in CHECKLIST:
        services.save_catalogue_entry(
            manager, ChecklistQuestion, stage=stage, discipline=disciplines[code] if code else None, text=text
        )
    year = timedelta(days=365)
    for username, codes in AUTHORIZATIONS.items():
        user = User.objects.get(username=username)
        for code in codes:
            services.grant_authorization(
                manager, user, disciplines[code], valid_from=today - year, valid_until=today + year
            )
