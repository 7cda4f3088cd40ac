"""Disposition screens: return to the agency, witnessed destruction, the destruction register, retention rules.

The officer or witness confirms at the counter with their own username and password (``authenticate``
audits failures and counts them towards lockout). Every change goes through ``evidence.disposition``; a
legal hold or a retention rule is refused there, with its message shown here and nothing written.
"""

from __future__ import annotations

from collections.abc import Iterable

import django_tables2 as tables
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tables2 import RequestConfig

from forensis.accounts.scoping import Scope, access_scope
from forensis.audit.services import record
from forensis.core.services import call_with_form_errors

from . import disposition
from .disposition_forms import DestroyForm, ItemLabelsForm, RetentionRuleChangeForm, RetentionRuleForm, ReturnForm
from .models import Destruction, Item, RetentionRule
from .services import movement_problem

dispose_permission = permission_required("evidence.dispose_item", raise_exception=True)
rules_permission = permission_required("evidence.change_retentionrule", raise_exception=True)


def item_rows(items: Iterable[Item], *, disposal: bool) -> list[dict]:
    """The scanned items with what would stop them (legal hold, final status, and for disposal retention)."""
    rows = []
    for item in items:
        problem = movement_problem(item) or (disposition.retention_problem(item) if disposal else None)
        rows.append({"item": item, "problem": problem})
    return rows


def _confirming_user(request, form, username_field: str, password_field: str, refusal: str):
    """The person at the counter, if their own username and password are right; else ``refusal`` on ``form``."""
    person = authenticate(
        request, username=form.cleaned_data[username_field], password=form.cleaned_data[password_field]
    )
    if person is None:
        form.add_error(password_field, refusal)
    return person


def _batch_forms(request, action_form_class, final_action: str, keep: tuple[str, ...]):
    """The labels form (bound on every POST) and the action form (bound only when the batch is submitted).

    On a scan (``action=add``) the action form keeps what was typed, except passwords.
    """
    posted = request.method == "POST"
    final = posted and request.POST.get("action") == final_action
    labels = ItemLabelsForm(request.POST if posted else None, actor=request.user)
    initial = {name: request.POST.get(name, "") for name in keep} if posted else {}
    form = action_form_class(request.POST if final else None, initial=initial)
    if posted:
        labels.is_valid()
    return labels, form, final and labels.is_valid() and form.is_valid()


@login_required
@dispose_permission
def return_items(request):
    labels, form, ready = _batch_forms(request, ReturnForm, "return", keep=("officer_username", "note"))
    if ready:
        officer = _confirming_user(
            request,
            form,
            "officer_username",
            "officer_password",
            _("The officer's username or password is not correct."),
        )
        if officer is not None:
            events = call_with_form_errors(
                labels,
                disposition.return_to_agency,
                request.user,
                labels.cleaned_data["items"],
                officer,
                note=form.cleaned_data["note"].strip(),
            )
            if events is not None:
                messages.success(
                    request,
                    _("Returned to %(person)s (%(agency)s): %(labels)s.")
                    % {
                        "person": officer.get_full_name() or officer.username,
                        "agency": officer.agency.name,
                        "labels": ", ".join(e.item.label for e in events),
                    },
                )
                return redirect("evidence:return")
    return render(
        request,
        "evidence/disposition_return.html",
        {"labels_form": labels, "form": form, "rows": item_rows(labels.items, disposal=True)},
    )


@login_required
@dispose_permission
def destroy(request):
    labels, form, ready = _batch_forms(request, DestroyForm, "destroy", keep=("method", "witness_username"))
    if ready:
        witness = _confirming_user(
            request,
            form,
            "witness_username",
            "witness_password",
            _("The witness's username or password is not correct."),
        )
        if witness is not None:
            destruction = call_with_form_errors(
                labels,
                disposition.destroy_items,
                request.user,
                labels.cleaned_data["items"],
                witness,
                method=form.cleaned_data["method"],
            )
            if destruction is not None:
                messages.success(
                    request,
                    _("Destruction %(ref)s recorded. Print the destruction list for both signatures.")
                    % {"ref": destruction.reference},
                )
                return redirect("evidence:destruction", reference=destruction.reference)
    return render(
        request,
        "evidence/disposition_destroy.html",
        {"labels_form": labels, "form": form, "rows": item_rows(labels.items, disposal=True)},
    )


# --- the destruction register ---------------------------------------------------------------------


def visible_destructions(user):
    """Destructions all of whose items ``user`` may see (laboratory staff: all of them)."""
    destructions = Destruction.objects.select_related("performed_by", "witnessed_by")
    if access_scope(user) is not Scope.ALL:
        hidden = Item.objects.exclude(pk__in=Item.objects.visible_to(user).values("pk"))
        destructions = destructions.exclude(items__in=hidden)
    return destructions


class DestructionTable(tables.Table):
    reference = tables.Column(linkify=("evidence:destruction", {"reference": tables.A("reference")}))
    performed_at = tables.DateTimeColumn(format="Y-m-d H:i")
    item_count = tables.Column(verbose_name=gettext_lazy("Items"))
    pdf = tables.TemplateColumn(
        "{% load i18n %}<a href=\"{% url 'evidence:destruction_pdf' record.reference %}\">"
        '{% translate "Destruction list (PDF)" %}</a>',
        verbose_name="",
        orderable=False,
    )

    class Meta:
        model = Destruction
        fields = ("reference", "performed_at", "method", "item_count", "performed_by", "witnessed_by")
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "destructions"}


@login_required
@dispose_permission
def destruction_list(request):
    table = DestructionTable(visible_destructions(request.user).annotate(item_count=Count("items", distinct=True)))
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    return render(request, "evidence/disposition_destruction_list.html", {"table": table})


def _visible_destruction(request, reference: str) -> Destruction:
    return get_object_or_404(visible_destructions(request.user), reference=reference)


@login_required
@dispose_permission
def destruction_detail(request, reference: str):
    destruction = _visible_destruction(request, reference)
    return render(
        request,
        "evidence/disposition_destruction_detail.html",
        {"destruction": destruction, "items": destruction.items.select_related("case").order_by("label")},
    )


@login_required
@dispose_permission
def destruction_pdf(request, reference: str):
    destruction = _visible_destruction(request, reference)
    from forensis.intake.views import pdf_response

    from .documents import render_destruction_list  # written alongside; imported here, not at module level

    record("destruction.list_printed", actor=request.user, obj=destruction)
    return pdf_response(render_destruction_list(destruction), f"{destruction.reference}.pdf")


# --- retention rules ------------------------------------------------------------------------------


@login_required
def retention_rules(request):
    """Custodians read the rules; people who hold ``evidence.change_retentionrule`` also edit them."""
    user = request.user
    if not (user.has_perm("evidence.dispose_item") or user.has_perm("evidence.change_retentionrule")):
        raise PermissionDenied
    return render(request, "evidence/retention_rule_list.html", {"rules": RetentionRule.objects.all()})


@login_required
@rules_permission
def retention_rule_edit(request, pk: int | None = None):
    rule = get_object_or_404(RetentionRule, pk=pk) if pk else None
    initial = {name: getattr(rule, name) for name in disposition.RULE_FIELDS} if rule else {}
    form_class = RetentionRuleChangeForm if rule else RetentionRuleForm
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in disposition.RULE_FIELDS}
        saved = call_with_form_errors(
            form,
            disposition.save_retention_rule,
            request.user,
            rule,
            reason=form.cleaned_data.get("reason", ""),
            **fields,
        )
        if saved is not None:
            messages.success(request, _("Retention rule %(rule)s saved.") % {"rule": saved.offence_prefix})
            return redirect("evidence:retention_rules")
    return render(request, "evidence/retention_rule_form.html", {"rule": rule, "form": form})


urlpatterns = [
    path("disposition/return/", return_items, name="return"),
    path("disposition/destroy/", destroy, name="destroy"),
    path("disposition/destructions/", destruction_list, name="destructions"),
    path("disposition/destructions/<str:reference>/", destruction_detail, name="destruction"),
    path("disposition/destructions/<str:reference>/list.pdf", destruction_pdf, name="destruction_pdf"),
    path("disposition/retention/", retention_rules, name="retention_rules"),
    path("disposition/retention/new/", retention_rule_edit, name="retention_rule_new"),
    path("disposition/retention/<int:pk>/", retention_rule_edit, name="retention_rule"),
]
