from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management.base import CommandError


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is one plain sentence (or two) for the operator."""


@contextmanager
def as_command_error(what: str) -> Iterator[None]:
    """For the commands: a refusal, a full disk or a folder without permission as one sentence, not a traceback."""
    try:
        yield
    except BackupError as exc:
        raise CommandError(f"{what} failed: {exc}") from None
    except OSError as exc:
        raise CommandError(f"{what} failed: {exc.strerror} ({exc.filename}).") from None
