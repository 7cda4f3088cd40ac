"""``forensis import-legacy --mapping MAPPING.toml [--dry-run] [--limit N] [--report DIR] [--user NAME]``."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from forensis.accounts.models import User
from forensis.accounts.roles import Role
from forensis.legacy.mapping import MappingError, load_mapping
from forensis.legacy.pipeline import run_import
from forensis.legacy.reports import summary_text
from forensis.legacy.sources import SourceError


class Command(BaseCommand):
    help = (
        "Bring cases, people, items, results and locations over from an old database, as a mapping file describes "
        "(see docs/legacy.md). Running it again changes nothing; after the source is corrected it changes only "
        "what was corrected."
    )

    def add_arguments(self, parser):
        parser.add_argument("--mapping", required=True, help="The mapping file (TOML).")
        parser.add_argument("--dry-run", action="store_true", help="Read, validate and report; save nothing.")
        parser.add_argument("--limit", type=int, help="Stop after the first N cases of the source.")
        parser.add_argument(
            "--report", help="Folder for the reports (default: legacy-reports/<batch> in the data dir)."
        )
        parser.add_argument("--user", help="Who runs the import (default: the first active administrator).")

    def handle(
        self, *args, mapping: str, dry_run: bool, limit: int | None, report: str | None, user: str | None, **options
    ):
        if limit is not None and limit < 1:
            raise CommandError(_("--limit must be 1 or more."))
        actor = self._actor(user)
        try:
            loaded = load_mapping(Path(mapping))
        except MappingError as exc:
            raise CommandError(
                _("The mapping file has problems:\n%(problems)s") % {"problems": _indented(exc.problems)}
            ) from None
        progress = ProgressLine(sys.stderr) if sys.stderr.isatty() else None
        try:
            batch = run_import(loaded, actor=actor, dry_run=dry_run, limit=limit, report_dir=report, progress=progress)
        except SourceError as exc:
            raise CommandError(_("The source cannot be read: %(error)s") % {"error": exc}) from None
        except MappingError as exc:
            raise CommandError(
                _("The mapping file has problems:\n%(problems)s") % {"problems": _indented(exc.problems)}
            ) from None
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            raise CommandError(
                _("Interrupted. What was saved is complete case by case; run the same import again to finish it.")
            ) from None
        finally:
            if progress:
                progress.end()
        self.stdout.write(summary_text(batch, Path(batch.report_dir)))

    def _actor(self, username: str | None) -> User:
        if username:
            actor = User.objects.filter(username=username, is_active=True).first()
            if actor is None:
                raise CommandError(_("No active user %(name)s.") % {"name": username})
            return actor
        actor = (
            User.objects.filter(is_active=True, groups__name=Role.ADMINISTRATOR).order_by("pk").first()
            or User.objects.filter(is_active=True, is_superuser=True).order_by("pk").first()
        )
        if actor is None:
            raise CommandError(_("No active administrator: create one, or name the user with --user."))
        return actor


def _indented(problems: list[str]) -> str:
    return "\n".join(f"  - {problem}" for problem in problems)


class ProgressLine:
    """One line on a terminal, rewritten in place: ``cases 1,234 / 30,000 (4%)``."""

    def __init__(self, stream):
        self.stream = stream
        self.width = 0

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if total:
            text = _("%(stage)s %(done)s / %(total)s (%(percent)s%%)") % {
                "stage": stage,
                "done": f"{done:,}",
                "total": f"{total:,}",
                "percent": done * 100 // total,
            }
        else:
            text = f"{stage} {done:,}"
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def end(self) -> None:
        if self.width:
            self.stream.write("\n")
            self.stream.flush()
