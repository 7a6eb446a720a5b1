"""East Asian names in Latin letters: Chinese characters (Han), Hangul and Japanese kana and kanji.

One written name has several readings, and the lists spell each one their own way:

- **Chinese characters** are read as Mandarin pinyin (``pypinyin``): a person's 2-4 characters as surname + given
  name (``李明`` -> li ming), a company's generic words (技术, 集团...) and legal forms (有限公司...) in the English
  the lists use. The same characters written by a Korean are read in **Sino-Korean** (``金铁三`` -> Kim Cheol Sam,
  the Hanja table of the ``hanja`` package, a surname's own reading first: 金 is Kim as a surname, geum otherwise),
  and written by a Japanese in **Japanese** (``安倍晋三`` -> Abe Shinzo, ``pykakasi``'s dictionary). Which one the
  writer meant cannot be told from the characters, so pinyin is the first reading and the others are alternatives
  (:func:`alternate_readings`), each scored and the best kept.
- **Hangul** is read syllable by syllable in the Revised Romanization (a person's name as surname + one token per
  given-name syllable: ``김정은`` -> kim jeong eun, meeting Kim Jong Un and Kim Jong-un), the surname in its usual
  English spelling (:data:`KOREAN_SURNAMES`); McCune-Reischauer, the spelling of North Korean names on the lists
  (``Pak Pong Ju``, ``Kim Chol``), and the passport spelling of eo as u (``Lee Byung-chul``) are alternative
  readings (:func:`hangul_run` with ``mccune`` or ``passport``).
- **Kana** (with any kanji among it) is Japanese: read in Hepburn romaji, long vowels written once as passports
  and lists do (``とうしば`` -> toshiba); katakana loanwords common in company names (グループ, システム...) in English.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df]+")
HANGUL = re.compile(r"[\uac00-\ud7a3]+")
_KANA_CHARS = "\u3041-\u3096\u309d\u309e\u30a1-\u30fa\u30fc-\u30fe\uff66-\uff9f"
KANA = re.compile(f"[{_KANA_CHARS}]")
_JAPANESE_RUN = re.compile(f"[{_KANA_CHARS}\u3005\u3006\u30f6\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_KANA_RUN = re.compile(f"[{_KANA_CHARS}]+")
_EAST_ASIAN = re.compile(f"[{_KANA_CHARS}\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7a3]")
_WRITTEN_TOGETHER = f"{_KANA_CHARS}\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_GAP = re.compile(f"(?<=[{_WRITTEN_TOGETHER}]) +(?=[{_WRITTEN_TOGETHER}])")

# Legal forms written in Chinese characters, kana or Hangul: phrase -> class. Longest first.
LEGAL_FORMS = [
    ("有限责任公司", "LLC"),
    ("有限責任公司", "LLC"),
    ("股份有限公司", "JSC"),
    ("公開株式会社", "JSC"),
    ("有限公司", "LTD"),
    ("株式会社", "JSC"),
    ("有限会社", "LLC"),
    ("合同会社", "LLC"),
    ("公司", "CORP"),
    ("会社", "CORP"),
    ("會社", "CORP"),
    ("유한회사", "LLC"),
    ("주식회사", "JSC"),
]
# Generic words of Chinese and Japanese company names, read as the English words list entries use (so that
# 华为技术有限公司 reads "huawei technology" and meets "Huawei Technologies Co., Ltd.").
_GENERIC = {
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
    "产业": "industrial",
    "產業": "industrial",
    "産業": "industrial",
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
    "信息": "information",
    "資訊": "information",
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
    "海运": "shipping",
    "海運": "shipping",
    "航运": "shipping",
    "航運": "shipping",
    "船务": "shipping",
    "船務": "shipping",
    "香港": "hong kong",
    "朝鲜": "korea",
    "朝鮮": "korea",
    "中国": "china",
    "中國": "china",
    # Japanese company words (kanji, and katakana loanwords)
    "電機": "electric",
    "電気": "electric",
    "重工業": "heavy industries",
    "商事": "trading",
    "製作所": "works",
    "工場": "plant",
    "グループ": "group",
    "システムズ": "systems",
    "システム": "systems",
    "センター": "center",
    "テクノロジーズ": "technology",
    "テクノロジー": "technology",
    "エレクトロニクス": "electronics",
    "インターナショナル": "international",
    "コーポレーション": "corporation",
    "ホールディングス": "holding",
    "エンジニアリング": "engineering",
    "インダストリーズ": "industrial",
    "トレーディング": "trading",
}
GENERIC_WORDS = sorted(_GENERIC.items(), key=lambda kv: -len(kv[0]))

# Korean surnames in their usual English spellings: the Revised Romanization, McCune-Reischauer and the
# spellings passports use read as one (Gim/Kim, I/Yi/Lee/Rhee/Ri, Bak/Pak/Park, Choe/Choi ...).
KOREAN_SURNAMES = {
    **dict.fromkeys(["gim", "kim"], "kim"),
    **dict.fromkeys(["i", "yi", "lee", "rhee", "ri", "rhie", "lie"], "lee"),
    **dict.fromkeys(["bak", "pak", "park", "bag"], "park"),
    **dict.fromkeys(["choe", "choi", "chwe"], "choi"),
    **dict.fromkeys(["gang", "kang"], "kang"),
    **dict.fromkeys(["yun", "yoon"], "yoon"),
    **dict.fromkeys(["im", "lim", "rim"], "lim"),
    **dict.fromkeys(["sin", "shin"], "shin"),
    **dict.fromkeys(["gwon", "gweon", "kwon"], "kwon"),
    **dict.fromkeys(["ryu", "yu", "yoo", "rhyu"], "yoo"),
    **dict.fromkeys(["mun", "moon"], "moon"),
    **dict.fromkeys(["baek", "paek", "paik", "baeg"], "baek"),
    **dict.fromkeys(["no", "noh", "roh"], "roh"),
    **dict.fromkeys(["gu", "ku", "koo"], "koo"),
}
SURNAME_SPELLINGS = {
    k: v
    for k, v in KOREAN_SURNAMES.items()
    if k not in {"i", "bag", "baeg", "im", "sin", "no", "mun", "gang", "gu", "yu", "lie", "ku"}
}
"""The surname spellings read as one in every name, whatever its schema (a query's schema is often unknown):
those that are not also common words."""

# A surname's own Sino-Korean reading where it differs from the character's usual one (金 is geum, but Kim).
_HANJA_SURNAMES = {"金": "김", "李": "이", "林": "임", "柳": "유", "劉": "유", "刘": "유", "盧": "노", "卢": "노"}
_READINGS = Path(__file__).parent / "readings" / "hanja.txt.gz"


@cache
def _hanja_table() -> dict[str, str]:
    """Character -> Hangul syllable (``bench/make_hanja_readings.py`` writes the file)."""
    text = gzip.decompress(_READINGS.read_bytes()).decode("utf-8")
    return dict(zip(text[0::2], text[1::2], strict=True))


def east_asian(text: str) -> bool:
    """Whether ``text`` has Chinese characters, kana or Hangul (and so has more than one reading to try)."""
    return not text.isascii() and _EAST_ASIAN.search(text) is not None


def strip_legal_forms(text: str) -> tuple[str, set[str]]:
    """``text`` with the legal forms written in Chinese characters, kana or Hangul taken off (never the whole name),
    spaces between two such characters first removed (``有限 会社``), and the legal-form classes found."""
    found: set[str] = set()
    if not east_asian(text):
        return text, found
    text = _CJK_GAP.sub("", text)
    for phrase, cls in LEGAL_FORMS:
        if phrase in text and text.replace(phrase, "").strip():
            text = text.replace(phrase, " ")
            found.add(cls)
    return text, found


_ENUMERATION = re.compile(r"[、､;；]")
_AKA = re.compile(r"^\s*[(（]?\s*(?:別称|別名|又名|亦称|亦稱|별칭)?\s*|\s*[)）]?\s*$")


def listed_names(text: str) -> list[str]:
    """The names a text lists with the ideographic comma (``（別称、有限会社TsST、有限会社CST）``: also known as
    TsST LLC, CST LLC), a leading "also known as" and the brackets taken off; empty when it lists none."""
    if "、" not in text and "､" not in text:
        return []
    parts = [_AKA.sub("", p) for p in _ENUMERATION.split(text)]
    return [p for p in parts if p and any(ch.isalnum() for ch in p)]


def _generic_words(text: str) -> str:
    for term, english in GENERIC_WORDS:
        if term in text:
            text = text.replace(term, f" {english} ")
    return text


# Hangul: initial consonants, vowels and final consonants of a syllable, in the Revised Romanization and in
# McCune-Reischauer (without its breves and apostrophes, as lists write it).
_INITIAL_RR = ("g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h")
_INITIAL_MR = ("k", "kk", "n", "t", "tt", "r", "m", "p", "pp", "s", "ss", "", "ch", "tch", "ch", "k", "t", "p", "h")
_INITIAL_MR_VOICED = (
    "g",
    "kk",
    "n",
    "d",
    "tt",
    "r",
    "m",
    "b",
    "pp",
    "s",
    "ss",
    "",
    "j",
    "tch",
    "ch",
    "k",
    "t",
    "p",
    "h",
)
_VOWEL_RR = (
    *("a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae"),
    *("oe", "yo", "u", "wo", "we", "wi", "yu", "eu", "ui", "i"),
)
_VOWEL_MR = (
    *("a", "ae", "ya", "yae", "o", "e", "yo", "ye", "o", "wa", "wae"),
    *("oe", "yo", "u", "wo", "we", "wi", "yu", "u", "ui", "i"),
)
_FINAL = (
    *("", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l"),
    *("p", "l", "m", "p", "p", "t", "t", "ng", "t", "t", "k", "t", "p", "t"),
)
_SH_VOWELS = frozenset({"i", "wi", "ya", "yae", "yeo", "ye", "yo", "yu"})


_ROMANISED_SYLLABLES = re.compile(
    r"(?:(?:kk|tt|pp|ss|jj|tch|ch|sh|[gkndtrlmbpsjh])?"
    r"(?:yeo|yae|wae|eo|eu|ae|ya|ye|yo|yu|wa|wo|we|wi|oe|ui|a|e|i|o|u)(?:ng|[nmlkpt])?)+"
)
# Letters the romanisations (above: Revised Romanization, McCune-Reischauer voiced and voiceless, passports) write
# for one Hangul letter, made one: ㄱ g/k, ㄷ d/t, ㅂ b/p, ㅈ ㅊ j/ch, ㅅ s/sh, ㄹ r/l; ㅓ ㅗ ㅜ ㅡ eo/o/u/eu.
_KOREAN_KEY = (
    ("tch", "j"),
    ("ch", "j"),
    ("jj", "j"),
    ("kk", "g"),
    ("tt", "d"),
    ("pp", "b"),
    ("ss", "s"),
    ("sh", "s"),
    ("yeo", "yo"),
    ("eo", "o"),
    ("eu", "o"),
    ("yu", "yo"),
    ("u", "o"),
)
_KOREAN_LETTERS = str.maketrans("ktpr", "gdbl")


@lru_cache(maxsize=16384)
def korean_key(token: str) -> str | None:
    """One key for the spellings of one romanised Korean syllable or syllables in Latin letters (Revised
    Romanization, McCune-Reischauer, passports: Jin and Chin, Chol and Jol, Myong and Myung, Song and Sung); None
    for a token that is not romanised Korean syllables."""
    if not _ROMANISED_SYLLABLES.fullmatch(token):
        return None
    for a, b in _KOREAN_KEY:
        token = token.replace(a, b)
    return token.translate(_KOREAN_LETTERS)


def hangul_syllable(ch: str, mccune: bool = False, initial: bool = True) -> str:
    """One Hangul syllable in Latin letters: the Revised Romanization, or McCune-Reischauer (``mccune``; its
    consonants voiceless at the start of a word, ``initial``, and voiced within one; ``s`` before ``i`` as ``sh``)."""
    code = ord(ch) - 0xAC00
    lead, vowel, final = code // 588, (code % 588) // 28, code % 28
    if not mccune:
        return _INITIAL_RR[lead] + _VOWEL_RR[vowel] + _FINAL[final]
    head = (_INITIAL_MR if initial else _INITIAL_MR_VOICED)[lead]
    if lead == 9 and _VOWEL_RR[vowel] in _SH_VOWELS:
        head = "sh"
    return head + _VOWEL_MR[vowel] + _FINAL[final]


def _passport(syllable: str) -> str:
    """A syllable as South Korean passports write eo (``myeong`` -> myung, ``cheol`` -> chul, ``seong`` -> sung)."""
    return syllable.replace("eo", "u")


def hangul_run(run: str, person: bool, mccune: bool = False, passport: bool = False) -> str:
    """A run of Hangul in Latin letters: a person's 2-4 syllable name as surname + given-name syllables joined by
    hyphens (``김정은`` -> kim jeong-eun, meeting Kim Jong Un, Kim Jong-un and Kim Jongun); other words written
    together."""
    if person and 2 <= len(run) <= 4:
        surname = hangul_syllable(run[0])
        given = [hangul_syllable(ch, mccune, initial=i == 0) for i, ch in enumerate(run[1:])]
        if passport:
            given = [_passport(g) for g in given]
        return f" {KOREAN_SURNAMES.get(surname, surname)} {'-'.join(given)} "
    word = "".join(hangul_syllable(ch, mccune, initial=i == 0) for i, ch in enumerate(run))
    return f" {_passport(word) if passport else word} "


def pinyin_run(run: str, person: bool) -> str:
    """A run of Chinese characters in pinyin: a person's 2-4 characters as surname + given name written together
    (``毛泽东`` -> mao zedong), other words written together (``华为`` -> huawei)."""
    from pypinyin import lazy_pinyin

    syllables = [s for s in lazy_pinyin(run) if s.strip()]
    if person and 2 <= len(syllables) <= 4:
        return f" {syllables[0]} {''.join(syllables[1:])} "
    return " " + "".join(syllables) + " "


def hanja_to_hangul(run: str, person: bool) -> str:
    """A run of Chinese characters in their Sino-Korean readings, in Hangul (a person's surname first in its own
    reading); characters the table lacks are kept."""
    table = _hanja_table()
    head = _HANJA_SURNAMES.get(run[0]) if person else None
    out = [head or table.get(run[0], run[0]), *(table.get(ch, ch) for ch in run[1:])]
    return "".join(out)


_LONG_OU = re.compile(r"o[ou](?![aeiou])")


def _hepburn(word: str) -> str:
    """Hepburn romaji as passports and lists write it: long vowels once (``toushiba`` -> toshiba, ``oosaka`` ->
    osaka, ``yuuki`` -> yuki), a vowel before another one kept (``inoue``)."""
    return _LONG_OU.sub("o", word).replace("uu", "u").replace("'", "")


@cache
def _kakasi() -> Any:
    """pykakasi's converter (loads its kanji dictionary, about a second: only when a name has kanji to read)."""
    import pykakasi

    return pykakasi.kakasi()  # type: ignore[no-untyped-call]


def _kana_reading(run: str) -> str:
    import jaconv

    return str(jaconv.kana2alphabet(jaconv.kata2hira(run.replace("ー", ""))))


_EPENTHETIC = re.compile(r"(?<=[bcdfghjkmnprstvwz])u\b")


def japanese_run(run: str, person: bool, foreign: bool = False) -> str:
    """A run of kanji and kana in Hepburn romaji (kana alone by ``jaconv``; kanji by ``pykakasi``'s dictionary).
    A person's name of 2-4 kanji read as one word is split family name + given name (most family names have
    two kanji; one of a two-kanji name). ``foreign``: kana alone transcribe a foreign word, whose final consonant
    Japanese follows with a u that the word lacks (``イジュマシュ`` -> ijumash, for Izhmash)."""
    if not HAN.search(run):
        word = _hepburn(_kana_reading(run))
        return f" {_EPENTHETIC.sub('', word) if foreign else word} "
    words = [
        _EPENTHETIC.sub("", _hepburn(item["hepburn"]))
        if foreign and not HAN.search(item["orig"])
        else _hepburn(item["hepburn"])
        for item in _kakasi().convert(run.replace("ー", ""))
    ]
    words = [w for w in words if w.strip()]
    if person and len(words) == 1 and 2 <= len(run) <= 4 and HAN.fullmatch(run):
        cut = 1 if len(run) == 2 else 2
        words = [_hepburn("".join(i["hepburn"] for i in _kakasi().convert(part))) for part in (run[:cut], run[cut:])]
    return " " + " ".join(words) + " "


def latin_reading(text: str, person: bool, foreign: bool = False) -> tuple[str, bool, bool]:
    """The first reading of ``text``'s East Asian runs (legal forms already taken off): Japanese where it has kana,
    else pinyin for Chinese characters; Hangul in the Revised Romanization. Returns (text, whether anything was
    read, whether the name is read from characters whose sounds transcribe a foreign name loosely: Han or kana)."""
    if not east_asian(text):
        return text, False, False
    latinised = False
    loose = HAN.search(text) is not None or KANA.search(text) is not None
    if not person and loose:
        text = _generic_words(text)
    if KANA.search(text):
        whole = _JAPANESE_RUN.fullmatch(text.replace(" ", "")) is not None
        text = _JAPANESE_RUN.sub(lambda m: japanese_run(m.group(0), person and whole, foreign), text)
        latinised = True
    if HAN.search(text):
        whole = HAN.fullmatch(text.replace(" ", "")) is not None  # a Chinese name, not a transcribed foreign one
        text = HAN.sub(lambda m: pinyin_run(m.group(0), person and whole), text)
        latinised = True
    if HANGUL.search(text):
        whole = HANGUL.fullmatch(text.replace(" ", "")) is not None
        text = HANGUL.sub(lambda m: hangul_run(m.group(0), person and whole), text)
        latinised = True
    return text, latinised, loose


def _hangul_reader(person: bool, mccune: bool, passport: bool) -> Callable[[re.Match[str]], str]:
    return lambda m: hangul_run(m.group(0), person, mccune, passport)


@lru_cache(maxsize=16384)
def alternate_readings(text: str, person: bool, japanese: bool = True) -> tuple[str, ...]:
    """The other readings of ``text``'s East Asian runs (legal forms already taken off), in Latin letters:
    Chinese characters without kana in Sino-Korean (Revised Romanization and McCune-Reischauer) and, with
    ``japanese``, in Japanese; Hangul in McCune-Reischauer and as South Korean passports write it (eo as u:
    Myung, Chul, Sung); kana without the u Japanese adds after a foreign word's final consonant. Empty for a name
    without such runs."""
    if not east_asian(text):
        return ()
    if KANA.search(text):
        return (latin_reading(text, person, foreign=True)[0],)
    out: list[str] = []
    has_han = HAN.search(text) is not None
    base = _generic_words(text) if has_han and not person else text
    if has_han:
        whole = HAN.fullmatch(base.replace(" ", "")) is not None
        korean = HAN.sub(lambda m: hanja_to_hangul(m.group(0), person and whole), base)
    else:
        korean = base
    if has_han or HANGUL.search(text):
        whole = HANGUL.fullmatch(korean.replace(" ", "")) is not None
        styles = [(False, False), (True, False), (False, True)] if has_han else [(True, False), (False, True)]
        for mccune, passport in styles:
            reading = HANGUL.sub(_hangul_reader(person and whole, mccune, passport), korean)
            if HAN.search(reading):  # characters without a Korean reading
                reading = HAN.sub(lambda m: pinyin_run(m.group(0), False), reading)
            out.append(reading)
    if has_han and japanese:
        whole = HAN.fullmatch(base.replace(" ", "")) is not None
        out.append(_JAPANESE_RUN.sub(lambda m: japanese_run(m.group(0), person and whole), base))
    return tuple(dict.fromkeys(out))
