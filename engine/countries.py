"""Countries as ISO 3166-1 alpha-2 codes, with English and French names (from Babel's CLDR data).

Forms offer a country picker that stores the code; decision tables match codes. `country_code`
reads what older requests stored (a name typed by hand, in English or French, any case or
accents: "Russie", "russia", "Russian Federation") and gives the code ("RU"), or None.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

from babel import Locale

#: CLDR territories that are not ISO 3166-1 countries (regions, reserved or private-use codes)
_NOT_COUNTRIES = frozenset("AC CP CQ DG EA EU EZ IC QO TA UN XA XB XK ZZ".split())
#: other names people write for a country
ALIASES = {
    "russian federation": "RU",
    "prc": "CN",
    "people s republic of china": "CN",
    "usa": "US",
    "us": "US",
    "united states of america": "US",
    "etats unis d amerique": "US",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "grande bretagne": "GB",
    "angleterre": "GB",
    "south korea": "KR",
    "republic of korea": "KR",
    "north korea": "KP",
    "burma": "MM",
    "birmanie": "MM",
    "myanmar": "MM",
    "ivory coast": "CI",
    "holland": "NL",
    "czech republic": "CZ",
    "republique tcheque": "CZ",
    "vatican": "VA",
    "turkey": "TR",
    "turkiye": "TR",
    "drc": "CD",
    "democratic republic of the congo": "CD",
    "palestine": "PS",
    "syrian arab republic": "SY",
    "iran islamic republic of": "IR",
    "viet nam": "VN",
}


def _key(text: str) -> str:
    """Lower case, accents and punctuation gone, single spaces: 'Côte d’Ivoire' -> 'cote d ivoire'."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in bare).split())


@lru_cache(maxsize=4)
def names(language: str = "en") -> dict[str, str]:
    """Code -> name in `language` ("en" or "fr"), every ISO 3166-1 country."""
    territories = Locale.parse(language).territories
    return {
        code: name
        for code, name in territories.items()
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    }


@lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    for language in ("en", "fr"):
        for code, name in names(language).items():
            index.setdefault(_key(name), code)
            if "(" in name:  # "Myanmar (Burma)": each part is a name too
                index.setdefault(_key(name.split("(")[0]), code)
    index.update(ALIASES)
    return index


def country_code(text: Any) -> str | None:
    """The ISO code of a code or a country name in English or French; None when unknown."""
    if not isinstance(text, str) or not text.strip():
        return None
    stripped = text.strip()
    if len(stripped) == 2 and stripped.upper() in names("en"):
        return stripped.upper()
    return _index().get(_key(stripped))


def country_name(code: Any, language: str = "en") -> str:
    """The name of a code in `language`; the text itself when it is not a known code."""
    found = country_code(code)
    return names(language).get(found or "", str(code or ""))


@lru_cache(maxsize=1)
def choices() -> list[tuple[str, dict[str, Any]]]:
    """The picker's options: (code, its labels: `title` English, `x-fr.title` French), by English name."""
    english, french = names("en"), names("fr")
    ordered = sorted(english, key=lambda code: _key(english[code]))
    return [(code, {"title": english[code], "x-fr": {"title": french.get(code, english[code])}}) for code in ordered]
