from pathlib import Path

from django.core.management.base import BaseCommand

from forensis.core.backup import as_command_error, restore_backup


class Command(BaseCommand):
    help = (
        "Restore a backup made by `forensis backup` into this installation, which must be empty; then apply newer "
        "migrations and verify the audit chain, the custody ledger and the stored files. See docs/operations.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", metavar="SRC", help="The backup's directory (the one holding manifest.json).")

    def handle(self, *args, source: str, **options):
        with as_command_error("Restore"):
            summary = restore_backup(Path(source))
        migrated = f"; {summary.migrations_applied} newer migration(s) applied" if summary.migrations_applied else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored the {summary.engine} backup of {summary.created_at} from {summary.source} "
                f"in {summary.seconds:.1f} s{migrated}.\n"
                f"Audit chain intact: {summary.audit_events} events verified (the backup's last event included).\n"
                f"Custody ledger intact: {summary.custody_events} events of {summary.custody_items} items verified.\n"
                f"Stored files intact: {summary.stored_files} files, each matching its SHA-256."
            )
        )
