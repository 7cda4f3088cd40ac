"""Report pages: the portal list, a report with its versions, downloads (each logged), amendments, case
contacts, the discovery packet, and the public verification page (no login; it shows only the report number,
issue date and status)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from forensis.audit.models import AuditEvent
from forensis.audit.services import record_read
from forensis.cases.views import visible_case
from forensis.core.filters import filters_of
from forensis.core.services import call_with_form_errors
from forensis.lab.models import RequestStatus

from . import services
from .discovery import build_discovery_packet
from .filters import ReportFilter
from .forms import AmendmentForm, CaseContactForm, VerifyForm
from .models import CaseContact, Report, ReportVersion
from .tables import ReportTable

VIEW = "reports.view_report"


def visible_report(request, number: str) -> Report:
    reports = Report.objects.visible_to(request.user).select_related("case__agency", "request__discipline")
    return get_object_or_404(reports, number=number)


@login_required
@permission_required(VIEW, raise_exception=True)
def report_list(request):
    reports = (
        Report.objects.visible_to(request.user)
        .select_related("case__agency", "request__discipline")
        .annotate(latest_version=Max("versions__version"), latest_issued=Max("versions__issued_at"))
        .order_by("-latest_issued", "-pk")
    )
    found = ReportFilter(request.GET, queryset=reports)
    table = ReportTable(found.qs)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    record_read(request.user, "report.list_viewed", object_type="reports.report", after=filters_of(request))
    return render(request, "reports/report_list.html", {"filter": found, "table": table})


def _access_log(report: Report):
    """Who viewed and downloaded each version (shown to laboratory staff)."""
    version_ids = [str(pk) for pk in report.versions.values_list("pk", flat=True)]
    return AuditEvent.objects.filter(
        object_type="reports.reportversion",
        object_id__in=version_ids,
        action__in=["report.viewed", "report.downloaded", "report.sent"],
    ).order_by("-pk")[:200]


@login_required
@permission_required(VIEW, raise_exception=True)
def report_detail(request, number: str):
    report = visible_report(request, number)
    versions = list(report.versions.select_related("issued_by", "amendment").order_by("-version"))
    current = versions[0] if versions else None  # each later version supersedes the one before
    if current is not None:
        services.record_access(request.user, current, download=False)
    open_amendment = report.amendments.filter(issued_version__isnull=True).select_related("requested_by").first()
    can_amend = (
        request.user.has_perm("reports.amend_report")
        and open_amendment is None
        and report.request is not None
        and report.request.status == RequestStatus.RELEASED
    )
    return render(
        request,
        "reports/report_detail.html",
        {
            "report": report,
            "versions": versions,
            "current": current,
            "open_amendment": open_amendment,
            "amend_form": AmendmentForm() if can_amend else None,
            "access_log": _access_log(report) if request.user.is_laboratory_staff else None,
        },
    )


@login_required
@permission_required(VIEW, raise_exception=True)
def report_pdf(request, number: str, version: int):
    report = visible_report(request, number)
    issued = get_object_or_404(ReportVersion, report=report, version=version)
    services.record_access(request.user, issued, download=True)
    response = FileResponse(issued.file.open("rb"), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{issued.filename}"'
    return response


@require_POST
@login_required
@permission_required("reports.amend_report", raise_exception=True)
def report_amend(request, number: str):
    report = visible_report(request, number)
    form = AmendmentForm(request.POST)
    if form.is_valid():
        amendment = call_with_form_errors(
            form, services.request_amendment, request.user, report, form.cleaned_data["reason"]
        )
        if amendment is not None:
            messages.success(
                request,
                _("The amendment of %(number)s is open: the request went back to its analyst.") % {"number": report},
            )
            return redirect("reports:detail", number=number)
    for error in form.errors.values():
        messages.error(request, " ".join(error))
    return redirect("reports:detail", number=number)


# --- the public verification page ---------------------------------------------------------------------


def verify(request):
    """Upload a PDF: is it a report this laboratory issued, unchanged, and is it the current version?"""
    form = VerifyForm(request.POST, request.FILES) if request.method == "POST" else VerifyForm()
    outcome = None
    if request.method == "POST" and form.is_valid():
        outcome = call_with_form_errors(form, services.verify_pdf, form.cleaned_data["file"].read())
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "reports/verify.html", {"form": form, "outcome": outcome}, status=status)


def verify_link(request, number: str, fingerprint: str):
    """The address in each page's QR code: report number and content fingerprint."""
    outcome = services.verify_reference(number, fingerprint)
    return render(request, "reports/verify.html", {"form": VerifyForm(), "outcome": outcome})


# --- case contacts and the discovery packet ----------------------------------------------------------------


@login_required
@permission_required("cases.view_case", raise_exception=True)
def case_contacts(request, lab_number: str):
    case = visible_case(request, lab_number)
    can_change = request.user.has_perm("reports.add_casecontact")
    form = CaseContactForm(request.POST if request.method == "POST" and "remove" not in request.POST else None)
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        if "remove" in request.POST:
            contact_pk = request.POST["remove"]
            if not contact_pk.isdigit():
                raise Http404
            contact = get_object_or_404(CaseContact, case=case, pk=contact_pk)
            services.remove_case_contact(request.user, contact)
            messages.success(request, _("%(contact)s no longer receives this case's reports.") % {"contact": contact})
            return redirect("reports:case_contacts", lab_number=lab_number)
        if form.is_valid():
            contact = call_with_form_errors(form, services.add_case_contact, request.user, case, **form.cleaned_data)
            if contact is not None:
                messages.success(request, _("%(contact)s will receive this case's reports.") % {"contact": contact})
                return redirect("reports:case_contacts", lab_number=lab_number)
    if request.method == "GET":
        record_read(request.user, "case.contacts_viewed", obj=case)
    return render(
        request,
        "reports/case_contacts.html",
        {
            "case": case,
            "contacts": case.contacts.select_related("agency"),
            "form": form if can_change else None,
        },
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
@permission_required("reports.download_discovery", raise_exception=True)
def discovery_packet(request, lab_number: str):
    case = visible_case(request, lab_number)
    data = build_discovery_packet(request.user, case)
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{case.lab_number}-discovery.zip"'
    return response
