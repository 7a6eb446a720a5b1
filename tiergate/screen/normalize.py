"""Name normalisation for matching: one Latin, lower-case token form for a name in any script.

Steps, in order: Unicode NFKC; control and format characters dropped; CJK legal forms (有限公司,
株式会社, ...) taken off; Chinese characters to pinyin (pypinyin; a person's 2-4 character name as
surname + given name), every other script to Latin (unidecode: Cyrillic, Greek, Arabic, Hebrew,
Hangul, Thai, ...); case folded; apostrophes dropped and other punctuation made a space; digits in
words read as letters (``Ig0r``) and ordinals as numbers (``18th``); number words as digits; Latin
legal forms (``LLC``, ``Co., Ltd.``, ``GmbH``, ``OOO``, ``Open Joint Stock Company``, their
transliterated Russian and Ukrainian forms) taken off and kept as a legal-form class.

Each token also gets a phonetic key (``fold``) that maps spellings transliteration tends to vary
(``kh``/``h``, ``y``/``i``, ``w``/``v``, ``c``/``k``, doubled letters, ...) to one form.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from unidecode import unidecode

MAX_NAME_CHARS = 1000

# Legal forms: phrase (already normalised, space separated) -> class. Longest phrases first.
_LEGAL = {
    "LLC": [
        "limited liability company",
        "limited liability",
        "limited liability co",
        "llc",
        "l l c",
        "ltd liability co",
        "obshchestvo s ogranichennoi otvetstvennostiu",
        "obshchestvo s ogranichennoi otvetstvennostyu",
        "tovaristvo z obmezhenoiu vidpovidalnistiu",
        "tovarystvo z obmezhenoiu vidpovidalnistiu",
        "tovarystvo z obmezhenoyu vidpovidalnistyu",
        "ooo",
        "too",
        "tov",
        "societatea cu raspundere limitata",
        "srl",
        "s r l",
        "sarl",
        "s a r l",
        "gmbh",
        "mbh",
        "kft",
        "korlatolt felelossegu tarsasag",
        "spolka z ograniczona odpowiedzialnoscia",
        "sp z o o",
        "sociedad de responsabilidad limitada",
        "s de rl",
        "sro",
        "s r o",
        "spolecnost s rucenim omezenym",
        "druzba z omejeno odgovornostjo",
        "doo",
        "d o o",
        "eood",
        "ood",
        "yugen kaisha",
    ],
    "JSC": [
        "open joint stock company",
        "closed joint stock company",
        "public joint stock company",
        "joint stock company",
        "joint stock",
        "joint-stock company",
        "jsc",
        "ojsc",
        "cjsc",
        "pjsc",
        "oao",
        "zao",
        "pao",
        "ao",
        "aktsionernoe obshchestvo",
        "aktsionerne tovarystvo",
        "aktsionerne tovaristvo",
        "publichnoe aktsionernoe obshchestvo",
        "otkrytoe aktsionernoe obshchestvo",
        "zakrytoe aktsionernoe obshchestvo",
        "nepublichnoe aktsionernoe obshchestvo",
        "ag",
        "aktiengesellschaft",
        "sa",
        "s a",
        "sociedad anonima",
        "societe anonyme",
        "spa",
        "s p a",
        "nv",
        "n v",
        "as",
        "a s",
        "ab",
        "oyj",
        "kabushiki kaisha",
        "kk",
        "k k",
    ],
    "LTD": [
        "company limited",
        "co limited",
        "co ltd",
        "co ltd",
        "limited",
        "ltd",
        "pty ltd",
        "pty",
        "pvt ltd",
        "private limited",
        "pvt",
        "pte ltd",
        "pte",
        "plc",
        "public limited company",
        "bv",
        "b v",
        "lp",
        "llp",
    ],
    "CORP": ["corporation", "corp", "incorporated", "inc", "company", "co", "cie", "gk", "godo kaisha"],
}
_CJK_LEGAL = [
    ("有限责任公司", "LLC"),
    ("有限責任公司", "LLC"),
    ("股份有限公司", "JSC"),
    ("有限公司", "LTD"),
    ("株式会社", "JSC"),
    ("有限会社", "LLC"),
    ("合同会社", "LLC"),
    ("公司", "CORP"),
    ("유한회사", "LLC"),
    ("주식회사", "JSC"),
]
# Generic business words in Chinese and Japanese company names, read as the English words list
# entries use (so that 华为技术有限公司 reads "huawei technology" and meets "Huawei Technologies Co., Ltd.").
_CJK_GENERIC = sorted(
    {
        "技术": "technology",
        "技術": "technology",
        "科技": "technology",
        "集团": "group",
        "集團": "group",
        "国际": "international",
        "國際": "international",
        "贸易": "trading",
        "貿易": "trading",
        "进出口": "import export",
        "進出口": "import export",
        "电子": "electronics",
        "電子": "electronics",
        "工业": "industrial",
        "工業": "industrial",
        "实业": "industrial",
        "實業": "industrial",
        "控股": "holding",
        "投资": "investment",
        "投資": "investment",
        "发展": "development",
        "發展": "development",
        "工程": "engineering",
        "研究院": "research institute",
        "研究所": "research institute",
        "大学": "university",
        "大學": "university",
        "银行": "bank",
        "銀行": "bank",
        "航空": "aviation",
        "航天": "aerospace",
        "半导体": "semiconductor",
        "半導體": "semiconductor",
        "通信": "communications",
        "设备": "equipment",
        "設備": "equipment",
        "机械": "machinery",
        "機械": "machinery",
        "材料": "materials",
        "物流": "logistics",
        "软件": "software",
        "軟件": "software",
        "网络": "network",
        "網絡": "network",
        "能源": "energy",
        "化工": "chemical",
        "微电子": "microelectronics",
        "微電子": "microelectronics",
        "仪器": "instrument",
        "儀器": "instrument",
        "制造": "manufacturing",
        "製造": "manufacturing",
    }.items(),
    key=lambda kv: -len(kv[0]),
)
_LEGAL_PHRASES = sorted(
    ((tuple(p.split()), cls) for cls, phrases in _LEGAL.items() for p in phrases), key=lambda x: -len(x[0])
)
_LEGAL_MAX = max(len(p) for p, _ in _LEGAL_PHRASES)
_LEGAL_INDEX: dict[tuple[str, ...], str] = {p: c for p, c in _LEGAL_PHRASES}

# Tokens that carry little identity: weight in the score (default 1.0).
GENERIC_ORG = {
    "the",
    "of",
    "and",
    "for",
    "in",
    "at",
    "on",
    "de",
    "del",
    "la",
    "le",
    "el",
    "les",
    "des",
    "du",
    "und",
    "fur",
    "y",
    "e",
    "i",
    "da",
    "di",
    "do",
    "der",
    "die",
    "das",
    "company",
    "group",
    "grp",
    "holding",
    "holdings",
    "international",
    "intl",
    "trading",
    "trade",
    "import",
    "export",
    "imp",
    "exp",
    "industrial",
    "industries",
    "industry",
    "ind",
    "technology",
    "technologies",
    "tech",
    "technical",
    "enterprise",
    "enterprises",
    "services",
    "service",
    "general",
    "global",
    "development",
    "investment",
    "investments",
    "engineering",
    "electronic",
    "electronics",
    "equipment",
    "manufacturing",
    "machinery",
    "materials",
    "science",
    "sciences",
    "scientific",
    "research",
    "institute",
    "university",
    "academy",
    "center",
    "centre",
    "bank",
    "banco",
    "systems",
    "system",
    "solutions",
    "products",
    "logistics",
    "shipping",
    "commercial",
    "commerce",
    "co",
    "ltd",
    "limited",
    "corporation",
    "corp",
    "factory",
    "plant",
    "works",
    "national",
    "state",
    "foundation",
    "association",
    "organization",
    "organisation",
    "branch",
    "office",
    "agency",
    "firm",
    "partners",
    "partnership",
    "ventures",
    "network",
    "networks",
    "communications",
    "communication",
    "energy",
    "oil",
    "gas",
    "petroleum",
    "chemical",
    "chemicals",
    "power",
    "electric",
    "aviation",
    "aerospace",
    "marine",
    "maritime",
    "transport",
    "logistic",
    "consulting",
    "management",
    "capital",
    "finance",
    "financial",
    "resources",
    "mining",
    "construction",
    "software",
    "semiconductor",
}
_TITLES = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "president",
    "general",
    "colonel",
    "col",
    "gen",
    "minister",
    "prince",
    "king",
    "emir",
    "prof",
    "eng",
    "engineer",
    "doctor",
    "sir",
    "lord",
    "haji",
    "hajji",
    "hadji",
    "sheikh",
    "shaikh",
    "sheik",
    "mullah",
    "mulla",
    "maulana",
    "maulvi",
}
# Particles of personal names and honorifics that are not titles of office; with the titles, all weigh less.
GENERIC_PERSON = _TITLES | {
    "bin",
    "ibn",
    "bint",
    "binti",
    "al",
    "el",
    "ul",
    "ud",
    "ad",
    "as",
    "ash",
    "ar",
    "az",
    "de",
    "da",
    "di",
    "do",
    "dos",
    "das",
    "del",
    "della",
    "van",
    "von",
    "der",
    "den",
    "ter",
    "la",
    "le",
    "y",
    "e",
    "sayed",
    "sayyid",
    "syed",
    "amir",
}
GENERIC_WEIGHT = 0.35
TITLE_WEIGHT = 0.15

_NUMBER_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "first": "1",
    "second": "2",
    "third": "3",
    "fourth": "4",
    "fifth": "5",
    "sixth": "6",
    "seventh": "7",
    "eighth": "8",
    "ninth": "9",
    "tenth": "10",
}
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"})
_ORDINAL = re.compile(r"^(\d+)(st|nd|rd|th|e|er|eme|ja|ya|yi|iy|go)$")
_APOSTROPHES = "'’‘ʼʹ`´ʻ′"
_SPLIT = re.compile(r"[^0-9a-z]+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df]+")


class UnscreenableName(ValueError):
    """A name that cannot be screened (empty, or longer than :data:`MAX_NAME_CHARS`)."""


@dataclass(frozen=True, slots=True)
class NameForm:
    original: str
    tokens: tuple[str, ...]
    folds: tuple[str, ...]
    weights: tuple[float, ...]
    legal: frozenset[str]
    numbers: frozenset[str]
    latinised: bool
    """The name was in another script and was transliterated."""
    han: bool = False
    """Chinese characters were read as pinyin (sounds of a transcribed foreign name are matched loosely)."""
    compact: str = ""
    """The phonetic keys written together (for names written without spaces)."""
    total_weight: float = 0.0


def clean_text(name: str) -> str:
    """NFKC, control and format characters removed, whitespace collapsed."""
    if name.isascii() and name.isprintable():  # the common case: NFKC changes nothing, no control characters
        return " ".join(name.split())
    text = unicodedata.normalize("NFKC", name)
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cc":
            out.append(" ")
        elif cat == "Cf":
            continue
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def _pinyin_run(run: str, person: bool) -> str:
    from pypinyin import lazy_pinyin

    syllables = [s for s in lazy_pinyin(run) if s.strip()]
    if person and 2 <= len(syllables) <= 4:
        return f" {syllables[0]} {''.join(syllables[1:])} "
    return " " + "".join(syllables) + " "


_FOLD_LETTERS = str.maketrans("ywqcz", "ivkks", "") | {ord("x"): "ks"}


@lru_cache(maxsize=65536)
def fold(token: str) -> str:
    """A phonetic key for a Latin token: spellings that transliteration varies map to one form."""
    t = token
    if t.isdigit():
        return t
    for a, b in (
        ("sch", "sh"),
        ("tch", "ch"),
        ("dzh", "j"),
        ("zh", "j"),
        ("ck", "k"),
        ("ph", "f"),
        ("kh", "h"),
        ("gh", "g"),
        ("dh", "d"),
        ("th", "t"),
        ("ou", "u"),
        ("oo", "u"),
        ("ee", "i"),
        ("ie", "i"),
        ("ey", "i"),
        ("iy", "i"),
        ("yy", "i"),
        ("ij", "i"),
        ("ai", "ai"),
        ("ts", "c"),
        ("tz", "c"),
        ("dj", "j"),
    ):
        t = t.replace(a, b)
    t = t.translate(_FOLD_LETTERS)
    out: list[str] = []
    for ch in t:
        if not out or out[-1] != ch:
            out.append(ch)
    folded = "".join(out)
    if len(folded) > 3 and folded.endswith("h"):
        folded = folded[:-1]
    return folded


def _latin_tokens(text: str) -> list[str]:
    low = text.lower()
    for ch in _APOSTROPHES:
        low = low.replace(ch, "")
    tokens = []
    for raw in _SPLIT.split(low):
        if not raw:
            continue
        if raw.isalpha():
            tokens.append(_NUMBER_WORDS.get(raw, raw))
            continue
        m = _ORDINAL.match(raw)
        if m:
            tokens.append(m.group(1))
            continue
        if raw in _NUMBER_WORDS:
            tokens.append(_NUMBER_WORDS[raw])
            continue
        letters = sum(ch.isalpha() for ch in raw)
        digits = len(raw) - letters
        if letters and digits and letters >= digits:
            raw = raw.translate(_LEET)
        tokens.append(raw)
    return tokens


def _strip_legal(tokens: list[str], person: bool) -> tuple[list[str], set[str]]:
    """Legal forms taken off (anywhere in an organisation's name; at either end of a person's)."""
    found: set[str] = set()
    out: list[str] = []
    i = 0
    n = len(tokens)
    while i < n:
        hit = None
        for size in range(min(_LEGAL_MAX, n - i), 0, -1):
            if person and i != 0 and i + size != n:
                continue
            phrase = tuple(tokens[i : i + size])
            cls = _LEGAL_INDEX.get(phrase)
            if cls is not None:
                hit = (size, cls)
                break
        if hit is not None and n > hit[0]:  # never strip the whole name
            found.add(hit[1])
            i += hit[0]
        else:
            out.append(tokens[i])
            i += 1
    return out, found


def check_name(name: str) -> str:
    """The cleaned name, or :class:`UnscreenableName` for an empty or over-long one."""
    if not isinstance(name, str):
        raise UnscreenableName("a name must be text")
    if len(name) > MAX_NAME_CHARS:
        raise UnscreenableName(f"the name has {len(name):,} characters; at most {MAX_NAME_CHARS:,} are screened")
    cleaned = clean_text(name)
    if not cleaned or not any(ch.isalnum() for ch in cleaned):
        raise UnscreenableName("empty name (nothing but spaces, punctuation or control characters)")
    return cleaned


@lru_cache(maxsize=131072)
def name_form(name: str, person: bool = False) -> NameForm:
    """The normalised form of ``name`` (``person``: read a name in Chinese characters as surname + given name)."""
    text = clean_text(name)
    legal: set[str] = set()
    for phrase, cls in _CJK_LEGAL:
        if phrase in text and text.replace(phrase, "").strip():
            text = text.replace(phrase, " ")
            legal.add(cls)
    latinised = False
    han = bool(_HAN.search(text))
    if not person and han:
        for term, english in _CJK_GENERIC:
            if term in text:
                text = text.replace(term, f" {english} ")
    if _HAN.search(text):
        whole = _HAN.fullmatch(text.replace(" ", "")) is not None  # a Chinese name, not a transcribed foreign one
        text = _HAN.sub(lambda m: _pinyin_run(m.group(0), person and whole), text)
        latinised = True
    if not text.isascii():
        ascii_text = unidecode(text)
        latinised = latinised or any(ord(ch) > 0x24F for ch in text)
        text = ascii_text
    tokens, found = _strip_legal(_latin_tokens(text), person)
    legal |= found
    generic = GENERIC_PERSON if person else GENERIC_ORG
    weights = tuple(
        TITLE_WEIGHT if (person and t in _TITLES) else (GENERIC_WEIGHT if t in generic or len(t) == 1 else 1.0)
        for t in tokens
    )
    return NameForm(
        original=name,
        tokens=tuple(tokens),
        folds=tuple(fold(t) for t in tokens),
        weights=weights,
        legal=frozenset(legal),
        numbers=frozenset(t for t in tokens if t.isdigit()),
        latinised=latinised,
        han=han,
        compact="".join(fold(t) for t in tokens),
        total_weight=sum(weights),
    )
