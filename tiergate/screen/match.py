"""Scoring a name (and its supporting facts) against a list entry: a score in [0, 1] with the features behind it.

Name score. Both names are normalised (:mod:`tiergate.screen.normalize`). Their tokens are aligned
one to one, best pair first, whatever their order; a pair's similarity is the best of the Indel
similarity of the tokens and of their phonetic keys (an initial matches a name with that first
letter at 0.7; numbers match only themselves), raised to :data:`SYMBOL_SIM` for two spellings rigour's
name symbols call one name (Jang/Chang, Husayn/Hussein) and, in a Korean name, to :data:`KOREAN_SIM` for one
syllable in two romanisations (Chol/Jol). Pairs below :data:`TOKEN_FLOOR` stay unaligned.
Each token weighs 1, or less when it carries little identity (generic words such as ``trading`` or
``international``, particles such as ``bin`` or ``al``, titles; see ``normalize``), so that
``CORP`` or ``Trading`` never makes a hit on its own.

    name = weighted mean of (pair similarity ** SIM_POWER) over the aligned pairs
           x (coverage of the shorter name) ** SHORT_POWER
           x (LONG_FLOOR + (1 - LONG_FLOOR) x coverage of the longer name)

where coverage is the weighted share of a name's tokens that are aligned: a token missing from the
shorter name (a substitution) costs much more than an extra token in the longer one (a middle name,
a patronymic, a branch). A name written without spaces (``SergeiLavrov``) is compared as one
string too, and the better reading is kept. A token written without vowels (Arabic, Hebrew,
Persian script: ``mhmd``) meets its vowelled form by consonant skeleton; a foreign name transcribed
in Chinese characters meets its Latin form by consonant outline (``bei-la-ke`` ~ ``Barack``).
The exponents and floors were chosen on nomenklatura's labelled pairs and on perturbed list names
(``bench/screen_quality.py``, ``bench/screen_speed.py``); they are general, not per pair.

Qualifiers adjust the best name score and each is reported: legal forms of different classes
(``AG`` against ``GmbH``) -0.10; numbers that differ (``CETC 13`` against ``CETC 14``) -0.25;
the query's country among the entry's countries +0.05, outside them -0.10; an identifier equal
to one of the entry's +0.20; a person queried against an organisation (or the reverse) -0.15; the
best name being an alias the list calls weak (the UN's "low quality" aliases) -0.10; a person's date
of birth equal to one the entry gives +0.05, a birth year none of the entry's dates has -0.15.
The result is clipped to [0, 1]; it is a match at or above the threshold (default
:data:`tiergate.screen.model.DEFAULT_THRESHOLD`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rapidfuzz.distance import Indel
from rapidfuzz.process import cdist

from tiergate.screen.arabic import (
    NASAB_CUT,
    abjad_form,
    arabic_origin,
    name_symbols,
    outline,
    outline_values,
    outlines_overlap,
)
from tiergate.screen.cjk import korean_key
from tiergate.screen.model import ORG_SCHEMAS, Feature, ListEntry, Query
from tiergate.screen.normalize import TITLE_WEIGHT, NameForm, alternate_forms, name_form, name_readings

TOKEN_FLOOR = 0.75
LONG_FLOOR = 0.55
COMPACT_MIN = 0.95
LONG_FLOOR_SINGLE = 0.3
"""A one-word name inside a longer one is weak evidence (``SARA`` against ``Sara Khan``) ..."""
LONG_FLOOR_SURNAME = 0.45
"""... unless the word is the person's family name, a distinctive one, met near-exactly (``Kony`` against
``Joseph Kony``: a two-word name so met is a match, a longer one is not)."""
SURNAME_MIN = 0.9
ACRONYM_SIM = 0.85
"""An organisation's acronym against the words it abbreviates in the other name (:func:`acronym_run`)."""
LONG_FLOOR_ORG = 0.7
"""An organisation's name whose every word is met in a longer one, two distinctive words among them, is that
name's short form (``Hebei Sinopack Electronics`` inside ``CETC 13 subordinate institution: Hebei Sinopack
Electronics``): the longer name's other words cost less."""
SHORT_TOKEN = 3
SHORT_MIN = 0.85
"""Tokens of three letters or fewer match only near-exactly (or by phonetic key): ``Ali`` is not ``Lee``."""
HALF_GIVEN_NAME = 0.75
"""Factor on a name score when only one syllable of a hyphenated two-syllable given name is aligned."""
SIM_POWER = 1.5
SHORT_POWER = 2.0
LEGAL_MISMATCH = 0.10
NUMBER_MISMATCH = 0.25
COUNTRY_MATCH = 0.05
COUNTRY_MISMATCH = 0.10
IDENTIFIER_MATCH = 0.20
SCHEMA_MISMATCH = 0.15
OUTLINE_BELOW = 0.7
"""Two Latin names, one of which reads as a transcription of an Arabic name
(:func:`tiergate.screen.arabic.arabic_origin`) or which meet on one name spelled two ways with one outline (Husayn,
Hussein), are also compared by outline below this score."""
WEAK_ALIAS = 0.10
KOREAN_SIM = 0.88
"""Two tokens of a Korean name (one of the two names has a hyphenated two-syllable given name: Myong-Jin) that are
one Korean syllable in two romanisations (:func:`tiergate.screen.cjk.korean_key`: Chol and Jol, Jin and Chin)."""
SYMBOL_SIM = 0.9
"""Two tokens that rigour's name symbols call one name (Wikidata's name items: Jang and Chang, Husayn and Hussein,
Myong and Myung, Khalid and Khaled) meet at this similarity ..."""
SYMBOL_FROM = 0.5
"""... when they are spelled at least this alike already (plainly or by phonetic key): an item that joins the
readings of one character in several languages (金: Kim in Korean, Jin in Mandarin) must not join two names
spelled apart."""
BIRTH_DATE_MATCH = 0.05
BIRTH_YEAR_MISMATCH = 0.15


_VOWELS = frozenset("aeiouy")


@lru_cache(maxsize=65536)
def skeleton(token: str) -> str:
    """A token's consonants (its first letter kept; w, the written long u, left out), doubled letters once: how
    abjad scripts (Arabic, Hebrew, Persian) write it, so that ``mhmd`` (from محمد) meets ``muhammad``."""
    out = [token[0]]
    for ch in token[1:]:
        if ch not in _VOWELS and ch != "w" and ch != out[-1]:  # w: the long u that abjads write (منصور mnswr)
            out.append(ch)
    return "".join(out)


def _sounds(fold_: str) -> str:
    """The consonant outline of a phonetic key with r and l as one sound (Chinese transcription has no r)."""
    return skeleton(fold_.replace("r", "l"))


def token_similarity(a: str, fa: str, b: str, fb: str, han: bool = False) -> float:
    if a == b:
        return 1.0
    if a.isdigit() or b.isdigit():
        return 0.0
    if len(a) == 1 or len(b) == 1:
        return 0.7 if a[0] == b[0] else 0.0
    best = raw = Indel.normalized_similarity(a, b)
    if fa == fb:
        return max(best, 0.95)
    folded = Indel.normalized_similarity(fa, fb)
    best = max(best, folded * 0.97)
    if min(len(a), len(b)) <= SHORT_TOKEN and raw < SHORT_MIN:  # a short token matches near-exactly or not at all
        best = 0.0
    if best < SYMBOL_SIM and max(raw, folded) >= SYMBOL_FROM and same_name(a, b):
        best = SYMBOL_SIM
    # one of them was written without vowels
    if _VOWELS.isdisjoint(a) != _VOWELS.isdisjoint(b) and skeleton(a) == skeleton(b):
        best = max(best, 0.9)
    # a foreign name transcribed in Chinese characters keeps its consonants: bei-la-ke ~ Barack
    if han and best < 0.85 and len(fa) > 2 and len(fb) > 2 and _sounds(fa) == _sounds(fb):
        best = 0.85
    return best


def same_name(a: str, b: str) -> bool:
    """Whether rigour's name symbols call two tokens one name (a Wikidata given- or family-name item holds both)."""
    return a.isalpha() and b.isalpha() and not name_symbols(a).isdisjoint(name_symbols(b))


@dataclass(frozen=True, slots=True)
class TokenTable:
    """:func:`token_similarity` of every query token against a set of entry tokens, computed at once (C code
    for the string distances, NumPy for the rules): the same values, a fraction of the cost."""

    values: np.ndarray
    column: dict[str, int]
    rows: list[list[float]]
    """``values`` as Python lists (a name's few cells are read from them without NumPy calls)."""


def token_table(q: NameForm, tokens: Sequence[str], folds: Sequence[str], han: bool) -> TokenTable:
    qt, qf = list(q.tokens), list(q.folds)
    raw = cdist(qt, tokens, scorer=Indel.normalized_similarity, dtype=np.float64)
    folded = cdist(qf, folds, scorer=Indel.normalized_similarity, dtype=np.float64)
    best = np.maximum(raw, folded * 0.97)
    shortest = np.minimum(np.array([len(t) for t in qt])[:, None], np.array([len(t) for t in tokens])[None, :])
    best = np.where((shortest <= SHORT_TOKEN) & (raw < SHORT_MIN), 0.0, best)
    for i, j in zip(*np.nonzero((best < SYMBOL_SIM) & (np.maximum(raw, folded) >= SYMBOL_FROM)), strict=True):
        if same_name(qt[i], tokens[j]):
            best[i, j] = SYMBOL_SIM
    qf_arr, ef_arr = np.array(qf, dtype=object), np.array(folds, dtype=object)
    same_fold = qf_arr[:, None] == ef_arr[None, :]
    q_vowelless = [_VOWELS.isdisjoint(t) for t in qt]
    e_vowelless = [_VOWELS.isdisjoint(t) for t in tokens]
    if any(q_vowelless) or any(e_vowelless):
        for i, a in enumerate(qt):
            for j, b in enumerate(tokens):
                if q_vowelless[i] != e_vowelless[j] and len(a) > 1 and len(b) > 1 and skeleton(a) == skeleton(b):
                    best[i, j] = max(best[i, j], 0.9)
    if han:
        for i, fa in enumerate(qf):
            for j, fb in enumerate(folds):
                if best[i, j] < 0.85 and len(fa) > 2 and len(fb) > 2 and _sounds(fa) == _sounds(fb):
                    best[i, j] = 0.85
    best = np.where(same_fold, np.maximum(raw, 0.95), best)
    q_short = np.array([len(t) == 1 for t in qt])
    e_short = np.array([len(t) == 1 for t in tokens])
    if q_short.any() or e_short.any():
        initials = np.array([t[0] for t in qt], dtype=object)[:, None] == np.array([t[0] for t in tokens], dtype=object)
        best = np.where(q_short[:, None] | e_short[None, :], np.where(initials, 0.7, 0.0), best)
    q_digit = np.array([t.isdigit() for t in qt])
    e_digit = np.array([t.isdigit() for t in tokens])
    best = np.where(q_digit[:, None] | e_digit[None, :], 0.0, best)
    best = np.where(np.array(qt, dtype=object)[:, None] == np.array(tokens, dtype=object)[None, :], 1.0, best)
    return TokenTable(best, {t: j for j, t in enumerate(tokens)}, best.tolist())


@dataclass(frozen=True, slots=True)
class NameScore:
    score: float
    aligned: tuple[tuple[str, str, float], ...]
    unaligned_query: tuple[str, ...]
    unaligned_entry: tuple[str, ...]
    compact: float
    outline: bool = False
    """The tokens met by consonant outline (one name was written in Arabic script)."""

    def detail(self) -> str:
        pairs = ", ".join(f"{a}~{b} {s:.2f}" for a, b, s in self.aligned) or "none"
        text = f"aligned {pairs}"
        if self.outline:
            text = f"by consonant outline (Arabic script), {text}"
        if self.unaligned_query:
            text += f"; query only: {' '.join(self.unaligned_query)}"
        if self.unaligned_entry:
            text += f"; entry only: {' '.join(self.unaligned_entry)}"
        if self.compact:
            text += f"; as one string {self.compact:.2f}"
        return text


def name_score(q: NameForm, e: NameForm, table: TokenTable | None = None) -> NameScore:
    """How alike two normalised names are, in [0, 1] (``table``: the query's token similarities, precomputed).
    When one of them was written in Arabic script, their consonant outlines' score instead; when both are
    transcriptions of Arabic names that do not meet plainly, the better of the two (:mod:`tiergate.screen.arabic`)."""
    if q.abjad == e.abjad:
        plain = _name_score(q, e, table)
        if plain.score >= OUTLINE_BELOW or not (
            (arabic_origin(q) or arabic_origin(e) or _transcribed(plain)) and outlines_overlap(q, e)
        ):
            return plain
        outlined = _outline_score(q, e)
        return outlined if outlined.score > plain.score else plain
    return _outline_score(q, e)


def _transcribed(plain: NameScore) -> bool:
    """Whether two names meet on a token spelled two ways that rigour calls one name and whose consonant outlines
    are one (Husayn and Hussein): the mark of transcriptions from a script that writes no short vowels."""
    return any(
        a != b and outline(a) == outline(b) and len(outline(a)) >= 3 and same_name(a, b) for a, b, _ in plain.aligned
    )


def _outline_score(q: NameForm, e: NameForm) -> NameScore:
    qa, ea = abjad_form(q), abjad_form(e)
    values = outline_values(q, e)
    outlined = _name_score(qa, ea, TokenTable(values, {t: j for j, t in enumerate(ea.tokens)}, values.tolist()))
    longer, shorter = (outlined.unaligned_query, outlined.unaligned_entry)
    lform = qa
    if len(qa.tokens) < len(ea.tokens):
        longer, shorter, lform = outlined.unaligned_entry, outlined.unaligned_query, ea
    if (
        not shorter
        and lform.weights[0] >= 1.0
        and lform.tokens[0] in longer
        and len(longer) < len(lform.tokens) - 1
        and "," not in lform.original
    ):
        outlined = dataclasses.replace(outlined, score=outlined.score * NASAB_CUT)
    return dataclasses.replace(outlined, outline=True)


ACRONYM_SKIP = frozenset({"of", "and", "the", "for", "de", "du", "des", "la"})


def acronym_run(acronym: str, tokens: Sequence[str], used: set[int]) -> list[int] | None:
    """The places of consecutive unaligned ``tokens`` whose initials spell ``acronym`` (two to six letters; ``of``,
    ``and``, ``the`` inside the run skipped), or None."""
    if not (2 <= len(acronym) <= 6 and acronym.isalpha()):
        return None
    for start, first in enumerate(tokens):
        if start in used or not first or first[0] != acronym[0] or first == acronym:
            continue
        run: list[int] = []
        k = 0
        for j in range(start, len(tokens)):
            if j in used or k == len(acronym):
                break
            token = tokens[j]
            if run and token in ACRONYM_SKIP:
                run.append(j)
            elif token and token[0] == acronym[k] and token.isalpha():
                run.append(j)
                k += 1
            else:
                break
        if k == len(acronym) and run and tokens[run[-1]] not in ACRONYM_SKIP:
            return run
    return None


def _name_score(q: NameForm, e: NameForm, table: TokenTable | None = None) -> NameScore:
    if not q.tokens or not e.tokens:
        return NameScore(0.0, (), q.tokens, e.tokens, 0.0)
    cells: list[tuple[float, float, int, int]] = []
    if table is not None:
        columns = [table.column[b] for b in e.tokens]
        for i, row in enumerate(table.rows):
            for j, col in enumerate(columns):
                if row[col] >= TOKEN_FLOOR:
                    cells.append((row[col], min(q.weights[i], e.weights[j]), i, j))
    else:
        han = q.han != e.han
        for i, (a, fa) in enumerate(zip(q.tokens, q.folds, strict=True)):
            for j, (b, fb) in enumerate(zip(e.tokens, e.folds, strict=True)):
                s = token_similarity(a, fa, b, fb, han)
                if s >= TOKEN_FLOOR:
                    cells.append((s, min(q.weights[i], e.weights[j]), i, j))
    if q.given_names or e.given_names:  # a Korean name: its syllables in another romanisation
        met = {(i, j) for _, _, i, j in cells}
        for i, a in enumerate(q.tokens):
            ka = korean_key(a)
            for j, b in enumerate(e.tokens):
                if ka is not None and (i, j) not in met and korean_key(b) == ka:
                    cells.append((KOREAN_SIM, min(q.weights[i], e.weights[j]), i, j))
    cells.sort(key=lambda c: (-c[0] * (0.5 + c[1]), c[2], c[3]))
    used_q: set[int] = set()
    used_e: set[int] = set()
    aligned = []
    order_q: list[int] = []
    order_e: list[int] = []
    num = den = 0.0
    for s, _w, i, j in cells:
        if i in used_q or j in used_e:
            continue
        used_q.add(i)
        used_e.add(j)
        order_q.append(i)
        order_e.append(j)
        w = (q.weights[i] + e.weights[j]) / 2
        num += s**SIM_POWER * w
        den += w
        aligned.append((q.tokens[i], e.tokens[j], s))
    if not (q.person or e.person) and (len(used_q) < len(q.tokens) or len(used_e) < len(e.tokens)):
        # an acronym in one name of words the other spells out (810 ARP, 810 Aircraft Repair Plant)
        for x, y, used_x, used_y in ((q, e, used_q, used_e), (e, q, used_e, used_q)):
            for i, t in enumerate(x.tokens):
                run = None if i in used_x else acronym_run(t, y.tokens, used_y)
                if run is None:
                    continue
                used_x.add(i)
                used_y.update(run)
                spelled = " ".join(y.tokens[j] for j in run)
                w = (x.weights[i] + sum(y.weights[j] for j in run)) / 2
                num += ACRONYM_SIM**SIM_POWER * w
                den += w
                if x is q:
                    order_q.append(i)
                    order_e.append(run[0])
                    aligned.append((t, spelled, ACRONYM_SIM))
                else:
                    order_q.append(run[0])
                    order_e.append(i)
                    aligned.append((spelled, t, ACRONYM_SIM))
    # a title left unaligned (Haji, Maulavi; bin in an outline) is no part of the name to cover
    wq = q.total_weight - sum(w for i, w in enumerate(q.weights) if w <= TITLE_WEIGHT and i not in used_q)
    we = e.total_weight - sum(w for j, w in enumerate(e.weights) if w <= TITLE_WEIGHT and j not in used_e)
    cov_q = sum(q.weights[i] for i in used_q) / wq if wq > 0 else 0.0
    cov_e = sum(e.weights[j] for j in used_e) / we if we > 0 else 0.0
    mean = num / den if den else 0.0
    short, long_ = (cov_q, cov_e) if wq <= we else (cov_e, cov_q)
    single = len(q.tokens if wq <= we else e.tokens) == 1
    floor = LONG_FLOOR_SINGLE if single else LONG_FLOOR
    if not (single or q.person or e.person) and short >= 0.999:
        strong = sum(1 for i, j in zip(order_q, order_e, strict=True) if q.weights[i] >= 1.0 and e.weights[j] >= 1.0)
        if strong >= 2:
            floor = LONG_FLOOR_ORG
    if single and aligned and aligned[0][2] >= SURNAME_MIN:
        longer, place = (e, order_e[0]) if wq <= we else (q, order_q[0])
        if longer.surname == place:
            floor = LONG_FLOOR_SURNAME
    score = mean * short**SHORT_POWER * (floor + (1 - floor) * long_)
    if aligned and (len(used_q) < len(q.tokens) or len(used_e) < len(e.tokens)):
        distinctive = any(q.weights[i] >= 1.0 and e.weights[j] >= 1.0 for i, j in zip(order_q, order_e, strict=True))
        if not distinctive:
            # only generic words (and place names) meet: the words either name has beyond them tell it apart
            score *= len(aligned) / max(len(q.tokens), len(e.tokens))
    if q.given_names or e.given_names:
        for pairs, used in ((q.given_names, used_q), (e.given_names, used_e)):
            if any((i in used) != (j in used) for i, j in pairs):
                # one syllable of a two-syllable given name met (Lee Myung against Lee Myung-bak): another person
                score *= HALF_GIVEN_NAME
                break
    compact = 0.0
    if len(q.tokens) != len(e.tokens) and score < COMPACT_MIN:
        c = Indel.normalized_similarity(q.compact, e.compact)
        if c >= COMPACT_MIN and c > score:
            compact = c
            score = c
    return NameScore(
        score,
        tuple(aligned),
        tuple(t for i, t in enumerate(q.tokens) if i not in used_q),
        tuple(t for j, t in enumerate(e.tokens) if j not in used_e),
        compact,
    )


def _is_person(schema: str | None) -> bool:
    return schema == "Person"


_ID_CLEAN = re.compile(r"[^0-9A-Z]")


def normal_identifier(value: str) -> str:
    return _ID_CLEAN.sub("", value.upper())


def score_names(
    query: Query,
    qform: NameForm,
    entry: ListEntry,
    forms: tuple[NameForm, ...] | None = None,
    tables: tuple[TokenTable, TokenTable] | None = None,
    min_score: float = 0.0,
    only: Sequence[int] | None = None,
) -> tuple[float, str, list[Feature]]:
    """The score of ``query`` against ``entry``: (score, the entry name that scored best, features).
    Below ``min_score`` the features are not spelled out (the list is empty); the score is the same.
    ``only``: the places of the entry's names to compare (the index passes those sharing keys with the query)."""
    person = _is_person(entry.schema)
    forms = forms if forms is not None else tuple(name_form(n, person) for n in entry.names)
    best: NameScore | None = None
    best_name = entry.name
    best_form = forms[0]
    best_slot = 0
    names = entry.names
    for slot in range(len(names)) if only is None else only:
        form = forms[slot]
        table = None if tables is None else tables[1 if form.han != qform.han else 0]
        ns = name_score(qform, form, table)
        if form.latinised and ns.score < 0.999:  # a name in Chinese characters, kana or Hangul: its other readings
            for other in alternate_forms(names[slot], person):
                alt = name_score(qform, other)
                if alt.score > ns.score:
                    ns, form = alt, other
        if entry.is_weak(slot):
            ns = dataclasses.replace(ns, score=ns.score - WEAK_ALIAS)
        if best is None or ns.score > best.score:
            best, best_name, best_form, best_slot = ns, names[slot], form, slot
            if ns.score >= 0.999:
                break
    assert best is not None
    adjust, _ = _qualifiers(query, qform, entry, best_form, explain=False)
    score = min(1.0, max(0.0, best.score + adjust))
    if score < min_score:
        return score, best_name, []
    if entry.is_weak(best_slot):
        raw = best.score + WEAK_ALIAS
        features = [
            Feature("name", raw, f"{query.name!r} against {best_name!r}: {best.detail()}"),
            Feature("weak_alias", -WEAK_ALIAS, f"{best_name!r} is an alias the list calls weak (low quality)"),
        ]
    else:
        features = [Feature("name", best.score, f"{query.name!r} against {best_name!r}: {best.detail()}")]
    if qform.warnings:
        features.append(Feature("evasion", 0.0, "; ".join(qform.warnings)))
    if qform.latinised or best_form.latinised:
        features.append(
            Feature(
                "transliteration",
                0.0,
                f"compared in Latin script: {' '.join(qform.tokens)!r} against {' '.join(best_form.tokens)!r}",
            )
        )
    features.extend(_qualifiers(query, qform, entry, best_form, explain=True)[1])
    return score, best_name, features


def _qualifiers(
    query: Query, qform: NameForm, entry: ListEntry, best_form: NameForm, *, explain: bool
) -> tuple[float, list[Feature]]:
    """The supporting and contrary evidence beside the name: (sum of adjustments, features when ``explain``)."""
    total = 0.0
    features: list[Feature] = []
    if qform.legal and best_form.legal and not (qform.legal & best_form.legal):
        total -= LEGAL_MISMATCH
        if explain:
            mine, theirs = "/".join(sorted(qform.legal)), "/".join(sorted(best_form.legal))
            features.append(
                Feature("legal_form_mismatch", -LEGAL_MISMATCH, f"legal forms differ: {mine} against {theirs}")
            )
    if qform.numbers and best_form.numbers and qform.numbers != best_form.numbers:
        total -= NUMBER_MISMATCH
        if explain:
            mine, theirs = " ".join(sorted(qform.numbers)), " ".join(sorted(best_form.numbers))
            features.append(Feature("number_mismatch", -NUMBER_MISMATCH, f"numbers differ: {mine} against {theirs}"))
    if query.country and entry.countries:
        if query.country in entry.countries:
            total += COUNTRY_MATCH
            if explain:
                features.append(Feature("country_match", COUNTRY_MATCH, f"{query.country} is a country of the entry"))
        else:
            total -= COUNTRY_MISMATCH
            if explain:
                features.append(
                    Feature(
                        "country_mismatch",
                        -COUNTRY_MISMATCH,
                        f"{query.country} is not among the entry's countries ({', '.join(entry.countries)})",
                    )
                )
    if query.identifiers and entry.identifiers:
        theirs_ids = {normal_identifier(i.value): i for i in entry.identifiers}
        for mine_id in query.identifiers:
            found = theirs_ids.get(normal_identifier(mine_id))
            if found is not None and len(normal_identifier(mine_id)) >= 4:
                total += IDENTIFIER_MATCH
                if explain:
                    features.append(
                        Feature("identifier_match", IDENTIFIER_MATCH, f"{found.kind} {found.value} is the entry's")
                    )
                break
    if query.birth_date and entry.birth_dates:
        mine = query.birth_date
        years = {d[:4] for d in entry.birth_dates}
        if mine in entry.birth_dates and len(mine) == 10:
            total += BIRTH_DATE_MATCH
            if explain:
                features.append(Feature("birth_date_match", BIRTH_DATE_MATCH, f"born {mine}, as the entry says"))
        elif mine[:4] not in years:
            total -= BIRTH_YEAR_MISMATCH
            if explain:
                features.append(
                    Feature(
                        "birth_year_mismatch",
                        -BIRTH_YEAR_MISMATCH,
                        f"born {mine}; the entry gives {', '.join(entry.birth_dates)}",
                    )
                )
    if query.schema and entry.schema in ORG_SCHEMAS | {"Person"}:
        q_person = query.schema == "Person"
        if q_person != (entry.schema == "Person"):
            total -= SCHEMA_MISMATCH
            if explain:
                features.append(
                    Feature("schema_mismatch", -SCHEMA_MISMATCH, f"a {query.schema} queried against a {entry.schema}")
                )
    return total, features


def compare_names(name1: str, name2: str, schema: str | None = None) -> tuple[float, list[Feature]]:
    """The score of two names (the ``screen compare`` face): the same name score and name qualifiers as screening."""
    person = _is_person(schema)
    entry = ListEntry(dataset="pair", entry_id="2", list_code="-", schema=schema or "LegalEntity", name=name2)
    best: tuple[float, list[Feature]] | None = None
    for reading in name_readings(name1):
        first = name_form(reading, person)
        for form in (first, *alternate_forms(reading, person)):
            if reading != name1:
                form = form.as_reading_of(name1)
            score, _, features = score_names(Query(name1, schema=None), form, entry)
            if best is None or score > best[0]:
                best = (score, features)
    assert best is not None
    return best
