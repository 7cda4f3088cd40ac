from pathlib import Path

from django.core.management.base import BaseCommand

from forensis.core.backup import as_command_error, take_backup


def human_size(size: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # unreachable; keeps type checkers content


class Command(BaseCommand):
    help = (
        "Write a consistent backup (database snapshot, the stored files it refers to, manifest.json with their "
        "SHA-256 sums) into DEST, a new or empty directory, while Forensis is in use. See docs/operations.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("dest", metavar="DEST", help="A new or empty directory, e.g. /var/backups/forensis/DATE.")

    def handle(self, *args, dest: str, **options):
        with as_command_error("Backup"):
            summary = take_backup(Path(dest))
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup written to {summary.path}: {human_size(summary.size)}, {summary.engine} database with "
                f"{summary.audit_events} audit events and {summary.stored_files} stored files, "
                f"in {summary.seconds:.1f} s."
            )
        )
