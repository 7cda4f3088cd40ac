"""What the API sends and accepts. Reads are plain serializers over rows the views fetched in few queries;
writes are validated here for shape and then handed to the service functions, which decide everything else."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from forensis.cases.models import Case, Person, PersonRole, Relationship
from forensis.core import iccs
from forensis.core.vocabulary import District, Sex
from forensis.evidence.models import CustodyEvent, Item, ItemType
from forensis.intake.models import Submission, SubmissionItem
from forensis.intake.services import ITEM_FIELDS, PERSON_FIELDS, SUBMISSION_FIELDS, ItemData
from forensis.lab.models import Discipline, ServiceRequest
from forensis.reports.models import Report, ReportVersion


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a misspelt field is an error rather than silently dropped, and text
    that is not a JSON string (DRF would turn a number into text)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [_("Unknown field.")] for name in unknown})
            not_text = [
                name
                for name, field in self.fields.items()
                if isinstance(field, serializers.CharField)
                and data.get(name) is not None
                and not isinstance(data[name], str)
            ]
            if not_text:
                raise serializers.ValidationError({name: [_("Not a valid string.")] for name in not_text})
        return super().to_internal_value(data)


# --- reading ---------------------------------------------------------------------------------------------


class DisciplineSerializer(serializers.ModelSerializer):
    class Meta:
        model = Discipline
        fields = ["code", "name"]


class PersonSerializer(serializers.ModelSerializer):
    class Meta:
        model = Person
        fields = list(PERSON_FIELDS)


class CaseSerializer(serializers.ModelSerializer):
    agency = serializers.CharField(source="agency.code", help_text="The submitting agency's code.")
    offences = serializers.SerializerMethodField(help_text="ICCS codes.")
    migrated = serializers.BooleanField(source="is_migrated", help_text="Brought over from the old database.")

    class Meta:
        model = Case
        fields = [
            "lab_number",
            "agency",
            "agency_case_number",
            "received_at",
            "district",
            "incident_at",
            "offences",
            "migrated",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_offences(self, case: Case) -> list[str]:
        return [offence.code for offence in case.offences.all()]


class CustodyEventSerializer(serializers.ModelSerializer):
    item = serializers.CharField(source="item.label")
    storage_location = serializers.CharField(source="storage_location.path", default="", allow_null=True)

    class Meta:
        model = CustodyEvent
        fields = [
            "item",
            "sequence",
            "occurred_at",
            "released_by_name",
            "received_by_name",
            "purpose",
            "location",
            "storage_location",
            "seal_number",
            "seal_status",
            "condition",
            "witness_name",
            "note",
            "prev_hash",
            "hash",
        ]


class ItemSerializer(serializers.ModelSerializer):
    case = serializers.CharField(source="case.lab_number")
    parent = serializers.CharField(source="parent.label", default=None, allow_null=True)
    location = serializers.CharField(source="location.path", default=None, allow_null=True)

    class Meta:
        model = Item
        fields = [
            "label",
            "case",
            "parent",
            "type",
            "description",
            "quantity",
            "packaging",
            "biological",
            "seal_number",
            "collected_by",
            "collected_at",
            "collected_place",
            "condition_at_receipt",
            "received_at",
            "status",
            "amount_received",
            "amount_remaining",
            "amount_unit",
            "legal_hold",
            "holder_name",
            "location",
            "last_moved_at",
        ]


class RequestSerializer(serializers.ModelSerializer):
    case = serializers.CharField(source="case.lab_number")
    discipline = DisciplineSerializer()
    parent = serializers.IntegerField(source="parent_id", allow_null=True)
    items = serializers.SerializerMethodField()

    class Meta:
        model = ServiceRequest
        fields = [
            "id",
            "case",
            "discipline",
            "parent",
            "status",
            "priority",
            "court_date",
            "items",
            "requested_at",
            "assigned_at",
            "started_at",
            "draft_completed_at",
            "technical_reviewed_at",
            "administrative_reviewed_at",
            "released_at",
            "cancelled_at",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_items(self, request: ServiceRequest) -> list[str]:
        return [item.label for item in request.items.all()]


class ReportVersionSerializer(serializers.ModelSerializer):
    pdf = serializers.SerializerMethodField(help_text="Where to download this version's signed PDF.")

    class Meta:
        model = ReportVersion
        fields = ["version", "issued_at", "language", "sha256", "size", "amendment_reason", "pdf"]

    @extend_schema_field(OpenApiTypes.URI)
    def get_pdf(self, version: ReportVersion) -> str:
        from django.urls import reverse

        path = reverse("api:report-pdf", kwargs={"number": version.report.number}) + f"?version={version.version}"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class ReportSerializer(serializers.ModelSerializer):
    case = serializers.CharField(source="case.lab_number")
    request = serializers.IntegerField(source="request_id", allow_null=True)
    discipline = serializers.CharField(source="request.discipline.code", default=None, allow_null=True)
    versions = ReportVersionSerializer(many=True)

    class Meta:
        model = Report
        fields = ["number", "kind", "case", "request", "discipline", "created_at", "versions"]


class CaseDetailSerializer(CaseSerializer):
    people = PersonSerializer(many=True)
    items = ItemSerializer(many=True)
    requests = RequestSerializer(many=True)

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "town", "address", "latitude", "longitude", "narrative"]
        fields += ["people", "items", "requests"]


# --- submissions -----------------------------------------------------------------------------------------


class SubmissionItemSerializer(serializers.ModelSerializer):
    disciplines = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    item = serializers.CharField(source="item.label", default=None, allow_null=True, help_text="Once received.")

    class Meta:
        model = SubmissionItem
        fields = ["position", *ITEM_FIELDS, "disciplines", "presence", "seal_status", "item"]


class SubmissionSerializer(serializers.ModelSerializer):
    agency = serializers.CharField(source="agency.code")
    submitting_officer = serializers.CharField(source="submitting_officer.username")
    case = serializers.CharField(source="case.lab_number", default=None, allow_null=True)
    people = PersonSerializer(many=True)
    items = SubmissionItemSerializer(many=True)
    problems = serializers.SerializerMethodField(help_text="What still stops a draft from being submitted.")

    class Meta:
        model = Submission
        fields = [
            "reference",
            "status",
            "agency",
            "submitting_officer",
            "walk_in",
            *SUBMISSION_FIELDS,
            "people",
            "items",
            "problems",
            "created_at",
            "updated_at",
            "submitted_at",
            "received_at",
            "receipt_number",
            "case",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_problems(self, submission: Submission) -> list[str]:
        from forensis.intake.services import submission_problems

        return submission_problems(submission) if submission.status == "draft" else []


class PersonInputSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=PersonRole.choices)
    name = serializers.CharField(max_length=200)
    sex = serializers.ChoiceField(choices=Sex.choices, default=Sex.UNKNOWN)
    age = serializers.IntegerField(min_value=0, max_value=120, required=False, allow_null=True)
    date_of_birth = serializers.DateField(required=False, allow_null=True)
    relationship_to_victim = serializers.ChoiceField(choices=Relationship.choices, required=False, allow_blank=True)


#: What may be submitted: every kind of item but a body (a body is logged as a death investigation).
SUBMITTED_ITEM_TYPES = [choice for choice in ItemType.choices if choice[0] != ItemType.BODY]


class SubmissionItemInputSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=SUBMITTED_ITEM_TYPES)
    description = serializers.CharField(max_length=500)
    quantity = serializers.IntegerField(min_value=1, max_value=100_000, default=1)
    packaging = serializers.CharField(max_length=200, required=False, allow_blank=True)
    biological = serializers.BooleanField(default=False)
    seal_number = serializers.CharField(max_length=64, required=False, allow_blank=True)
    collected_by = serializers.CharField(max_length=200, required=False, allow_blank=True)
    collected_at = serializers.DateTimeField(required=False, allow_null=True)
    collected_place = serializers.CharField(max_length=255, required=False, allow_blank=True)
    disciplines = serializers.SlugRelatedField(
        slug_field="code", many=True, queryset=Discipline.objects.filter(is_active=True), required=False
    )


class SubmissionInputSerializer(StrictSerializer):
    """A draft's whole content: a PUT replaces all of it, as saving the web form does."""

    agency_case_number = serializers.CharField(max_length=64, required=False, allow_blank=True)
    offence_codes = serializers.ListField(
        child=serializers.ChoiceField(choices=iccs.choices()), required=False, max_length=20
    )
    incident_at = serializers.DateTimeField(required=False, allow_null=True)
    district = serializers.ChoiceField(choices=District.choices, required=False, allow_blank=True)
    town = serializers.CharField(max_length=100, required=False, allow_blank=True)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    latitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=-90, max_value=90, required=False, allow_null=True
    )
    longitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=-180, max_value=180, required=False, allow_null=True
    )
    narrative = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
    people = PersonInputSerializer(many=True, required=False, max_length=200)
    items = SubmissionItemInputSerializer(many=True, required=False, max_length=500)
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Only for a laboratory correction."
    )

    def service_arguments(self) -> dict:
        """The validated data as the intake services take it: fields, people and ``ItemData``."""
        data = dict(self.validated_data)
        people = data.pop("people", [])
        items = [ItemData(fields=item, disciplines=item.pop("disciplines", [])) for item in data.pop("items", [])]
        data.pop("reason", None)
        return {"fields": data, "people": people, "items": items}
