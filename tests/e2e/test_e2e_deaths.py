"""A death end to end: scene → morgue → autopsy with a toxicology request → released autopsy report → body released.

The scene technician logs a woman's death in the Corozal district under a new police case number; the pathologist
receives the body at the morgue while the scene technician confirms the hand-over with their password; the
pathologist starts the autopsy, records the cause of death with ICD-10 codes, and sends femoral blood to
toxicology. The toxicology section does its work (assignment, result, reviews and release go through the same
services its pages use, which the casework browser test drives); its result then appears on the death record. The
pathologist signs, a second pathologist reviews, the manager reviews and releases: the autopsy report and the
cause-of-death certificate are issued. Last, the pathologist prints the release form, the funeral home signs it,
and the body is released; the ledger ends with the release, and the body cannot be released again.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from forensis.core.management.commands.seed_demo import DEMO_PASSWORD
from tests.e2e.test_e2e_casework import alert, complete_draft, person, shell_json
from tests.e2e.test_e2e_reports import download, pdf_text, review_and_release

pytestmark = pytest.mark.e2e

POLICE_CASE = "CZL-CR-2026-0077"
DECEDENT = "Maria Teul"
FUNERAL_HOME = "Lord's Funeral Home"

FIND_AUTOPSY = """
import json
from forensis.deaths.models import DeathInvestigation
from forensis.deaths.services import autopsy_request
request = autopsy_request(DeathInvestigation.objects.get(number={number!r}))
print(json.dumps({{"pk": request.pk, "case": request.case.lab_number, "status": request.status}}))
"""

TOXICOLOGY_RETURNS = """
import json
from forensis.accounts.models import User
from forensis.lab import services as lab
from forensis.lab.models import Instrument, Method, ReagentLot, ServiceRequest
request = ServiceRequest.objects.get(case__agency_case_number={case!r}, discipline__code="toxicology")
people = {{name: User.objects.get(username=name) for name in ("manager", "analyst", "reviewer")}}
lab.assign(people["manager"], request, people["analyst"])
lab.start_examination(
    people["analyst"], request, method=Method.objects.get(code="TOX-BAC-HS"),
    instrument=Instrument.objects.get(serial_number="US2201A001"),
    reagent_lots=ReagentLot.objects.filter(lot_number__in=["NP-2611", "EC-0825"]),
)
sample = request.items.get()
lab.record_result(people["analyst"], request, sample,
                  {{"analyte": "Ethanol", "concentration": "0.145", "unit": "g/100mL", "uncertainty": "0.006"}})
lab.complete_draft(people["analyst"], request, reauthenticated=True)
for name, stage in (("reviewer", "technical"), ("manager", "administrative")):
    checklist = {{str(q.pk): True for q in lab.checklist_for(request, stage)}}
    lab.review(people[name], request, stage=stage, approve=True, checklist=checklist, reauthenticated=True)
lab.release(people["manager"], request, reauthenticated=True)
request.refresh_from_db()
print(json.dumps({{"status": request.status, "sample": sample.label, "parent": request.parent_id}}))
"""


def local(moment) -> str:
    """A datetime-local input's value in the laboratory's time zone."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def field(page: Page, name: str):
    return page.get_by_test_id(f"field-{name}")


def log_the_death(scenetech: Page, base: str) -> str:
    """The scene technician fills in the death form; returns the death investigation number."""
    now = timezone.now()
    scenetech.goto(f"{base}/deaths/new/")
    form = scenetech.get_by_test_id("death-form")
    field(form, "agency").select_option(label=_option_label(scenetech, "agency", "Queen Street"))
    field(form, "agency_case_number").fill(POLICE_CASE)
    field(form, "offence_codes").select_option("0101")
    field(form, "body_seal_number").fill("CZL-BB-0077")
    field(form, "decedent_name").fill(DECEDENT)
    field(form, "sex").select_option("F")
    field(form, "age").fill("34")
    field(form, "nationality").fill("Belizean")
    field(form, "pregnancy").select_option("no")
    field(form, "death_at").fill(local(now - timedelta(hours=9)))
    field(form, "district").select_option("CZL")
    field(form, "death_place").fill("Cane field off the Northern Highway, Libertad")
    field(form, "discovered_at").fill(local(now - timedelta(hours=6)))
    field(form, "discovery_place").fill("Cane field off the Northern Highway, Libertad")
    field(form, "pathologist").select_option(label=_option_label(scenetech, "pathologist", "Elena Marin"))
    field(form, "relationship").select_option("intimate_partner")
    field(form, "prior_violence").select_option("yes")
    form.get_by_test_id("save-death").click()
    expect(scenetech.get_by_test_id("decedent")).to_contain_text(DECEDENT)
    expect(scenetech.get_by_test_id("stage-indicator")).to_have_attribute("data-stage", "logged")
    return scenetech.get_by_test_id("investigation-number").inner_text().strip()


def test_a_death_goes_from_the_scene_to_a_released_autopsy_report_and_a_released_body(
    demo_server, browser: Browser, screenshot_dir, tmp_path
):
    base = demo_server.url
    with person(browser, base, "scenetech") as scenetech:
        number = log_the_death(scenetech, base)
        ledger = scenetech.get_by_test_id("custody-event")
        expect(ledger).to_have_count(1)
        expect(ledger.first).to_contain_text("Taken from the scene")
        detail = f"{base}/deaths/{number}/"

        with person(browser, base, "examiner") as examiner:
            # At the morgue: the pathologist receives the body; the scene technician types their own password.
            examiner.goto(detail)
            examiner.get_by_test_id("receive-link").click()
            form = examiner.get_by_test_id("receive-form")
            expect(field(form, "handed_over_by").locator("option:checked")).to_contain_text("Samuel Bol")
            field(form, "password").fill("not their password")
            field(form, "location").select_option(label=_option_label(examiner, "location", "Morgue cold room"))
            form.get_by_test_id("receive-body").click()
            expect(examiner.get_by_test_id("error-password")).to_have_text("The password of Samuel Bol is not correct.")
            form = examiner.get_by_test_id("receive-form")
            field(form, "password").fill(DEMO_PASSWORD)
            field(form, "location").select_option(label=_option_label(examiner, "location", "Morgue cold room"))
            field(form, "seal_status").select_option("intact")
            field(form, "condition").fill("Body bag sealed, tag legible")
            form.get_by_test_id("receive-body").click()
            expect(examiner).to_have_url(detail)
            expect(examiner.get_by_test_id("stage-indicator")).to_have_attribute("data-stage", "received")
            expect(examiner.get_by_test_id("custody-event")).to_have_count(2)

            # The autopsy: started, recorded with the cause-of-death chain, and femoral blood sent to toxicology.
            examiner.get_by_test_id("autopsy-link").click()
            start = examiner.get_by_test_id("start-autopsy-form")
            field(start, "method").select_option(label=_option_label(examiner, "method", "Medicolegal autopsy"))
            start.get_by_test_id("start-autopsy").click()
            form = examiner.get_by_test_id("autopsy-form")
            field(form, "type").select_option("full")
            field(form, "findings").fill("Ligature mark around the neck; petechial haemorrhages of the conjunctivae.")
            field(form, "immediate_cause").fill("Asphyxia")
            field(form, "immediate_icd10").fill("T71")
            field(form, "underlying_cause").fill("Assault by strangulation")
            field(form, "underlying_icd10").fill("x91")
            field(form, "manner").select_option("homicide")
            field(form, "mechanism").select_option("strangulation")
            form.get_by_test_id("save-autopsy").click()
            expect(examiner.get_by_test_id("error-underlying_icd10")).to_have_count(0)
            expect(examiner.get_by_test_id("field-underlying_icd10")).to_have_value("X91")
            sample = examiner.get_by_test_id("sample-form")
            field(sample, "discipline").select_option(label="Toxicology")
            field(sample, "type").select_option("blood")
            field(sample, "description").fill("Femoral blood, 10 mL, sodium fluoride tube")
            sample.get_by_test_id("take-sample").click()
            expect(examiner.get_by_test_id("sample-row")).to_have_count(1)

            # The toxicology section does its work and releases its report.
            toxicology = shell_json(demo_server, TOXICOLOGY_RETURNS.format(case=POLICE_CASE))
            assert toxicology["status"] == "released", toxicology
            examiner.goto(detail)
            expect(examiner.get_by_test_id("ancillary-result")).to_contain_text("0.145 g/100 mL")

            # The pathologist signs the autopsy; a second pathologist and the manager review; the manager releases.
            examiner.goto(f"{base}/deaths/{number}/autopsy/")
            examiner.get_by_test_id("sign-draft-link").click()
            complete_draft(examiner)
            autopsy = shell_json(demo_server, FIND_AUTOPSY.format(number=number))
            pk, case = autopsy["pk"], autopsy["case"]
            with person(browser, base, "examiner2") as examiner2, person(browser, base, "manager") as manager:
                review_and_release(examiner2, manager, base, pk, case)

            examiner.goto(detail)
            expect(examiner.get_by_test_id("stage-indicator")).to_have_attribute("data-stage", "reported")
            examiner.screenshot(path=str(screenshot_dir / "e2e-death-reported.png"), full_page=True)
            examiner.get_by_test_id("report-link-autopsy").click()
            report = pdf_text(download(examiner, "download-current", tmp_path))
            for expected in (
                "Autopsy report",
                DECEDENT,
                "T71 — Asphyxiation",
                "X91 — Assault by hanging, strangulation and suffocation",
                "Manner of death Homicide",
                "Mechanism Strangulation or suffocation",
                "Dr. Elena Marin",
                "0.145 g/100 mL",
            ):
                assert expected in report, expected
            examiner.goto(detail)
            expect(examiner.get_by_test_id("report-link-death_certificate")).to_be_visible()

            # The funeral home collects the body: the form is printed and signed, then the release is recorded.
            examiner.get_by_test_id("release-link").click()
            href = examiner.get_by_test_id("blank-release-form-link").get_attribute("href")
            printed = examiner.context.request.get(f"{base}{href}")
            assert printed.ok and printed.headers["content-type"] == "application/pdf"
            (tmp_path / "blank.pdf").write_bytes(printed.body())
            blank = pdf_text(tmp_path / "blank.pdf")
            assert "Body release form" in blank and number in blank
            form = examiner.get_by_test_id("release-form")
            examiner.get_by_test_id("field-receiver_kind-funeral_home").check()
            field(form, "receiver_name").fill("Joseph Blanco")
            field(form, "organisation").fill(FUNERAL_HOME)
            field(form, "identity_document").fill("Social security 000-481-226")
            form.get_by_test_id("release-body").click()
            expect(examiner.get_by_test_id("error-acknowledged")).to_be_visible()
            form = examiner.get_by_test_id("release-form")
            field(form, "acknowledged").check()
            form.get_by_test_id("release-body").click()
            expect(examiner).to_have_url(detail)
            expect(alert(examiner, "The body was released to Joseph Blanco")).to_be_visible()
            expect(examiner.get_by_test_id("stage-indicator")).to_have_attribute("data-stage", "released")
            expect(examiner.get_by_test_id("released-to")).to_have_text("Joseph Blanco (Funeral home)")
            expect(examiner.get_by_test_id("body-release")).to_contain_text(FUNERAL_HOME)
            events = examiner.get_by_test_id("custody-event")
            expect(events).to_have_count(3)
            expect(events.last).to_contain_text("Body released to a funeral home or family")
            expect(examiner.get_by_test_id("release-link")).to_have_count(0)
            examiner.goto(f"{base}/deaths/{number}/release/")
            expect(examiner.get_by_test_id("already-released")).to_contain_text("Joseph Blanco")
            examiner.screenshot(path=str(screenshot_dir / "e2e-death-released.png"), full_page=True)


def _option_label(page: Page, name: str, contains: str) -> str:
    """The full label of the first option of select ``field-<name>`` that contains ``contains``."""
    return page.get_by_test_id(f"field-{name}").locator("option", has_text=contains).first.inner_text().strip()
