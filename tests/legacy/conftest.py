"""Fixtures for the legacy import: the agencies the shipped sample maps to, and a copy of the sample to edit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forensis.accounts.models import AgencyType
from forensis.accounts.roles import Role
from forensis.legacy.mapping import load_mapping

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "forensis" / "legacy" / "sample"


@pytest.fixture
def sample_agencies(make_agency):
    """The agencies of the sample's [maps.agencies]."""
    return {
        code: make_agency(AgencyType.POLICE, code=code, name=name, district=district)
        for code, name, district in [
            ("BPD-BZ", "Belize Police (sample)", "BZ"),
            ("BPD-CY", "Cayo Police (sample)", "CY"),
            ("BPD-OW", "Orange Walk Police (sample)", "OW"),
        ]
    }


@pytest.fixture
def importer(make_user, sample_agencies):
    """The administrator who runs the imports."""
    return make_user(Role.ADMINISTRATOR, username="importer")


@pytest.fixture
def sample_copy(tmp_path):
    """A private copy of the sample (mapping and data), safe to edit."""
    target = tmp_path / "sample"
    shutil.copytree(SAMPLE, target)
    return target


@pytest.fixture
def sample_mapping(sample_copy):
    return load_mapping(sample_copy / "mapping.toml")


def edit_csv(path: Path, old: str, new: str) -> None:
    """Change one text in a cp1252 CSV of the sample copy (it must be there exactly once)."""
    text = path.read_bytes().decode("cp1252")
    assert text.count(old) == 1, old
    path.write_bytes(text.replace(old, new).encode("cp1252"))
