from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from forensis.core.forms import BootstrapFormMixin

from .models import Agency, User
from .roles import PERSON_ROLES


class LoginForm(BootstrapFormMixin, AuthenticationForm):
    """Username and password, and the acknowledgement of the system-use notice (CJIS 5.5.4)."""

    acknowledge = forms.BooleanField(
        label=_("I have read the notice above and accept the conditions of use."),
        error_messages={"required": _("You must accept the conditions of use to sign in.")},
    )
    error_messages = {
        "invalid_login": _(
            "The username or password is not correct. After %(failures)s failed attempts in %(minutes)s minutes "
            "the account is locked."
        ),
        "inactive": _("This account has been deactivated. Ask your administrator."),
    }

    def get_invalid_login_error(self):
        return forms.ValidationError(
            self.error_messages["invalid_login"],
            code="invalid_login",
            params={
                "failures": settings.AXES_FAILURE_LIMIT,
                "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
            },
        )


class TokenForm(BootstrapFormMixin, forms.Form):
    token = forms.CharField(
        label=_("6-digit code"),
        max_length=6,
        min_length=6,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9]{6}", "autofocus": True}
        ),
        error_messages={
            "min_length": _("Enter the 6 digits your authenticator app shows."),
            "max_length": _("Enter the 6 digits your authenticator app shows."),
        },
    )

    def clean_token(self):
        token = self.cleaned_data["token"].strip()
        if not token.isdigit():
            raise forms.ValidationError(_("Enter the 6 digits your authenticator app shows."))
        return token


class AgencyForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Agency
        fields = ["code", "name", "type", "district", "email", "phone", "report_language"]


class ReasonForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": _("Why (recorded in the audit log)")}),
    )


class UserForm(BootstrapFormMixin, forms.ModelForm):
    roles = forms.MultipleChoiceField(label=_("Roles"), choices=PERSON_ROLES, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email", "agency", "badge_number", "phone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = Agency.objects.filter(is_active=True)
        if self.instance.pk:
            self.fields["username"].disabled = True
            self.initial.setdefault("roles", self.instance.role_codes)


class NewUserForm(UserForm):
    password = forms.CharField(
        label=_("Initial password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters, not a common password, not like the username."),
    )


class OwnPasswordForm(BootstrapFormMixin, forms.Form):
    current_password = forms.CharField(
        label=_("Current password"), widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    new_password = forms.CharField(
        label=_("New password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_current_password(self):
        if not self.user.check_password(self.cleaned_data["current_password"]):
            raise forms.ValidationError(_("Your current password is not correct."))
        return self.cleaned_data["current_password"]


class SetPasswordForm(BootstrapFormMixin, forms.Form):
    password = forms.CharField(
        label=_("New password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    reason = forms.CharField(label=_("Reason"), max_length=500)
