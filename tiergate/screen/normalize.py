"""Name normalisation for matching: one Latin, lower-case token form for a name in any script.

Steps, in order: Unicode NFKC; control and format characters dropped; CJK legal forms (有限公司,
株式会社, ...) taken off; Chinese characters, kana and Hangul read in Latin letters (:mod:`tiergate.screen.cjk`:
pinyin, Hepburn romaji, the Revised Romanization; their other readings, Sino-Korean and Japanese readings of
Chinese characters and McCune-Reischauer, are :func:`alternate_forms`), every other script to Latin (unidecode:
Cyrillic, Greek, Arabic, Hebrew, Thai, ...); case folded; apostrophes dropped and other punctuation made a space;
digits in words read as letters (``Ig0r``) and ordinals as numbers (``18th``); number words as digits; Latin
legal forms (``LLC``, ``Co., Ltd.``, ``GmbH``, ``OOO``, ``Open Joint Stock Company``, their
transliterated Russian and Ukrainian forms) taken off and kept as a legal-form class.

Each token also gets a phonetic key (``fold``) that maps spellings transliteration tends to vary
(``kh``/``h``, ``y``/``i``, ``w``/``v``, ``c``/``k``, doubled letters, ...) to one form.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache

from unidecode import unidecode

from tiergate.screen import cjk
from tiergate.screen.arabic import has_arabic, read_arabic, translate_org_words
from tiergate.screen.cjk import KOREAN_SURNAMES, SURNAME_SPELLINGS

MAX_NAME_CHARS = 1000

# Legal forms: phrase (already normalised, space separated) -> class. Longest phrases first.
_LEGAL = {
    "LLC": [
        "youxian zeren gongsi",  # pinyin of 有限责任公司
        "youxianzerengongsi",
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
        "gufen youxian gongsi",  # 股份有限公司
        "gufenyouxiangongsi",
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
        "youxian gongsi",  # 有限公司
        "youxiangongsi",
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
    "STATE": [
        "state corporation",
        "goskorporatsiia",
        "goskorporatsiya",
        "gosudarstvennaia korporatsiia",
        "gosudarstvennaya korporatsiya",
    ],
    "CORP": ["corporation", "corp", "incorporated", "inc", "company", "co", "cie", "gk", "godo kaisha"],
}
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
    "al",  # the Arabic article, as transcriptions write it (al-, el-, at-, ash-, wal-)
    "ul",
    "ash",
    "ad",
    "ar",
    "az",
    "wal",
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
    "production",
    "design",
    "bureau",
    "central",
    "special",
    "complex",
    "federal",
    "concern",
    "unmanned",
    "instrument",
    "instruments",
    "measuring",
    "automation",
    "optical",
    "security",
    "information",
    "shipbuilding",
    "named",
    "after",
} | {  # countries, their adjectives and the large cities that lead company names: they do not tell groups apart
    "china",
    "chinese",
    "prc",
    "russia",
    "russian",
    "iran",
    "iranian",
    "korea",
    "korean",
    "north",
    "south",
    "syria",
    "syrian",
    "cuba",
    "cuban",
    "belarus",
    "venezuela",
    "hong",
    "kong",
    "macau",
    "pakistan",
    "india",
    "turkey",
    "uae",
    "emirates",
    "beijing",
    "shanghai",
    "shenzhen",
    "guangzhou",
    "tianjin",
    "wuhan",
    "chengdu",
    "hangzhou",
    "nanjing",
    "xian",
    "harbin",
    "moscow",
    "tehran",
    "pyongyang",
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
    "maulavi",
    "mawlawi",
    "mawlavi",
    "moulvi",
    "molvi",
    "mufti",
    "qari",
    "hafiz",
    "sahib",
    "saheb",
    "sahab",
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
# The commonest surnames (Korean, Chinese, Vietnamese, South Asian): shared by millions, they do not tell persons
# apart; the given names must.
_COMMON_SURNAMES = {
    "kim",
    "lee",
    "li",
    "park",
    "choi",
    "jung",
    "kang",
    "cho",
    "yoon",
    "lim",
    "han",
    "oh",
    "shin",
    "kwon",
    "wang",
    "zhang",
    "liu",
    "chen",
    "yang",
    "huang",
    "zhao",
    "wu",
    "zhou",
    "xu",
    "sun",
    "ma",
    "zhu",
    "hu",
    "guo",
    "he",
    "lin",
    "gao",
    "luo",
    "zheng",
    "liang",
    "nguyen",
    "tran",
    "pham",
    "khan",
    "singh",
    "kumar",
}
GENERIC_PERSON |= _COMMON_SURNAMES
_SURNAME_LIKE = frozenset({*_COMMON_SURNAMES, *KOREAN_SURNAMES, *KOREAN_SURNAMES.values()})
_HYPHENATED = re.compile(r"(?<=[A-Za-z])-([A-Za-z]+)")
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
    warnings: tuple[str, ...] = ()
    """Evasion found in the name and undone (bidi controls, invisible characters, look-alike letters, spaced
    letters): named in a hit's explanation."""
    variants: tuple[str, ...] = ()
    """Further phonetic keys the name is indexed and looked up under (other romanisations of its script)."""
    abjad: bool = False
    """The name was written in Arabic script (:mod:`tiergate.screen.arabic` reads it; against a name that was not,
    the two are also compared by consonant outline)."""
    given_names: tuple[tuple[int, int], ...] = ()
    """The places of token pairs that are the two syllables of one East Asian given name written with a hyphen
    (``Myung-bak``, ``Jong-un``): one of them alone does not name the person."""
    person: bool = False
    """Read as a person's name (a query of unknown schema is not)."""
    surname: int = -1
    """The place of the family name in a person's name written in Latin letters (the last word, or the last before
    a comma: ``KONY, Joseph``), when it is a distinctive word of four letters or more; -1 otherwise."""

    def as_reading_of(self, name: str) -> NameForm:
        """This form as another reading of ``name`` (the explanation says so)."""
        note = f"{name!r} read as {self.original!r} (every letter a look-alike of a Latin one)"
        return replace(self, original=name, warnings=(*self.warnings, note))


_LRE, _RLE, _PDF, _LRO, _RLO = "\u202a\u202b\u202c\u202d\u202e"
_LRI, _RLI, _FSI, _PDI = "\u2066\u2067\u2068\u2069"
_OPENERS = frozenset((_LRE, _RLE, _LRO, _RLO, _LRI, _RLI, _FSI))
_CLOSERS = frozenset((_PDF, _PDI))
_MARKS = frozenset("\u200e\u200f\u061c")
BIDI_CONTROLS = _OPENERS | _CLOSERS | _MARKS
"""The explicit bidirectional formatting characters (embeddings, overrides, isolates, marks)."""
INVISIBLE = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0"  # grapheme joiner, fillers, braille blank
)
"""Characters that show nothing but are not format characters (a format character, Unicode category Cf, such as
a zero-width space or joiner, is removed too)."""
_MIRROR = str.maketrans("()[]{}<>", ")(][}{><")
_RTL = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")


def _display_order(text: str) -> str:
    """``text`` in the order a reader sees it, its bidirectional controls removed: a run under a right-to-left
    override (U+202E ... U+202C) of left-to-right letters is shown reversed, so it is read reversed (and a run of
    right-to-left letters under a left-to-right override likewise); embeddings, isolates and marks change no
    letter's order within a word and are dropped. An unterminated run ends with the text."""
    stack: list[tuple[str, list[str]]] = [("", [])]
    for ch in text:
        if ch in _OPENERS:
            stack.append((ch, []))
        elif ch in _CLOSERS:
            if len(stack) > 1:
                kind, parts = stack.pop()
                stack[-1][1].append(_render_run(kind, parts))
        elif ch not in _MARKS:
            stack[-1][1].append(ch)
    while len(stack) > 1:
        kind, parts = stack.pop()
        stack[-1][1].append(_render_run(kind, parts))
    return "".join(stack[0][1])


def _render_run(kind: str, parts: list[str]) -> str:
    run = "".join(parts)
    rtl = _RTL.search(run) is not None
    if (kind == _RLO and not rtl) or (kind == _LRO and rtl):
        return run[::-1].translate(_MIRROR)
    return run


def clean_text(name: str) -> str:
    """NFKC; bidirectional controls resolved to the order a reader sees, then removed; control, format
    (zero-width) and invisible characters removed; whitespace collapsed."""
    if name.isascii() and name.isprintable():  # the common case: NFKC changes nothing, no control characters
        return " ".join(name.split())
    text = unicodedata.normalize("NFKC", name)
    if not BIDI_CONTROLS.isdisjoint(text):
        text = _display_order(text)
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cc":
            out.append(" ")
        elif cat == "Cf" or ch in INVISIBLE or "\ufe00" <= ch <= "\ufe0f":
            continue
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def _script(ch: str) -> str:
    """The script of a letter, by its Unicode name's first word (LATIN, CYRILLIC, GREEK, CJK, HANGUL, ...)."""
    if ch.isascii():
        return "LATIN"
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else "UNKNOWN"


_LOOKALIKE_SCRIPTS = frozenset({"CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC", "LISU", "GEORGIAN"})
_WORD = re.compile(r"\w+")


def fold_lookalikes(text: str) -> tuple[str, tuple[str, ...]]:
    """Letters of other scripts that look like Latin ones (UTS #39 confusables: Cyrillic ``с``, Greek ``Ο``)
    read as those Latin letters where the reader would take them for Latin: in a word that mixes them with Latin
    letters, and in a word made only of look-alikes inside a name written otherwise in Latin script. A name
    wholly in Cyrillic or Greek is left to transliteration. Also returns what was found (for the explanation)."""
    if text.isascii():
        return text, ()
    from tiergate.screen.confusables import LATIN_LOOKALIKES

    scripts: set[str] = set()
    for ch in text:
        if ch.isalpha():
            scripts.add(_script(ch))
    if "LATIN" not in scripts or scripts.isdisjoint(_LOOKALIKE_SCRIPTS):
        return text, ()
    folded: dict[str, int] = {}

    def word(m: re.Match[str]) -> str:
        w = m.group(0)
        letters = [ch for ch in w if ch.isalpha()]
        kinds = {_script(ch) for ch in letters}
        if not (kinds & _LOOKALIKE_SCRIPTS):
            return w
        if "LATIN" not in kinds and not all(ch in LATIN_LOOKALIKES for ch in letters):
            return w
        out = []
        for ch in w:
            latin = LATIN_LOOKALIKES.get(ch)
            if latin is not None:
                folded[ch] = folded.get(ch, 0) + 1
                out.append(latin)
            else:
                out.append(ch)
        return "".join(out)

    result = _WORD.sub(word, text)
    names = ", ".join(sorted(s.title() for s in scripts))
    if not folded:
        return result, (f"letters of several scripts in one name ({names})",)
    shown = ", ".join(
        f"{ch} (U+{ord(ch):04X}) as {LATIN_LOOKALIKES[ch]}" + (f" x{n}" if n > 1 else "")
        for ch, n in sorted(folded.items())
    )
    return result, (f"letters of several scripts in one name ({names}); look-alike letters read as Latin: {shown}",)


_SPACED_LETTERS = re.compile(r"(?<![^\W_])(?:[^\W_](?:[.\-_·•*|/+~:,]|\s)+){3,}[^\W_](?![^\W_])")
_GAP = re.compile(r"[.\-_·•*|/+~:,\s]+")


def join_spaced_letters(text: str) -> tuple[str, tuple[str, ...]]:
    """Four or more single letters separated by punctuation or spaces (``H.u.a.w.e.i``, ``H u a w e i``) written
    as the word they spell, and what was joined (for the explanation)."""
    found: list[str] = []
    run = longest = 0
    for piece in _GAP.split(text):
        run = run + 1 if len(piece) == 1 else 0
        longest = max(longest, run)
    if longest < 4:
        return text, ()

    def join(m: re.Match[str]) -> str:
        word = _GAP.sub("", m.group(0))
        found.append(f"{m.group(0).strip()!r} read as {word!r}")
        return word

    result = _SPACED_LETTERS.sub(join, text)
    return result, tuple(f"separated letters joined: {f}" for f in found)


def name_readings(name: str) -> list[str]:
    """The ways to read ``name``: itself, and, when every letter of it is a letter of another script that looks
    like a Latin one (``НАУЕ`` in Cyrillic), those Latin letters too (such a name is screened both ways)."""
    if name.isascii():
        return [name]
    from tiergate.screen.confusables import LATIN_LOOKALIKES

    letters = [ch for ch in name if ch.isalpha()]
    if letters and all(ch in LATIN_LOOKALIKES for ch in letters):
        folded = "".join(LATIN_LOOKALIKES.get(ch, ch) for ch in name)
        if folded != name:
            return [name, folded]
    return [name]


def hostile_text(name: str) -> tuple[str, tuple[str, ...]]:
    """``name`` cleaned against evasion (:func:`clean_text`, :func:`fold_lookalikes`, :func:`join_spaced_letters`)
    and a line for each trick found: bidirectional controls, invisible characters, mixed scripts, spaced letters."""
    notes: list[str] = []
    if not (name.isascii() and name.isprintable()):
        bidi = sorted({f"U+{ord(ch):04X}" for ch in name if ch in BIDI_CONTROLS})
        if bidi:
            notes.append(f"bidirectional controls ({', '.join(bidi)}) resolved to the order a reader sees and removed")
        hidden = sorted(
            {
                f"U+{ord(ch):04X}"
                for ch in name
                if ch not in BIDI_CONTROLS and (unicodedata.category(ch) == "Cf" or ch in INVISIBLE)
            }
        )
        if hidden:
            notes.append(f"invisible characters ({', '.join(hidden)}) removed")
    text = clean_text(name)
    text, mixed = fold_lookalikes(text)
    text, joined = join_spaced_letters(text)
    return text, (*notes, *mixed, *joined)


_DOUBLED = re.compile(r"(.)\1+")
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
        ("eo", "o"),
        ("eu", "u"),
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
    folded = _DOUBLED.sub(r"\1", t.translate(_FOLD_LETTERS))
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


# Words as customs declarations and lists abbreviate them, and the pinyin of the generic words of Chinese company
# names, read as the full English word (a company's name only: ``Eng`` is a title in a person's).
ABBREVIATIONS = {
    **dict.fromkeys(["tech", "techn", "technol", "technologies", "jishu", "keji"], "technology"),
    **dict.fromkeys(["comm", "comms", "commun", "communication", "tongxin"], "communications"),
    **dict.fromkeys(["grp", "jituan"], "group"),
    **dict.fromkeys(["svc", "svcs", "srvc", "srvcs", "srvces", "servs", "service"], "services"),
    **dict.fromkeys(["intl", "internat", "guoji"], "international"),
    **dict.fromkeys(["mfg", "mfr", "manuf", "zhizao"], "manufacturing"),
    **dict.fromkeys(["elec", "electr", "electronic", "dianzi"], "electronics"),
    **dict.fromkeys(["eng", "engg", "gongcheng"], "engineering"),
    **dict.fromkeys(["ind", "inds", "indus", "industries", "industry", "gongye", "shiye"], "industrial"),
    **dict.fromkeys(["hldg", "hldgs", "holdings", "konggu"], "holding"),
    **dict.fromkeys(["dev", "devt", "fazhan"], "development"),
    **dict.fromkeys(["trdg", "maoyi"], "trading"),
    **dict.fromkeys(["equip", "shebei"], "equipment"),
    **dict.fromkeys(["sys", "system"], "systems"),
    **dict.fromkeys(["natl"], "national"),
    **dict.fromkeys(["inst"], "institute"),
    **dict.fromkeys(["univ", "daxue"], "university"),
    **dict.fromkeys(["acad"], "academy"),
    **dict.fromkeys(["assn", "assoc"], "association"),
    **dict.fromkeys(["invest", "touzi"], "investment"),
    **dict.fromkeys(["yanjiusuo", "yanjiuyuan"], "research institute"),
    **dict.fromkeys(["bandaoti"], "semiconductor"),
    **dict.fromkeys(["hangkong"], "aviation"),
    **dict.fromkeys(["hangtian"], "aerospace"),
}
_JOINED_PREFIXES = frozenset({"micro", "nano", "opto", "bio", "petro", "aero", "tele", "electro", "info", "radio"})

# The common words of Russian, Ukrainian and Belarusian organisation names, transliterated (as unidecode and the
# lists write them), by stem: a list gives the name transliterated (Nauchno-Issledovatelskiy Institut) or translated
# (Research Institute), so both are read in English. A stem meets a word only with an inflection after it.
_RUSSIAN_WORDS = {
    "nauchn": "scientific",
    "naukov": "scientific",
    "issledovatel": "research",
    "doslidn": "research",
    "proizvodstvenn": "production",
    "konstruktorsk": "design",
    "proektn": "design",
    "byuro": "bureau",
    "biuro": "bureau",
    "bjuro": "bureau",
    "zavod": "plant",
    "fabrik": "factory",
    "kombinat": "plant",
    "obedineni": "association",
    "obieedineni": "association",
    "obiednannia": "association",
    "tsentraln": "central",
    "centraln": "central",
    "gosudarstvenn": "state",
    "derzhavn": "state",
    "federaln": "federal",
    "pensionn": "pension",
    "fond": "fund",
    "kompani": "company",
    "grupp": "group",
    "grupa": "group",
    "aviatsionn": "aviation",
    "tekhnichesk": "technical",
    "tekhnichn": "technical",
    "tekhnologi": "technology",
    "kompleks": "complex",
    "sistem": "systems",
    "elektronn": "electronics",
    "elektronik": "electronics",
    "priborostroeni": "instrument",
    "pribor": "instruments",
    "spetsialn": "special",
    "institut": "institute",
    "akademi": "academy",
    "universitet": "university",
    "korporatsi": "corporation",
    "kontsern": "concern",
    "oboronn": "defense",
    "promyshlenn": "industrial",
    "promyslov": "industrial",
    "torgov": "trading",
    "energetichesk": "energy",
    "khimichesk": "chemical",
    "transportn": "transport",
    "morsk": "marine",
    "sudostroitel": "shipbuilding",
    "raketn": "missile",
    "kosmichesk": "space",
    "optichesk": "optical",
    "izmeritel": "measuring",
    "avtomatik": "automation",
    "svyaz": "communications",
    "sviaz": "communications",
    "informatsionn": "information",
    "bezopasnost": "security",
    "razviti": "development",
    "investitsionn": "investment",
    "bespilotn": "unmanned",
    "bezpilotn": "unmanned",
    "imeni": "named after",
}
_RUSSIAN_STEMS = sorted(_RUSSIAN_WORDS, key=len, reverse=True)
_RUSSIAN_ENDING = re.compile(r"[aeiouyjhkmgvs]{0,6}")


@lru_cache(maxsize=65536)
def russian_word(token: str) -> str | None:
    """The English of a common word of Russian-language organisation names, transliterated (``nauchno`` ->
    scientific, ``zavoda`` -> plant); None for any other token."""
    if len(token) < 4:
        return None
    for stem in _RUSSIAN_STEMS:
        if token.startswith(stem) and _RUSSIAN_ENDING.fullmatch(token, len(stem)):
            return _RUSSIAN_WORDS[stem]
    return None


def expand_abbreviations(tokens: list[str]) -> list[str]:
    """A company name's abbreviated words written out (``COMM`` -> communications, ``Tech.`` -> technology), pinyin
    syllables of a generic word joined and read in English (``Guo Ji`` -> international), the common words of
    Russian-language names read in English (:func:`russian_word`), and prefixes written apart joined (``Micro
    Electronics`` -> microelectronics)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if nxt is not None and (t + nxt) in ABBREVIATIONS and t not in ABBREVIATIONS:
            out.extend(ABBREVIATIONS[t + nxt].split())
            i += 2
            continue
        if nxt is not None and t in _JOINED_PREFIXES and nxt.isalpha() and len(nxt) > 3:
            joined = t + ABBREVIATIONS.get(nxt, nxt)
            out.append(joined)
            i += 2
            continue
        full = ABBREVIATIONS.get(t) or russian_word(t)
        out.extend(full.split() if full else [t])
        i += 1
    return out


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
    """The normalised form of ``name`` (``person``: read a name in Chinese characters or Hangul as surname + given
    name). East Asian scripts get their first reading (:func:`tiergate.screen.cjk.latin_reading`); the others are
    :func:`alternate_forms`, indexed under :func:`reading_keys`."""
    text, warnings = hostile_text(name)
    text, legal = cjk.strip_legal_forms(text)
    text, latinised, han = cjk.latin_reading(text, person)
    return _latin_form(name, text, person, legal, latinised, han, warnings)


def reading_keys(name: str, person: bool = False) -> tuple[str, ...]:
    """The phonetic keys of a name's other readings (:func:`alternate_forms`) that its first reading lacks: its
    tokens' and each adjacent pair's written together. A list name is indexed under them too."""
    others = alternate_forms(name, person)
    if not others:
        return ()
    keys: dict[str, None] = {}
    for other in others:
        keys.update(dict.fromkeys(f for f in other.folds if f))
        keys.update(dict.fromkeys(fold(a + b) for a, b in zip(other.tokens, other.tokens[1:], strict=False)))
    own = set(name_form(name, person).folds)
    return tuple(k for k in keys if k not in own)


_SCRIPT_ASIDE = re.compile(r"(?P<outside>[^()]+?)\s*\((?P<inside>[^()]+)\)\s*")


@lru_cache(maxsize=16384)
def alternate_forms(name: str, person: bool = False, japanese: bool = True) -> tuple[NameForm, ...]:
    """The other readings of a name written in Chinese characters or Hangul, normalised
    (:func:`tiergate.screen.cjk.alternate_readings`: Sino-Korean readings of Chinese characters, McCune-Reischauer
    for Hangul and, with ``japanese``, Japanese readings of kanji). A name given with its form in an East Asian
    script in parentheses (``Jin Tiesan (金铁三)``) is also read as each of the two alone, and names listed in one
    with the ideographic comma (``別称、有限会社CST、ザラ・アエロ``) each alone. A name in Arabic script with its
    Latin forms in brackets: each of them (:func:`_arabic_asides`). Empty for any other name."""
    if not cjk.east_asian(name):
        return _arabic_asides(name, person)
    text, warnings = hostile_text(name)
    parts = [text]
    aside = _SCRIPT_ASIDE.fullmatch(text)
    if aside is not None and cjk.east_asian(aside["outside"]) != cjk.east_asian(aside["inside"]):
        parts += [aside["outside"], aside["inside"]]
    parts += cjk.listed_names(text)
    out: list[NameForm] = []
    first: tuple[str, ...] | None = None
    for part in parts:
        part, legal = cjk.strip_legal_forms(part)
        reading, _, _ = cjk.latin_reading(part, person)
        readings = cjk.alternate_readings(part, person, japanese)
        if first is None:
            first = _latin_form(name, reading, person, set(legal), True, True, warnings).tokens
        else:
            readings = (reading, *readings)
        for other in readings:
            form = _latin_form(name, other, person, set(legal), True, True, warnings)
            if form.tokens and form.tokens != first and all(form.tokens != o.tokens for o in out):
                out.append(form)
    return tuple(out)


_ASIDE_NOTE = re.compile(r"\b(?:original script|sub-unit name|also known as|a\.k\.a\.?)\b", re.IGNORECASE)


def _arabic_asides(name: str, person: bool) -> tuple[NameForm, ...]:
    """A name in Arabic script given with its Latin forms in brackets (``أنصار الشريعة (Ansar al Charia)``), or the
    reverse, read as each of its names alone (the bracket's are separated by semicolons; notes such as "original
    script" left out); an organisation's name with its common words in English
    (:func:`tiergate.screen.arabic.translate_org_words`); empty for any other name."""
    if not has_arabic(name):
        return ()
    text, _ = hostile_text(name)
    aside = _SCRIPT_ASIDE.fullmatch(text) if "(" in text else None
    parts = []
    if aside is not None and has_arabic(aside["outside"]) != has_arabic(aside["inside"]):
        parts = [aside["outside"], *aside["inside"].split(";")]
    if not person:  # an organisation's common words in English
        translated = translate_org_words(text)
        if translated is not None:
            parts.append(translated)
    out: list[NameForm] = []
    for part in parts:
        part = " ".join(_ASIDE_NOTE.sub(" ", part).strip(" -–").split())
        if sum(ch.isalpha() for ch in part) >= 2:
            form = name_form(part, person)
            if form.tokens and all(form.tokens != o.tokens for o in out):
                out.append(form)
    return tuple(out)


_SYLLABLE = re.compile(r"(?:ch|sh|zh|kk|tt|pp|ss|jj|ts|[bcdfghjklmnpqrstxz])?[wy]?[aeiou]{1,3}(?:ng|[nmlkpt])?")
_HYPHEN_PAIR = re.compile(r"(?<![A-Za-z-])([A-Za-z]+)-([A-Za-z]+)(?![A-Za-z-])")


def _syllable_pairs(text: str, tokens: list[str]) -> tuple[tuple[int, int], ...]:
    """The places of adjacent tokens written as one hyphenated word of two East Asian syllables (``Myung-bak``)."""
    words = {(a.lower(), b.lower()) for a, b in _HYPHEN_PAIR.findall(text)}
    words = {(a, b) for a, b in words if _SYLLABLE.fullmatch(a) and _SYLLABLE.fullmatch(b)}
    if not words:
        return ()
    return tuple((i, i + 1) for i in range(len(tokens) - 1) if (tokens[i], tokens[i + 1]) in words)


def _given_syllables(text: str, tokens: list[str], person: bool) -> set[int]:
    """The places of tokens spelled like a common surname that are syllables of a given name: one written after
    a hyphen (Lee Myung-bak) and, in a person's name, every one after the first (Lee Myung Bak: one surname).
    They weigh as any given name (their spelling is read as one all the same: Bak as Park)."""
    after_hyphen = {w.lower() for w in _HYPHENATED.findall(text)} if "-" in text else set()
    places: set[int] = set()
    surname = False
    for i, t in enumerate(tokens):
        if t not in _SURNAME_LIKE:
            continue
        if t in after_hyphen or (person and surname):
            places.add(i)
        else:
            surname = True
    return places


def _latin_form(
    name: str,
    text: str,
    person: bool,
    legal: set[str],
    latinised: bool,
    han: bool,
    warnings: tuple[str, ...],
) -> NameForm:
    """The form of ``name`` from ``text``, its East Asian runs already read: other scripts transliterated,
    tokens, legal forms off, abbreviations written out, weights."""
    abjad = has_arabic(text)
    if abjad:
        text = read_arabic(text)
    if not text.isascii():
        ascii_text = unidecode(text)
        latinised = latinised or any(ord(ch) > 0x24F for ch in text)
        text = ascii_text
    tokens, found = _strip_legal(_latin_tokens(text), person)
    pairs = _syllable_pairs(text, tokens) if person and "-" in text else ()
    if not person:
        tokens = expand_abbreviations(tokens)
    given = _given_syllables(text, tokens, person)
    if person and given:  # Lee Myung Bak: Bak, a surname's spelling after the surname, ends the given name
        spaced = (
            (i - 1, i)
            for i in sorted(given)
            if i > 0 and tokens[i - 1] not in _SURNAME_LIKE and _SYLLABLE.fullmatch(tokens[i - 1])
        )
        pairs = tuple(sorted({*pairs, *(p for p in spaced if _SYLLABLE.fullmatch(tokens[p[1]]))}))
    tokens = [SURNAME_SPELLINGS.get(t, t) for t in tokens]
    legal = legal | found
    generic = GENERIC_PERSON if person else GENERIC_ORG
    weights = tuple(
        TITLE_WEIGHT
        if (person and t in _TITLES)
        else (GENERIC_WEIGHT if (t in generic and i not in given) or len(t) == 1 else 1.0)
        for i, t in enumerate(tokens)
    )
    surname = -1
    if person and not latinised and not abjad and not pairs and len(tokens) >= 2:
        place = len(_latin_tokens(text.split(",", 1)[0])) - 1 if "," in text else len(tokens) - 1
        if 0 <= place < len(tokens) and weights[place] >= 1.0 and tokens[place].isalpha() and len(tokens[place]) >= 4:
            surname = place
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
        warnings=warnings,
        abjad=abjad,
        given_names=pairs,
        person=person,
        surname=surname,
    )


def names_no_one(name: str) -> bool:
    """Whether ``name`` is nothing but punctuation, spaces and control or format characters (it names no one, so a
    consignee written so has no hits). Letters, digits and symbols (an enclosed letter such as U+24BD or U+1F157 is
    a symbol) name someone: such a name is screened, and refused when it cannot be, never waved through."""
    return all(unicodedata.category(ch)[0] in "PZC" for ch in name)
