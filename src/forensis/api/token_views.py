"""The administrator's pages for partner tokens: list, issue (the key shown once), detail and revoke.

Every change goes through ``api.tokens``; these views only read. Auditors may look, administrators also act.
"""

from __future__ import annotations

import django_filters
import django_tables2 as tables
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db.models import Case, CharField, Q, Value, When
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from forensis.accounts.models import Agency
from forensis.core.forms import BootstrapForm
from forensis.core.services import call_with_form_errors

from . import tokens
from .forms import IssueTokenForm, RevokeTokenForm
from .models import Access, PartnerToken, Resource, Topic, WebhookSubscription

#: How many of a webhook's deliveries the detail page shows, newest first.
RECENT_DELIVERIES = 20


class Status:
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    CHOICES = (
        (ACTIVE, gettext_lazy("Active")),
        (EXPIRED, gettext_lazy("Expired")),
        (REVOKED, gettext_lazy("Revoked")),
    )


def token_status(token: PartnerToken) -> str:
    if token.is_revoked:
        return Status.REVOKED
    return Status.EXPIRED if token.is_expired else Status.ACTIVE


def _tokens():
    """Every token with its status as a column, so the list sorts and filters on it in the database."""
    return PartnerToken.objects.select_related("agency").annotate(
        status=Case(
            When(revoked_at__isnull=False, then=Value(Status.REVOKED)),
            When(expires_at__lte=timezone.now(), then=Value(Status.EXPIRED)),
            default=Value(Status.ACTIVE),
            output_field=CharField(),
        )
    )


# --- the list: table and filters -----------------------------------------------------------------------


#: Cells that read badly broken over two lines (names with hyphens, dates).
_NOWRAP = {"td": {"class": "text-nowrap"}}


class TokenTable(tables.Table):
    name = tables.Column(linkify=("api_tokens:token_detail", {"name": tables.A("name")}), attrs=_NOWRAP)
    agency = tables.Column(order_by=("agency__name",))
    resources = tables.Column(verbose_name=gettext_lazy("Resources"), orderable=False)
    prefix = tables.Column(verbose_name=gettext_lazy("Token begins with"), attrs=_NOWRAP)
    created_at = tables.DateTimeColumn(format="Y-m-d", attrs=_NOWRAP)
    expires_at = tables.DateTimeColumn(format="Y-m-d", attrs=_NOWRAP)
    last_used_at = tables.DateTimeColumn(format="Y-m-d H:i", default=gettext_lazy("never"), attrs=_NOWRAP)
    status = tables.TemplateColumn(
        '{% include "api/_status_badge.html" with status=value %}', verbose_name=gettext_lazy("Status")
    )

    class Meta:
        model = PartnerToken
        fields = ("name", "agency", "resources", "access", "prefix", "created_at", "expires_at", "last_used_at")
        sequence = (*fields, "status")
        attrs = {"class": "table table-sm table-hover align-middle"}
        empty_text = gettext_lazy("No partner token matches.")

    def render_resources(self, record):
        return ", ".join(record.get_resources_display())

    def render_prefix(self, value):
        return format_html("<code>{}{}_…</code>", tokens.TOKEN_PREFIX, value)


class TokenFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=gettext_lazy("Search"), method="search")
    agency = django_filters.ModelChoiceFilter(
        label=gettext_lazy("Agency"), queryset=Agency.objects.filter(partner_tokens__isnull=False).distinct()
    )
    resource = django_filters.ChoiceFilter(
        label=gettext_lazy("Resource"), choices=Resource.choices, method="filter_resource"
    )
    access = django_filters.ChoiceFilter(label=gettext_lazy("Access"), choices=Access.choices)
    status = django_filters.ChoiceFilter(label=gettext_lazy("Status"), choices=Status.CHOICES)

    class Meta:
        form = BootstrapForm
        model = PartnerToken
        fields = ["q", "agency", "resource", "access", "status"]

    def search(self, queryset, name, value):
        value = value.strip()
        prefix = value.removeprefix(tokens.TOKEN_PREFIX).split("_", 1)[0]
        return queryset.filter(Q(name__icontains=value) | Q(prefix__istartswith=prefix or value))

    def filter_resource(self, queryset, name, value):
        # The resources are a JSON list of codes, none of which contains another's quoted form: matching the
        # quoted code in the list's text works alike on SQLite and PostgreSQL (``contains`` is PostgreSQL only).
        return queryset.filter(resources__icontains=f'"{value}"')


@login_required
@permission_required("api.view_partnertoken", raise_exception=True)
def token_list(request):
    found = TokenFilter(request.GET, queryset=_tokens())
    table = TokenTable(found.qs)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    return render(request, "api/token_list.html", {"filter": found, "table": table})


# --- issuing -------------------------------------------------------------------------------------------

#: The service's (and its models') names for what the form calls otherwise.
_FORM_FIELDS = {"expires_at": "expires_on", "url": "webhook_url", "topics": "webhook_topics", "username": "name"}


def _issue(actor, **arguments) -> tokens.IssuedToken:
    """``tokens.issue_token``, with its errors named after the form's fields so they show beside them."""
    try:
        return tokens.issue_token(actor, **arguments)
    except ValidationError as error:
        if not hasattr(error, "error_dict"):
            raise
        raise ValidationError(
            {_FORM_FIELDS.get(field, field): errors for field, errors in error.error_dict.items()}
        ) from None


@login_required
@permission_required("api.manage_partnertoken", raise_exception=True)
def token_issue(request):
    form = IssueTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        issued = call_with_form_errors(form, _issue, request.user, **form.service_arguments())
        if issued is not None:
            response = render(
                request,
                "api/token_issued.html",
                {"issued": issued, "token": issued.token, "status": token_status(issued.token)},
            )
            add_never_cache_headers(response)  # the page holds the key: no copy in any cache or history
            return response
    return render(request, "api/token_form.html", {"form": form})


# --- one token -----------------------------------------------------------------------------------------


def _detail(request, token: PartnerToken, revoke_form: RevokeTokenForm | None = None):
    webhook = WebhookSubscription.objects.filter(token=token).first()
    deliveries = (
        webhook.deliveries.select_related("change").order_by("-pk")[:RECENT_DELIVERIES] if webhook is not None else []
    )
    return render(
        request,
        "api/token_detail.html",
        {
            "token": token,
            "status": token_status(token),
            "webhook": webhook,
            "webhook_topics": [Topic(code).label if code in Topic.values else code for code in webhook.topics]
            if webhook is not None
            else [],
            "deliveries": deliveries,
            "revoke_form": revoke_form or RevokeTokenForm(),
        },
    )


def _get_token(name: str) -> PartnerToken:
    return get_object_or_404(PartnerToken.objects.select_related("agency", "created_by", "revoked_by"), name=name)


@login_required
@permission_required("api.view_partnertoken", raise_exception=True)
def token_detail(request, name: str):
    return _detail(request, _get_token(name))


@login_required
@permission_required("api.manage_partnertoken", raise_exception=True)
@require_POST
def token_revoke(request, name: str):
    token = _get_token(name)
    form = RevokeTokenForm(request.POST)
    if form.is_valid() and (
        call_with_form_errors(form, tokens.revoke_token, request.user, token, reason=form.cleaned_data["reason"])
        is not None
    ):
        messages.success(
            request, _("Token %(name)s revoked: its calls are refused from now on.") % {"name": token.name}
        )
        return redirect("api_tokens:token_detail", name=token.name)
    return _detail(request, token, revoke_form=form)
