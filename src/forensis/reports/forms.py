from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from forensis.accounts.models import Agency, AgencyType
from forensis.core.forms import BootstrapFormMixin

from .models import CaseContact, ContactRole
from .services import AMENDMENT_REASON_MAX, MAX_VERIFY_BYTES


class AmendmentForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason for the amendment"),
        max_length=AMENDMENT_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Printed on the new version. The work goes back to its analyst and is reviewed again."),
    )


class VerifyForm(BootstrapFormMixin, forms.Form):
    file = forms.FileField(label=_("Report (PDF)"), widget=forms.ClearableFileInput(attrs={"accept": ".pdf"}))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_VERIFY_BYTES:
            raise forms.ValidationError(_("The file is larger than %(mb)s MB.") % {"mb": MAX_VERIFY_BYTES // 2**20})
        return upload


class CaseContactForm(BootstrapFormMixin, forms.ModelForm):
    agency = forms.ModelChoiceField(
        label=_("Agency"),
        queryset=Agency.objects.filter(type__in=[AgencyType.PROSECUTOR, AgencyType.COURT], is_active=True),
    )

    class Meta:
        model = CaseContact
        fields = ["role", "agency", "name", "email"]
        widgets = {"role": forms.Select(choices=ContactRole.choices)}
