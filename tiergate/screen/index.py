"""The screening index: candidate generation that survives typos, spacing and script changes, so that a query is
scored in full against a few candidates, not every name; kept on disk so that a command answers at once.

Vocabulary. Every name and alias of every entry is normalised once (:func:`tiergate.screen.normalize.name_form`:
any script to Latin, look-alike letters folded, legal forms off) and contributes the phonetic keys of its tokens,
of each pair of adjacent tokens written together (``Hua Wei`` is also ``huawei``) and of the whole name written
together (short names). Each key of four letters or more is also filed under every form with one letter deleted
(a deletion neighbourhood), so a query token finds the list tokens one transposed, missing, extra or changed
letter away; a long token also finds those sharing its first four letters (two typos further on). Doubled
letters and the spellings transliteration varies (``kh``/``h``, ``w``/``v``, ``c``/``k``...) are one key already.

Blocking. Each query token (and each adjacent pair of them written together, and the whole query written
together) is looked up; the list tokens found weigh their inverse document frequency times their similarity to
the query token (generic tokens such as ``company`` weigh little). A name's share is the weight it covers over
the weight the query could cover, under the best reading (split or joined); names with at least
:data:`MIN_SHARE` are kept, the best ``RERANK x candidates`` of them re-ranked by how alike their phonetic keys
are spelled (one C call, rapidfuzz), and the names of the best ``candidates`` entries (default 40) scored in
full (:func:`tiergate.screen.match.score_names`). A hit's score is that of the entry's best name among those
retrieved.

Persistence. :meth:`ScreeningIndex.for_store` keeps the index in one NumPy file in a cache folder, named by the
hash of the lists' content (the store's datasets, versions and file hashes), of this index's format and of the
source of the code that builds it (:func:`code_stamp`): it is rebuilt only when a list or that code changes.
Entries are decoded from it only when they are candidates.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import multiprocessing
import os
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np
import orjson
from rapidfuzz.distance import Indel
from rapidfuzz.process import cdist

from tiergate.screen.cjk import korean_key
from tiergate.screen.match import ACRONYM_SKIP, score_names, skeleton, token_table
from tiergate.screen.model import DEFAULT_THRESHOLD, Hit, ListEntry, Query
from tiergate.screen.normalize import (
    TITLE_WEIGHT,
    NameForm,
    alternate_forms,
    check_name,
    fold,
    name_form,
    name_readings,
    reading_keys,
)

CANDIDATES = 40
MIN_SHARE = 0.65
RERANK = 8
DELETE_MIN = 4
DELETE_MAX = 16
"""Keys of this many letters (from ``DELETE_MIN`` to ``DELETE_MAX``) are filed under their one-letter deletions."""
PREFIX_MIN = 6
PREFIX = 3
PREFIX_SPAN = 2000
"""A query token this long looks up the list tokens sharing its first :data:`PREFIX` letters (at most this many)."""
TOKEN_MIN_SIM = 0.7
SKELETON_MARK = "#"
SKELETON_MIN = 4
SKELETON_SIM = 0.8
"""A token of four letters or more is also filed under its consonant outline (``#frdrk`` for Frederick and
Friedrich, ``#mhmd`` for Muhammad and the unvowelled محمد), found at this similarity."""
COMPACT_MAX_TOKENS = 5
ACRONYM_MIN = 3
ACRONYM_MAX = 6
"""An organisation's name of this many words (``of``, ``and``, ``the`` aside) is also filed under its initials."""
INDEX_FORMAT = "tiergate-screen-index-13"
"""Changes when the keys, the normalisation or the file layout change: an index on disk of another format is rebuilt."""
STAMPED_SOURCES = (
    "index.py",
    "match.py",
    "model.py",
    "normalize.py",
    "cjk.py",
    "arabic.py",
    "confusables.py",
    "readings/hanja.txt.gz",
)
"""The files (beside this one) whose content decides what the index holds: its keys, the normalisation and
readings of every script, the entries' layout. A kept index is named by their hash (:func:`code_stamp`) as well
as by :data:`INDEX_FORMAT`, so an index built by other code is rebuilt even where a change forgot to bump the
format."""


def _hash(key: str) -> int:
    """A stable 64-bit hash of a key (two C checksums: cheap, and the same in every process)."""
    raw = key.encode()
    return (zlib.crc32(raw) << 32) | zlib.adler32(raw)


def _hashes(keys: Sequence[str]) -> np.ndarray:
    return np.fromiter((_hash(k) for k in keys), dtype=np.uint64, count=len(keys))


def _deletions(key: str) -> set[str]:
    return {key[:i] + key[i + 1 :] for i in range(len(key))}


def _name_keys(form: NameForm) -> set[str]:
    """The vocabulary keys of a list name: its tokens' phonetic keys, adjacent pairs and (short names) the whole
    name written together."""
    tokens = form.tokens
    keys = {f for f in form.folds if f}
    for a, b in itertools.pairwise(tokens):
        keys.add(fold(a + b))
    if 2 < len(tokens) <= COMPACT_MAX_TOKENS:
        keys.add(fold("".join(tokens)))
    for variant in form.variants:
        keys.add(variant)
    for f in form.folds:
        if len(f) >= SKELETON_MIN:
            keys.add(SKELETON_MARK + skeleton(f))
    if form.given_names:  # a Korean name: also under one spelling of its romanisations (Chang, Jang: jang)
        keys.update(k for k in map(korean_key, tokens) if k)
    if not form.person:  # an organisation is also found by its acronym (PLA, People's Liberation Army)
        initials = "".join(t[0] for t in tokens if t.isalpha() and t not in ACRONYM_SKIP)
        if ACRONYM_MIN <= len(initials) <= ACRONYM_MAX:
            keys.add(fold(initials))
    return keys


def _outlines(key: str, han: bool) -> set[str]:
    """The consonant outlines a query token is looked up under: its own, and for a name read from Chinese
    characters (which have no r: ``bei-la-ke`` for Barack) those with its l's read as r's."""
    outline = skeleton(key)
    found = {outline}
    if "v" in outline[1:]:  # a w the abjad wrote for a long u (mhmwd, Mahmoud)
        found.add(outline[0] + outline[1:].replace("v", ""))
    if han and "l" in outline:
        places = [i for i, ch in enumerate(outline) if ch == "l"][:3]
        for mask in range(1, 1 << len(places)):
            chars = list(outline)
            for bit, i in enumerate(places):
                if mask >> bit & 1:
                    chars[i] = "r"
            found.add("".join(chars))
    return found


class _Strings:
    """Strings kept as one UTF-8 blob and offsets (cheap to save and load; decoded one at a time)."""

    __slots__ = ("blob", "offsets")

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self.blob = blob
        self.offsets = offsets

    @classmethod
    def of(cls, items: Sequence[bytes]) -> _Strings:
        offsets = np.zeros(len(items) + 1, dtype=np.int64)
        if items:
            offsets[1:] = np.cumsum([len(b) for b in items])
        return cls(np.frombuffer(b"".join(items), dtype=np.uint8).copy(), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def raw(self, i: int) -> bytes:
        return self.blob[int(self.offsets[i]) : int(self.offsets[i + 1])].tobytes()

    def __getitem__(self, i: int) -> str:
        return self.raw(i).decode()


class _Entries(Sequence[ListEntry]):
    """The entries of an index, decoded from their JSON on first use."""

    def __init__(self, source: _Strings | list[ListEntry]) -> None:
        self._source = source
        self._decoded: dict[int, ListEntry] = {}

    def __len__(self) -> int:
        return len(self._source)

    @overload
    def __getitem__(self, i: int) -> ListEntry: ...
    @overload
    def __getitem__(self, i: slice) -> list[ListEntry]: ...
    def __getitem__(self, i: int | slice) -> ListEntry | list[ListEntry]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if isinstance(self._source, list):
            return self._source[i]
        if i < 0:
            i += len(self)
        found = self._decoded.get(i)
        if found is None:
            found = ListEntry.from_dict(orjson.loads(self._source.raw(i)))
            self._decoded[i] = found
        return found

    def __iter__(self) -> Iterator[ListEntry]:
        for i in range(len(self)):
            yield self[i]


@dataclass(frozen=True)
class _Column:
    """A query token (or adjacent pair, or the whole query written together) looked up: its weight, the list
    names whose keys it found and each one's similarity (in rising order of similarity)."""

    weight: float
    names: np.ndarray
    post_sims: np.ndarray


_NO_COLUMN = _Column(0.0, np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
COLUMN_CACHE = 50_000
WORD_DICT_AFTER = 200
"""After this many tokens looked up, an index reads its vocabulary, postings and name keys as Python objects
(decoded once, some tens of milliseconds: worth it for a batch, not for one query from a cold shell)."""


@dataclass
class ScreeningIndex:
    entries: Sequence[ListEntry] = field(default_factory=list)
    name_entry: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    """For each indexed name, the position of its entry."""
    name_slot: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    """For each indexed name, its place among its entry's names (0 the name, then the aliases)."""
    name_compact: _Strings = field(default_factory=lambda: _Strings.of([]))
    """For each indexed name, its phonetic keys written together (for the cheap re-ranking of candidates)."""
    vocab: _Strings = field(default_factory=lambda: _Strings.of([]))
    vocab_hash: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    vocab_hash_id: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    vocab_prefix: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=f"S{PREFIX}"))
    """The vocabulary is sorted: its keys' first letters, for the prefix look-up."""
    idf: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    name_weight: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    """For each indexed name, the summed weight (inverse document frequency) of its tokens' keys."""
    post_offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    post_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    del_hash: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    del_vocab: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    _forms: dict[int, tuple[NameForm, ...]] = field(default_factory=dict, repr=False)
    _kept_forms: _Strings | None = field(default=None, repr=False)
    """The entries' name forms as the kept file holds them (:func:`encode_forms`), decoded on first use."""
    _vocab_words: list[str] | None = field(default=None, repr=False)
    _columns: dict[tuple[str, bool], _Column] = field(default_factory=dict, repr=False)
    _prefix_numbers: np.ndarray | None = field(default=None, repr=False)
    _word_id_map: dict[str, int] | None = field(default=None, repr=False)
    _offset_list: list[int] | None = field(default=None, repr=False)
    _compact_list: list[str] | None = field(default=None, repr=False)
    _misses: int = field(default=0, repr=False)

    # ---------------------------------------------------------------- building

    @classmethod
    def build(cls, entries: Iterable[ListEntry]) -> ScreeningIndex:
        listed = list(entries)
        name_entry: list[int] = []
        name_slot: list[int] = []
        compact: list[bytes] = []
        name_folds: list[tuple[str, ...]] = []
        postings: dict[str, list[int]] = {}
        forms_of: dict[int, tuple[NameForm, ...]] = {}
        for position, entry in enumerate(listed):
            person = entry.schema == "Person"
            forms = []
            for slot, name in enumerate(entry.names):
                form = name_form(name, person)
                forms.append(form)
                name_id = len(name_entry)
                name_entry.append(position)
                name_slot.append(slot)
                compact.append(form.compact.encode())
                name_folds.append(form.folds)
                for key in _name_keys(form).union(reading_keys(name, person)):
                    postings.setdefault(key, []).append(name_id)
            forms_of[position] = tuple(forms)
        vocab = sorted(postings)
        total = max(1, len(name_entry))
        sizes = np.array([len(postings[k]) for k in vocab], dtype=np.int64)
        offsets = np.zeros(len(vocab) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(sizes)
        ids = np.fromiter((i for k in vocab for i in postings[k]), dtype=np.int32, count=int(offsets[-1]))
        hashes = np.fromiter((_hash(k) for k in vocab), dtype=np.uint64, count=len(vocab))
        order = np.argsort(hashes, kind="stable")
        idf = np.log1p(total / np.maximum(sizes, 1)).astype(np.float32)
        where = {k: i for i, k in enumerate(vocab)}
        name_weight = np.fromiter(
            (sum(float(idf[where[f]]) for f in folds if f in where) for folds in name_folds),
            dtype=np.float32,
            count=len(name_folds),
        )
        del_pairs: list[tuple[int, int]] = []
        for vid, key in enumerate(vocab):
            if DELETE_MIN <= len(key) <= DELETE_MAX and not key.startswith(SKELETON_MARK):
                del_pairs.extend((_hash(d), vid) for d in _deletions(key))
        del_hash = np.fromiter((h for h, _ in del_pairs), dtype=np.uint64, count=len(del_pairs))
        del_vocab = np.fromiter((v for _, v in del_pairs), dtype=np.int32, count=len(del_pairs))
        del_order = np.argsort(del_hash, kind="stable")
        index = cls(
            entries=_Entries(listed),
            name_entry=np.asarray(name_entry, dtype=np.int32),
            name_slot=np.asarray(name_slot, dtype=np.int32),
            name_compact=_Strings.of(compact),
            vocab=_Strings.of([k.encode() for k in vocab]),
            vocab_hash=hashes[order],
            vocab_hash_id=order.astype(np.int32),
            vocab_prefix=np.array([k[:PREFIX].encode() for k in vocab], dtype=f"S{PREFIX}"),
            idf=idf,
            name_weight=name_weight,
            post_offsets=offsets,
            post_ids=ids,
            del_hash=del_hash[del_order],
            del_vocab=del_vocab[del_order],
        )
        index._forms = forms_of
        return index

    # ---------------------------------------------------------------- persistence

    _ARRAYS = (
        "name_entry",
        "name_slot",
        "vocab_hash",
        "vocab_hash_id",
        "vocab_prefix",
        "idf",
        "name_weight",
        "post_offsets",
        "post_ids",
        "del_hash",
        "del_vocab",
    )

    def save(self, path: Path) -> None:
        """Write the index to ``path`` (whole or not at all: a temporary file renamed into place)."""
        arrays: dict[str, np.ndarray] = {name: getattr(self, name) for name in self._ARRAYS}
        entries = _Strings.of([orjson.dumps(e.to_dict()) for e in self.entries])
        for name, strings in (("compact", self.name_compact), ("vocab", self.vocab), ("entries", entries)):
            arrays[f"{name}_blob"] = strings.blob
            arrays[f"{name}_offsets"] = strings.offsets
        forms = self._encoded_forms()
        if forms is not None:
            arrays["forms_blob"] = forms.blob
            arrays["forms_offsets"] = forms.offsets
        arrays["format"] = np.frombuffer(INDEX_FORMAT.encode(), dtype=np.uint8)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".index-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> ScreeningIndex:
        """An index written by :meth:`save`; ``ValueError`` when the file is not one of this format."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if bytes(data["format"]).decode() != INDEX_FORMAT:
                    raise ValueError(f"{path.name}: not an index of format {INDEX_FORMAT}")
                arrays = {name: data[name] for name in cls._ARRAYS}
                strings = {
                    name: _Strings(data[f"{name}_blob"], data[f"{name}_offsets"])
                    for name in ("compact", "vocab", "entries")
                }
                kept_forms = _Strings(data["forms_blob"], data["forms_offsets"]) if "forms_blob" in data.files else None
        except (OSError, KeyError, EOFError) as error:
            raise ValueError(f"{path.name}: unreadable index ({error})") from error
        index = cls(
            entries=_Entries(strings["entries"]),
            name_compact=strings["compact"],
            vocab=strings["vocab"],
            **arrays,
        )
        if kept_forms is not None and len(kept_forms) == len(index.entries):
            index._kept_forms = kept_forms
        return index

    def _encoded_forms(self) -> _Strings | None:
        """Every entry's name forms (:func:`encode_forms`) for the kept file, so that an index loaded from it
        scores its candidates at once, as the index that was built does (it has them from building); None when
        a form would not come back the same (it is then computed again when needed)."""
        if _FORM_CODEC is None:
            return None
        encoded = []
        for position in range(len(self.entries)):
            forms = self.entry_forms(position)
            raw = encode_forms(forms)
            if decode_forms(raw) != forms:
                return None
            encoded.append(raw)
        return _Strings.of(encoded)

    @classmethod
    def for_store(cls, store: Any, cache: Path | None = None, version: str | None = None) -> ScreeningIndex:
        """The index of ``store``'s lists, from the cache folder (see :func:`cache_dir`) when one was built for
        the same store and the same list content (its datasets' versions and file hashes), else built, saved there
        (replacing the store's older one) and returned. A cache that cannot be written is skipped. ``version``:
        the store's :meth:`data_version`, when the caller has just read it."""
        version = version if version is not None else store.data_version()
        path = index_path(str(getattr(store, "url", "")), version, cache)
        store_files = path.name.rsplit("-", 1)[0] + "-*.npz"  # this store's indexes, of any content
        if path.exists():
            try:
                return cls.load(path)
            except ValueError:
                pass
        index = cls.build(store.list_entries())
        try:
            index.save(path)
            for old in path.parent.glob(store_files):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError:
            pass
        return index

    # ---------------------------------------------------------------- reading

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def name_count(self) -> int:
        return len(self.name_entry)

    def entry_forms(self, position: int) -> tuple[NameForm, ...]:
        forms = self._forms.get(position)
        if forms is None:
            if self._kept_forms is not None:
                forms = decode_forms(self._kept_forms.raw(position))
            else:
                entry = self.entries[position]
                person = entry.schema == "Person"
                forms = tuple(name_form(n, person) for n in entry.names)
            self._forms[position] = forms
        return forms

    @property
    def _words(self) -> list[str]:
        """The vocabulary as Python strings (decoded once)."""
        words = self._vocab_words
        if words is None:
            blob = self.vocab.blob.tobytes()
            bounds = self.vocab.offsets.tolist()
            words = [blob[bounds[i] : bounds[i + 1]].decode() for i in range(len(bounds) - 1)]
            self._vocab_words = words
        return words

    def _vocab_ids(self, keys: Sequence[str], hashes: np.ndarray | None = None) -> list[int]:
        """The vocabulary id of each key (-1 where it is not in the vocabulary)."""
        if not len(self.vocab_hash):
            return [-1] * len(keys)
        if hashes is None:
            hashes = _hashes(keys)
        at = np.minimum(np.searchsorted(self.vocab_hash, hashes), len(self.vocab_hash) - 1)
        hit = self.vocab_hash[at] == hashes
        words = self._words
        out = []
        for key, ok, i in zip(keys, hit.tolist(), at.tolist(), strict=True):
            vid = int(self.vocab_hash_id[i]) if ok else -1
            out.append(vid if vid >= 0 and words[vid] == key else -1)
        return out

    def _vocab_id(self, key: str) -> int:
        return self._vocab_ids([key])[0]

    def _deleted_from(self, hashes: np.ndarray) -> np.ndarray:
        """The vocabulary ids of keys one of whose one-letter deletions has one of ``hashes``."""
        lo = np.searchsorted(self.del_hash, hashes, "left")
        hi = np.searchsorted(self.del_hash, hashes, "right")
        spans = [self.del_vocab[a:b] for a, b in zip(lo.tolist(), hi.tolist(), strict=True) if b > a]
        return np.concatenate(spans) if spans else np.zeros(0, dtype=np.int32)

    def lookup(self, key: str, han: bool = False) -> dict[int, float]:
        """The vocabulary ids near ``key`` (a phonetic key) and their similarity to it (at least
        :data:`TOKEN_MIN_SIM`): equal, one letter transposed, missing, extra or changed, or (long keys) the same
        first letters; and those of its consonant outline (:data:`SKELETON_SIM`)."""
        return self._near(key, han)

    def _prefix_span(self, key: str) -> tuple[int, int]:
        """The vocabulary ids (a range: the vocabulary is sorted) whose keys begin with ``key``'s first letters."""
        prefixes = self._prefix_numbers
        if prefixes is None:  # the S3 prefixes as big-endian numbers: the same order, a cheaper search
            raw = self.vocab_prefix.view(np.uint8).reshape(-1, PREFIX).astype(np.uint32)
            prefixes = self._prefix_numbers = (raw[:, 0] << 16) | (raw[:, 1] << 8) | raw[:, 2]
        p = key[:PREFIX].encode()
        if len(p) != PREFIX:  # not three one-byte letters: the byte-string search
            return (
                int(np.searchsorted(self.vocab_prefix, p, "left")),
                int(np.searchsorted(self.vocab_prefix, p, "right")),
            )
        number = np.uint32((p[0] << 16) | (p[1] << 8) | p[2])
        return int(np.searchsorted(prefixes, number, "left")), int(np.searchsorted(prefixes, number, "right"))

    @property
    def _compacts(self) -> list[str]:
        """The names' phonetic keys written together, as Python strings (decoded once, for the re-ranking)."""
        found = self._compact_list
        if found is None:
            blob = self.name_compact.blob.tobytes()
            bounds = self.name_compact.offsets.tolist()
            found = self._compact_list = [blob[bounds[i] : bounds[i + 1]].decode() for i in range(len(bounds) - 1)]
        return found

    @property
    def _offsets(self) -> list[int]:
        """The postings' offsets as Python numbers (slicing with them costs no NumPy scalar)."""
        found = self._offset_list
        if found is None:
            found = self._offset_list = self.post_offsets.tolist()
        return found

    @property
    def _word_ids(self) -> dict[str, int]:
        """The vocabulary id of each key (a dict: a probe costs a hash, not a NumPy call)."""
        found = self._word_id_map
        if found is None:
            found = self._word_id_map = {w: i for i, w in enumerate(self._words)}
        return found

    def _key_ids(self, keys: list[str]) -> list[int | None]:
        """The vocabulary id of each key (None where it is not in the vocabulary): from a dict of the vocabulary
        once this index has looked up enough tokens to pay for building it (a batch), else by hash (one query)."""
        if self._word_id_map is None and self._misses < WORD_DICT_AFTER:
            return [None if v < 0 else v for v in self._vocab_ids(keys)]
        return list(map(self._word_ids.get, keys))

    def _near(self, key: str, han: bool = False) -> dict[int, float]:
        """:meth:`lookup` (plain Python for the few keys of a probe: cheaper than NumPy calls)."""
        self._misses += 1
        probes = [key, *_deletions(key)] if len(key) > DELETE_MIN else [key]
        outlines = [SKELETON_MARK + o for o in _outlines(key, han)] if len(key) >= SKELETON_MIN - 1 else []
        ids = self._key_ids(probes + outlines)
        found = {v for v in ids[: len(probes)] if v is not None}
        exact = ids[0] if ids[0] is not None else -1
        if len(key) >= DELETE_MIN - 1:
            found.update(self._deleted_from(_hashes(probes)).tolist())
        lo = hi = 0
        if len(key) >= PREFIX_MIN and len(self.vocab_prefix):
            lo, hi = self._prefix_span(key)
            if hi - lo > PREFIX_SPAN:
                lo = hi = 0
        near: dict[int, float] = {}
        if hi == lo and len(found) == 1 and exact in found:
            near[exact] = 1.0
        elif found or hi > lo:
            words = self._words
            before = sorted(v for v in found if v < lo)
            after = sorted(v for v in found if v >= hi)
            ordered = [*before, *range(lo, hi), *after]
            choices = [words[i] for i in before] + words[lo:hi] + [words[i] for i in after]
            sims = cdist([key], choices, scorer=Indel.normalized_similarity)[0].tolist()
            near = {i: s for i, s in zip(ordered, sims, strict=True) if s >= TOKEN_MIN_SIM}
        for vid in ids[len(probes) :]:
            if vid is not None and near.get(vid, 0.0) < SKELETON_SIM:
                near[vid] = SKELETON_SIM
        return near

    def _cached_column(self, key: str, han: bool) -> _Column:
        cache = self._columns
        found = cache.get((key, han))
        if found is None:
            if len(cache) >= COLUMN_CACHE:
                cache.clear()
            found = cache[(key, han)] = self._column(key, han)
        return found

    def _column(self, key: str, han: bool = False) -> _Column:
        near = self._near(key, han)
        if not near:
            return _NO_COLUMN
        ranked = sorted(near.items(), key=lambda kv: kv[1])
        weight = float(self.idf[ranked[-1][0]])
        offsets = self._offsets if self._misses >= WORD_DICT_AFTER else self.post_offsets
        post_ids = self.post_ids
        spans = [post_ids[offsets[v] : offsets[v + 1]] for v, _ in ranked]
        sizes = [offsets[v + 1] - offsets[v] for v, _ in ranked]
        sims = np.repeat(np.asarray([sim for _, sim in ranked], dtype=np.float32), sizes)
        return _Column(weight, np.concatenate(spans), sims)

    def candidates(self, form: NameForm, limit: int = CANDIDATES) -> list[int]:
        """Entry positions that share enough key weight with ``form``, best first."""
        return [position for position, _ in self.candidate_names(form, limit)]

    def candidate_names(self, form: NameForm, limit: int = CANDIDATES) -> list[tuple[int, list[int]]]:
        """(entry position, the places of its names that share enough key weight with ``form``), best first. A
        Korean name in Latin letters is also looked up with its syllables in one romanisation (:func:`korean_key`),
        as Korean list names are also filed."""
        found = self._candidate_names(form, limit)
        if form.given_names:
            keyed = tuple(korean_key(t) or f for t, f in zip(form.tokens, form.folds, strict=True))
            if keyed != form.folds:
                places = {position: slots for position, slots in found}
                for position, slots in self._candidate_names(dataclasses.replace(form, folds=keyed), limit):
                    if position in places:
                        places[position].extend(k for k in slots if k not in places[position])
                    elif len(found) < limit:
                        found.append((position, slots))
                        places[position] = slots
        return found

    def _candidate_names(self, form: NameForm, limit: int) -> list[tuple[int, list[int]]]:
        tokens = form.tokens
        if not tokens or not self.name_count:
            return []
        singles = [self._cached_column(f, form.han) for f in form.folds]
        # a title (Haji, Maulavi) is no part of the name a list must cover (the scorer leaves it out likewise)
        weights = [0.0 if w <= TITLE_WEIGHT else c.weight for c, w in zip(singles, form.weights, strict=True)]
        # readings with two adjacent tokens, or all of them, written together (and other romanisations)
        joined: list[tuple[list[int], str]] = [
            ([i, i + 1], fold(tokens[i] + tokens[i + 1])) for i in range(len(tokens) - 1)
        ]
        if 2 < len(tokens) <= COMPACT_MAX_TOKENS:
            joined.append((list(range(len(tokens))), fold("".join(tokens))))
        for variant in form.variants:
            joined.append(([], variant))
        alternatives: list[tuple[list[int], _Column, float]] = []
        for covered, key in joined:
            col = self._cached_column(key, False)
            if len(col.names):
                alternatives.append((covered, col, max(col.weight, sum(weights[i] for i in covered))))
        columns = [(c, w) for c, w in zip(singles, weights, strict=True)] + [(c, w) for _, c, w in alternatives]
        sizes = [len(c.names) for c, _ in columns]
        if not sum(sizes):
            return []
        ids, inverse = np.unique(np.concatenate([c.names for c, _ in columns]), return_inverse=True)
        credit = np.zeros((len(columns), len(ids)), dtype=np.float32)
        at = 0
        for row, ((col, weight), size) in enumerate(zip(columns, sizes, strict=True)):
            if size:  # postings in order of rising similarity: a name's best one is written last
                credit[row, inverse[at : at + size]] = col.post_sims * weight
            at += size
        k = len(singles)
        base = credit[:k].sum(axis=0)
        possible = sum(weights)
        # the share of the shorter side's weight covered: the query's, or the name's when the name is shorter
        own = self.name_weight[ids]
        share = base / np.maximum(np.minimum(possible, own), 1e-6)
        for j, (covered, _col, weight) in enumerate(alternatives):
            w_parts = sum(weights[i] for i in covered)
            rest = base - credit[covered].sum(axis=0) if covered else base
            denominator = possible - w_parts + weight
            if denominator > 0:
                share = np.maximum(share, (rest + credit[k + j]) / np.maximum(np.minimum(denominator, own), 1e-6))
        keep = share >= MIN_SHARE
        ids, share = ids[keep], share[keep]
        if not len(ids):
            return []
        scores = share.astype(np.float64)
        wide = limit * RERANK
        if len(ids) > wide:
            top = np.argpartition(-scores, wide)[:wide]
            ids, scores = ids[top], scores[top]
        if len(ids) > limit:
            # among names sharing as much key weight, those spelled most alike first (one C call)
            if self._misses >= WORD_DICT_AFTER:
                names = [self._compacts[i] for i in ids.tolist()]
            else:
                names = [self.name_compact[i] for i in ids.tolist()]
            alike = cdist([form.compact], names, scorer=Indel.normalized_similarity)[0]
            scores = scores + alike
        ranked = ids[np.argsort(-scores, kind="stable")]
        out: list[tuple[int, list[int]]] = []
        seen: dict[int, list[int]] = {}
        for e, slot in zip(self.name_entry[ranked].tolist(), self.name_slot[ranked].tolist(), strict=True):
            if e in seen:
                seen[e].append(slot)
            elif len(out) < limit:
                seen[e] = [slot]
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
        threshold), at most ``limit``; ``match`` says whether each reaches the threshold. A name that can be read
        two ways (look-alike letters that could be Latin or not) is screened under both; an entry's hit is its
        better one."""
        check_name(query.name)
        name = query.name
        person = query.schema == "Person"
        best: dict[int, Hit] = {}
        for reading in name_readings(name):
            for form in (name_form(reading, person), *alternate_forms(reading, person)):
                if reading != name:
                    form = form.as_reading_of(name)
                for position, hit in self._screen_form(query, form, threshold, floor, candidates):
                    if position not in best or hit.score > best[position].score:
                        best[position] = hit
        hits = sorted(best.values(), key=lambda h: (-h.score, h.entry.key))
        return hits[:limit]

    def _screen_form(
        self, query: Query, form: NameForm, threshold: float, floor: float | None, candidates: int
    ) -> list[tuple[int, Hit]]:
        cutoff = threshold if floor is None else floor
        found = self.candidate_names(form, candidates)
        if not found or not form.tokens:
            return []
        vocabulary: dict[str, str] = {}
        han = False
        for position, slots in found:
            forms = self.entry_forms(position)
            for f in (forms[k] for k in slots):
                han = han or f.han != form.han
                for t, fo in zip(f.tokens, f.folds, strict=True):
                    vocabulary[t] = fo
        tokens = list(vocabulary)
        folds = list(vocabulary.values())
        plain = token_table(form, tokens, folds, False)
        tables = (plain, token_table(form, tokens, folds, True) if han else plain)
        out: list[tuple[int, Hit]] = []
        for position, slots in found:
            entry = self.entries[position]
            score, matched, features = score_names(
                query, form, entry, self.entry_forms(position), tables, min_score=cutoff, only=sorted(slots)
            )
            if score >= cutoff:
                out.append((position, Hit(entry, score, matched, score >= threshold, features)))
        return out


def _form_codec() -> tuple[tuple[int, Callable[[Any], Any]], ...] | None:
    """How the fields of a :class:`NameForm` come back from JSON, by their declared types: (place, conversion)
    of each field that is not a plain value; None when a field is of a type this does not know (the forms are
    then not kept)."""
    out: list[tuple[int, Callable[[Any], Any]]] = []
    for place, f in enumerate(dataclasses.fields(NameForm)):
        kind = str(f.type).replace(" ", "")
        if kind in ("str", "bool", "float", "int"):
            continue
        if kind.startswith("frozenset[") and kind.count("[") == 1:
            out.append((place, frozenset))
        elif kind.startswith("tuple[tuple[") and kind.count("[") == 2:
            out.append((place, lambda v: tuple(map(tuple, v))))
        elif kind.startswith("tuple[") and kind.count("[") == 1:
            out.append((place, tuple))
        else:
            return None
    return tuple(out)


_FORM_CODEC = _form_codec()


def encode_forms(forms: Sequence[NameForm]) -> bytes:
    """An entry's name forms as JSON: each its fields' values in order (a set sorted)."""
    return orjson.dumps(
        [
            [
                sorted(v) if isinstance(v, frozenset) else v
                for v in (getattr(form, f.name) for f in dataclasses.fields(form))
            ]
            for form in forms
        ]
    )


def decode_forms(raw: bytes) -> tuple[NameForm, ...]:
    """The name forms :func:`encode_forms` wrote."""
    assert _FORM_CODEC is not None
    forms = []
    for values in orjson.loads(raw):
        for place, read in _FORM_CODEC:
            values[place] = read(values[place])
        forms.append(NameForm(*values))
    return tuple(forms)


def cache_dir() -> Path:
    """Where indexes are kept: ``$TIERGATE_INDEX_CACHE``, else ``$XDG_CACHE_HOME/tiergate`` (``~/.cache/tiergate``)."""
    given = os.environ.get("TIERGATE_INDEX_CACHE")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tiergate"


@functools.cache
def code_stamp(folder: Path | None = None, files: tuple[str, ...] = STAMPED_SOURCES) -> str:
    """The hash of :data:`INDEX_FORMAT` and of the content of ``files`` in ``folder`` (default: this package's
    :data:`STAMPED_SOURCES`), the code that builds an index; a file that cannot be read counts as missing. About
    a millisecond, once per process."""
    base = folder if folder is not None else Path(__file__).parent
    digest = hashlib.sha256(INDEX_FORMAT.encode())
    for name in files:
        try:
            content = hashlib.sha256((base / name).read_bytes()).hexdigest()
        except OSError:
            content = "missing"
        digest.update(f"\n{name}\t{content}".encode())
    return digest.hexdigest()[:32]


def index_path(url: str, version: str, cache: Path | None = None) -> Path:
    """The file that keeps the index of the list store at ``url`` holding the lists of ``version`` (its
    ``data_version``), in ``cache`` (default :func:`cache_dir`): named by the hash of the store's URL, of the
    lists' content and of the code that builds it (:func:`code_stamp`), so a store's index is rebuilt when its
    lists change or that code does, and only then."""
    folder = cache if cache is not None else cache_dir()
    where = hashlib.sha256(url.encode()).hexdigest()[:16]
    key = hashlib.sha256(f"{code_stamp()}\n{version}".encode()).hexdigest()[:32]
    return folder / f"screen-index-{where}-{key}.npz"


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
