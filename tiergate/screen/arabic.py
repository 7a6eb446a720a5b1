"""Arabic-script names (Arabic, Persian, Urdu, Pashto letters) against their usual English transcriptions.

Two steps, both plain functions of text:

1. **Reading** (:func:`read_arabic`, used by :func:`tiergate.screen.normalize.name_form`): each Arabic-script word
   is made ready for transliteration and transliterated: the article ``ال`` written apart (``al``), a word's
   initial alef or ayin read as its vowel (``عبد`` -> ``abd``, not ``bd``), taa marbuta and alef maqsura as ``a``,
   ``الله`` as ``allah``, the compound ``عبدال...`` (``عبدالرحمان``) split after ``abd``, Persian and Urdu
   letters (``ک ی ھ ۀ ے``) read as their Arabic counterparts, then unidecode for the rest. The script writes
   no short vowels, so ``محمد`` reads ``mhmd``.

2. **Consonant outline** (:func:`abjad_form`, used by :func:`tiergate.screen.match.name_score` only when one of
   the two names was written in Arabic script): both names are rewritten as the script writes them, so that
   a transcription's supplied vowels and spelling habits stop mattering. Each token becomes its consonant classes
   (``kh`` = ``x``, ``sh``/``ch`` = ``$``, ``th`` = ``t``, ``dh`` = ``d``, ``gh`` = ``g``, ``q``/``c``/``k`` = ``k``,
   ``p`` = ``b``, ``v`` = ``f``), with vowels and the long-vowel letters ``w`` and ``y`` left out, doubled letters
   once (shadda is not written), a final ``h`` dropped (taa marbuta), and a word-initial vowel kept as ``a``
   (the alef or ayin the script writes): Mohamed, Muhammad, Mohammad and ``محمد`` all give ``mhmd``; Khaled and
   ``خالد`` ``xld``; Ibrahim and ``إبراهيم`` ``abrhm``. Compounds are split the same way on both sides
   (Abdullah, Abd Allah, Abdul-lah, Abdallah -> ``abd allah``; Abdulrahman, Abdur Rahman, Abdel Rahman ->
   ``abd rahman``; Shamsuddin, Shams al-Din -> ``shams din``; Matiullah -> ``mati allah``); the article in all
   its spellings (al-, el-, ul-, and the sun-letter forms ash-, ad-, ar-, as-, at-, az-, an-: ash-Shami) is
   left out, and ``bin``/``ibn``/``ben`` are one particle.

The outline forms are then scored by the same aligner as every other name (``match.name_score``); the better of
the plain and the outline score is kept, and the explanation says which tokens met by outline. One rule is
particular to Arabic names, which chain given names (given name, father's, grandfather's, family): a name that is
another's without its first given name (``علي صدام حسين التكريتي`` against *Saddam Hussein al-Tikriti*) is the
father's or the son's name, not the same person's, and its outline score is cut by :data:`NASAB_CUT`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz.distance import Indel
from unidecode import unidecode

if TYPE_CHECKING:
    from tiergate.screen.normalize import NameForm

ARABIC_WORD = re.compile(r"[\u0621-\u064a\u0671-\u06d3\u06fa-\u06ff]+")
"""A word in Arabic script (Arabic letters, and the Persian, Urdu and Pashto ones)."""
_INITIAL_VOWEL = frozenset("اأإآعٱ")
_LETTERS = str.maketrans(
    {
        "ة": "a",  # taa marbuta
        "ى": "a",  # alef maqsura
        "ء": "",  # hamza
        "أ": "",
        "إ": "",
        "ئ": "y",
        "ؤ": "w",
        "ک": "ك",  # Persian kaf (unidecode reads it kh)
        "ی": "ي",  # Persian yeh
        "ے": "ي",  # Urdu yeh barree
        "ھ": "ه",  # Urdu heh doachashmee
        "ۀ": "ه",
        "ہ": "ه",
        "ٹ": "ت",
        "ڈ": "د",
        "ڑ": "ر",
    }
)

OUTLINE_SAME = 0.93
"""A token pair with the same consonant outline (and no contrary evidence from rigour's name symbols)."""
SYMBOL_SAME = 0.95
"""A token pair that rigour's name symbols call one name (Wikidata's given- and family-name items, across scripts)."""
OUTLINE_NEAR = 0.85
"""A long outline (four consonants or more) one consonant away from the other (:data:`OUTLINE_NEAR_MIN`)."""
OUTLINE_NEAR_MIN = 0.85
RIGOUR_VETO = True
"""Two tokens with one outline do not meet when rigour knows them as names of *different* Wikidata name items and
their last syllables' long vowels disagree (:func:`last_vowel`): محمد is not Mahmoud (both mhmd), حسن not
Hussein (both hsn). rigour's items alone would part too many spellings of one name (Kamel and كمال, Aiman and
أيمن are in different items), so both signals are needed."""
NASAB_CUT = 0.7
"""Factor on an outline score when the longer name's first given name is missing from the shorter one."""


def read_arabic_word(word: str) -> str:
    """One Arabic-script word made ready for transliteration (see the module's docstring), still in Arabic
    letters apart from the article (``al ``) and supplied initial vowels."""
    if word in ("الله", "لله"):
        return "allah"
    article = ""
    if word.startswith("عبدال") and len(word) > 6:  # عبدالرحمان: Abd al-Rahman written as one word
        return "abd " + read_arabic_word(word[3:])
    if word.startswith("ال") and len(word) > 3:
        article, word = "al ", word[2:]
    if word[0] in _INITIAL_VOWEL:
        word = "a" + word[1:]
    return article + word.translate(_LETTERS)


def read_arabic(text: str) -> str:
    """``text`` with each Arabic-script word read (:func:`read_arabic_word`); other letters untouched (unidecode
    transliterates what is left, in ``name_form``)."""
    return ARABIC_WORD.sub(lambda m: " " + read_arabic_word(m.group(0)) + " ", text)


def has_arabic(text: str) -> bool:
    return ARABIC_WORD.search(text) is not None


# --- consonant outlines --------------------------------------------------------------------------------------

ARTICLES = frozenset({"al", "el", "ul", "il", "ash", "as", "ad", "ar", "at", "az", "an", "ath", "adh", "ed", "es"})
"""The article as transcriptions write it, with the sun-letter assimilations (ash-Shami for al-Shami)."""
_BIN = frozenset({"bin", "ibn", "ben", "bn", "binti", "bint", "bent"})
_ABU = frozenset({"abu", "abou", "abo", "aboo", "bou", "abi"})
_ABD = re.compile(r"^(abd|abdu|abdul|abdel|abdal|abdil|abdol|abdoul|abdur|abdus|abdush|abdaz|abdar|abed|abdi)$")
_ABD_JOINED = re.compile(r"^abd(?:ul|el|al|il|ol|oul|ur|us|ush|ar|as|az|u|e|o)?(?P<rest>[a-z]{3,})$")
_ALLAH_JOINED = re.compile(r"^(?P<stem>[a-z]{3,}?)(?:ullah|ulla|ollah|olla|allah|alla|illah|ulah)$")
_DIN_JOINED = re.compile(r"^(?P<stem>[a-z]{3,}?)(?:uddin|uddeen|oddin|eddin|eddine|addin|iddin|udin|edin)$")
_ALLAH = frozenset({"allah", "alla", "ullah", "ulla", "lah", "llah", "ollah", "olla", "illah"})
_DIN = frozenset({"din", "deen", "dine", "uddin", "eddin", "eddine", "addin", "iddin", "oddin"})
_DIGRAPHS = (
    ("sch", "$"),
    ("sh", "$"),
    ("ch", "$"),
    ("kh", "x"),
    ("gh", "j"),
    ("th", "t"),
    ("dh", "d"),
    ("ph", "f"),
    ("dj", "j"),
    ("zh", "j"),
    ("ck", "k"),
)
_CLASSES = str.maketrans({"q": "k", "c": "k", "p": "b", "v": "f", "z": "d", "g": "j"})
_LONG_VOWELS = frozenset("aeiouyw")
_DOUBLE = re.compile(r"(.)\1+")
# Arabic-script letters -> the consonant class a transcription's letters get (above); "" for the long vowels'
# letters, hamza and ayin (a word-initial alef or ayin is the vowel ``a``); w and y are kept for the last syllable's
# vowel (:func:`last_vowel`) and left out of the outline.
_ARABIC_CLASSES = {
    **dict.fromkeys("اأإآٱءئؤعة", ""),
    **dict.fromkeys("بپ", "b"),
    **dict.fromkeys("تطثٹ", "t"),
    **dict.fromkeys("جغگژ", "j"),
    "چ": "$",
    "ش": "$",
    **dict.fromkeys("حهھۀہ", "h"),
    "خ": "x",
    **dict.fromkeys("دذضظزڈ", "d"),
    **dict.fromkeys("رڑ", "r"),
    **dict.fromkeys("سص", "s"),
    "ف": "f",
    **dict.fromkeys("قكک", "k"),
    "ل": "l",
    "م": "m",
    "ن": "n",
    "و": "w",
    **dict.fromkeys("يیىے", "y"),
}
PARTICLE_WEIGHT = 0.35
BIN_WEIGHT = 0.15
"""``bin``/``ibn`` (son of): transcriptions write it or leave it out at will, so an unmatched one costs little."""
PLAIN_NEAR = 0.8
"""Two transcriptions' tokens of five letters or more spelled this alike, with outlines of one length, meet at that
similarity even when their outlines differ by a consonant (Dabisi and Dabidi: a misspelling, not another name)."""


@dataclass(frozen=True, slots=True)
class Piece:
    """One part of a name as an abjad writes it."""

    text: str
    """As shown in the explanation (a transcription's token; an Arabic word's reading)."""
    outline: str
    weight: float
    source: str
    """The word rigour is asked about (the Arabic word itself, or the transcription's token)."""
    vowel: str
    """The long vowel of the last syllable (:func:`last_vowel`)."""


def _finish(consonants: str, initial_vowel: bool) -> str:
    body = _DOUBLE.sub(r"\1", "".join(ch for ch in consonants if ch not in _LONG_VOWELS))
    if len(body) > 1 and body.endswith("h"):
        body = body[:-1]
    return ("a" if initial_vowel else "") + body


@lru_cache(maxsize=65536)
def outline(token: str) -> str:
    """The consonant outline of a Latin token, as an abjad writes it (see the module's docstring)."""
    t = token
    for a, b in _DIGRAPHS:
        t = t.replace(a, b)
    t = t.translate(_CLASSES)
    return _finish(t, t[0] in "aeiou")


def _arabic_outline(word: str) -> str:
    letters = "".join(_ARABIC_CLASSES.get(ch, "") for ch in word)
    return _finish(letters, word[0] in _INITIAL_VOWEL)


_LATIN_LAST = re.compile(r"([aeiouy]+)[^aeiouyw]+$")
_ARABIC_LAST = re.compile(r"[^aeiouyw]([wy])[^aeiouyw]$")


def last_vowel(token: str, arabic: bool) -> str:
    """The long vowel of a token's last syllable: ``u`` or ``i``, ``a`` for a short or open one, ``?`` unknown.
    Arabic script writes long vowels (و ``u``, ي ``i``: محمود ``u``, محمد ``a``); a transcription writes a long
    u as ``u``/``ou``/``oo`` and a long i as ``ee``/``ei``/``ey``/``ai`` (a single ``i`` or ``o`` may be short or
    long: ``?``). ``token``: an Arabic word's consonant classes with w and y, or a transcription's token."""
    if arabic:
        m = _ARABIC_LAST.search(token)
        return {"w": "u", "y": "i"}[m.group(1)] if m else "a"
    m = _LATIN_LAST.search(token)
    if not m:
        return "?"
    vowels = m.group(1)
    if vowels in ("u", "ou", "oo", "uu"):
        return "u"
    if vowels in ("ee", "ei", "ey", "ai", "ay", "ii", "iy", "ie"):
        return "i"
    return "a" if vowels in ("a", "e") else "?"


def _latin_pieces(tokens: tuple[str, ...]) -> list[Piece]:
    """A transcription's tokens with Arabic compounds split and canonical (``abd``, ``allah``, ``din``, ``bin``,
    ``abu``) and articles left out."""
    out: list[tuple[str, float]] = []
    for i, t in enumerate(tokens):
        if t in ARTICLES and i + 1 < len(tokens):
            continue
        if t in _BIN:
            out.append(("bin", BIN_WEIGHT))
        elif t in _ABU:
            out.append(("abu", PARTICLE_WEIGHT))
        elif _ABD.match(t):
            out.append(("abd", PARTICLE_WEIGHT))
        elif t in _ALLAH and out and out[-1][0] != "allah":
            out.append(("allah", PARTICLE_WEIGHT))
        elif t in _DIN and out:
            out.append(("din", PARTICLE_WEIGHT))
        elif (m := _ABD_JOINED.match(t)) is not None:
            rest = m.group("rest")
            out.append(("abd", PARTICLE_WEIGHT))
            out.append(("allah", PARTICLE_WEIGHT) if rest in _ALLAH else (rest, 1.0))
        elif (m := _ALLAH_JOINED.match(t)) is not None:
            out.extend([(m.group("stem"), 1.0), ("allah", PARTICLE_WEIGHT)])
        elif (m := _DIN_JOINED.match(t)) is not None:
            out.extend([(m.group("stem"), 1.0), ("din", PARTICLE_WEIGHT)])
        else:
            out.append((t, 1.0))
    return [
        Piece(t, t if t.isdigit() else outline(t), w, t, "?" if t.isdigit() else last_vowel(t, False)) for t, w in out
    ]


_CANONICAL = {"بن": "bin", "ابن": "bin", "بنت": "bin", "ابو": "abu", "أبو": "abu", "ابي": "abu", "أبي": "abu"}


def _arabic_pieces(word: str) -> list[Piece]:
    """One Arabic-script word as pieces: the article left out, ``عبد``, ``الله``, ``الدين`` (glued or apart) and
    the particles ``بن``/``ابن``/``ابو`` canonical."""
    if word in _CANONICAL:
        weight = BIN_WEIGHT if _CANONICAL[word] == "bin" else PARTICLE_WEIGHT
        return [Piece(_CANONICAL[word], _CANONICAL[word], weight, word, "?")]
    if word in ("الله", "لله"):
        return [Piece("allah", "al", PARTICLE_WEIGHT, word, "?")]
    if word.startswith("عبد") and len(word) > 3:
        return [Piece("abd", "abd", PARTICLE_WEIGHT, "عبد", "?"), *_arabic_pieces(word[3:])]
    if word == "عبد":
        return [Piece("abd", "abd", PARTICLE_WEIGHT, word, "?")]
    if word.endswith("الله") and len(word) > 5:
        return [*_arabic_pieces(word[:-4]), Piece("allah", "al", PARTICLE_WEIGHT, "الله", "?")]
    if word.endswith(("الدين", "الدین")) and len(word) > 6:
        return [*_arabic_pieces(word[:-5]), Piece("din", "dn", PARTICLE_WEIGHT, "الدين", "?")]
    if word.startswith("ال") and len(word) > 3:
        word = word[2:]
    if word in ("دين", "دین"):
        return [Piece("din", "dn", PARTICLE_WEIGHT, word, "?")]
    letters = "".join(_ARABIC_CLASSES.get(ch, "") for ch in word)
    text = "".join(t for t in re.split(r"[^a-z]+", unidecode(read_arabic_word(word)).lower()) if t) or word
    return [Piece(text, _arabic_outline(word), 1.0, word, last_vowel(letters, True))]


def _joined(pieces: list[Piece]) -> list[Piece]:
    """Compounds made one piece, however they were written: ``abd`` and ``abu`` with the name after it (Abd
    al-Aziz, Abdulaziz, عبد العزيز; Abu Bakr), a name with ``allah`` or ``din`` after it (Matiullah, Shams
    al-Din)."""
    out: list[Piece] = []
    for p in pieces:
        prev = out[-1] if out else None
        if prev is not None and prev.text in ("abd", "abu") and p.weight == 1.0:
            out[-1] = Piece(prev.text + p.text, prev.outline + p.outline, 1.0, "", p.vowel)
        elif prev is not None and p.text in ("allah", "din") and prev.text not in ("abd", "allah", "din", "bin"):
            out[-1] = Piece(prev.text + p.text, prev.outline + p.outline, 1.0, "", "?")
        else:
            out.append(p)
    if out and out[-1].text in ("abd", "abu"):  # the name after it left out: it is the name
        out[-1] = replace(out[-1], weight=1.0)
    return out


@lru_cache(maxsize=65536)
def outline_pieces(form: NameForm) -> tuple[Piece, ...]:
    """``form`` as an abjad writes it: from the original's words for a name written in Arabic script (a word in
    another script in it as a transcription), from the normalised tokens otherwise."""
    if not form.abjad:
        return tuple(_joined(_latin_pieces(form.tokens)) or _latin_pieces(form.tokens[:1]))
    pieces: list[Piece] = []
    words = re.findall(r"[^\W\d_]+|\d+", form.original)
    for i, word in enumerate(words):
        if ARABIC_WORD.fullmatch(word):
            if word in ("ال", "أل") and i + 1 < len(words):
                continue
            pieces.extend(_arabic_pieces(word))
        else:
            latin = [t for t in re.split(r"[^a-z0-9]+", unidecode(word).lower()) if t]
            pieces.extend(_latin_pieces(tuple(latin)))
    pieces = _joined(pieces)
    return tuple(p for p in pieces if p.outline) or tuple(pieces)


@lru_cache(maxsize=65536)
def abjad_form(form: NameForm) -> NameForm:
    """``form`` with its tokens the pieces of :func:`outline_pieces` and their outlines as phonetic keys (scored
    against the other name's abjad form by ``match.name_score``, with :func:`outline_values`)."""
    pieces = outline_pieces(form)
    weights = tuple(min(PARTICLE_WEIGHT, p.weight) if len(p.outline) <= 1 else p.weight for p in pieces)
    folds = tuple(p.outline for p in pieces)
    return replace(
        form,
        tokens=tuple(p.text for p in pieces),
        folds=folds,
        weights=weights,
        compact="".join(folds),
        total_weight=sum(weights),
        abjad=False,
        han=False,
        variants=(),
    )


# --- rigour's name symbols -----------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def name_symbols(word: str) -> frozenset[str]:
    """The Wikidata name items rigour tags a one-word name with (the same for محمد, Muhammad and Mohamed; none
    for a word it does not know)."""
    from rigour.names import NameTypeTag, analyze_names

    if len(word) < 3 or word.isdigit():
        return frozenset()
    out: set[str] = set()
    for name in analyze_names(NameTypeTag.PER, [word]):
        for span in name.spans:
            label = str(span.symbol)
            if len(span.parts) == 1 and label.startswith("[NAME:"):
                out.add(label)
    return frozenset(out)


def _vowels_differ(a: str, b: str) -> bool:
    return "?" not in (a, b) and a != b


def _same_outline(a: Piece, b: Piece) -> bool:
    """The same outline, a final ``t`` after a vowel aside (taa marbuta read ``-at`` in a construct: Asbat), and
    the article glued to a transcription's token aside (Elsayed, Alhakim against Sayyid, Hakim)."""
    if a.outline == b.outline:
        return True
    for x, y in ((a, b), (b, a)):
        latin_x, arabic_y = x.source.isascii(), not y.source.isascii()
        if latin_x and arabic_y and x.text.endswith(("at", "et")) and x.outline[:-1] == y.outline:
            return True
        if (
            latin_x
            and x.text.startswith(("al", "el"))
            and len(x.text) >= 6
            and len(y.outline) >= 2
            and x.outline == "al" + y.outline
        ):
            return True
    return False


def outline_values(q: NameForm, e: NameForm) -> np.ndarray:
    """Token similarities of two names' outline forms (:func:`abjad_form`): 1 for the same piece,
    :data:`SYMBOL_SAME` for pieces rigour calls one name, :data:`OUTLINE_SAME` for the same outline (unless rigour
    knows them as different names and their last long vowels differ, :data:`RIGOUR_VETO`), :data:`OUTLINE_NEAR`
    for long outlines one consonant apart, else 0."""
    qp, ep = outline_pieces(q), outline_pieces(e)
    qs = [name_symbols(p.source) for p in qp]
    es = [name_symbols(p.source) for p in ep]
    values = np.zeros((len(qp), len(ep)))
    for i, a in enumerate(qp):
        for j, b in enumerate(ep):
            if a.text == b.text:
                values[i, j] = 1.0
            elif a.text.isdigit() or b.text.isdigit():
                continue
            elif qs[i] & es[j]:
                values[i, j] = SYMBOL_SAME
            elif RIGOUR_VETO and qs[i] and es[j] and _vowels_differ(a.vowel, b.vowel):
                continue
            elif _same_outline(a, b):
                values[i, j] = OUTLINE_SAME
            elif (
                min(len(a.outline), len(b.outline)) >= 4
                and Indel.normalized_similarity(a.outline, b.outline) >= OUTLINE_NEAR_MIN
            ):
                values[i, j] = OUTLINE_NEAR
            if (
                values[i, j] < PLAIN_NEAR
                and min(len(a.text), len(b.text)) >= 5
                and len(a.outline) == len(b.outline)
                and a.source.isascii()
                and b.source.isascii()
            ):
                plain = Indel.normalized_similarity(a.text, b.text)
                if plain >= PLAIN_NEAR:
                    values[i, j] = plain
    return values


_MARKERS = frozenset({"al", "el", "bin", "ibn", "bint", "abu", "abou", "abd", "abdul", "abdel", "abdal", "ul", "ud"})


@lru_cache(maxsize=65536)
def arabic_origin(form: NameForm) -> bool:
    """Whether a Latin name reads as a transcription of an Arabic one: it has the article, ``bin``/``ibn``,
    ``abu``, or an ``Abd``/``-ullah``/``-uddin`` compound."""
    return any(
        t in _MARKERS or _ABD_JOINED.match(t) or _ALLAH_JOINED.match(t) or _DIN_JOINED.match(t) for t in form.tokens
    )


@lru_cache(maxsize=65536)
def _outline_set(form: NameForm) -> frozenset[str]:
    return frozenset(p.outline for p in outline_pieces(form) if p.weight >= 1.0)


def outlines_overlap(q: NameForm, e: NameForm) -> bool:
    """Whether two names share at least half of the shorter one's distinctive outlines (a cheap test before
    scoring two Latin transcriptions by outline)."""
    a, b = _outline_set(q), _outline_set(e)
    return bool(a and b) and 2 * len(a & b) >= min(len(a), len(b))


# --- organisation words --------------------------------------------------------------------------------------

_ORG_WORDS = {
    "جماعة": "group",
    "مجموعة": "group",
    "شبكة": "network",
    "صرافة": "money exchange",
    "صرافي": "money exchange",
    "صيرفة": "money exchange",
    "مكتب": "office",
    "جبهة": "front",
    "حركة": "movement",
    "حركت": "movement",
    "تنظيم": "organization",
    "دولة": "state",
    "اسلامية": "islamic",
    "اسلامي": "islamic",
    "جيش": "army",
    "مقاتلة": "fighting",
    "مسلحة": "armed",
    "شركة": "company",
    "شركت": "company",
    "مؤسسة": "foundation",
    "جمعية": "society",
    "بنك": "bank",
    "مصرف": "bank",
    "تجارة": "trading",
    "تجارية": "trading",
    "صناعات": "industries",
    "صناعية": "industrial",
    "خدمات": "services",
    "دولية": "international",
    "مجلس": "council",
    "وزارة": "ministry",
    "اهل": "people",
    "احياء": "revival",
    "تراث": "heritage",
    "في": "in",
    "مصري": "egyptian",
    "مصرية": "egyptian",
    "ليبي": "libyan",
    "ليبية": "libyan",
    "تونسي": "tunisian",
    "تونسية": "tunisian",
    "مغربي": "moroccan",
    "مغربية": "moroccan",
    "سوري": "syrian",
    "سورية": "syrian",
    "عراقي": "iraqi",
    "عراقية": "iraqi",
    "لبناني": "lebanese",
    "فلسطيني": "palestinian",
    "فلسطينية": "palestinian",
    "يمني": "yemeni",
    "ايراني": "iranian",
    "ايرانية": "iranian",
}
_ORG_LETTERS = str.maketrans({"ی": "ي", "ک": "ك", "ھ": "ه", "ۀ": "ة", "ہ": "ه", "أ": "ا", "إ": "ا", "آ": "ا", "ه": "ة"})
_ORG_PREFIXES = ("وال", "بال", "فال", "لل", "ال", "و", "ب", "ل")


def _org_key(word: str) -> str:
    return word.translate(_ORG_LETTERS)


_ORG_INDEX = {_org_key(k): v for k, v in _ORG_WORDS.items()}


def org_word(word: str) -> str | None:
    """The English of a common word of Arabic-script organisation names (جماعة group, شبكة network, مسلحة armed,
    الإسلامية islamic), the article and the prefixes و ب ل taken off; None for any other word."""
    key = _org_key(word)
    if key in _ORG_INDEX:
        return _ORG_INDEX[key]
    for prefix in _ORG_PREFIXES:
        if key.startswith(prefix) and len(key) - len(prefix) >= 2 and key[len(prefix) :] in _ORG_INDEX:
            return _ORG_INDEX[key[len(prefix) :]]
    return None


def translate_org_words(text: str) -> str | None:
    """``text`` with the common words of Arabic-script organisation names in English (:func:`org_word`), the other
    words as they are; None when it has none (a list gives such a name translated as often as transcribed:
    الجماعة الاسلامية المسلحة, Armed Islamic Group)."""
    found = False

    def english(m: re.Match[str]) -> str:
        nonlocal found
        word = org_word(m.group(0))
        if word is None:
            return m.group(0)
        found = True
        return f" {word} "

    out = ARABIC_WORD.sub(english, text)
    return " ".join(out.split()) if found else None
