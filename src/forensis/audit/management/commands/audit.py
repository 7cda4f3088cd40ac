from django.core.management.base import BaseCommand, CommandError

from forensis.audit.services import verify_chain


class Command(BaseCommand):
    help = "Audit log tools. `forensis audit verify` recomputes the hash chain and names the first broken event."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="verify")
        sub.add_parser("verify", help="Recompute the audit hash chain; exit 1 naming the first broken event.")

    def handle(self, *args, subcommand: str, **options):
        report = verify_chain()
        if not report.intact:
            raise CommandError(
                f"Audit chain BROKEN at event #{report.broken_id}: {report.problem}. "
                f"{report.checked} events before it are intact."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.checked} events verified."))
