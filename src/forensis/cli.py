"""The ``forensis`` command: Django's management commands plus Forensis's own.

``forensis seed-demo`` and ``forensis seed_demo`` are the same command (hyphens are accepted for
readability). Configuration errors are printed as one sentence, never as a traceback.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "forensis.settings")
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")

    from django.core.exceptions import ImproperlyConfigured
    from django.db.utils import OperationalError

    try:
        import django

        django.setup()
        from django.core.management import execute_from_command_line

        from forensis.audit.context import source

        with source("cli"):
            execute_from_command_line(argv)
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"forensis: configuration error: {exc}\n")
        sys.exit(2)
    except OperationalError as exc:
        sys.stderr.write(
            f"forensis: cannot use the database: {exc}\nCheck DATABASE_URL and that the database server is running.\n"
        )
        sys.exit(3)


if __name__ == "__main__":
    main()
