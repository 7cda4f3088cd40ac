from django.core.management.base import BaseCommand, CommandError

from forensis.cases.models import Case
from forensis.evidence.models import CustodyEvent, Item
from forensis.evidence.services import gap_check, verify_ledger


class Command(BaseCommand):
    help = "Custody ledger tools. `forensis custody verify [--case LAB-NUMBER]` recomputes every item's chain."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="verify")
        verify = sub.add_parser("verify", help="Recompute the hash chains and check each item's derived state.")
        verify.add_argument("--case", help="Only the items of this lab case number.")

    def handle(self, *args, subcommand: str, case: str | None = None, **options):
        events, items = CustodyEvent.objects.all(), Item.objects.all()
        if case:
            found = Case.objects.filter(lab_number__iexact=case).first()
            if found is None:
                raise CommandError(f"No case {case}.")
            events, items = events.filter(item__case=found), items.filter(case=found)
        report = verify_ledger(events)
        problems = report.problems + gap_check(items)
        if problems:
            shown = "\n".join(f"  - {p}" for p in problems[:50])
            more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
            raise CommandError(f"Custody ledger BROKEN: {len(problems)} problem(s)\n{shown}{more}")
        self.stdout.write(
            self.style.SUCCESS(f"Custody ledger intact: {report.events} events of {report.items} items verified.")
        )
