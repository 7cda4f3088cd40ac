"""Sign-in, multi-factor authentication and the user's own password."""

from __future__ import annotations

from urllib.parse import urlencode

import segno
from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import services
from .forms import LoginForm, OwnPasswordForm, TokenForm

_ENROLMENT_SESSION_KEY = "forensis_mfa_enrolment_device"


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        # The lockout check, the password check and the failure count of one user name or address happen as one
        # step: parallel guesses wait for each other instead of all passing the check before any failure counts.
        with transaction.atomic():
            services.serialize_sign_in(request.POST.get("username", ""), get_client_ip_address(request))
            return super().post(request, *args, **kwargs)


def locked_out(request, credentials=None, *args, **kwargs):
    """django-axes' lockout response: the sign-in page's look, one clear message, HTTP 429."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "accounts/locked.html", {"cooloff_minutes": minutes}, status=429)


def _safe_next(request, default: str = "core:home") -> str:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@login_required
def mfa_verify(request):
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device, problem = services.verify_mfa(request.user, form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            request.session.cycle_key()  # a new key for the verified session: one known before the code is useless
            return redirect(_safe_next(request))
        form.add_error("token", problem)
    return render(request, "accounts/mfa_verify.html", {"form": form, "next": _safe_next(request, "")})


@login_required
def mfa_enrol(request):
    """Set up (or replace) the authenticator. Replacing one needs the current one: verify first."""
    if not request.user.is_verified() and TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
        return redirect(f"{reverse('accounts:mfa_verify')}?{urlencode({'next': request.path})}")
    device = TOTPDevice.objects.filter(
        pk=request.session.get(_ENROLMENT_SESSION_KEY), user=request.user, confirmed=False
    ).first()
    if device is None:
        device = services.start_mfa_enrolment(request.user)
        request.session[_ENROLMENT_SESSION_KEY] = device.pk
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        problem = services.confirm_mfa_enrolment(request.user, device, form.cleaned_data["token"])
        if problem is None:
            del request.session[_ENROLMENT_SESSION_KEY]
            otp_login(request, device)
            request.session.cycle_key()
            messages.success(
                request,
                _("Multi-factor authentication is set up. You will enter a code from your app at every sign-in."),
            )
            return redirect("core:home")
        form.add_error("token", problem)
    qr = segno.make(device.config_url, error="m")
    return render(
        request,
        "accounts/mfa_enrol.html",
        {
            "form": form,
            "qr_data_uri": qr.svg_data_uri(scale=5, border=2),
            "secret": _grouped_base32(device.bin_key),
            "already_enrolled": TOTPDevice.objects.filter(user=request.user, confirmed=True).exists(),
        },
    )


def _grouped_base32(key: bytes) -> str:
    from base64 import b32encode

    text = b32encode(key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


@login_required
def change_password(request):
    form = OwnPasswordForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.set_password(request.user, request.user, form.cleaned_data["new_password"])
        except ValidationError as exc:
            form.add_error("new_password", exc.message_dict.get("password", exc.messages))
        else:
            update_session_auth_hash(request, user)
            messages.success(request, _("Your password has been changed."))
            return redirect("core:home")
    return render(request, "accounts/change_password.html", {"form": form})
