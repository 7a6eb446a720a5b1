"""Reading restricted-party list files into :class:`ListEntry` records.

Formats (recognised by content, not only by name):

- OFAC legacy CSV (``sdn.csv`` / ``cons_prim.csv``: no header, 12 columns, ``-0- `` for empty, a
  0x1A end byte), joined with its sibling alias, address and comments files when present
  (``*alt*``, ``*add*``, ``*comments*``); aliases, nationalities and identifiers are also read from
  the remarks (``a.k.a. '...'``, ``nationality Iran``, ``Passport 123 (Egypt)``).
- trade.gov Consolidated Screening List CSV (2019 layout and the current one with ``_id``).
- UN Security Council consolidated list XML.
- NSF restricted-entities JSON (``{"list_id", "count", "entities": [...]}``; its ``nsfreg_lists.json``
  metadata file gives the lists' titles and is not a list itself).
- FollowTheMoney JSON lines (``Person``, ``Organization``, ``Company``, ``LegalEntity``, ``Vessel``
  entities; ``Ownership`` records become the asset's owners with their percentage; ``Sanction``
  records give programmes and listing dates).
- Allied lists, each feeding the law of its jurisdiction in the combined decision: the EU Financial
  Sanctions File (XML, ``sanctionEntity`` records; list ``EU-FSF``); the UK Sanctions List (FCDO XML,
  ``Designation`` records; ``UK-SL``); Japan's End User List (METI's PDF table: No., Country or Region,
  Company or Organization, Also Known As, Type of WMD; ``JP-EUL``); Taiwan's SHTC entity list (MOEA/ITA
  CSV: 項次item, 名稱name, 別名alias, 地址address, 護照號碼ID Number, 國家代碼country code; ``TW-SHTC``).

A file is read completely before anything is stored: any malformed line raises
:class:`ListFileError` naming the file and line, and nothing of the file is loaded.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path, PurePath
from typing import Any

from tiergate.screen.countries import codes, country_code, trailing_country
from tiergate.screen.model import Dataset, Identifier, ListEntry, ListFileError, Owner

EMPTY = "-0-"
OFAC_COLUMNS = 12
# The Consolidated Screening List's ``source`` values, to list codes.
CSL_SOURCES = {
    "entity list": "EL",
    "specially designated nationals": "SDN",
    "denied persons list": "DPL",
    "military end user": "MEU",
    "unverified list": "UVL",
    "nonproliferation sanctions": "ISN",
    "itar debarred": "DTC",
    "sectoral sanctions identifications": "SSI",
    "foreign sanctions evaders": "FSE",
    "palestinian legislative council": "PLC",
    "capta list": "CAP",
    "non-sdn menu-based sanctions": "MBS",
    "non-sdn chinese military-industrial complex": "CMIC",
}
NSF_LISTS = {
    "bis-entity-list": "EL",
    "bis-meu": "MEU",
    "bis-dpl": "DPL",
    "dow-1260h": "1260H",
    "dow-1286": "1286",
    "ofac-nscmic": "CMIC",
    "ofac-eo14032": "EO14032",
    "state-debarred-statutory": "DTC",
    "state-debarred-admin": "DTC",
    "state-nonproliferation": "ISN",
    "fcc-covered": "FCC",
    "dhs-uflpa": "UFLPA",
    "cbp-wro": "WRO",
}
FTM_PARTIES = {"Person", "Organization", "Company", "LegalEntity", "Vessel", "Airplane", "PublicBody"}
CSL_REQUIRED = ("source", "name")


_DATE = re.compile(r"[_\-.]?(?:\d{4}-\d\d-\d\d|\d{8})(?=[_\-.]|$)")


def dataset_name(path: Path) -> str:
    """A dataset's default name: the file name without suffixes (``.csv.gz`` included), full dates and ``prim``
    (so that the next version of ``ofac_sdn_2024-05-03.csv`` replaces it)."""
    stem = path.name.split(".")[0]
    stem = _DATE.sub("", stem)
    stem = re.sub(r"[_\-]prim$", "", stem)
    return re.sub(r"[^A-Za-z0-9]+", "-", stem).strip("-").lower() or "list"


def _sha256(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(_read_bytes(path))
    return digest.hexdigest()


MAX_GZIP_BYTES = 1 << 30
"""The most a gzip-compressed list file may decompress to."""


def _plain_name(path: Path) -> str:
    """The file's name without a ``.gz`` suffix (a compressed list is read as the file it holds)."""
    name = path.name
    return name[:-3] if name.lower().endswith(".gz") else name


_NAME_DATE = re.compile(r"(?<!\d)(\d{4})-?(\d\d)-?(\d\d)(?!\d)")


def name_date(name: str) -> str | None:
    """A full date written in a file name (``ofac_sdn_2024-05-03.csv``, ``dpl_20260414.csv``), else None."""
    for found in _NAME_DATE.finditer(name):
        try:
            return dt.date(int(found.group(1)), int(found.group(2)), int(found.group(3))).isoformat()
        except ValueError:
            continue
    return None


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            import gzip
            import zlib

            try:
                with gzip.GzipFile(fileobj=io.BytesIO(data)) as packed:
                    data = packed.read(MAX_GZIP_BYTES + 1)
            except (OSError, EOFError, zlib.error) as error:
                raise ListFileError(f"not a readable gzip file: {error}", where=str(path)) from None
            if len(data) > MAX_GZIP_BYTES:
                raise ListFileError(f"decompresses to more than {MAX_GZIP_BYTES:,} bytes", where=str(path))
        return data
    except FileNotFoundError:
        raise ListFileError("no such file", where=str(path)) from None
    except IsADirectoryError:
        raise ListFileError("is a folder", where=str(path), hint="give the list files, or the folder's files") from None
    except OSError as error:
        raise ListFileError(f"cannot read: {error.strerror}", where=str(path)) from None


def _text(path: Path, data: bytes, *, legacy: bool = False) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if legacy:  # OFAC's legacy files are Windows-1252 text
            return data.decode("cp1252", errors="replace")
        line = data[: error.start].count(b"\n") + 1
        raise ListFileError(f"not UTF-8 text (byte {error.start})", where=f"{path}:{line}") from None


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = " ".join(value.replace("\x00", " ").split())
    return None if not text or text == EMPTY else text


def _split(value: str | None, sep: str = ";") -> list[str]:
    text = _clean(value)
    if not text:
        return []
    return [p for p in (_clean(x) for x in text.split(sep)) if p]


def _iso_date(text: str | None) -> str | None:
    value = _clean(text)
    if not value:
        return None
    for fmt in ("%Y-%m-%d", "%B %d, %Y", "%b %d, %Y", "%d %b %Y", "%d %B %Y", "%m/%d/%Y", "%m/%d/%y"):
        try:
            return dt.datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    return value


# ---------------------------------------------------------------- detection


def detect(path: Path, head: bytes) -> str:
    """The format of a file: ``ofac``, ``ofac-alt``, ``ofac-add``, ``ofac-comments``, ``csl``, ``un-xml``,
    ``nsf``, ``nsf-meta`` or ``ftm`` (a ``.gz`` file: the format of the file it holds)."""
    name = _plain_name(path).lower()
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"%PDF"):
        return "jp-eul"
    if text.startswith(b"<"):
        if b"CONSOLIDATED_LIST" in head:
            return "un-xml"
        if b"sanctionEntity" in head or b"fpi/fsd/export" in head:
            return "eu-fsf"
        if b"<Designation" in head:
            return "uk-sl"
        raise ListFileError(
            "an XML file that is not the UN consolidated list, the EU Financial Sanctions File or the UK "
            "Sanctions List",
            where=f"{path}:1",
        )
    if text.startswith(b"{") or text.startswith(b"["):
        if name.endswith((".jsonl", ".ndjson", ".ftm.json")) or b'"schema"' in head.split(b"\n", 1)[0]:
            return "ftm"
        if b'"lists"' in head and b'"dcl_url"' in head:
            return "nsf-meta"
        return "nsf"
    if name.endswith(".csv"):
        first = text.split(b"\n", 1)[0].decode("utf-8", errors="replace")
        if first.startswith(("_id,", "source,")):
            return "csl"
        if "名稱name" in first or "項次item" in first:
            return "tw-shtc"
        try:
            fields = next(csv.reader([first.replace("\r", "")]), [])
        except csv.Error:
            fields = []
        if fields and fields[0].strip().isdigit():
            for key in ("comments", "alt", "add"):
                if re.search(rf"(^|[_\-.]){key}([_\-.]|$)", name.rsplit(".", 1)[0]):
                    return f"ofac-{key}"
            return "ofac"
    raise ListFileError(
        "cannot tell the list format",
        where=str(path),
        hint="expected OFAC legacy CSV, trade.gov CSL CSV, UN XML, NSF JSON, FollowTheMoney JSON lines, EU FSF XML, "
        "UK Sanctions List XML, Japan's End User List PDF or Taiwan's SHTC entity list CSV",
    )


def read_lists(paths: Sequence[Path], dates: Mapping[str, str] | None = None) -> list[Dataset]:
    """Every dataset in ``paths`` (files; OFAC sibling files are joined to their primary file), each with its data
    date: the date its file states (UN ``dateGenerated``, NSF snapshot or ``extracted``, EU/UK generation date),
    else a full date in the file's name (``ofac_sdn_2024-05-03.csv``), else ``dates[file name]`` (a documented
    snapshot date, or the publisher's ``Last-Modified`` of a download), else the latest listing date of its entries,
    else None (unknown, never the day it was loaded)."""
    heads: dict[Path, str] = {}
    for path in paths:
        data = _read_bytes(path)
        heads[path] = detect(path, data[:4096])
    meta: dict[str, dict[str, Any]] = {}
    for path, kind in heads.items():
        if kind == "nsf-meta":
            meta.update(_nsf_meta(path))
    out: list[Dataset] = []
    for path, kind in heads.items():
        if kind == "ofac":
            out.append(_ofac(path))
        elif kind.startswith("ofac-"):
            primary = _ofac_primary(path)
            if primary is None or primary not in {p.resolve() for p in heads}:
                raise ListFileError(
                    f"an OFAC {kind[5:]} file is read with its primary file",
                    where=str(path),
                    hint="load it together with the primary (…prim.csv or sdn.csv) file",
                )
        elif kind == "csl":
            out.append(_csl(path))
        elif kind == "un-xml":
            out.append(_un(path))
        elif kind == "nsf":
            out.append(_nsf(path, meta))
        elif kind == "ftm":
            out.append(_ftm(path))
        elif kind in ALLIED_READERS:
            out.append(ALLIED_READERS[kind](path))
    seen: dict[str, Dataset] = {}
    for ds in out:
        if ds.dataset in seen:
            raise ListFileError(
                f"two files hold the same dataset {ds.dataset!r} ({seen[ds.dataset].files[0]})",
                where=ds.files[0],
                hint="load one version of a list at a time",
            )
        seen[ds.dataset] = ds
    return [_versioned(_dated(ds, dates or {})) for ds in out]


def _dated(ds: Dataset, dates: Mapping[str, str]) -> Dataset:
    """``ds`` with its data date when its file states none (see :func:`read_lists`)."""
    if ds.file_date:
        return ds
    name = PurePath(ds.files[0]).name
    date = name_date(name) or dates.get(name) or dates.get(_plain_name(Path(name)))
    if not date:
        listed = [e.listed_on for e in ds.entries if e.listed_on and re.fullmatch(r"\d{4}-\d\d-\d\d", e.listed_on)]
        date = max(listed) if listed else None
    return replace(ds, file_date=date)


def _versioned(ds: Dataset) -> Dataset:
    """``ds`` whose entries name the version of the dataset they were read from (its files' hash and date)."""
    entries = tuple(replace(e, dataset_sha256=ds.sha256, dataset_date=ds.file_date) for e in ds.entries)
    return replace(ds, entries=entries)


# ---------------------------------------------------------------- OFAC legacy CSV

_AKA = re.compile(r"\b[afn]\.k\.a\.,?\s*'([^']+(?:'[^';]+)*)'", re.IGNORECASE)
_NATION = re.compile(r"^(?:alt\.\s+)?(?:nationality|citizen)\s+(.+)$", re.IGNORECASE)
_IDENT = re.compile(
    r"^(?:alt\.\s+)?(?P<kind>(?:[A-Z][\w./#&()-]*\s?){0,6}?"
    r"(?:Passport|No\.|Number|ID|#|IMO|MMSI|SWIFT/BIC|Code|C\.U\.R\.P\.|R\.F\.C\.|D\.N\.I\.|Cedula|INN|OGRN|LEI))"
    r"\s+(?P<value>[A-Z0-9][A-Za-z0-9./-]{2,})(?:\s+\((?P<country>[^)]+)\))?\.?$"
)


def _ofac_primary(path: Path) -> Path | None:
    name = path.name
    for key in ("comments", "alt", "add"):
        for candidate in (name.replace(key, "prim"), name.replace(f"sdn_{key}", "sdn"), name.replace(key, "sdn")):
            if candidate != name and (path.parent / candidate).exists():
                return (path.parent / candidate).resolve()
    return None


def _ofac_sibling(path: Path, key: str) -> Path | None:
    name = path.name
    options = [name.replace("prim", key)] if "prim" in name else []
    if "sdn" in name.lower():
        options += [name.replace("sdn", f"sdn_{key}"), name.replace("sdn", key)]
    for option in options:
        candidate = path.parent / option
        if option != name and candidate.exists():
            return candidate
    return None


def _ofac_rows(path: Path, width: int) -> Iterator[tuple[int, list[str]]]:
    text = _text(path, _read_bytes(path), legacy=True)
    if text.endswith("\x1a"):
        text = text[:-1]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != width:
                raise ListFileError(
                    f"{len(row)} fields where this OFAC file has {width} (truncated or damaged line?)",
                    where=f"{path}:{reader.line_num}",
                )
            if not row[0].strip().isdigit():
                raise ListFileError(f"ent_num {row[0]!r} is not a number", where=f"{path}:{reader.line_num}")
            yield reader.line_num, [x.strip() for x in row]
    except csv.Error as error:
        raise ListFileError(f"malformed CSV: {error}", where=f"{path}:{reader.line_num}") from None


_MONTHS = {
    m: i
    for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)
}
_DOB_DAY = re.compile(r"^(\d{1,2}) ([A-Za-z]{3})[a-z]* (\d{4})$")
_DOB_MONTH = re.compile(r"^([A-Za-z]{3})[a-z]* (\d{4})$")
_DOB_YEARS = re.compile(r"^(?:circa )?(\d{4})(?: to (\d{4}))?$")


def birth_dates(text: str) -> list[str]:
    """OFAC's ways of writing a date of birth (``10 Dec 1948``, ``Mar 1961``, ``1946``, ``circa 1955``,
    ``1960 to 1962``) as ``YYYY-MM-DD``, ``YYYY-MM`` or years."""
    value = text.strip().rstrip(".")
    m = _DOB_DAY.match(value)
    if m and m.group(2).lower() in _MONTHS:
        return [f"{m.group(3)}-{_MONTHS[m.group(2).lower()]:02d}-{int(m.group(1)):02d}"]
    m = _DOB_MONTH.match(value)
    if m and m.group(1).lower() in _MONTHS:
        return [f"{m.group(2)}-{_MONTHS[m.group(1).lower()]:02d}"]
    m = _DOB_YEARS.match(value)
    if m:
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        return [str(y) for y in range(first, min(last, first + 20) + 1)]
    return []


def _remarks_dobs(remarks: str | None) -> list[str]:
    found: list[str] = []
    for part in (remarks or "").split(";"):
        m = re.match(r"^\s*(?:alt\. )?DOB (.+)$", part.strip())
        if m:
            found.extend(birth_dates(m.group(1)))
    return list(dict.fromkeys(found))


def _remarks_facts(remarks: str | None) -> tuple[list[str], list[str], list[Identifier]]:
    aliases: list[str] = []
    nations: list[str] = []
    ids: list[Identifier] = []
    if not remarks:
        return aliases, nations, ids
    aliases = [a.strip() for a in _AKA.findall(remarks)]
    for part in remarks.split(";"):
        part = part.strip().rstrip(".")
        m = _NATION.match(part)
        if m:
            code = country_code(m.group(1))
            if code:
                nations.append(code)
            continue
        m = _IDENT.match(part)
        if m and not part.lower().startswith(("dob", "pob", "a.k.a", "f.k.a", "linked to")):
            ids.append(Identifier(m.group("kind").strip(), m.group("value"), country_code(m.group("country"))))
    return aliases, nations, ids


def _ofac_program_list(programs: list[str], sdn: bool) -> str:
    if sdn:
        return "SDN"
    joined = " ".join(programs).upper()
    for key, code in (
        ("UKRAINE-EO13662", "SSI"),
        ("PLC", "PLC"),
        ("CMIC", "CMIC"),
        ("FSE", "FSE"),
        ("MBS", "MBS"),
        ("CAPTA", "CAP"),
    ):
        if key in joined:
            return code
    return "NONSDN"


def _ofac(path: Path) -> Dataset:
    sdn = "sdn" in path.name.lower() and "nonsdn" not in path.name.lower() and "cons" not in path.name.lower()
    dataset = dataset_name(path)
    files = [path]
    extra_aliases: dict[str, list[str]] = defaultdict(list)
    addresses: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    comments: dict[str, str] = {}
    alt = _ofac_sibling(path, "alt")
    if alt is not None:
        files.append(alt)
        for _, row in _ofac_rows(alt, 5):
            name = _clean(row[3])
            if name:
                extra_aliases[row[0]].append(name)
    add = _ofac_sibling(path, "add")
    if add is not None:
        files.append(add)
        for _, row in _ofac_rows(add, 6):
            parts = [p for p in (_clean(row[2]), _clean(row[3]), _clean(row[4])) if p]
            if parts:
                addresses[row[0]].append((", ".join(parts), country_code(_clean(row[4]))))
    com = _ofac_sibling(path, "comments")
    if com is not None:
        files.append(com)
        for _, row in _ofac_rows(com, 2):
            comments[row[0]] = row[1]
    entries: list[ListEntry] = []
    seen: set[str] = set()
    for line, row in _ofac_rows(path, OFAC_COLUMNS):
        ent, name = row[0], _clean(row[1])
        if not name:
            raise ListFileError("an entry without a name", where=f"{path}:{line}")
        if ent in seen:
            raise ListFileError(f"ent_num {ent} appears twice", where=f"{path}:{line}")
        seen.add(ent)
        kind = (_clean(row[2]) or "").lower()
        schema = {"individual": "Person", "vessel": "Vessel", "aircraft": "Airplane"}.get(kind, "Organization")
        programs = [p.strip(" []") for p in re.split(r"\]\s*\[", row[3]) if p.strip(" []-0")]
        remarks = _clean(row[11])
        if ent in comments and remarks:
            remarks = remarks + comments[ent]
        aliases, nations, ids = _remarks_facts(remarks)
        place = [a for a, _ in addresses.get(ent, [])]
        countries = list(nations) + [c for _, c in addresses.get(ent, []) if c] + [i.country for i in ids if i.country]
        flag = country_code(_clean(row[9]))
        if flag:
            countries.append(flag)
        all_aliases = [a for a in dict.fromkeys([*aliases, *extra_aliases.get(ent, [])]) if a != name]
        entries.append(
            ListEntry(
                dataset=dataset,
                entry_id=ent,
                list_code=_ofac_program_list(programs, sdn),
                schema=schema,
                name=name,
                aliases=tuple(all_aliases),
                countries=tuple(dict.fromkeys(countries)),
                addresses=tuple(place),
                identifiers=tuple(dict.fromkeys(ids)),
                programs=tuple(programs),
                birth_dates=tuple(_remarks_dobs(remarks)) if schema == "Person" else (),
                remarks=remarks,
                source_file=path.name,
                source_line=line,
            )
        )
    title = "OFAC Specially Designated Nationals (SDN) list" if sdn else "OFAC Consolidated (non-SDN) list"
    return Dataset(dataset, "ofac-legacy-csv", title, tuple(map(str, files)), _sha256(files), None, tuple(entries))


# ---------------------------------------------------------------- trade.gov CSL


def _csl_list(source: str) -> str:
    low = source.lower()
    for key, code in CSL_SOURCES.items():
        if low.startswith(key):
            return code
    m = re.search(r"\(([A-Z-]+)\)", source)
    return m.group(1) if m else source


def _csl(path: Path) -> Dataset:
    text = _text(path, _read_bytes(path))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None:
        raise ListFileError("empty CSV file (no header row)", where=str(path))
    missing = [c for c in CSL_REQUIRED if c not in reader.fieldnames]
    if missing:
        raise ListFileError(f"missing column(s) {', '.join(missing)}", where=f"{path}:1")
    entries: list[ListEntry] = []
    dataset = dataset_name(path)
    ids_seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                raise ListFileError("more fields than the header has", where=f"{path}:{line}")
            if any(v is None for v in row.values()):
                raise ListFileError("fewer fields than the header has (truncated line?)", where=f"{path}:{line}")
            name = _clean(row["name"])
            if not name:
                raise ListFileError("an entry without a name", where=f"{path}:{line}")
            source = _clean(row["source"]) or ""
            list_code = _csl_list(source)
            base = _clean(row.get("_id")) or f"{list_code}-{_clean(row.get('entity_number')) or ''}"
            if base.endswith("-"):
                base = f"{list_code}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"
            ids_seen[base] = ids_seen.get(base, 0) + 1
            entry_id = base if ids_seen[base] == 1 else f"{base}#{ids_seen[base]}"
            kind = (_clean(row.get("type")) or "").lower()
            schema = {
                "individual": "Person",
                "entity": "Organization",
                "vessel": "Vessel",
                "aircraft": "Airplane",
            }.get(kind, "LegalEntity")  # the Entity List leaves the type empty, and lists persons too
            addresses = _split(row.get("addresses"))
            countries = [trailing_country(a) for a in addresses]
            countries += [country_code(c) for c in _split(row.get("nationalities"), ",")]
            countries += [country_code(c) for c in _split(row.get("citizenships"), ",")]
            identifiers = []
            for chunk in _split(row.get("ids")):
                parts = [p.strip() for p in chunk.split(",")]
                if len(parts) >= 2 and parts[1] and any(ch.isdigit() for ch in parts[1]):
                    identifiers.append(
                        Identifier(parts[0], parts[1], country_code(parts[2]) if len(parts) > 2 else None)
                    )
            alt = _clean(row.get("alt_names")) or ""
            aliases = [re.sub(r"^and\s+", "", a).strip() for a in _split(alt)]
            entries.append(
                ListEntry(
                    dataset=dataset,
                    entry_id=entry_id,
                    list_code=list_code,
                    schema=schema,
                    name=name,
                    aliases=tuple(a for a in dict.fromkeys(aliases) if a and a != name),
                    countries=tuple(dict.fromkeys(c for c in countries if c)),
                    addresses=tuple(addresses),
                    identifiers=tuple(identifiers),
                    programs=tuple(_split(row.get("programs"))),
                    birth_dates=tuple(
                        d for d in (_iso_date(x) for x in _split(row.get("dates_of_birth"))) if d and d[:4].isdigit()
                    ),
                    listed_on=_iso_date(row.get("start_date")),
                    license_requirement=_clean(row.get("license_requirement")),
                    license_policy=_clean(row.get("license_policy")),
                    remarks=_clean(row.get("remarks")),
                    source_file=path.name,
                    source_line=line,
                )
            )
    except csv.Error as error:
        raise ListFileError(f"malformed CSV: {error}", where=f"{path}:{reader.line_num}") from None
    return Dataset(
        dataset,
        "trade-gov-csl-csv",
        "trade.gov Consolidated Screening List",
        (str(path),),
        _sha256([path]),
        None,  # the CSV states no date: the documented one, else its latest listing date (read_lists)
        tuple(entries),
    )


# ---------------------------------------------------------------- UN XML


def _un(path: Path) -> Dataset:
    from lxml import etree

    data = _read_bytes(path)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        line = error.position[0] if error.position else 0
        raise ListFileError(f"malformed XML: {error.msg}", where=f"{path}:{line}") from None
    if root.tag != "CONSOLIDATED_LIST":
        raise ListFileError(f"root element <{root.tag}>, not <CONSOLIDATED_LIST>", where=f"{path}:{root.sourceline}")

    def text(node: Any, tag: str) -> str | None:
        child = node.find(tag)
        return _clean(child.text) if child is not None and child.text else None

    def texts(node: Any, xpath: str) -> list[str]:
        return [t for t in (_clean(x.text) for x in node.iterfind(xpath) if x.text) if t]

    entries: list[ListEntry] = []
    for kind, tag in (("Person", "INDIVIDUALS/INDIVIDUAL"), ("Organization", "ENTITIES/ENTITY")):
        for node in root.iterfind(tag):
            line = node.sourceline or 0
            dataid = text(node, "DATAID")
            if not dataid:
                raise ListFileError("a record without DATAID", where=f"{path}:{line}")
            parts = [text(node, t) for t in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")]
            name = " ".join(p for p in parts if p)
            if not name:
                raise ListFileError(f"record {dataid} has no name", where=f"{path}:{line}")
            alias_tag = "INDIVIDUAL_ALIAS" if kind == "Person" else "ENTITY_ALIAS"
            aliases: list[str] = []
            weak: list[str] = []
            for alias in node.iterfind(alias_tag):
                alias_name = text(alias, "ALIAS_NAME")
                if alias_name and alias_name != name:
                    (weak if (text(alias, "QUALITY") or "").lower() == "low" else aliases).append(alias_name)
            original = text(node, "NAME_ORIGINAL_SCRIPT")
            if original:
                aliases.append(original)
            addr_tag = "INDIVIDUAL_ADDRESS" if kind == "Person" else "ENTITY_ADDRESS"
            addresses = []
            countries = texts(node, "NATIONALITY/VALUE")
            for addr in node.iterfind(addr_tag):
                fields = [text(addr, t) for t in ("STREET", "CITY", "STATE_PROVINCE", "ZIP_CODE", "COUNTRY")]
                if any(fields):
                    addresses.append(", ".join(f for f in fields if f))
                if fields[-1]:
                    countries.append(fields[-1])
            dobs: list[str] = []
            for dob in node.iterfind("INDIVIDUAL_DATE_OF_BIRTH"):
                if text(dob, "DATE"):
                    dobs.append(str(text(dob, "DATE"))[:10])
                elif text(dob, "YEAR"):
                    dobs.append(str(text(dob, "YEAR")))
                elif text(dob, "FROM_YEAR") and text(dob, "TO_YEAR"):
                    dobs.extend(birth_dates(f"{text(dob, 'FROM_YEAR')} to {text(dob, 'TO_YEAR')}"))
            identifiers = []
            for doc in node.iterfind("INDIVIDUAL_DOCUMENT"):
                number = text(doc, "NUMBER")
                if number:
                    identifiers.append(
                        Identifier(
                            text(doc, "TYPE_OF_DOCUMENT") or "Document",
                            number,
                            country_code(text(doc, "ISSUING_COUNTRY") or text(doc, "COUNTRY_OF_ISSUE")),
                        )
                    )
            entries.append(
                ListEntry(
                    dataset=dataset_name(path),
                    entry_id=text(node, "REFERENCE_NUMBER") or dataid,
                    list_code="UN",
                    schema=kind,
                    name=name,
                    aliases=tuple(dict.fromkeys(aliases)),
                    weak_aliases=tuple(a for a in dict.fromkeys(weak) if a not in aliases),
                    countries=codes(countries),
                    addresses=tuple(addresses),
                    identifiers=tuple(identifiers),
                    programs=tuple(x for x in [text(node, "UN_LIST_TYPE")] if x),
                    birth_dates=tuple(dict.fromkeys(dobs)),
                    listed_on=_iso_date(text(node, "LISTED_ON")),
                    remarks=text(node, "COMMENTS1"),
                    source_file=path.name,
                    source_line=line,
                )
            )
    generated = root.get("dateGenerated")
    return Dataset(
        dataset_name(path),
        "un-sc-xml",
        "UN Security Council Consolidated List",
        (str(path),),
        hashlib.sha256(data).hexdigest(),
        generated[:10] if generated else None,
        tuple(entries),
    )


# ---------------------------------------------------------------- NSF restricted-entities JSON


def _locate(text: str, needle: str, start: int) -> tuple[int, int]:
    """The line of ``needle`` in ``text`` at or after offset ``start`` (for errors and provenance)."""
    at = text.find(needle, start)
    if at < 0:
        return text.count("\n", 0, start) + 1, start
    return text.count("\n", 0, at) + 1, at


def _json(path: Path) -> tuple[str, Any]:
    text = _text(path, _read_bytes(path))
    try:
        return text, json.loads(text)
    except json.JSONDecodeError as error:
        raise ListFileError(f"not valid JSON: {error.msg} (truncated file?)", where=f"{path}:{error.lineno}") from None
    except RecursionError:
        raise ListFileError("nested too deeply", where=str(path)) from None


_WRITTEN_DATE = re.compile(
    r"(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December) \d{1,2}, \d{4}|\d{4}-\d\d-\d\d"
)


def _snapshot_date(text: Any) -> str | None:
    """The full date in an NSF list's ``snapshot`` description ("BIS export of April 14, 2026"), else None (a
    month alone, "July 2026", is not a date: the file's ``extracted`` date is taken)."""
    found = _WRITTEN_DATE.search(text) if isinstance(text, str) else None
    date = _iso_date(found.group(0)) if found else None
    return date if date and re.fullmatch(r"\d{4}-\d\d-\d\d", date) else None


def _nsf_meta(path: Path) -> dict[str, dict[str, Any]]:
    _, data = _json(path)
    if not isinstance(data, dict) or not isinstance(data.get("lists"), list):
        raise ListFileError("an NSF metadata file needs a 'lists' array", where=f"{path}:1")
    return {str(item.get("id")): item for item in data["lists"] if isinstance(item, dict)}


def _nsf(path: Path, meta: dict[str, dict[str, Any]]) -> Dataset:
    text, data = _json(path)
    if not isinstance(data, dict) or not isinstance(data.get("entities"), list) or not data.get("list_id"):
        raise ListFileError("expected an object with 'list_id' and an 'entities' array", where=f"{path}:1")
    list_id = str(data["list_id"])
    entities = data["entities"]
    declared = data.get("count")
    if isinstance(declared, int) and declared != len(entities):
        raise ListFileError(
            f"the file declares {declared} entities but holds {len(entities)} (truncated or edited?)", where=f"{path}:1"
        )
    entries: list[ListEntry] = []
    offset = 0
    seen: dict[str, int] = {}
    for i, ent in enumerate(entities):
        name = ent.get("name") if isinstance(ent, dict) else None
        line, offset = _locate(
            text, json.dumps(name, ensure_ascii=False) if isinstance(name, str) else '"name"', offset
        )
        where = f"{path}:{line}"
        if not isinstance(ent, dict):
            raise ListFileError(f"entity {i + 1} is not an object", where=where)
        if not isinstance(name, str) or not _clean(name):
            raise ListFileError(f"entity {i + 1} has no name", where=where)
        aliases = ent.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise ListFileError(f"entity {i + 1}: 'aliases' must be a list of names", where=where)
        for key in ("country", "address", "effective_date", "federal_register", "notes", "status"):
            if ent.get(key) is not None and not isinstance(ent.get(key), str):
                raise ListFileError(f"entity {i + 1}: {key!r} must be text or null", where=where)
        clean_name = _clean(name) or ""
        digest = hashlib.sha256(f"{clean_name}|{ent.get('country')}|{ent.get('effective_date')}".encode()).hexdigest()
        base = digest[:16]
        seen[base] = seen.get(base, 0) + 1
        address = _clean(ent.get("address"))
        country = country_code(ent.get("country"))
        notes = _clean(ent.get("notes"))
        entries.append(
            ListEntry(
                dataset=f"nsf-{list_id}",
                entry_id=base if seen[base] == 1 else f"{base}#{seen[base]}",
                list_code=NSF_LISTS.get(list_id, list_id.upper()),
                schema="LegalEntity",  # these lists do not say whether a party is a person
                name=clean_name,
                aliases=tuple(a for a in dict.fromkeys(_clean(a) for a in aliases) if a and a != clean_name),
                countries=tuple(c for c in [country] if c),
                addresses=tuple(a for a in [address] if a),
                programs=tuple(p for p in [_clean(ent.get("federal_register"))] if p),
                listed_on=_iso_date(ent.get("effective_date")),
                license_requirement=notes if list_id in ("bis-entity-list", "bis-meu") else None,
                remarks=notes if list_id not in ("bis-entity-list", "bis-meu") else _clean(ent.get("status")),
                source_file=path.name,
                source_line=line,
            )
        )
    info = meta.get(list_id, {})
    return Dataset(
        f"nsf-{list_id}",
        "nsf-json",
        str(info.get("official_name") or info.get("short_name") or list_id),
        (str(path),),
        _sha256([path]),
        _snapshot_date(info.get("snapshot")) or _iso_date(data.get("extracted")),
        tuple(entries),
    )


# ---------------------------------------------------------------- FollowTheMoney JSON lines


def _ftm(path: Path) -> Dataset:
    data = _read_bytes(path)
    text = _text(path, data)
    records: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            raise ListFileError(f"not valid JSON: {error.msg} (truncated line?)", where=f"{path}:{number}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not isinstance(obj.get("schema"), str):
            raise ListFileError("an FtM entity needs 'id' and 'schema'", where=f"{path}:{number}")
        if not isinstance(obj.get("properties", {}), dict):
            raise ListFileError("'properties' must be an object", where=f"{path}:{number}")
        records.append((number, obj))
    owners: dict[str, list[Owner]] = defaultdict(list)
    sanctions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    addresses: dict[str, str] = {}
    for _, obj in records:
        props = obj.get("properties", {})
        if obj["schema"] == "Ownership":
            for asset in props.get("asset", []):
                for owner in props.get("owner", []):
                    pct = _percent(props.get("percentage", []))
                    owners[asset].append(Owner(owner, pct))
        elif obj["schema"] == "Sanction":
            for entity in props.get("entity", []):
                sanctions[entity].append(props)
        elif obj["schema"] == "Address":
            full = (props.get("full") or [obj.get("caption")])[0]
            if full:
                addresses[obj["id"]] = full
    dataset = dataset_name(path)
    entries: list[ListEntry] = []
    targets = {obj["id"] for _, obj in records if obj.get("target") is True}
    for number, obj in records:
        if obj["schema"] not in FTM_PARTIES:
            continue
        owned = sum(o.percent or 0.0 for o in owners.get(obj["id"], []) if o.entry_id in targets)
        if obj["id"] not in targets and owned < 50:
            continue  # a related record (a registry company, a relative), not a restricted party
        props = obj.get("properties", {})
        names = [n for n in (_clean(x) for x in props.get("name", []) if isinstance(x, str)) if n]
        caption = _clean(obj.get("caption")) or (names[0] if names else None)
        if not caption:
            raise ListFileError(f"entity {obj['id']} has no name", where=f"{path}:{number}")
        aliases = names + [n for key in ("alias", "previousName") for n in (_clean(x) for x in props.get(key, [])) if n]
        weak = [n for n in (_clean(x) for x in props.get("weakAlias", [])) if n and n not in aliases and n != caption]
        idents = [
            Identifier(key, str(v))
            for key in (
                "registrationNumber",
                "innCode",
                "ogrnCode",
                "leiCode",
                "swiftBic",
                "imoNumber",
                "taxNumber",
                "idNumber",
                "passportNumber",
                "uniqueEntityId",
            )
            for v in props.get(key, [])
        ]
        country_values = [
            c.upper()
            for key in ("country", "nationality", "jurisdiction", "citizenship")
            for c in props.get(key, [])
            if isinstance(c, str)
        ]
        programs = [p for s in sanctions.get(obj["id"], []) for p in s.get("program", [])]
        listed = sorted(d for s in sanctions.get(obj["id"], []) for d in s.get("listingDate", s.get("startDate", [])))
        place = list(props.get("address", [])) + [
            addresses[a] for a in props.get("addressEntity", []) if a in addresses
        ]
        schema = obj["schema"] if obj["schema"] != "PublicBody" else "Organization"
        entries.append(
            ListEntry(
                dataset=dataset,
                entry_id=obj["id"],
                list_code="OS-" + "+".join(obj.get("datasets", [])[:3]) if obj.get("datasets") else "OS",
                schema=schema,
                name=caption,
                aliases=tuple(a for a in dict.fromkeys(aliases) if a != caption),
                weak_aliases=tuple(dict.fromkeys(weak)),
                birth_dates=tuple(str(d)[:10] for d in props.get("birthDate", []) if str(d)[:4].isdigit()),
                countries=tuple(dict.fromkeys(c for c in country_values if len(c) == 2)),
                addresses=tuple(dict.fromkeys(place)),
                identifiers=tuple(idents),
                programs=tuple(dict.fromkeys(programs)),
                listed_on=listed[0]
                if listed
                else _clean(obj.get("first_seen", "")[:10] if obj.get("first_seen") else None),
                remarks=(
                    "; ".join(props.get("notes", [])[:3])
                    if obj["id"] in targets
                    else f"not a target itself: owned {owned:g} % by targets of this file (50 % rule)"
                )
                or None,
                owners=tuple(owners.get(obj["id"], [])),
                source_file=path.name,
                source_line=number,
            )
        )
    last = sorted(str(obj.get("last_change") or "")[:10] for _, obj in records if obj.get("last_change"))
    return Dataset(
        dataset,
        "ftm-jsonl",
        f"OpenSanctions FtM entities ({path.name})",
        (str(path),),
        hashlib.sha256(data).hexdigest(),
        last[-1] if last else None,
        tuple(entries),
    )


def _percent(values: list[Any]) -> float | None:
    for v in values:
        m = re.search(r"\d+(?:[.,]\d+)?", str(v))
        if m:
            return float(m.group(0).replace(",", "."))
    return None


# ---------------------------------------------------------------- allied lists


def _xml_root(path: Path, data: bytes) -> Any:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        line = error.position[0] if error.position else 0
        raise ListFileError(f"malformed XML: {error.msg}", where=f"{path}:{line}") from None


def _eu_fsf(path: Path) -> Dataset:
    """The EU Financial Sanctions File (``xmlFullSanctionsList_1_1``): one ``sanctionEntity`` per party."""
    data = _read_bytes(path)
    root = _xml_root(path, data)
    entries: list[ListEntry] = []
    for node in root.iterfind(".//{*}sanctionEntity"):
        line = node.sourceline or 0
        entry_id = node.get("euReferenceNumber") or node.get("logicalId")
        if not entry_id:
            raise ListFileError("a sanctionEntity without euReferenceNumber or logicalId", where=f"{path}:{line}")
        subject = node.find("{*}subjectType")
        code = (subject.get("code") if subject is not None else "") or ""
        schema = "Person" if code == "person" else "Organization" if code == "enterprise" else "LegalEntity"
        strong: list[str] = []
        weak: list[str] = []
        for alias in node.iterfind("{*}nameAlias"):
            whole = _clean(alias.get("wholeName")) or _clean(
                " ".join(x for x in (alias.get("firstName"), alias.get("middleName"), alias.get("lastName")) if x)
            )
            if whole:
                (strong if (alias.get("strong") or "true").lower() != "false" else weak).append(whole)
        names = strong or weak
        if not names:
            raise ListFileError(f"sanctionEntity {entry_id} has no name", where=f"{path}:{line}")
        countries = [c.get("countryIso2Code") for c in node.iterfind("{*}citizenship")]
        addresses = []
        for addr in node.iterfind("{*}address"):
            countries.append(addr.get("countryIso2Code"))
            parts = [addr.get(k) for k in ("street", "city", "zipCode", "countryDescription")]
            if any(parts):
                addresses.append(", ".join(p for p in parts if p and p != "UNKNOWN"))
        identifiers = [
            Identifier(
                i.get("identificationTypeDescription") or i.get("identificationTypeCode") or "ID",
                str(i.get("number") or i.get("latinNumber")),
                i.get("countryIso2Code"),
            )
            for i in node.iterfind("{*}identification")
            if i.get("number") or i.get("latinNumber")
        ]
        regulations = list(node.iterfind("{*}regulation"))
        dates = [d for d in [node.get("designationDate"), *(r.get("publicationDate") for r in regulations)] if d]
        remark = node.find("{*}remark")
        entries.append(
            ListEntry(
                dataset=dataset_name(path),
                entry_id=entry_id,
                list_code="EU-FSF",
                schema=schema,
                name=names[0],
                aliases=tuple(dict.fromkeys(n for n in strong[1:] if n != names[0])),
                weak_aliases=tuple(dict.fromkeys(n for n in weak if n not in strong)),
                countries=codes([c for c in countries if c and c != "00"]),
                addresses=tuple(addresses),
                identifiers=tuple(identifiers),
                programs=tuple(dict.fromkeys(r.get("programme") for r in regulations if r.get("programme"))),
                listed_on=min(dates) if dates else None,
                remarks=_clean(remark.text) if remark is not None and remark.text else None,
                source_file=path.name,
                source_line=line,
            )
        )
    if not entries:
        raise ListFileError("no sanctionEntity records", where=str(path))
    generated = root.get("generationDate")
    return Dataset(
        dataset_name(path),
        "eu-fsf-xml",
        "EU Financial Sanctions File (consolidated list)",
        (str(path),),
        hashlib.sha256(data).hexdigest(),
        generated[:10] if generated else None,
        tuple(entries),
    )


def _uk_date(text: str | None) -> str | None:
    value = _clean(text)
    if not value:
        return None
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(value[:10], fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _uk_sl(path: Path) -> Dataset:
    """The UK Sanctions List (FCDO ``UK_Sanctions_List.xml``): one ``Designation`` per party."""
    data = _read_bytes(path)
    root = _xml_root(path, data)
    entries: list[ListEntry] = []
    updated: list[str] = []
    for node in root.iter("Designation"):
        line = node.sourceline or 0
        unique = _clean(node.findtext("UniqueID"))
        if not unique:
            raise ListFileError("a Designation without UniqueID", where=f"{path}:{line}")
        kind = (_clean(node.findtext("IndividualEntityShip")) or "").lower()
        schema = {"individual": "Person", "entity": "Organization", "ship": "Vessel"}.get(kind, "LegalEntity")
        primary: list[str] = []
        aliases: list[str] = []
        for name in node.iterfind(".//Names/Name"):
            parts = [_clean(name.findtext(f"Name{k}")) for k in range(1, 7)]
            full = " ".join(p for p in parts if p)
            if not full:
                continue
            (primary if (name.findtext("NameType") or "").strip().lower() == "primary name" else aliases).append(full)
        for name in node.iterfind(".//NonLatinNames/NonLatinName"):
            text = _clean(name.findtext("NameNonLatinScript"))
            if text:
                aliases.append(text)
        names = primary + aliases
        if not names:
            raise ListFileError(f"designation {unique} has no name", where=f"{path}:{line}")
        countries = [a.findtext("AddressCountry") for a in node.iterfind(".//Addresses/Address")]
        countries += [n.text for n in node.iterfind(".//Nationalities/Nationality")]
        addresses = []
        for address in node.iterfind(".//Addresses/Address"):
            parts = [_clean(address.findtext(f"AddressLine{k}")) for k in range(1, 7)]
            parts.append(_clean(address.findtext("AddressCountry")))
            if any(parts):
                addresses.append(", ".join(p for p in parts if p))
        date = _uk_date(node.findtext("DateDesignated"))
        last = _uk_date(node.findtext("LastUpdated"))
        if last:
            updated.append(last)
        entries.append(
            ListEntry(
                dataset=dataset_name(path),
                entry_id=unique,
                list_code="UK-SL",
                schema=schema,
                name=names[0],
                aliases=tuple(dict.fromkeys(n for n in names[1:] if n != names[0])),
                countries=codes([c for c in countries if c]),
                addresses=tuple(addresses),
                programs=tuple(x for x in [_clean(node.findtext("RegimeName"))] if x),
                listed_on=date,
                remarks=_clean(node.findtext("SanctionsImposed")),
                source_file=path.name,
                source_line=line,
            )
        )
    if not entries:
        raise ListFileError("no Designation records", where=str(path))
    stated = _uk_date(root.get("DateGenerated") or root.findtext("DateGenerated"))
    return Dataset(
        dataset_name(path),
        "uk-sanctions-list-xml",
        "UK Sanctions List (FCDO)",
        (str(path),),
        hashlib.sha256(data).hexdigest(),
        stated or (max(updated) if updated else None),
        tuple(entries),
    )


_JP_PARENS = re.compile(r"[(（]([^()（）]*[^\x00-\x7F][^()（）]*)[)）]")
_JP_COLUMNS = {
    "no": "no",
    "countryorregion": "country",
    "companyororganization": "name",
    "alsoknownas": "aka",
    "typeofwmd": "wmd",
}


def _jp_header(cell: str | None) -> str:
    last = (cell or "").strip().split("\n")[-1]
    return _JP_COLUMNS.get(re.sub(r"[^a-z]", "", last.lower()), "")


def _jp_eul(path: Path) -> Dataset:
    """Japan's End User List (METI's PDF): one table row per entity."""
    import pdfplumber
    from pdfminer.pdfparser import PDFSyntaxError

    data = _read_bytes(path)
    entries: list[ListEntry] = []
    columns: list[str] | None = None
    stated: str | None = None
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            raw_date = str((pdf.metadata or {}).get("ModDate") or (pdf.metadata or {}).get("CreationDate") or "")
            found = re.search(r"(\d{4})(\d{2})(\d{2})", raw_date)
            if found:
                stated = f"{found.group(1)}-{found.group(2)}-{found.group(3)}"
            for page_number, page in enumerate(pdf.pages, start=1):
                for table in page.extract_tables():
                    for row in table:
                        if columns is None:
                            columns = [_jp_header(c) for c in row]
                            if not {"no", "name", "country"} <= set(columns):
                                raise ListFileError(
                                    "the table's header is not the End User List's (No., Country or Region, "
                                    "Company or Organization, Also Known As, Type of WMD)",
                                    where=f"{path}: page {page_number}",
                                )
                            continue
                        cells = dict(zip(columns, row, strict=False))
                        if _jp_header(cells.get("no")) == "no":  # the header repeated on a later page
                            continue
                        entries.append(_jp_entry(path, cells, page_number))
    except (PDFSyntaxError, ValueError, KeyError) as error:
        raise ListFileError(f"not a readable PDF: {error}", where=str(path)) from None
    if not entries:
        raise ListFileError("no End User List rows found", where=str(path))
    return Dataset(
        dataset_name(path),
        "jp-eul-pdf",
        "Japan METI End User List",
        (str(path),),
        hashlib.sha256(data).hexdigest(),
        stated or None,
        tuple(entries),
    )


def _jp_entry(path: Path, cells: dict[str, str | None], page: int) -> ListEntry:
    number = _clean(cells.get("no"))
    raw = " ".join((cells.get("name") or "").split())
    if not number or not raw:
        raise ListFileError(f"a row without a number or a name ({number or raw!r})", where=f"{path}: page {page}")
    japanese = [m.group(1).strip() for m in _JP_PARENS.finditer(raw)]
    name = _JP_PARENS.sub("", raw).replace("，", ",").strip(" ,")
    aliases = [a for a in (_clean(x) for x in re.split(r"[・\n]", cells.get("aka") or "")) if a and a != "-"]
    return ListEntry(
        dataset=dataset_name(path),
        entry_id=number,
        list_code="JP-EUL",
        schema="LegalEntity",
        name=name,
        aliases=tuple(dict.fromkeys([*japanese, *aliases])),
        countries=codes([re.sub(r"[^A-Za-z ]", "", cells.get("country") or "").strip()]),
        programs=tuple(p for p in (_clean(x) for x in re.split(r"[,、\n]", cells.get("wmd") or "")) if p),
        source_file=path.name,
        source_line=page,
    )


_PERMANENT_ID = re.compile(r"^(?P<name>.+?)（永久參考號：(?P<id>.+?)）$")


def _tw_shtc(path: Path) -> Dataset:
    """Taiwan's SHTC entity list (MOEA/ITA CSV, UTF-8 with a byte-order mark)."""
    data = _read_bytes(path)
    text = _text(path, data)
    reader = csv.DictReader(io.StringIO(text))
    required = ("項次item", "名稱name", "別名alias", "地址address", "護照號碼ID Number", "國家代碼country code")
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise ListFileError(f"missing column(s) {', '.join(missing)}", where=f"{path}:1")
    entries: list[ListEntry] = []
    try:
        for row in reader:
            line = reader.line_num
            raw = " ".join((row.get("名稱name") or "").split())
            if not raw and not (row.get("別名alias") or "").strip():
                continue
            identifiers = [Identifier("ID Number", x) for x in _split(row.get("護照號碼ID Number"))]
            found = _PERMANENT_ID.match(raw)
            if found:
                raw = found.group("name").strip()
                identifiers.append(Identifier("UN Permanent Reference", found.group("id").strip()))
            aliases = [a for a in _split((row.get("別名alias") or "").replace("；", ";")) if a != raw]
            name = raw or aliases.pop(0)
            item = _clean(row.get("項次item")) or str(len(entries) + 1)
            entries.append(
                ListEntry(
                    dataset=dataset_name(path),
                    entry_id=item,
                    list_code="TW-SHTC",
                    schema="LegalEntity",
                    name=name,
                    aliases=tuple(dict.fromkeys(aliases)),
                    countries=codes(_split(row.get("國家代碼country code"))),
                    addresses=tuple(_split(row.get("地址address"))),
                    identifiers=tuple(identifiers),
                    source_file=path.name,
                    source_line=line,
                )
            )
    except csv.Error as error:
        raise ListFileError(f"malformed CSV: {error}", where=f"{path}:{reader.line_num}") from None
    if not entries:
        raise ListFileError("no entity rows", where=str(path))
    return Dataset(
        dataset_name(path),
        "tw-shtc-csv",
        "Taiwan SHTC Entity List (MOEA/ITA)",
        (str(path),),
        hashlib.sha256(data).hexdigest(),
        None,
        tuple(entries),
    )


ALLIED_READERS = {"eu-fsf": _eu_fsf, "uk-sl": _uk_sl, "jp-eul": _jp_eul, "tw-shtc": _tw_shtc}
