"""The Spanish catalogue is complete, keeps its placeholders, and is what a Spanish reader sees.

When new strings are added, run ``make messages``, translate every new entry in
``src/forensis/locale/es/LC_MESSAGES/django.po`` (no fuzzy entries) and these tests pass again.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import polib
import pytest
from django.core.management import call_command

import forensis

LOCALE_DIR = Path(forensis.__file__).resolve().parent / "locale"
ES_CATALOGUE = LOCALE_DIR / "es" / "LC_MESSAGES" / "django.po"

#: printf-style placeholders as Python's % operator reads them: %(name)s, %s, %d, %.2f … (not %%).
PYTHON_FORMAT = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa]")
#: str.format / template placeholders: {name}, {0}, {}, {{ name }}.
BRACE_FORMAT = re.compile(r"\{\{\s*[\w.|:\"' ]+?\s*\}\}|\{[\w.\[\]]*(?:![rsa])?(?::[^{}]*)?\}")


def _catalogue() -> polib.POFile:
    assert ES_CATALOGUE.exists(), f"{ES_CATALOGUE} is missing: run `make messages` and translate it."
    return polib.pofile(str(ES_CATALOGUE))


def _placeholders(text: str) -> Counter:
    """The placeholders in ``text``, spaces inside braces ignored ("{{ name }}" is "{{name}}")."""
    text = text.replace("%%", "")
    braces = (re.sub(r"\s+", "", token) for token in BRACE_FORMAT.findall(text))
    return Counter(PYTHON_FORMAT.findall(text)) + Counter(braces)


def _translations(entry: polib.POEntry) -> list[tuple[str, str]]:
    """(source, translation) pairs to compare; a plural entry compares each form with its source."""
    if entry.msgid_plural:
        pairs = []
        for index, text in sorted(entry.msgstr_plural.items()):
            pairs.append((entry.msgid if int(index) == 0 else entry.msgid_plural, text))
        return pairs
    return [(entry.msgid, entry.msgstr)]


def test_spanish_catalogue_header():
    po = _catalogue()
    assert po.metadata.get("Language") == "es"
    assert po.metadata.get("Plural-Forms", "").replace(" ", "") == "nplurals=2;plural=(n!=1);"
    assert "charset=UTF-8" in po.metadata.get("Content-Type", "")
    assert not po.metadata_is_fuzzy, "the catalogue header is marked fuzzy"


def test_spanish_catalogue_is_complete():
    po = _catalogue()
    active = [e for e in po if not e.obsolete]
    assert active, "the Spanish catalogue has no entries"
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    empty_plural_forms = [e.msgid for e in active if e.msgid_plural and not all(e.msgstr_plural.values())]
    assert not untranslated, f"untranslated entries in {ES_CATALOGUE.name}: {untranslated}"
    assert not fuzzy, f"fuzzy entries (check and translate, then remove the fuzzy flag): {fuzzy}"
    assert not empty_plural_forms, f"plural entries with an empty form: {empty_plural_forms}"


def test_spanish_translations_keep_their_placeholders():
    wrong = []
    for entry in _catalogue():
        if entry.obsolete:
            continue
        for source, translation in _translations(entry):
            if not translation:
                continue
            expected = _placeholders(source)
            # A plural form of one item may drop the number (e.g. "one item" for "%(n)s items").
            if entry.msgid_plural:
                if not set(_placeholders(translation)) <= set(expected) | set(_placeholders(entry.msgid)):
                    wrong.append((source, translation))
            elif _placeholders(translation) != expected:
                wrong.append((source, translation))
    assert not wrong, "translations whose placeholders differ from the English:\n" + "\n".join(
        f"  {source!r} -> {translation!r}" for source, translation in wrong
    )


def test_placeholder_patterns():
    assert _placeholders("Agency %(name)s saved, %d of %s, 100%%") == Counter({"%(name)s": 1, "%d": 1, "%s": 1})
    assert _placeholders("Hello {name}, {{ user }} and {0}") == Counter({"{name}": 1, "{{user}}": 1, "{0}": 1})
    assert _placeholders("{{ user }}") == _placeholders("{{user}}")
    assert _placeholders("%(name)s") != _placeholders("%(nombre)s")


@pytest.fixture
def compiled_catalogue(tmp_path, settings):
    """The current .po compiled by `forensis compilemessages` into a scratch locale directory.

    Changing LOCALE_PATHS makes Django drop its cached catalogues, so the page uses exactly what is
    in the .po now, whether or not the .mo beside it in the source tree is up to date.
    """
    locale = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, locale, ignore=shutil.ignore_patterns("*.mo"))
    settings.LOCALE_PATHS = [locale]
    call_command("compilemessages", verbosity=0)
    assert (locale / "es" / "LC_MESSAGES" / "django.mo").exists()
    return locale


def test_login_page_in_spanish(client, db, compiled_catalogue):
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="es">' in html
    assert "<title>Iniciar sesión · Forensis</title>" in html
    assert "Iniciar sesión en Forensis" in html
    assert "Solo para uso autorizado." in html
    assert "Sign in to Forensis" not in html


def test_login_page_in_spanish_by_cookie(client, db, compiled_catalogue):
    client.cookies["django_language"] = "es"
    html = client.get("/accounts/login/").content.decode()
    assert "<title>Iniciar sesión · Forensis</title>" in html


def test_login_page_stays_english_by_default(client, db, compiled_catalogue):
    html = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<title>Sign in · Forensis</title>" in html
