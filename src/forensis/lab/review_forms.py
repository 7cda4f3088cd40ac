"""Forms of the review and release pages. They only read input; ``lab.services`` decides and changes state.

Neither form insists on a password or a reason itself: ``services.review`` and ``services.release`` refuse
with their own messages (a send-back without a reason, a signature without a password), shown on the form.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from forensis.core.forms import BootstrapFormMixin

from .models import ChecklistQuestion, ReviewStage

APPROVE, SEND_BACK = "approve", "send_back"
QUESTION_PREFIX = "question_"


def password_field(label) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class ReviewForm(BootstrapFormMixin, forms.Form):
    """One reviewer's decision: approve (checklist + password: an e-signature) or send back (a reason)."""

    stage = forms.ChoiceField(choices=ReviewStage.choices, widget=forms.HiddenInput)
    decision = forms.ChoiceField(choices=[(APPROVE, _("Approve and sign")), (SEND_BACK, _("Send back"))])
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required to send the request back: say what the analyst must correct."),
    )
    password = password_field(_("Your password (to sign the approval)"))

    def __init__(self, *args, questions: list[ChecklistQuestion] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = list(questions)
        for question in self.questions:
            self.fields[f"{QUESTION_PREFIX}{question.pk}"] = forms.BooleanField(label=question.text, required=False)

    @property
    def checklist_fields(self) -> list[forms.BoundField]:
        return [self[f"{QUESTION_PREFIX}{q.pk}"] for q in self.questions]

    def checklist_answers(self) -> dict[str, bool]:
        """``{question pk: answer}`` as ``services.review`` takes it."""
        return {str(q.pk): bool(self.cleaned_data.get(f"{QUESTION_PREFIX}{q.pk}")) for q in self.questions}


class ReleaseForm(BootstrapFormMixin, forms.Form):
    password = password_field(_("Your password (to sign the release)"))
