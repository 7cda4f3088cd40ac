"""The form of the import page. It collects the uploads and the choices only: ``legacy.services.queue_import``
checks the mapping and the files, and its refusals are put back on this form next to the field they concern.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from forensis.core.forms import BootstrapFormMixin

DRY_RUN, IMPORT = "dry_run", "import"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented recipe, "Uploading multiple files"); cleans to a list."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(upload, initial) for upload in data]
        return [single(data, initial)] if data else []


class ImportForm(BootstrapFormMixin, forms.Form):
    mapping_file = forms.FileField(
        label=_("Mapping file (TOML)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".toml"}),
        help_text=_("The mapping as for the command line; paths in it are relative to the mapping file."),
    )
    source_files = MultipleFileField(
        label=_("Source files"),
        required=False,
        help_text=_(
            "The files the mapping reads: every CSV file of the folder, or the one workbook, SQLite or Access file. "
            "None when the mapping reads a database server."
        ),
    )
    mode = forms.ChoiceField(
        label=_("What to do"),
        choices=[(DRY_RUN, _("Dry run (check and report; saves nothing)")), (IMPORT, _("Import"))],
        initial=DRY_RUN,
        widget=forms.RadioSelect,
    )
    limit = forms.IntegerField(
        label=_("Limit (cases)"),
        required=False,
        min_value=1,
        help_text=_("Only the first N cases of the source, to try a mapping on a sample. Empty: all of them."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.widget.attrs["data-testid"] = f"field-{name}"

    @property
    def dry_run(self) -> bool:
        return self.cleaned_data["mode"] == DRY_RUN
