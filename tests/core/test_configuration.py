"""Configuration mistakes give one sentence and a non-zero exit, never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

FORENSIS = str(Path(sys.executable).with_name("forensis"))


def run_forensis(*args, tmp_path, **env):
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment.update({"FORENSIS_DATA_DIR": str(tmp_path / "data"), **env})
    return subprocess.run([FORENSIS, *args], env=environment, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "nonsense://"}, "DATABASE_URL is not a valid database address"),
        ({"DATABASE_URL": "postgres://"}, "DATABASE_URL names no database"),
        ({"DATABASE_URL": "mysql://root@127.0.0.1/forensis"}, "must name a PostgreSQL or SQLite database"),
        ({"FORENSIS_DATA_DIR": "/proc/forensis-cannot-write"}, "is not writable"),
        ({"FORENSIS_ENV": "staging"}, "FORENSIS_ENV must be"),
        ({"TIME_ZONE": "Mars/Olympus"}, "not a known time zone"),
        ({"FORENSIS_IDLE_TIMEOUT_MINUTES": "half an hour"}, "must be a whole number"),
    ],
)
def test_bad_configuration_is_one_clear_message(tmp_path, env, message):
    result = run_forensis("check", tmp_path=tmp_path, **env)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_a_clear_message(tmp_path):
    result = run_forensis("migrate", tmp_path=tmp_path, DATABASE_URL="postgres://nobody@127.0.0.1:1/none")
    assert result.returncode == 3
    assert "cannot use the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_profile_passes_deploy_check(tmp_path):
    result = run_forensis(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        tmp_path=tmp_path,
        FORENSIS_ENV="production",
        ALLOWED_HOSTS="forensis.example.org",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_never_defers_mfa(tmp_path):
    code = "from django.conf import settings; print(settings.FORENSIS_DEFER_MFA_ENROLMENT)"
    result = run_forensis(
        "shell",
        "-c",
        code,
        tmp_path=tmp_path,
        FORENSIS_ENV="production",
        ALLOWED_HOSTS="x.example",
        FORENSIS_DEFER_MFA_ENROLMENT="1",
    )
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_secret_key_is_generated_once_into_the_data_directory(tmp_path):
    run_forensis("check", tmp_path=tmp_path)
    key_file = tmp_path / "data" / "secret_key"
    first = key_file.read_text()
    run_forensis("check", tmp_path=tmp_path)
    assert key_file.read_text() == first and len(first) > 50
    assert oct(key_file.stat().st_mode)[-3:] == "600"
