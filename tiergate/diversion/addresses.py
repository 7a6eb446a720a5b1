"""Address keys: an address as screening cleans names (NFKC, control characters dropped, whitespace collapsed,
``tiergate.screen.normalize.clean_text``), lower-cased, punctuation dropped, common abbreviations written out
(Rd = Road, Bldg = Building, Flr = Floor...), the tokens sorted. Two addresses with the same key are one place
whatever their case, punctuation, order of parts or abbreviations; :func:`similarity` compares keys by their
tokens for near matches."""

from __future__ import annotations

import functools
import re

from tiergate.screen.normalize import clean_text

_WORDS = {
    "rd": "road",
    "st": "street",
    "str": "street",
    "ave": "avenue",
    "av": "avenue",
    "blvd": "boulevard",
    "bldg": "building",
    "blk": "block",
    "flr": "floor",
    "fl": "floor",
    "ste": "suite",
    "rm": "room",
    "no": "",
    "unit": "",
    "jln": "jalan",
    "dist": "district",
    "ctr": "centre",
    "center": "centre",
    "intl": "international",
    "hk": "hong kong",
    "sar": "",
    "prc": "china",
    "pr": "",
    "of": "",
    "the": "",
}
_SPLIT = re.compile(r"[^\w]+", re.UNICODE)


def address_tokens(address: str) -> tuple[str, ...]:
    text = clean_text(address).lower()
    out: list[str] = []
    for raw in _SPLIT.split(text):
        if not raw or raw == "_":
            continue
        word = _WORDS.get(raw, raw)
        out.extend(w for w in word.split() if w)
    return tuple(sorted(set(out)))


@functools.lru_cache(maxsize=1 << 18)
def address_key(address: str | None) -> str | None:
    """The address's key, or None for an empty address (or one too short to say where: under three tokens)."""
    if address is None:
        return None
    tokens = address_tokens(address)
    if len(tokens) < 3:
        return None
    return " ".join(tokens)


def similarity(a: str, b: str) -> float:
    """Token-set similarity of two keys (Jaccard of their tokens), 0 to 1."""
    x, y = set(a.split()), set(b.split())
    if not x or not y:
        return 0.0
    return len(x & y) / len(x | y)
