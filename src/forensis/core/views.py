from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django_otp.plugins.otp_totp.models import TOTPDevice

from forensis.accounts.roles import Role
from forensis.audit.models import AuditEvent

from .models import Notification
from .navigation import links_for
from .notifications import mark_all_read

_migrations_complete = False


def _pending_migrations() -> list[str]:
    """Unapplied migrations. Once none are pending this process stops asking: building the migration graph
    costs milliseconds per request, and migrations are applied before workers start, not while they run."""
    global _migrations_complete
    if _migrations_complete:
        return []
    executor = MigrationExecutor(connection)
    pending = [
        f"{m.app_label}.{m.name}" for m, _backwards in executor.migration_plan(executor.loader.graph.leaf_nodes())
    ]
    _migrations_complete = not pending
    return pending


@never_cache
def healthz(request):
    """200 when the database answers and every migration is applied; 503 with the reason otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        pending = _pending_migrations()
    except DatabaseError as exc:
        return JsonResponse({"status": "unavailable", "reason": f"database unreachable: {exc}"}, status=503)
    if pending:
        return JsonResponse(
            {"status": "unavailable", "reason": f"migrations not applied: {', '.join(pending[:5])}"}, status=503
        )
    return JsonResponse({"status": "ok", "database": connection.vendor})


#: What each role's home page offers first, in the order a person of that role needs it.
ROLE_SHORTCUTS = {
    Role.ADMINISTRATOR: ["accounts:user_list", "accounts:agency_list", "intake:kits", "audit:event_list"],
    Role.AUDITOR: ["audit:event_list", "accounts:user_list"],
    Role.LAB_MANAGER: ["lab:triage", "lab:reviews", "evidence:overdue", "evidence:gap_check", "accounts:user_list"],
    Role.EVIDENCE_CUSTODIAN: [
        "intake:reception",
        "evidence:scan",
        "evidence:my_custody",
        "evidence:locations",
        "evidence:shipments",
    ],
    Role.ANALYST: ["lab:worklist", "evidence:my_custody", "evidence:scan"],
    Role.REVIEWER: ["lab:reviews", "evidence:my_custody"],
    Role.MEDICAL_EXAMINER: ["lab:worklist", "evidence:my_custody"],
    Role.SCENE_TECHNICIAN: ["intake:list", "evidence:my_custody"],
}


@login_required
def home(request):
    from forensis.intake.models import Submission, SubmissionStatus

    user = request.user
    submissions = Submission.objects.visible_to(user).select_related("case")
    work = {}
    if user.has_perm("intake.receive_submission"):
        work["waiting_at_reception"] = submissions.filter(status=SubmissionStatus.SUBMITTED).count()
    elif user.has_perm("intake.add_submission"):
        work["recent_submissions"] = submissions.filter(agency=user.agency).order_by("-updated_at")[:8]
    recent_sign_ins = AuditEvent.objects.filter(
        actor_username=user.username, action__in=["auth.login", "auth.login_failed"]
    ).order_by("-id")[:5]
    wanted = {url_name for role in user.roles for url_name in ROLE_SHORTCUTS.get(role, [])}
    return render(
        request,
        "core/home.html",
        {
            "roles": user.roles,
            "recent_sign_ins": recent_sign_ins,
            "has_mfa": TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
            "shortcuts": [entry for entry in links_for(user) if entry["url_name"] in wanted],
            "notifications": Notification.objects.filter(recipient=user, read_at__isnull=True)[:10],
            **work,
        },
    )


@login_required
def notifications(request):
    """The user's own notifications; "Mark all as read" clears the count in the menu."""
    mine = Notification.objects.filter(recipient=request.user)
    if request.method == "POST":
        mark_all_read(request.user)
        return redirect("core:notifications")
    return render(request, "core/notifications.html", {"notifications": mine[:200]})
