"""The baseline: a bare Django site — settings, URLconf and WSGI application in this one module.

Its only view asks the database for ``SELECT 1`` and answers a small JSON body: the cheapest page
that still proves the database answers, with the same database and connection settings as Forensis
(persistent connections on PostgreSQL, a connection per request on SQLite). No apps, no middleware.
Served with ``DJANGO_SETTINGS_MODULE=bench.bare_site`` and ``BENCH_BARE_DATABASE_URL``.
"""

from __future__ import annotations

import os
import secrets

import dj_database_url
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path

_database_url = os.environ["BENCH_BARE_DATABASE_URL"]
_persistent = not _database_url.startswith("sqlite")

DEBUG = False
SECRET_KEY = secrets.token_urlsafe(50)
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = __name__
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
USE_TZ = True
DATABASES = {
    "default": dj_database_url.parse(
        _database_url, conn_max_age=600 if _persistent else 0, conn_health_checks=_persistent
    )
}


def ping(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return JsonResponse({"status": "ok"})


urlpatterns = [path("", ping)]

application = get_wsgi_application()
