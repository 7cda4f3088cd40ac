# ruff: noqa: DJ008
# (the unmanaged models below only read rows with .values(); none is ever shown as a string)
"""The baseline: a bare Django site — settings, URLconf and WSGI application in this one module.

Its first view (``/``) asks the database for ``SELECT 1`` and answers a small JSON body: the cheapest
page that still proves the database answers, with the same database and connection settings as
Forensis (persistent connections on PostgreSQL, a connection per request on SQLite). No apps, no
middleware. Served with ``DJANGO_SETTINGS_MODULE=bench.bare_site`` and ``BENCH_BARE_DATABASE_URL``.

Two more views read Forensis's own tables through unmanaged models (``.values()`` and
``JsonResponse``, no DRF), the floor the REST API is measured against (bench/benchmarks/api.py):

- ``/cases/?agency=<code>``: the agency's 50 latest cases, with the columns ``GET /api/v1/cases/``
  returns (agency code, ICCS offence codes, migrated or not): two queries, as the API's page.
- ``/cases/<lab_number>/``: one case with what ``GET /api/v1/cases/<lab_number>/`` returns (its
  people, items and requests): six queries, as the API's detail.
"""

from __future__ import annotations

import os
import secrets

import dj_database_url
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.http import Http404, HttpRequest, JsonResponse
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


application = get_wsgi_application()  # sets Django up: the models below need the app registry

from django.db import models  # noqa: E402 (after the setup, as the models need it)

PAGE = 50


class _Bare(models.Model):
    class Meta:
        abstract = True
        managed = False
        app_label = "bare"


class Agency(_Bare):
    code = models.CharField(max_length=32)

    class Meta(_Bare.Meta):
        db_table = "accounts_agency"


class Case(_Bare):
    id = models.BigAutoField(primary_key=True)
    lab_number = models.CharField(max_length=32)
    agency = models.ForeignKey(Agency, models.DO_NOTHING, related_name="+")
    agency_case_number = models.CharField(max_length=64)
    received_at = models.DateTimeField()
    district = models.CharField(max_length=3)
    incident_at = models.DateTimeField(null=True)
    town = models.CharField(max_length=100)
    address = models.CharField(max_length=255)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True)
    narrative = models.TextField()
    legacy_id = models.CharField(max_length=64)

    class Meta(_Bare.Meta):
        db_table = "cases_case"


class CaseOffence(_Bare):
    id = models.BigAutoField(primary_key=True)
    case = models.ForeignKey(Case, models.DO_NOTHING, related_name="+")
    code = models.CharField(max_length=8)

    class Meta(_Bare.Meta):
        db_table = "cases_caseoffence"


class Person(_Bare):
    id = models.BigAutoField(primary_key=True)
    case = models.ForeignKey(Case, models.DO_NOTHING, related_name="+", null=True)
    role = models.CharField(max_length=16)
    name = models.CharField(max_length=200)
    sex = models.CharField(max_length=1)
    age = models.PositiveSmallIntegerField(null=True)
    date_of_birth = models.DateField(null=True)
    relationship_to_victim = models.CharField(max_length=20)

    class Meta(_Bare.Meta):
        db_table = "cases_person"


class StorageLocation(_Bare):
    id = models.BigAutoField(primary_key=True)
    path = models.CharField(max_length=500)

    class Meta(_Bare.Meta):
        db_table = "evidence_storagelocation"


class Item(_Bare):
    id = models.BigAutoField(primary_key=True)
    case = models.ForeignKey(Case, models.DO_NOTHING, related_name="+")
    number = models.PositiveIntegerField()
    sub_number = models.PositiveIntegerField(null=True)
    parent = models.ForeignKey("self", models.DO_NOTHING, related_name="+", null=True)
    label = models.CharField(max_length=48)
    type = models.CharField(max_length=20)
    description = models.CharField(max_length=500)
    quantity = models.PositiveIntegerField()
    packaging = models.CharField(max_length=200)
    biological = models.BooleanField()
    seal_number = models.CharField(max_length=64)
    collected_by = models.CharField(max_length=200)
    collected_at = models.DateTimeField(null=True)
    collected_place = models.CharField(max_length=255)
    condition_at_receipt = models.CharField(max_length=500)
    received_at = models.DateTimeField()
    status = models.CharField(max_length=12)
    amount_received = models.DecimalField(max_digits=14, decimal_places=4, null=True)
    amount_remaining = models.DecimalField(max_digits=14, decimal_places=4, null=True)
    amount_unit = models.CharField(max_length=8)
    legal_hold = models.BooleanField()
    holder_name = models.CharField(max_length=200)
    location = models.ForeignKey(StorageLocation, models.DO_NOTHING, related_name="+", null=True)
    last_moved_at = models.DateTimeField(null=True)

    class Meta(_Bare.Meta):
        db_table = "evidence_item"


class Discipline(_Bare):
    id = models.BigAutoField(primary_key=True)
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=100)

    class Meta(_Bare.Meta):
        db_table = "lab_discipline"


class ServiceRequest(_Bare):
    id = models.BigAutoField(primary_key=True)
    case = models.ForeignKey(Case, models.DO_NOTHING, related_name="+")
    discipline = models.ForeignKey(Discipline, models.DO_NOTHING, related_name="+")
    parent = models.ForeignKey("self", models.DO_NOTHING, related_name="+", null=True)
    status = models.CharField(max_length=24)
    priority = models.PositiveSmallIntegerField()
    court_date = models.DateField(null=True)
    requested_at = models.DateTimeField()
    assigned_at = models.DateTimeField(null=True)
    started_at = models.DateTimeField(null=True)
    draft_completed_at = models.DateTimeField(null=True)
    technical_reviewed_at = models.DateTimeField(null=True)
    administrative_reviewed_at = models.DateTimeField(null=True)
    released_at = models.DateTimeField(null=True)
    cancelled_at = models.DateTimeField(null=True)

    class Meta(_Bare.Meta):
        db_table = "lab_servicerequest"


class RequestItem(_Bare):
    id = models.BigAutoField(primary_key=True)
    servicerequest = models.ForeignKey(ServiceRequest, models.DO_NOTHING, related_name="+")
    item = models.ForeignKey(Item, models.DO_NOTHING, related_name="+")

    class Meta(_Bare.Meta):
        db_table = "lab_servicerequest_items"


CASE_COLUMNS = ("id", "lab_number", "agency__code", "agency_case_number", "received_at", "district", "incident_at")
DETAIL_COLUMNS = (*CASE_COLUMNS, "town", "address", "latitude", "longitude", "narrative")
PERSON_COLUMNS = ("role", "name", "sex", "age", "date_of_birth", "relationship_to_victim")
ITEM_COLUMNS = (
    "label", "parent__label", "type", "description", "quantity", "packaging", "biological", "seal_number",
    "collected_by", "collected_at", "collected_place", "condition_at_receipt", "received_at", "status",
    "amount_received", "amount_remaining", "amount_unit", "legal_hold", "holder_name", "location__path",
    "last_moved_at",
)  # fmt: skip
REQUEST_COLUMNS = (
    "id", "discipline__code", "discipline__name", "parent_id", "status", "priority", "court_date", "requested_at",
    "assigned_at", "started_at", "draft_completed_at", "technical_reviewed_at", "administrative_reviewed_at",
    "released_at", "cancelled_at",
)  # fmt: skip


def _case(row: dict, offences: list[str]) -> dict:
    """A case row as the API shows it: the agency's code as ``agency``, ``migrated`` for a legacy ID."""
    row = dict(row)
    row.pop("id")
    row["agency"] = row.pop("agency__code")
    row["offences"] = offences
    row["migrated"] = bool(row.pop("legacy_id"))
    return row


def case_list(request: HttpRequest) -> JsonResponse:
    """The agency's latest cases, newest first: one query for the page, one for their offences."""
    rows = list(
        Case.objects.filter(agency__code=request.GET.get("agency", ""))
        .order_by("-received_at", "-id")
        .values(*CASE_COLUMNS, "legacy_id")[:PAGE]
    )
    offences: dict[int, list[str]] = {row["id"]: [] for row in rows}
    for case_id, code in CaseOffence.objects.filter(case_id__in=offences).order_by("code").values_list("case", "code"):
        offences[case_id].append(code)
    return JsonResponse({"results": [_case(row, offences[row["id"]]) for row in rows]})


def case_detail(request: HttpRequest, lab_number: str) -> JsonResponse:
    """One case with its offences, people, items and requests (each request with its items' numbers)."""
    row = Case.objects.filter(lab_number=lab_number).values(*DETAIL_COLUMNS, "legacy_id").first()
    if row is None:
        raise Http404
    pk = row["id"]
    case = _case(row, list(CaseOffence.objects.filter(case_id=pk).order_by("code").values_list("code", flat=True)))
    case["people"] = list(Person.objects.filter(case_id=pk).order_by("id").values(*PERSON_COLUMNS))
    items = list(Item.objects.filter(case_id=pk).order_by("number", "sub_number").values(*ITEM_COLUMNS))
    for item in items:
        item["case"] = lab_number
        item["parent"] = item.pop("parent__label")
        item["location"] = item.pop("location__path")
    case["items"] = items
    requests = list(
        ServiceRequest.objects.filter(case_id=pk)
        .order_by("-priority", "court_date", "requested_at", "id")
        .values(*REQUEST_COLUMNS)
    )
    labels: dict[int, list[str]] = {request["id"]: [] for request in requests}
    for request_id, label in RequestItem.objects.filter(servicerequest_id__in=labels).values_list(
        "servicerequest", "item__label"
    ):
        labels[request_id].append(label)
    for request in requests:
        request["case"] = lab_number
        request["discipline"] = {"code": request.pop("discipline__code"), "name": request.pop("discipline__name")}
        request["parent"] = request.pop("parent_id")
        request["items"] = labels[request["id"]]
    case["requests"] = requests
    return JsonResponse(case)


urlpatterns = [
    path("", ping),
    path("cases/", case_list),
    path("cases/<str:lab_number>/", case_detail),
]
