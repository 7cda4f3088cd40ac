"""Backups: ``forensis backup DEST`` and ``forensis restore SRC`` (docs/operations.md, section 9).

``manifest`` is the backup's format, ``database`` the engine-specific snapshot and load (and the consistency
argument), ``take`` writes a backup and ``restore`` brings one back into an empty installation.
"""

from .errors import BackupError, as_command_error
from .restore import MARKER, RestoreSummary, restore_backup
from .take import BackupSummary, take_backup

__all__ = [
    "MARKER",
    "BackupError",
    "as_command_error",
    "BackupSummary",
    "RestoreSummary",
    "restore_backup",
    "take_backup",
]
