import os
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand

#: How Forensis runs under gunicorn: sync workers (measured fastest here), recycled now and then to bound
#: memory. The bench harness serves its bare baseline with the same options.
GUNICORN_OPTIONS = (
    "--worker-class=sync",
    "--timeout=120",
    "--graceful-timeout=20",
    "--max-requests=5000",
    "--max-requests-jitter=500",
)


class Command(BaseCommand):
    help = (
        "Serve Forensis with gunicorn (sync workers) and the background task worker; static files are served by "
        "whitenoise."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("FORENSIS_BIND", "127.0.0.1:8000"))
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("FORENSIS_WORKERS", "0") or 0),
            help="Worker processes (default: 2 × CPU cores + 1).",
        )
        parser.add_argument("--access-log", action="store_true", help="Log every request to standard output.")
        parser.add_argument(
            "--no-task-worker",
            action="store_true",
            default=os.environ.get("FORENSIS_TASK_WORKER", "1") == "0",
            help="Do not start the background task worker (run 'forensis db_worker' separately instead).",
        )

    def handle(self, *args, bind, workers, access_log, no_task_worker, **options):
        call_command("collectstatic", interactive=False, verbosity=0)
        workers = workers or 2 * (os.cpu_count() or 1) + 1
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "forensis.wsgi:application",
            "--bind",
            bind,
            f"--workers={workers}",
            *GUNICORN_OPTIONS,
        ]
        if not no_task_worker:
            argv += ["--config", "python:forensis.core.gunicorn_worker"]
        if access_log:
            argv += ["--access-logfile", "-"]
        self.stdout.write(f"Forensis serving on http://{bind} with {workers} workers")
        self.stdout.flush()
        os.execv(sys.executable, argv)  # noqa: S606  (replace this process with gunicorn)
