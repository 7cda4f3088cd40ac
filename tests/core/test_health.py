from django.db import OperationalError
from django.db.migrations.executor import MigrationExecutor


def test_healthz_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_healthz_reports_unapplied_migrations(client, db, monkeypatch):
    class FakeMigration:
        app_label, name = "cases", "0001_initial"

    from forensis.core import views

    monkeypatch.setattr(views, "_migrations_complete", False)
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [(FakeMigration, False)])
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "migrations not applied: cases.0001_initial" in response.json()["reason"]


def test_healthz_reports_unreachable_database(client, db, monkeypatch):
    from django.db import connection

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", refuse)
        response = client.get("/healthz")
    assert response.status_code == 503
    assert "database unreachable" in response.json()["reason"]


def test_security_headers(client, db):
    response = client.get("/accounts/login/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_static_files_are_served(client, db):
    for path in ["/static/vendor/bootstrap.min.css", "/static/forensis/forensis.css", "/static/vendor/htmx.min.js"]:
        response = client.get(path)
        assert response.status_code == 200, path


def test_menu_shows_each_role_its_laboratory_pages(db, make_user):
    from forensis.accounts.roles import Role
    from forensis.core.navigation import links_for

    def names(role):
        return {link["url_name"] for link in links_for(make_user(role))}

    assert {"lab:triage", "lab:reviews", "lab:methods", "lab:disciplines"} <= names(Role.LAB_MANAGER)
    assert "lab:worklist" in names(Role.ANALYST) and "lab:triage" not in names(Role.ANALYST)
    assert "lab:reviews" in names(Role.REVIEWER)
    assert not {name for name in names(Role.AGENCY_OFFICER) if name.startswith(("lab:", "evidence:"))}
