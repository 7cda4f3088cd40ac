"""The ICCS offence vocabulary (UNODC International Classification of Crime for Statistical Purposes).

The codes laboratories of the region meet most; labels are plain language in English and Spanish.
Codes are stored as text (``"0101"``, ``"03011"``); a code's parent is its prefix.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

OFFENCES: dict[str, str] = {
    "0101": _("Intentional homicide"),
    "0102": _("Attempted intentional homicide"),
    "0103": _("Non-intentional homicide"),
    "01031": _("Non-negligent manslaughter"),
    "01032": _("Negligent manslaughter (e.g. traffic death)"),
    "0104": _("Assisting or instigating suicide"),
    "0107": _("Illegal feticide"),
    "0201": _("Assault or threat"),
    "02011": _("Serious assault"),
    "02012": _("Minor assault"),
    "02013": _("Threat"),
    "0202": _("Kidnapping or deprivation of liberty"),
    "0204": _("Trafficking in persons"),
    "0207": _("Dangerous acts"),
    "02072": _("Driving under the influence of alcohol or drugs"),
    "0301": _("Sexual violence"),
    "03011": _("Rape"),
    "03012": _("Sexual assault"),
    "0302": _("Sexual exploitation"),
    "03022": _("Sexual exploitation of children"),
    "0401": _("Robbery"),
    "0501": _("Burglary"),
    "0502": _("Theft"),
    "0601": _("Controlled drugs"),
    "06011": _("Drug possession or use for personal consumption"),
    "06012": _("Drug trafficking or production"),
    "0901": _("Weapons and explosives"),
    "09011": _("Unlawful possession or use of weapons or explosives"),
    "09012": _("Trafficking in weapons or explosives"),
    "1101": _("Other criminal acts"),
}

HOMICIDE = "0101"


def choices() -> list[tuple[str, str]]:
    return [(code, f"{code} — {label}") for code, label in OFFENCES.items()]


def is_known(code: str) -> bool:
    return code in OFFENCES


def label(code: str) -> str:
    return str(OFFENCES.get(code, code))
