"""An in-memory screening index: token blocking so that a query is scored against a few candidates, not every name.

Every name and alias of every entry is normalised once. Each token contributes two keys: its
phonetic key and that key's first three letters (a typo after the third letter still finds the
name). A query looks up its own keys; each name found accumulates the inverse document frequency
of the keys it shares (generic tokens such as ``company`` weigh little), and only the
``candidates`` best-placed names (by default 64), and only those sharing at least a third of the
query's key weight, are scored in full (:func:`tiergate.screen.match.score_names`). Postings are
NumPy arrays, so gathering them costs little even on a list of a million names.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tiergate.screen.match import DEFAULT_THRESHOLD, score_names
from tiergate.screen.model import Hit, ListEntry, Query
from tiergate.screen.normalize import NameForm, check_name, name_form

CANDIDATES = 64
MIN_SHARE = 0.3


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
            for name in entry.names:
                form = name_form(name, person)
                forms.append(form)
                name_id = len(index.name_entry)
                index.name_entry.append(position)
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
        if len(ids) > limit * 2:
            top = np.argpartition(-scores, limit * 2)[: limit * 2]
            ids, scores = ids[top], scores[top]
        order = np.argsort(-scores, kind="stable")
        entry_of = self.name_entry
        out: list[int] = []
        seen: set[int] = set()
        for i in order:
            e = entry_of[int(ids[i])]
            if e not in seen:
                seen.add(e)
                out.append(e)
                if len(out) >= limit:
                    break
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
        for position in self.candidates(form, candidates):
            entry = self.entries[position]
            score, matched, features = score_names(query, form, entry, self.entry_forms[position])
            if score >= cutoff:
                hits.append(Hit(entry, score, matched, score >= threshold, features))
        hits.sort(key=lambda h: (-h.score, h.entry.key))
        return hits[:limit]


def build_index(entries: Sequence[ListEntry]) -> ScreeningIndex:
    return ScreeningIndex.build(entries)
