"""The administration area: agencies and users. Every change goes through ``accounts.services``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tables2 import RequestConfig

from forensis.core.services import call_with_form_errors

from . import services
from .filters import AgencyFilter, UserFilter
from .forms import AgencyForm, NewUserForm, ReasonForm, SetPasswordForm, UserForm
from .models import Agency, User
from .tables import AgencyTable, UserTable


def _paginated(request, table):
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    return table


@login_required
@permission_required("accounts.view_agency", raise_exception=True)
def agency_list(request):
    agencies = AgencyFilter(request.GET, queryset=Agency.objects.visible_to(request.user))
    table = _paginated(request, AgencyTable(agencies.qs))
    return render(request, "accounts/agency_list.html", {"filter": agencies, "table": table})


@login_required
@permission_required("accounts.manage_agencies", raise_exception=True)
def agency_edit(request, pk: int | None = None):
    agency = get_object_or_404(Agency.objects.visible_to(request.user), pk=pk) if pk else None
    form = AgencyForm(request.POST or None, instance=agency)
    if request.method == "POST" and form.is_valid():
        if agency is None:
            saved = call_with_form_errors(form, services.create_agency, request.user, **form.cleaned_data)
        else:
            saved = call_with_form_errors(form, services.update_agency, request.user, agency, **form.cleaned_data)
        if saved is not None:
            messages.success(request, _("Agency %(name)s saved.") % {"name": saved.name})
            return redirect("accounts:agency_list")
    return render(request, "accounts/agency_form.html", {"form": form, "agency": agency, "reason_form": ReasonForm()})


@login_required
@permission_required("accounts.manage_agencies", raise_exception=True)
@require_POST
def agency_set_active(request, pk: int):
    agency = get_object_or_404(Agency.objects.visible_to(request.user), pk=pk)
    form = ReasonForm(request.POST)
    activate = request.POST.get("active") == "1"
    if form.is_valid():
        services.set_agency_active(request.user, agency, activate, form.cleaned_data["reason"])
        messages.success(request, _("Agency reactivated.") if activate else _("Agency deactivated."))
    else:
        messages.error(request, _("Give a reason."))
    return redirect("accounts:agency_edit", pk=agency.pk)


@login_required
@permission_required("accounts.view_user", raise_exception=True)
def user_list(request):
    users = UserFilter(
        request.GET,
        request=request,
        queryset=User.objects.visible_to(request.user).select_related("agency").prefetch_related("groups").distinct(),
    )
    table = _paginated(request, UserTable(users.qs))
    return render(request, "accounts/user_list.html", {"filter": users, "table": table})


@login_required
@permission_required("accounts.manage_users", raise_exception=True)
def user_edit(request, pk: int | None = None):
    user = get_object_or_404(User.objects.visible_to(request.user), pk=pk) if pk else None
    form_class = UserForm if user else NewUserForm
    form = form_class(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if user is None:
            saved = call_with_form_errors(form, services.create_user, request.user, **data)
        else:
            data.pop("username", None)
            saved = call_with_form_errors(form, services.update_user, request.user, user, **data)
        if saved is not None:
            messages.success(request, _("User %(username)s saved.") % {"username": saved.username})
            return redirect("accounts:user_list")
    return render(
        request,
        "accounts/user_form.html",
        {
            "form": form,
            "managed_user": user,
            "reason_form": ReasonForm(),
            "password_form": SetPasswordForm() if user else None,
            "has_mfa": bool(user and TOTPDevice.objects.filter(user=user, confirmed=True).exists()),
        },
    )


_USER_ACTIONS = {
    "deactivate": (
        lambda actor, user, reason: services.set_user_active(actor, user, False, reason),
        gettext_lazy("Account deactivated."),
    ),
    "reactivate": (
        lambda actor, user, reason: services.set_user_active(actor, user, True, reason),
        gettext_lazy("Account reactivated."),
    ),
    "reset-mfa": (services.reset_mfa, gettext_lazy("Authenticator removed: the user enrols again at next sign-in.")),
    "unlock": (services.unlock_user, gettext_lazy("Lockout lifted.")),
}


@login_required
@permission_required("accounts.manage_users", raise_exception=True)
@require_POST
def user_action(request, pk: int, action: str):
    user = get_object_or_404(User.objects.visible_to(request.user), pk=pk)
    if action not in _USER_ACTIONS:
        return redirect("accounts:user_edit", pk=user.pk)
    service, done_message = _USER_ACTIONS[action]
    form = ReasonForm(request.POST)
    if (
        form.is_valid()
        and call_with_form_errors(form, service, request.user, user, form.cleaned_data["reason"]) is not None
    ):
        messages.success(request, done_message)
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("accounts:user_edit", pk=user.pk)


@login_required
@permission_required("accounts.manage_users", raise_exception=True)
@require_POST
def user_set_password(request, pk: int):
    """An administrator sets a new password for someone who forgot theirs (given to them in person)."""
    user = get_object_or_404(User.objects.visible_to(request.user), pk=pk)
    form = SetPasswordForm(request.POST)
    if form.is_valid() and call_with_form_errors(
        form,
        services.set_password,
        request.user,
        user,
        form.cleaned_data["password"],
        reason=form.cleaned_data["reason"],
    ):
        messages.success(request, _("Password changed. Give it to the user in person."))
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("accounts:user_edit", pk=user.pk)
