import csv
import json
from collections.abc import Iterator
from datetime import datetime

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django_tables2 import RequestConfig

from forensis.core.filters import filters_of

from .filters import AuditEventFilter
from .models import AuditEvent
from .services import HASHED_FIELDS, record
from .tables import AuditEventTable

#: The columns of the CSV export: every hashed field, then the chain links, so the file can be re-verified.
EXPORT_COLUMNS = ("id", *HASHED_FIELDS, "prev_hash", "hash")

#: A cell starting with one of these is read as a formula by spreadsheet programs (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@login_required
@permission_required("audit.view_auditevent", raise_exception=True)
def event_list(request):
    """The audit log for auditors and administrators. Reading it is itself audited (CJIS 5.4.1.1)."""
    events = AuditEventFilter(request.GET, queryset=AuditEvent.objects.all())
    table = AuditEventTable(events.qs)
    RequestConfig(request, paginate={"per_page": 100}).configure(table)
    record("audit.viewed", actor=request.user, object_type="audit.auditevent", after=filters_of(request))
    return render(request, "audit/event_list.html", {"filter": events, "table": table})


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    """One value as text: JSON for before/after, ISO 8601 (UTC) for the time, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv_lines(events) -> Iterator[str]:
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield "\ufeff" + writer.writerow(EXPORT_COLUMNS)
    for row in events.values_list(*EXPORT_COLUMNS).iterator(chunk_size=2000):
        yield writer.writerow([_cell(value) for value in row])


@login_required
@permission_required("audit.view_auditevent", raise_exception=True)
def event_export(request):
    """The events the filters select, oldest first, as CSV; the export is recorded before it is sent."""
    events = AuditEventFilter(request.GET, queryset=AuditEvent.objects.order_by("id"))
    if not events.is_valid():
        problems = "; ".join(
            f"{events.form.fields[name].label}: {' '.join(errors)}" for name, errors in events.errors.items()
        )
        return HttpResponseBadRequest(problems, content_type="text/plain; charset=utf-8")
    record("audit.exported", actor=request.user, object_type="audit.auditevent", after=filters_of(request))
    response = StreamingHttpResponse(_csv_lines(events.qs), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="forensis-audit-{stamp}.csv"'
    return response
