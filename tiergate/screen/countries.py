"""Country names as the lists write them ("Russia", "Korea, North", "Iran (Islamic Republic of)") to ISO alpha-2."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

_EXTRA = {
    "russia": "RU",
    "russian federation": "RU",
    "north korea": "KP",
    "korea north": "KP",
    "korea, north": "KP",
    "democratic people's republic of korea": "KP",
    "dprk": "KP",
    "south korea": "KR",
    "korea south": "KR",
    "korea, south": "KR",
    "republic of korea": "KR",
    "korea": "KR",
    "iran": "IR",
    "syria": "SY",
    "burma": "MM",
    "myanmar": "MM",
    "hong kong": "HK",
    "macau": "MO",
    "macao": "MO",
    "taiwan": "TW",
    "vietnam": "VN",
    "viet nam": "VN",
    "laos": "LA",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "moldova": "MD",
    "kosovo": "XK",
    "palestinian": "PS",
    "palestine": "PS",
    "west bank": "PS",
    "gaza": "PS",
    "turkey": "TR",
    "turkiye": "TR",
    "czech republic": "CZ",
    "uae": "AE",
    "u.a.e.": "AE",
    "united kingdom": "GB",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "united states": "US",
    "usa": "US",
    "u.s.": "US",
    "united states of america": "US",
    "ivory coast": "CI",
    "cote d'ivoire": "CI",
    "congo, democratic republic of the": "CD",
    "democratic republic of the congo": "CD",
    "congo democratic republic": "CD",
    "drc": "CD",
    "congo": "CG",
    "republic of the congo": "CG",
    "china": "CN",
    "people's republic of china": "CN",
    "prc": "CN",
    "the netherlands": "NL",
    "netherlands": "NL",
    "brunei": "BN",
    "cape verde": "CV",
    "swaziland": "SZ",
    "micronesia": "FM",
    "vatican": "VA",
    "the bahamas": "BS",
    "the gambia": "GM",
    "gambia": "GM",
    "lao people's democratic republic": "LA",
    "crimea": "UA",
    "region: crimea": "UA",
    "sudan, south": "SS",
}


@lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    import pycountry

    table: dict[str, str] = {}
    for c in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(c, attr, None)
            if value:
                table[value.lower()] = c.alpha_2
        table[c.alpha_2.lower()] = c.alpha_2
        table[c.alpha_3.lower()] = c.alpha_2
    table.update(_EXTRA)
    return table


_PAREN = re.compile(r"\s*\(.*?\)\s*")


def country_code(text: str | None) -> str | None:
    """The ISO code of a country name or code, or None when it is not recognised."""
    if not text:
        return None
    value = " ".join(text.strip().strip(".").split()).lower()
    if not value:
        return None
    table = _table()
    if value in table:
        return table[value]
    bare = _PAREN.sub(" ", value).strip()
    if bare in table:
        return table[bare]
    if "," in value:  # "Iran, Islamic Republic of"
        head = value.split(",", 1)[0].strip()
        if head in table and len(head) > 3:
            return table[head]
    return None


def codes(values: Sequence[str | None]) -> tuple[str, ...]:
    found = [country_code(v) for v in values]
    return tuple(dict.fromkeys(c for c in found if c))


def trailing_country(text: str | None) -> str | None:
    """The country a place or address ends with ("Shenyang, CN", "Giza, Egypt")."""
    if not text:
        return None
    last = text.rstrip(" .;").rsplit(",", 1)[-1].strip()
    if len(last) == 2 and last.isupper():
        code = country_code(last)
        return code
    return country_code(last)
