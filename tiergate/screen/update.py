"""``tiergate lists update``: fetch the official list files, verify them, and swap them into the list store.

Every file is fetched (or copied from a folder) and read completely before the store is touched; each must be in
its expected format and hold its expected lists. The store then takes them in one transaction that also removes
the bundled snapshot they supersede: a failure anywhere leaves the store as it was. Each list's data date is the one
its file states, else the publisher's ``Last-Modified`` date of the download, else its latest listing date
(``ingest.read_lists``): never the day of the update.
"""

from __future__ import annotations

import email.utils
import hashlib
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from tiergate.screen.model import Dataset, ListFileError, ListStoreError
from tiergate.screen.store import BUNDLED_LISTS, ListStore, LoadReport

MAX_DOWNLOAD_BYTES = 512 << 20
TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Source:
    """One official file: where it is published, the name it is kept under, and what it must hold."""

    name: str
    """The name the file is kept (and its dataset named) under."""
    url: str
    """The official address (``--source BASE`` looks for the last part of it under BASE)."""
    format: str
    """The format ``ingest`` must recognise (a file of another format is refused)."""
    lists: tuple[str, ...]
    """List codes the file must hold entries of."""
    min_entries: int

    @property
    def remote_name(self) -> str:
        return PurePath(urllib.parse.urlsplit(self.url).path).name


OFFICIAL_SOURCES = (
    Source(
        "trade_gov_csl.csv",
        "https://data.trade.gov/downloadable_consolidated_screening_list/v1/consolidated.csv",
        "trade-gov-csl-csv",
        ("EL", "DPL", "SDN"),
        10,
    ),
    Source(
        "un_sc_consolidated.xml",
        "https://scsanctions.un.org/resources/xml/en/consolidated.xml",
        "un-sc-xml",
        ("UN",),
        100,
    ),
)
"""The US Consolidated Screening List (trade.gov: the Entity List, Denied Persons, Unverified, Military End-User,
SDN and the non-SDN lists, State's ITAR debarred and nonproliferation lists) and the UN Security Council list."""


@dataclass
class Fetched:
    source: Source
    path: Path
    origin: str
    published: str | None
    """The publisher's ``Last-Modified`` date, when the file came over HTTP with one."""


def _http_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError):
        return None


def _download(url: str, target: Path) -> str | None:
    request = urllib.request.Request(url, headers={"User-Agent": "tiergate-lists-update"})  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            published = _http_date(response.headers.get("Last-Modified"))
            with target.open("wb") as handle:
                total = 0
                while chunk := response.read(1 << 20):
                    total += len(chunk)
                    if total > MAX_DOWNLOAD_BYTES:
                        raise ListFileError(f"larger than {MAX_DOWNLOAD_BYTES:,} bytes", where=url)
                    handle.write(chunk)
    except urllib.error.HTTPError as error:
        raise ListFileError(f"HTTP {error.code} {error.reason}", where=url, hint="nothing was changed") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ListFileError(
            f"cannot fetch: {reason}",
            where=url,
            hint="no network? fetch the files elsewhere and give their folder with --source; nothing was changed",
        ) from None
    return published


def fetch(sources: Sequence[Source], base: str | None, folder: Path) -> list[Fetched]:
    """Each source's file into ``folder``: from its official URL, or from ``base`` (a URL or a folder) under the
    official file name (or the name it is kept under)."""
    found: list[Fetched] = []
    for source in sources:
        target = folder / source.name
        if base is None:
            found.append(Fetched(source, target, source.url, _download(source.url, target)))
        elif urllib.parse.urlsplit(base).scheme in ("http", "https"):
            url = base.rstrip("/") + "/" + source.remote_name
            found.append(Fetched(source, target, url, _download(url, target)))
        else:
            local = Path(base)
            if not local.is_dir():
                raise ListFileError("not a folder or an http(s) URL", where=base, hint="nothing was changed")
            candidates = [local / source.remote_name, local / source.name]
            given = next((p for p in candidates if p.is_file()), None)
            if given is None:
                raise ListFileError(
                    f"no {source.remote_name} (or {source.name}) in this folder", where=base, hint="nothing was changed"
                )
            shutil.copyfile(given, target)
            found.append(Fetched(source, target, str(given), None))
    return found


def verify(fetched: Sequence[Fetched]) -> list[Dataset]:
    """Read every fetched file completely and check it is what its source publishes (format, lists, size)."""
    from tiergate.screen.ingest import read_lists

    dates = {f.path.name: f.published for f in fetched if f.published}
    try:
        sets = read_lists([f.path for f in fetched], dates)
    except ListFileError as error:  # named by where it came from, not by the temporary copy

        def origin(text: str | None) -> str | None:
            for f in fetched:
                text = text.replace(str(f.path), f.origin) if text else text
            return text

        raise ListFileError(
            origin(error.message) or "", where=origin(error.where), hint="nothing was changed"
        ) from None
    by_file = {PurePath(ds.files[0]).name: ds for ds in sets}
    for f in fetched:
        ds = by_file.get(f.path.name)
        if ds is None or ds.format != f.source.format:
            raise ListFileError(
                f"not the expected format ({f.source.format}; read as {ds.format if ds else 'nothing'})",
                where=f.origin,
                hint="nothing was changed",
            )
        codes = {e.list_code for e in ds.entries}
        missing = [code for code in f.source.lists if code not in codes]
        if missing:
            raise ListFileError(
                f"holds no entries of list(s) {', '.join(missing)} (an incomplete file?)",
                where=f.origin,
                hint="nothing was changed",
            )
        if len(ds.entries) < f.source.min_entries:
            raise ListFileError(
                f"holds {len(ds.entries)} entries, fewer than the {f.source.min_entries} expected (an incomplete "
                "file?)",
                where=f.origin,
                hint="nothing was changed",
            )
    return sets


def kept_folder(url: str) -> Path:
    """Where fetched list files are kept (every entry names its file and line): ``tiergate-lists-files/`` beside a
    SQLite list store, else in the temporary folder (as the server keeps uploaded list files)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and url[len(prefix) :] not in ("", ":memory:"):
        return Path(url[len(prefix) :]).parent / "tiergate-lists-files"
    return Path(tempfile.gettempdir()) / "tiergate-lists-files"


def bundled_datasets(store: ListStore) -> list[str]:
    """The datasets of the store loaded from the bundled snapshot (every file of theirs is a bundled file)."""
    names = {p.name for p in BUNDLED_LISTS}
    return [row["dataset"] for row in store.status() if row["files"] and set(row["files"]) <= names]


def update(
    store: ListStore,
    base: str | None = None,
    *,
    sources: Sequence[Source] = OFFICIAL_SOURCES,
    force: bool = False,
    actor: str | None = None,
) -> list[LoadReport]:
    """Fetch, verify and load the official lists into ``store`` in one transaction, retiring the bundled snapshot
    they supersede. Any failure (network, format, a list too small or shrunk by more than 10 %) changes nothing."""
    store.init()
    with tempfile.TemporaryDirectory(prefix="tiergate-lists-") as tmp:
        fetched = fetch(sources, base, Path(tmp))
        sets = verify(fetched)
        kept = kept_folder(store.url)
        moved: dict[str, str] = {}
        for f in fetched:
            content = f.path.read_bytes()
            folder = kept / hashlib.sha256(content).hexdigest()[:16]
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f.path.name
            if not target.exists():
                shutil.copyfile(f.path, target)
            moved[str(f.path)] = str(target)
    from dataclasses import replace

    sets = [replace(ds, files=tuple(moved.get(p, p) for p in ds.files)) for ds in sets]
    try:
        return store.load(sets, force=force, actor=actor, retire=bundled_datasets(store))
    except ListStoreError as error:
        raise ListStoreError(error.message, where=error.where, hint=error.hint or "nothing was changed") from None
