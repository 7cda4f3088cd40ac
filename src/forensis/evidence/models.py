from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from forensis.accounts.scoping import scoped_by


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
    OTHER = "other", _("Other")


class Item(models.Model):
    """A piece of evidence with a number people read and print: ``LAB-NUMBER/NN`` (sub-items ``/NN.M``)."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="items")
    number = models.PositiveIntegerField(_("item number"))
    sub_number = models.PositiveIntegerField(_("sub-item number"), null=True, blank=True)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    label = models.CharField(_("item number"), max_length=48, unique=True)
    type = models.CharField(_("type"), max_length=20, choices=ItemType.choices)
    description = models.CharField(_("description"), max_length=500)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    packaging = models.CharField(_("packaging"), max_length=200, blank=True)
    seal_number = models.CharField(_("seal number"), max_length=64, blank=True)
    collected_by = models.CharField(_("collected by"), max_length=200, blank=True)
    collected_at = models.DateTimeField(_("collected"), null=True, blank=True)
    collected_place = models.CharField(_("where collected"), max_length=255, blank=True)
    biological = models.BooleanField(_("biological material"), default=False)
    condition_at_receipt = models.CharField(_("condition at receipt"), max_length=500, blank=True)
    received_at = models.DateTimeField(_("received"))

    objects = scoped_by("case__agency").as_manager()

    class Meta:
        ordering = ["case", "number", "sub_number"]
        verbose_name = _("item")
        verbose_name_plural = _("items")
        constraints = [
            models.UniqueConstraint(
                fields=["case", "number"], condition=models.Q(sub_number__isnull=True), name="unique_item_number"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def last_custody_event(self) -> CustodyEvent | None:
        """The ledger's last event: its receiver holds the item now (uses prefetched events when present)."""
        events = list(self.custody_events.all())
        return events[-1] if events else None


class Purpose(models.TextChoices):
    RECEIPT = "receipt", _("Receipt at the laboratory")
    STORAGE = "storage", _("Storage")
    ANALYSIS = "analysis", _("Analysis")
    COURT = "court", _("Court")
    RETURN = "return", _("Return to agency")
    OUTSOURCING = "outsourcing", _("Outsourcing")


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
    location = models.CharField(_("location"), max_length=200, blank=True)
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
