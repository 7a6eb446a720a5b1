"""An in-memory screening index: token blocking so that a query is scored against a few candidates, not every name.

Every name and alias of every entry is normalised once. Each token contributes two keys: its
phonetic key and that key's first three letters (a typo after the third letter still finds the
name). A query looks up its own keys; each name found accumulates the inverse document frequency
of the keys it shares (generic tokens such as ``company`` weigh little); names sharing at least half
the query's key weight are kept, the best ``8 x candidates`` of them re-ranked by how alike their
phonetic keys are spelled (one C call, rapidfuzz), and the names of the best ``candidates`` entries
(by default 40) scored in full (:func:`tiergate.screen.match.score_names`), the token similarities
of the query against all of them computed at once. Postings are NumPy arrays, so gathering them
costs little even on a list of a million names. A hit's score is that of the entry's best name
among those retrieved.
"""

from __future__ import annotations

import math
import multiprocessing
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rapidfuzz.distance import Indel
from rapidfuzz.process import cdist

from tiergate.screen.match import score_names, token_table
from tiergate.screen.model import DEFAULT_THRESHOLD, Hit, ListEntry, Query
from tiergate.screen.normalize import NameForm, check_name, name_form

CANDIDATES = 40
MIN_SHARE = 0.5
RERANK = 8


def _keys(form: NameForm) -> set[str]:
    keys: set[str] = set()
    for f in form.folds:
        keys.add(f)
        if len(f) > 3:
            keys.add(f[:3] + "*")
    if form.compact and len(form.folds) > 1:
        keys.add(form.compact[:3] + "*")
    return keys


@dataclass
class ScreeningIndex:
    entries: list[ListEntry] = field(default_factory=list)
    name_entry: list[int] = field(default_factory=list)
    """For each indexed name, the position of its entry."""
    name_compact: list[str] = field(default_factory=list)
    """For each indexed name, its phonetic keys written together (for the cheap re-ranking of candidates)."""
    name_slot: list[int] = field(default_factory=list)
    """For each indexed name, its place among its entry's names (0 the name, then the aliases)."""
    entry_forms: list[tuple[NameForm, ...]] = field(default_factory=list)
    postings: dict[str, np.ndarray] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)

    @classmethod
    def build(cls, entries: Iterable[ListEntry]) -> ScreeningIndex:
        index = cls()
        lists: dict[str, list[int]] = defaultdict(list)
        for entry in entries:
            position = len(index.entries)
            index.entries.append(entry)
            person = entry.schema == "Person"
            forms = []
            for slot, name in enumerate(entry.names):
                form = name_form(name, person)
                forms.append(form)
                name_id = len(index.name_entry)
                index.name_entry.append(position)
                index.name_slot.append(slot)
                index.name_compact.append(form.compact)
                for key in _keys(form):
                    lists[key].append(name_id)
            index.entry_forms.append(tuple(forms))
        total = max(1, len(index.name_entry))
        for key, ids in lists.items():
            index.postings[key] = np.asarray(ids, dtype=np.int32)
            index.idf[key] = math.log(1 + total / len(ids))
        return index

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def name_count(self) -> int:
        return len(self.name_entry)

    def candidates(self, form: NameForm, limit: int = CANDIDATES) -> list[int]:
        """Entry positions that share enough key weight with ``form``, best first."""
        return [position for position, _ in self.candidate_names(form, limit)]

    def candidate_names(self, form: NameForm, limit: int = CANDIDATES) -> list[tuple[int, list[int]]]:
        """(entry position, the places of its names that share enough key weight with ``form``), best first."""
        keys = [k for k in _keys(form) if k in self.postings]
        if not keys:
            return []
        arrays = [self.postings[k] for k in keys]
        weights = [self.idf[k] for k in keys]
        possible = sum(self.idf.get(k, 0.0) for k in _keys(form)) or 1.0
        if len(arrays) == 1:
            ids = arrays[0]
            scores = np.full(len(ids), weights[0])
        else:
            joined = np.concatenate(arrays)
            w = np.repeat(np.asarray(weights), [len(a) for a in arrays])
            ids, inverse = np.unique(joined, return_inverse=True)
            scores = np.bincount(inverse, weights=w)
        keep = scores >= MIN_SHARE * possible
        ids, scores = ids[keep], scores[keep]
        wide = limit * RERANK
        if len(ids) > wide:
            top = np.argpartition(-scores, wide)[:wide]
            ids, scores = ids[top], scores[top]
        if len(ids) > limit:
            # among names sharing as much key weight, those spelled most alike first (one C call)
            compact = self.name_compact
            alike = cdist([form.compact], [compact[int(i)] for i in ids], scorer=Indel.normalized_similarity)[0]
            scores = scores / possible + alike
        order = np.argsort(-scores, kind="stable")
        entry_of = self.name_entry
        slot_of = self.name_slot
        out: list[tuple[int, list[int]]] = []
        seen: dict[int, list[int]] = {}
        for i in order:
            name_id = int(ids[i])
            e = entry_of[name_id]
            if e in seen:
                seen[e].append(slot_of[name_id])
            elif len(out) < limit:
                seen[e] = [slot_of[name_id]]
                out.append((e, seen[e]))
        return out

    def screen(
        self,
        query: Query,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        limit: int = 10,
        floor: float | None = None,
        candidates: int = CANDIDATES,
    ) -> list[Hit]:
        """Hits for ``query``, best first: every candidate scoring at least ``floor`` (default: the
        threshold), at most ``limit``; ``match`` says whether each reaches the threshold."""
        name = check_name(query.name)
        form = name_form(name, query.schema == "Person")
        cutoff = threshold if floor is None else floor
        hits: list[Hit] = []
        found = self.candidate_names(form, candidates)
        if not found or not form.tokens:
            return hits
        vocabulary: dict[str, str] = {}
        han = False
        for position, slots in found:
            forms = self.entry_forms[position]
            for f in (forms[k] for k in slots):
                han = han or f.han != form.han
                for t, fo in zip(f.tokens, f.folds, strict=True):
                    vocabulary[t] = fo
        tokens = list(vocabulary)
        folds = list(vocabulary.values())
        plain = token_table(form, tokens, folds, False)
        tables = (plain, token_table(form, tokens, folds, True) if han else plain)
        for position, slots in found:
            entry = self.entries[position]
            score, matched, features = score_names(
                query, form, entry, self.entry_forms[position], tables, min_score=cutoff, only=sorted(slots)
            )
            if score >= cutoff:
                hits.append(Hit(entry, score, matched, score >= threshold, features))
        hits.sort(key=lambda h: (-h.score, h.entry.key))
        return hits[:limit]


_WORKER_INDEX: ScreeningIndex | None = None
_WORKER_OPTIONS: dict[str, Any] = {}


def _screen_chunk(chunk: list[Query]) -> list[list[Hit] | str]:
    assert _WORKER_INDEX is not None
    out: list[list[Hit] | str] = []
    for query in chunk:
        try:
            out.append(_WORKER_INDEX.screen(query, **_WORKER_OPTIONS))
        except ValueError as error:  # an unscreenable name: reported per row, not fatal to the batch
            out.append(str(error))
    return out


def screen_many(
    index: ScreeningIndex, queries: Sequence[Query], *, workers: int = 1, chunk: int = 250, **options: Any
) -> Iterator[list[Hit] | str]:
    """Screen ``queries`` in order (the hits, or the reason a name cannot be screened), in ``workers`` processes
    that share the index (forked, so it is not copied) when there are enough queries to pay for them."""
    global _WORKER_INDEX, _WORKER_OPTIONS
    chunks = [list(queries[i : i + chunk]) for i in range(0, len(queries), chunk)]
    if workers <= 1 or len(queries) < 4 * chunk or "fork" not in multiprocessing.get_all_start_methods():
        _WORKER_INDEX, _WORKER_OPTIONS = index, options
        try:
            for c in chunks:
                yield from _screen_chunk(c)
        finally:
            _WORKER_INDEX, _WORKER_OPTIONS = None, {}
        return
    _WORKER_INDEX, _WORKER_OPTIONS = index, options
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for part in pool.imap(_screen_chunk, chunks):
                yield from part
    finally:
        _WORKER_INDEX, _WORKER_OPTIONS = None, {}


def build_index(entries: Sequence[ListEntry]) -> ScreeningIndex:
    return ScreeningIndex.build(entries)
