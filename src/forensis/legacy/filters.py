"""The filters of the import pages: the list of batches, and the rejected rows of one batch.

A value that is not one of the choices (a hand-edited address) makes the form invalid and that filter is ignored.
"""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from forensis.core.forms import BootstrapForm

from .models import BatchStatus, Entity, ImportBatch, Rejection
from .reports import reason_label


class BatchFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=BatchStatus.choices, label=_("Status"))
    dry_run = django_filters.ChoiceFilter(
        choices=[("yes", _("Dry runs")), ("no", _("Imports"))], label=_("Kind"), method="by_dry_run"
    )
    source = django_filters.ChoiceFilter(field_name="source_name", label=_("Source"))

    class Meta:
        model = ImportBatch
        form = BootstrapForm
        fields = ["status", "dry_run", "source"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        sources = ImportBatch.objects.order_by("source_name").values_list("source_name", flat=True).distinct()
        self.filters["source"].extra["choices"] = [(name, name) for name in sources]

    def by_dry_run(self, queryset, name, value):
        return queryset.filter(dry_run=value == "yes")


class RejectionFilter(django_filters.FilterSet):
    """The rejected rows of one batch, by entity and by kind of reason (the kinds this batch has)."""

    entity = django_filters.ChoiceFilter(choices=Entity.choices, label=_("Kind of record"))
    code = django_filters.ChoiceFilter(label=_("Reason"))

    class Meta:
        model = Rejection
        form = BootstrapForm
        fields = ["entity", "code"]

    def __init__(self, *args, batch: ImportBatch, **kwargs):
        super().__init__(*args, queryset=batch.rejections.all(), **kwargs)
        codes = batch.rejections.order_by("code").values_list("code", flat=True).distinct()
        self.filters["code"].extra["choices"] = [(code, reason_label(code)) for code in codes]
