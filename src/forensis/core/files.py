"""Files people upload (instrument data, photos, external results): kept with their SHA-256 and size."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import models
from django.utils.translation import gettext as _


class StoredFile(models.Model):
    """What every stored upload records. Subclasses add ``file`` (with their own folder) and their owner."""

    original_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.original_name


def store_upload(stored: StoredFile, upload: UploadedFile, *, stem: str, max_bytes: int) -> StoredFile:
    """Hash ``upload``, save it under ``stem`` plus the hash's start, and save ``stored`` with name, hash, size.

    The stored name never uses the uploaded name (no path tricks); the original name is kept only as text.
    """
    if upload.size > max_bytes:
        raise ValidationError({"file": _("The file is larger than %(mb)s MB.") % {"mb": max_bytes // 2**20}})
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    stored.original_name, stored.sha256, stored.size = upload.name[:255], digest.hexdigest(), upload.size
    stored.file.save(f"{stem}-{stored.sha256[:16]}", upload, save=False)
    stored.save()
    return stored
