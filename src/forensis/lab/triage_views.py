"""The lab manager's screens: the triage board (assign, prioritise, cancel) and the catalogue.

The catalogue holds methods in versions, instruments, reagent lots, review checklists and analysts'
authorisations. Nothing here writes a model: every change goes through ``lab.services``, which refuses
an unauthorised analyst, a blank reason or a duplicate entry with a message shown here as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Prefetch, QuerySet
from django.forms.models import model_to_dict
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from forensis.accounts.models import User
from forensis.core.services import call_with_form_errors
from forensis.evidence.models import Item

from . import services
from .models import (
    Authorization,
    ChecklistQuestion,
    Discipline,
    Instrument,
    Method,
    ReagentLot,
    RequestStatus,
    ServiceRequest,
)
from .triage_forms import (
    AssignForm,
    CancelForm,
    ChecklistQuestionEditForm,
    DisciplineEditForm,
    GrantForm,
    InstrumentForm,
    MethodEditForm,
    NewChecklistQuestionForm,
    NewDisciplineForm,
    NewMethodForm,
    PriorityForm,
    ReagentLotForm,
    RevokeForm,
    TriageFilter,
    person_name,
)

assign_permission = permission_required("lab.assign_request", raise_exception=True)
catalogue_permission = permission_required("lab.manage_catalogue", raise_exception=True)

COURT_DATE_SOON_DAYS = 14  # a court date this close (or past) is highlighted on the board
DUE_SOON_DAYS = 30  # calibration, maintenance, lot expiry and authorisation expiry turn amber this close
EXAMINER_PERMISSION = "lab.perform_examination"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _posted(request):
    """The POST data, even when empty (an unticked checkbox alone posts nothing), or None on a GET."""
    return request.POST if request.method == "POST" else None


def _posted_pk(request, name: str) -> int:
    value = request.POST.get(name, "")
    if not value.isdigit():
        raise Http404
    return int(value)


# --- the triage board --------------------------------------------------------------------------------

TRIAGE_FORMS: dict[str, type[forms.Form]] = {"assign": AssignForm, "priority": PriorityForm, "cancel": CancelForm}


class Board:
    """The open requests of the board, each with its three forms, and the analysts offered per discipline."""

    def __init__(self):
        self.workload = services.open_workload()
        self.examiners = User.objects.with_perm(EXAMINER_PERMISSION, backend=MODEL_BACKEND)
        self._analysts: dict[int, list[tuple[User, int]]] = {}
        self.today = timezone.localdate()
        self.now = timezone.now()

    def analysts(self, discipline: Discipline) -> list[tuple[User, int]]:
        """Who may take work of ``discipline`` today (authorised examiners), with their open workload."""
        if discipline.pk not in self._analysts:
            users = (
                services.authorized_analysts(discipline)
                .filter(pk__in=self.examiners.values("pk"))
                .order_by("last_name", "first_name", "username")
            )
            self._analysts[discipline.pk] = [(user, self.workload.get(user.pk, 0)) for user in users]
        return self._analysts[discipline.pk]

    def form(self, action: str, service_request: ServiceRequest, data=None) -> forms.Form:
        prefix = f"{action}-{service_request.pk}"
        if action == "assign":
            return AssignForm(
                data,
                prefix=prefix,
                analysts=self.analysts(service_request.discipline),
                initial={"analyst": service_request.assigned_to_id},
            )
        if action == "priority":
            return PriorityForm(
                data,
                prefix=prefix,
                initial={"priority": service_request.priority, "court_date": service_request.court_date},
            )
        return CancelForm(data, prefix=prefix)

    def row(self, service_request: ServiceRequest, failed: tuple[int, str, forms.Form] | None) -> dict:
        forms_ = {action: self.form(action, service_request) for action in TRIAGE_FORMS}
        open_action = ""
        if failed and failed[0] == service_request.pk:
            open_action = failed[1]
            forms_[open_action] = failed[2]
        court = service_request.court_date
        return {
            "r": service_request,
            "age": (self.now - service_request.requested_at).days,
            "court_soon": court is not None and court <= self.today + timedelta(days=COURT_DATE_SOON_DAYS),
            "assigned_to_name": person_name(service_request.assigned_to) if service_request.assigned_to_id else "",
            "assign_form": forms_["assign"],
            "priority_form": forms_["priority"],
            "cancel_form": forms_["cancel"],
            "open_action": open_action,
            "no_analyst": not self.analysts(service_request.discipline),
        }


def _run_triage_action(request, action: str, service_request: ServiceRequest, form: forms.Form) -> bool:
    """Call the service of ``action``; say what was done, or leave its reason on ``form``."""
    data = form.cleaned_data
    actor = request.user
    if action == "assign":
        analyst = data["analyst"]
        done = call_with_form_errors(form, services.assign, actor, service_request, analyst)
        message = _("%(request)s assigned to %(analyst)s.") % {
            "request": service_request,
            "analyst": person_name(analyst),
        }
    elif action == "priority":
        done = call_with_form_errors(
            form,
            services.set_priority,
            actor,
            service_request,
            priority=data["priority"],
            court_date=data["court_date"],
        )
        message = _("Priority and court date of %(request)s saved.") % {"request": service_request}
    else:
        done = call_with_form_errors(form, services.cancel, actor, service_request, data["reason"])
        message = _("%(request)s cancelled.") % {"request": service_request}
    if done is None:
        return False
    messages.success(request, message)
    return True


@login_required
@assign_permission
def triage(request):
    """Requests waiting for an analyst, by discipline, and those assigned but not started (to reassign)."""
    visible = ServiceRequest.objects.visible_to(request.user)
    board_filter = TriageFilter(
        request.GET or None,
        queryset=visible.filter(status__in=[RequestStatus.REQUESTED, RequestStatus.ASSIGNED])
        .select_related("case", "discipline", "assigned_to")
        .prefetch_related(Prefetch("items", queryset=Item.objects.order_by("number")), "case__offences"),
    )
    board = Board()
    failed = None
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in TRIAGE_FORMS:
            raise Http404
        service_request = get_object_or_404(visible.select_related("discipline"), pk=_posted_pk(request, "request"))
        form = board.form(action, service_request, data=request.POST)
        if form.is_valid() and _run_triage_action(request, action, service_request, form):
            return redirect(request.get_full_path())
        failed = (service_request.pk, action, form)

    rows = [board.row(r, failed) for r in board_filter.qs]
    unassigned = [row for row in rows if row["r"].status == RequestStatus.REQUESTED]
    groups: dict[Discipline, list[dict]] = {}
    for row in unassigned:
        groups.setdefault(row["r"].discipline, []).append(row)
    return render(
        request,
        "lab/triage_board.html",
        {
            "filter": board_filter,
            "groups": sorted(groups.items(), key=lambda group: str(group[0])),
            "unassigned_count": len(unassigned),
            "assigned": [row for row in rows if row["r"].status == RequestStatus.ASSIGNED],
            "failed_form": failed[2] if failed else None,
        },
    )


# --- the catalogue: methods, instruments, reagent lots, checklist questions --------------------------


@dataclass(frozen=True)
class CatalogueScreen:
    """One kind of catalogue entry: its list page (with a form for a new entry) and its edit page."""

    model: type
    new_form: type[forms.Form]
    edit_form: type[forms.Form]
    template: str
    url_name: str
    edit_url_name: str
    title: str
    entries: Callable[[], QuerySet]
    copy_fields: tuple[str, ...] = ()  # ``?copy=<pk>`` starts the new form from an entry (a new version, a new lot)

    def initial(self, request) -> dict:
        pk = request.GET.get("copy", "")
        if not (self.copy_fields and pk.isdigit()):
            return {}
        entry = self.model.objects.filter(pk=pk).first()
        initial = model_to_dict(entry, fields=self.copy_fields) if entry else {}
        return {**initial, "effective_from": timezone.localdate()} if self.model is Method else initial


DISCIPLINES = CatalogueScreen(
    model=Discipline,
    new_form=NewDisciplineForm,
    edit_form=DisciplineEditForm,
    template="lab/catalogue_disciplines.html",
    url_name="lab:disciplines",
    edit_url_name="lab:discipline",
    title=gettext_lazy("Disciplines"),
    entries=lambda: Discipline.objects.all(),
)
METHODS = CatalogueScreen(
    model=Method,
    new_form=NewMethodForm,
    edit_form=MethodEditForm,
    template="lab/catalogue_methods.html",
    url_name="lab:methods",
    edit_url_name="lab:method",
    title=gettext_lazy("Methods and SOPs"),
    entries=lambda: Method.objects.select_related("discipline"),
    copy_fields=("discipline", "code", "name"),
)
INSTRUMENTS = CatalogueScreen(
    model=Instrument,
    new_form=InstrumentForm,
    edit_form=InstrumentForm,
    template="lab/catalogue_instruments.html",
    url_name="lab:instruments",
    edit_url_name="lab:instrument",
    title=gettext_lazy("Instruments"),
    entries=lambda: Instrument.objects.select_related("discipline"),
)
REAGENT_LOTS = CatalogueScreen(
    model=ReagentLot,
    new_form=ReagentLotForm,
    edit_form=ReagentLotForm,
    template="lab/catalogue_reagent_lots.html",
    url_name="lab:reagent_lots",
    edit_url_name="lab:reagent_lot",
    title=gettext_lazy("Reagent lots"),
    entries=lambda: ReagentLot.objects.select_related("discipline"),
    copy_fields=("reagent", "discipline"),
)
CHECKLISTS = CatalogueScreen(
    model=ChecklistQuestion,
    new_form=NewChecklistQuestionForm,
    edit_form=ChecklistQuestionEditForm,
    template="lab/catalogue_checklists.html",
    url_name="lab:checklists",
    edit_url_name="lab:checklist",
    title=gettext_lazy("Review checklists"),
    entries=lambda: ChecklistQuestion.objects.select_related("discipline"),
)


def _dates() -> dict:
    today = timezone.localdate()
    return {"today": today, "soon": today + timedelta(days=DUE_SOON_DAYS)}


def _save_entry(request, screen: CatalogueScreen, form: forms.Form, entry=None):
    saved = call_with_form_errors(
        form, services.save_catalogue_entry, request.user, screen.model, entry, **form.cleaned_data
    )
    if saved is not None:
        messages.success(request, _("%(entry)s saved.") % {"entry": saved})
    return saved


@login_required
@catalogue_permission
def catalogue_list(request, screen: CatalogueScreen):
    """The entries of ``screen``, and the form for a new one (posted here)."""
    form = screen.new_form(_posted(request), initial=screen.initial(request))
    if request.method == "POST" and form.is_valid() and _save_entry(request, screen, form) is not None:
        return redirect(screen.url_name)
    return render(
        request,
        screen.template,
        {"screen": screen, "entries": screen.entries(), "form": form, **_dates()},
    )


@login_required
@catalogue_permission
def catalogue_edit(request, screen: CatalogueScreen, pk: int):
    """Change an entry (or retire it: entries are never deleted, examinations keep pointing at them)."""
    entry = get_object_or_404(screen.model, pk=pk)
    names = list(screen.edit_form.base_fields)
    form = screen.edit_form(_posted(request), initial=model_to_dict(entry, fields=names))
    if request.method == "POST" and form.is_valid() and _save_entry(request, screen, form, entry) is not None:
        return redirect(screen.url_name)
    return render(
        request,
        "lab/catalogue_edit.html",
        {"screen": screen, "entry": entry, "form": form},
    )


# --- authorisations ----------------------------------------------------------------------------------


@login_required
@catalogue_permission
def authorizations(request):
    """Each person's competencies by discipline (and method), with validity; grant new ones, revoke with a reason."""
    action = request.POST.get("action", "") if request.method == "POST" else ""
    grant_form = GrantForm(
        request.POST if action == "grant" else None,
        prefix="grant",
        initial={"valid_from": timezone.localdate(), "valid_until": timezone.localdate() + timedelta(days=365)},
    )
    revoking, revoke_form = None, None
    if action == "grant":
        if grant_form.is_valid():
            data = grant_form.cleaned_data
            granted = call_with_form_errors(
                grant_form,
                services.grant_authorization,
                request.user,
                data["user"],
                data["discipline"],
                valid_from=data["valid_from"],
                valid_until=data["valid_until"],
                method=data["method"],
            )
            if granted is not None:
                messages.success(
                    request,
                    _("%(person)s is authorised for %(discipline)s until %(date)s.")
                    % {
                        "person": person_name(granted.user),
                        "discipline": granted.discipline,
                        "date": granted.valid_until,
                    },
                )
                return redirect("lab:authorizations")
    elif action == "revoke":
        revoking = get_object_or_404(Authorization, pk=_posted_pk(request, "authorization"))
        revoke_form = RevokeForm(request.POST, prefix=f"revoke-{revoking.pk}")
        if revoke_form.is_valid() and call_with_form_errors(
            revoke_form, services.revoke_authorization, request.user, revoking, revoke_form.cleaned_data["reason"]
        ):
            messages.success(
                request,
                _("Authorisation of %(person)s for %(discipline)s revoked.")
                % {"person": person_name(revoking.user), "discipline": revoking.discipline},
            )
            return redirect("lab:authorizations")
    elif action:
        raise Http404

    rows = []
    for authorization in Authorization.objects.select_related("user", "discipline", "method", "granted_by").order_by(
        "user__last_name", "user__first_name", "user__username", "discipline__name", "-valid_until"
    ):
        failed = revoking is not None and authorization.pk == revoking.pk
        rows.append(
            {
                "a": authorization,
                "person": person_name(authorization.user),
                "granted_by": person_name(authorization.granted_by),
                "revoke_form": revoke_form if failed else RevokeForm(prefix=f"revoke-{authorization.pk}"),
                "open": failed,
            }
        )
    return render(
        request,
        "lab/catalogue_authorizations.html",
        {"rows": rows, "grant_form": grant_form, **_dates()},
    )


urlpatterns = [
    path("triage/", triage, name="triage"),
    path("catalogue/disciplines/", catalogue_list, {"screen": DISCIPLINES}, name="disciplines"),
    path("catalogue/disciplines/<int:pk>/", catalogue_edit, {"screen": DISCIPLINES}, name="discipline"),
    path("catalogue/methods/", catalogue_list, {"screen": METHODS}, name="methods"),
    path("catalogue/methods/<int:pk>/", catalogue_edit, {"screen": METHODS}, name="method"),
    path("catalogue/instruments/", catalogue_list, {"screen": INSTRUMENTS}, name="instruments"),
    path("catalogue/instruments/<int:pk>/", catalogue_edit, {"screen": INSTRUMENTS}, name="instrument"),
    path("catalogue/reagent-lots/", catalogue_list, {"screen": REAGENT_LOTS}, name="reagent_lots"),
    path("catalogue/reagent-lots/<int:pk>/", catalogue_edit, {"screen": REAGENT_LOTS}, name="reagent_lot"),
    path("catalogue/checklists/", catalogue_list, {"screen": CHECKLISTS}, name="checklists"),
    path("catalogue/checklists/<int:pk>/", catalogue_edit, {"screen": CHECKLISTS}, name="checklist"),
    path("catalogue/authorizations/", authorizations, name="authorizations"),
]
