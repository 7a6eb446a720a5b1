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
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING

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
_ALLAH_JOINED = re.compile(r"^(?P<stem>[a-z]{3,}?)(?:ullah|ulla|ollah|olla|allah|alla|illah|ulah|ollah)$")
_DIN_JOINED = re.compile(r"^(?P<stem>[a-z]{3,}?)(?:uddin|uddeen|oddin|eddin|eddine|addin|iddin|udin|edin|ud-din)$")
_ALLAH = frozenset({"allah", "alla", "ullah", "ulla", "lah", "llah", "ollah", "olla", "illah"})
_DIN = frozenset({"din", "dyn", "deen", "dine", "uddin", "eddin", "eddine", "addin", "iddin", "oddin"})
_DIGRAPHS = (
    ("sch", "$"),
    ("sh", "$"),
    ("ch", "$"),
    ("kh", "x"),
    ("gh", "g"),
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
PARTICLE_WEIGHT = 0.35


@lru_cache(maxsize=65536)
def outline(token: str) -> str:
    """The consonant outline of a Latin token, as an abjad writes it (see the module's docstring)."""
    t = token
    for a, b in _DIGRAPHS:
        t = t.replace(a, b)
    t = t.translate(_CLASSES)
    first = "a" if t[0] in "aeiou" else ""
    body = "".join(ch for ch in t if ch not in _LONG_VOWELS)
    body = _DOUBLE.sub(r"\1", body)
    if len(body) > 1 and body.endswith("h"):
        body = body[:-1]
    return first + body


def _pieces(tokens: tuple[str, ...]) -> list[tuple[str, float]]:
    """The tokens with Arabic compounds split and canonical (``abd``, ``allah``, ``din``, ``bin``, ``abu``),
    articles left out, each with its weight (particles and compound parts weigh :data:`PARTICLE_WEIGHT`)."""
    out: list[tuple[str, float]] = []
    for i, t in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if t in ARTICLES and nxt:
            continue
        if t in _BIN:
            out.append(("bin", PARTICLE_WEIGHT))
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
            out.extend(_pieces((rest,)) if rest not in _ALLAH else [("allah", PARTICLE_WEIGHT)])
        elif (m := _ALLAH_JOINED.match(t)) is not None:
            out.extend([(m.group("stem"), 1.0), ("allah", PARTICLE_WEIGHT)])
        elif (m := _DIN_JOINED.match(t)) is not None:
            out.extend([(m.group("stem"), 1.0), ("din", PARTICLE_WEIGHT)])
        else:
            out.append((t, 1.0))
    return out


@lru_cache(maxsize=65536)
def abjad_form(form: NameForm) -> NameForm:
    """``form`` as an abjad writes it: tokens split into canonical pieces, each piece's phonetic key its consonant
    outline (:func:`outline`). Scored against another name's abjad form by ``match.name_score``."""
    pieces = _pieces(form.tokens) or [(t, 1.0) for t in form.tokens]
    tokens = tuple(p for p, _ in pieces)
    folds = tuple(outline(p) if not p.isdigit() else p for p in tokens)
    weights = tuple(PARTICLE_WEIGHT if len(f) <= 1 else w for f, (_, w) in zip(folds, pieces, strict=True))
    return replace(
        form,
        tokens=tokens,
        folds=folds,
        weights=weights,
        compact="".join(folds),
        total_weight=sum(weights),
        abjad=False,
        han=False,
        variants=(),
    )


def first_given_missing(longer: tuple[str, ...], aligned_longer: set[int], shorter_covered: bool) -> bool:
    """Whether the longer name's first token is unaligned while the shorter name is wholly aligned and the
    rest of the longer one met: the chain of an Arabic name without its first link (a father's or a son's)."""
    return shorter_covered and bool(longer) and 0 not in aligned_longer and len(aligned_longer) >= 2
