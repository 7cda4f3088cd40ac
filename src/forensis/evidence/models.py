from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from forensis.accounts.scoping import scoped_by
from forensis.core.files import StoredFile
from forensis.core.models import Migrated


class ItemType(models.TextChoices):
    FIREARM = "firearm", _("Firearm")
    CARTRIDGE_CASE = "cartridge_case", _("Cartridge case")
    BULLET = "bullet", _("Bullet or projectile")
    SEIZED_DRUGS = "seized_drugs", _("Seized drugs")
    BLOOD = "blood", _("Blood sample")
    SWAB = "swab", _("Swab")
    CLOTHING = "clothing", _("Clothing")
    PHONE = "phone", _("Phone or digital device")
    DOCUMENT = "document", _("Document")
    BODY = "body", _("Body of a deceased person")
    OTHER = "other", _("Other")


#: What an agency may submit as evidence: a body comes in as a death investigation (``deaths.services``).
SUBMITTED_TYPES = [(value, label) for value, label in ItemType.choices if value != ItemType.BODY]


class ItemStatus(models.TextChoices):
    IN_CUSTODY = "in_custody", _("In custody")
    OUTSOURCED = "outsourced", _("At an external laboratory")
    RETURNED = "returned", _("Returned to agency")
    DESTROYED = "destroyed", _("Destroyed")
    CONSUMED = "consumed", _("Consumed in analysis")
    RELEASED = "released", _("Released to a funeral home or family")


#: Statuses after which nothing more may happen to an item.
FINAL_STATUSES = (ItemStatus.RETURNED, ItemStatus.DESTROYED, ItemStatus.CONSUMED, ItemStatus.RELEASED)


class AmountUnit(models.TextChoices):
    GRAM = "g", _("g")
    MILLIGRAM = "mg", _("mg")
    KILOGRAM = "kg", _("kg")
    MILLILITRE = "mL", _("mL")
    LITRE = "L", _("L")
    UNITS = "units", _("units")


class LocationKind(models.TextChoices):
    BUILDING = "building", _("Building")
    ROOM = "room", _("Room")
    UNIT = "unit", _("Storage unit")
    SHELF = "shelf", _("Shelf")
    BOX = "box", _("Box")


class StorageLocation(models.Model):
    """A place evidence is kept, in a tree: building › room › unit › shelf › box. Each has a barcode."""

    code = models.CharField(_("barcode"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=LocationKind.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("inside")
    )
    path = models.CharField(_("full name"), max_length=500, editable=False)
    capacity = models.PositiveIntegerField(_("capacity (items)"), null=True, blank=True)
    restricted = models.BooleanField(
        _("restricted"), default=False, help_text=_("Only the named custodians may put items here (e.g. a drug vault).")
    )
    authorized_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("authorised custodians")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["path"]
        verbose_name = _("storage location")
        verbose_name_plural = _("storage locations")
        permissions = [("manage_locations", _("Can create and change storage locations"))]

    def __str__(self) -> str:
        return self.path or self.name


class DescribedItem(models.Model):
    """What a person writes about a piece of evidence, shared by kit templates, submissions and items."""

    type = models.CharField(_("type"), max_length=20, choices=ItemType.choices)
    description = models.CharField(_("description"), max_length=500)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    packaging = models.CharField(_("packaging"), max_length=200, blank=True)
    biological = models.BooleanField(_("biological material"), default=False)

    class Meta:
        abstract = True


class Item(DescribedItem, Migrated):
    """A piece of evidence with a number people read and print: ``LAB-NUMBER/NN`` (sub-items ``/NN.M``)."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="items")
    number = models.PositiveIntegerField(_("item number"))
    sub_number = models.PositiveIntegerField(_("sub-item number"), null=True, blank=True)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    label = models.CharField(_("item number"), max_length=48, unique=True)
    seal_number = models.CharField(_("seal number"), max_length=64, blank=True)
    collected_by = models.CharField(_("collected by"), max_length=200, blank=True)
    collected_at = models.DateTimeField(_("collected"), null=True, blank=True)
    collected_place = models.CharField(_("where collected"), max_length=255, blank=True)
    condition_at_receipt = models.CharField(_("condition at receipt"), max_length=500, blank=True)
    received_at = models.DateTimeField(_("received"))
    derivation_reason = models.CharField(_("why derived"), max_length=500, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=ItemStatus.choices, default=ItemStatus.IN_CUSTODY, db_index=True
    )
    # Amounts (weights of seized drugs, volumes of samples): what came in and what is left after examinations.
    amount_received = models.DecimalField(_("amount received"), max_digits=14, decimal_places=4, null=True, blank=True)
    amount_remaining = models.DecimalField(
        _("amount remaining"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    amount_unit = models.CharField(_("unit"), max_length=8, choices=AmountUnit.choices, blank=True)
    legal_hold = models.BooleanField(_("legal hold"), default=False)
    legal_hold_reason = models.CharField(_("legal hold reason"), max_length=500, blank=True)
    # Derived from the custody ledger, written only by evidence.services.append_custody_event in the same
    # transaction as the event, so lists ("what do I hold", location contents) need no ledger scan.
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="held_items",
        verbose_name=_("held by"),
    )
    holder_name = models.CharField(_("held by"), max_length=200, blank=True)
    location = models.ForeignKey(
        "StorageLocation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="items",
        verbose_name=_("location"),
    )
    last_moved_at = models.DateTimeField(_("last moved"), null=True, blank=True)
    custody_sequence = models.PositiveIntegerField(default=0)

    objects = scoped_by("case__agency").as_manager()

    # The amounts are not among them: weighing and consuming an item is work done in Forensis (audited).
    MIGRATED_FIELDS = ("case", "type", "description", "quantity", "seal_number", "received_at")
    CORRECTABLE_FIELDS = ("description", "quantity", "seal_number", "received_at")

    class Meta:
        ordering = ["case", "number", "sub_number"]
        verbose_name = _("item")
        verbose_name_plural = _("items")
        permissions = [
            ("move_item", _("Can move items in the store and take them from the store")),
            ("dispose_item", _("Can return, destroy and put legal holds on items")),
            ("manage_shipments", _("Can send items to external laboratories")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "number"], condition=models.Q(sub_number__isnull=True), name="unique_item_number"
            ),
            Migrated.legacy_constraint("unique_item_legacy_id"),
        ]
        # Statistics select a case's items by type (firearm cases, seized drugs received).
        indexes = [models.Index(fields=["type", "case"], name="evidence_item_type_case_idx")]

    def __str__(self) -> str:
        return self.label

    @property
    def last_custody_event(self) -> CustodyEvent | None:
        """The ledger's last event: its receiver holds the item now (uses prefetched events when present)."""
        events = list(self.custody_events.all())
        return events[-1] if events else None


class Purpose(models.TextChoices):
    SCENE = "scene", _("Taken from the scene")
    RECEIPT = "receipt", _("Receipt at the laboratory")
    STORAGE = "storage", _("Storage")
    ANALYSIS = "analysis", _("Analysis")
    COURT = "court", _("Court")
    RETURN = "return", _("Return to agency")
    OUTSOURCING = "outsourcing", _("Outsourcing")
    DERIVATION = "derivation", _("Sub-item derived")
    DESTRUCTION = "destruction", _("Destruction")
    BODY_RELEASE = "body_release", _("Body released to a funeral home or family")
    MIGRATED = "migrated", _("Migrated — last known location")


class SealStatus(models.TextChoices):
    INTACT = "intact", _("Seal intact")
    BROKEN = "broken", _("Seal broken")
    NONE = "none", _("No seal")


class CustodyEvent(models.Model):
    """One link of an item's chain of custody: who released it, who received it, when, where, in what state.

    Append-only (database triggers, migration 0002) and hash-chained per item with the same chain code as
    the audit log; an item's current holder is its last event's receiver.
    """

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="custody_events")
    sequence = models.PositiveIntegerField()
    occurred_at = models.DateTimeField(_("time"))
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("released by"),
    )
    released_by_name = models.CharField(_("released by"), max_length=200)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("received by"),
    )
    received_by_name = models.CharField(_("received by"), max_length=200)
    storage_location = models.ForeignKey(
        StorageLocation, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("location")
    )
    location = models.CharField(_("location"), max_length=500, blank=True)
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices)
    seal_number = models.CharField(_("seal number"), max_length=64, blank=True)
    seal_status = models.CharField(_("seal"), max_length=8, choices=SealStatus.choices, blank=True)
    condition = models.CharField(_("condition"), max_length=500, blank=True)
    witness_name = models.CharField(_("witness"), max_length=200, blank=True)
    note = models.TextField(_("note"), blank=True)
    acknowledged_by_releaser = models.BooleanField(default=False)
    acknowledged_by_receiver = models.BooleanField(default=False)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = scoped_by("item__case__agency").as_manager()

    class Meta:
        ordering = ["item", "sequence"]
        verbose_name = _("custody event")
        verbose_name_plural = _("custody events")
        constraints = [models.UniqueConstraint(fields=["item", "sequence"], name="unique_custody_sequence")]

    def __str__(self) -> str:
        return f"{self.item.label} #{self.sequence}"


class TransferStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the receiver")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    CANCELLED = "cancelled", _("Cancelled")


class Transfer(models.Model):
    """A hand-over offered to a person who has not acknowledged it yet.

    Until the receiver accepts, no custody event exists and the items stay with the releaser.
    """

    items = models.ManyToManyField(Item, related_name="transfers")
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("released by")
    )
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="incoming_transfers", verbose_name=_("to")
    )
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=TransferStatus.choices, default=TransferStatus.PENDING, db_index=True
    )
    created_at = models.DateTimeField(_("offered"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.released_by} → {self.received_by} ({self.get_status_display()})"


class Consumption(models.Model):
    """An amount of an item used up by an examination; the item's remaining amount goes down by it."""

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="consumptions")
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=4)
    unit = models.CharField(_("unit"), max_length=8, choices=AmountUnit.choices)
    reason = models.CharField(_("reason"), max_length=300)
    service_request = models.ForeignKey(
        "lab.ServiceRequest",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="consumptions",
        verbose_name=_("for request"),
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        ordering = ["recorded_at"]

    def __str__(self) -> str:
        return f"{self.item} −{self.amount} {self.unit}"


class ShipmentStatus(models.TextChoices):
    PREPARED = "prepared", _("Prepared")
    SHIPPED = "shipped", _("Shipped")
    AT_LABORATORY = "at_laboratory", _("Received by the external laboratory")
    RETURNED = "returned", _("Returned")


class Shipment(models.Model):
    """A batch of items sent to an external laboratory (casework DNA), with its manifest and results."""

    reference = models.CharField(_("shipment number"), max_length=32, unique=True)
    laboratory = models.CharField(_("external laboratory"), max_length=200)
    items = models.ManyToManyField(Item, related_name="shipments")
    status = models.CharField(
        _("status"), max_length=16, choices=ShipmentStatus.choices, default=ShipmentStatus.PREPARED, db_index=True
    )
    rush = models.BooleanField(_("rush (paid)"), default=False)
    tracking_number = models.CharField(_("courier tracking number"), max_length=100, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("prepared"), auto_now_add=True)
    shipped_at = models.DateTimeField(_("shipped"), null=True, blank=True)
    received_at = models.DateTimeField(_("received by the laboratory"), null=True, blank=True)
    returned_at = models.DateTimeField(_("returned"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")

    def __str__(self) -> str:
        return self.reference

    @property
    def turnaround_days(self) -> int | None:
        if self.shipped_at and self.returned_at:
            return (self.returned_at - self.shipped_at).days
        return None


class ShipmentResult(StoredFile):
    """A results file from the external laboratory, stored with its SHA-256."""

    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="results")
    file = models.FileField(upload_to="shipment-results/%Y/")


class Destruction(models.Model):
    """A witnessed destruction of items (seized drugs): two people, a method, and the list of items."""

    reference = models.CharField(_("destruction number"), max_length=32, unique=True)
    items = models.ManyToManyField(Item, related_name="destructions")
    method = models.CharField(_("method"), max_length=200)
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("destroyed by")
    )
    witnessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("witness")
    )
    performed_at = models.DateTimeField(_("destroyed"))

    class Meta:
        ordering = ["-performed_at"]

    def __str__(self) -> str:
        return self.reference


class RetentionRule(models.Model):
    """How long items of an offence class must be kept before they may be returned or destroyed.

    A rule applies to a case with an offence whose ICCS code starts with ``offence_prefix``; with
    ``biological_only`` it applies only to biological items. No ``retain_years`` means keep indefinitely.
    """

    offence_prefix = models.CharField(_("ICCS code prefix"), max_length=8)
    biological_only = models.BooleanField(_("biological items only"), default=False)
    retain_years = models.PositiveSmallIntegerField(
        _("keep for (years)"), null=True, blank=True, help_text=_("Empty: keep indefinitely.")
    )
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["offence_prefix"]
        verbose_name = _("retention rule")
        verbose_name_plural = _("retention rules")

    def __str__(self) -> str:
        return f"{self.offence_prefix}: {self.retain_years or '∞'}"
