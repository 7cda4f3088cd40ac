from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import render
from django_tables2 import RequestConfig

from .filters import AuditEventFilter
from .models import AuditEvent
from .services import record
from .tables import AuditEventTable


@login_required
@permission_required("audit.view_auditevent", raise_exception=True)
def event_list(request):
    """The audit log for auditors and administrators. Reading it is itself audited (CJIS 5.4.1.1)."""
    events = AuditEventFilter(request.GET, queryset=AuditEvent.objects.all())
    table = AuditEventTable(events.qs)
    RequestConfig(request, paginate={"per_page": 100}).configure(table)
    record(
        "audit.viewed",
        actor=request.user,
        object_type="audit.auditevent",
        after={k: v for k, v in request.GET.items() if v},
    )
    return render(request, "audit/event_list.html", {"filter": events, "table": table})
