"""A diversion scan: shipments and parties in, cases out (ordered by priority).

Steps: read the inputs; resolve products in the catalogue (unknown chip ids get suggestions); compute each
party's facts (address shared with other firms, a listed name or address in the screening store, web presence,
ownership); run the per-shipment flags on the engine (:mod:`tiergate.diversion.analytics`); link parties into
networks (shared normalised address, payer, small forwarder, serial numbers, corporate e-mail domain, end user);
add the network flags (lots split under the review threshold within 30 days, dies adding up to controlled
packages, capacity for the summed lots); and make one case per network.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tiergate.diversion import analytics as an
from tiergate.diversion.addresses import address_key, similarity
from tiergate.diversion.model import (
    FLAGS,
    GATE_CAP,
    H100_VALUE_USD,
    HARD_STOPS,
    HIGH,
    LEVEL_RANK,
    MEDIUM,
    Case,
    Flag,
    Problem,
    ScanResult,
)
from tiergate.diversion.reading import duckdb_shipments, read_parties, read_shipments
from tiergate.errors import InputError

ENGINES = ("duckdb", "spark")
WINDOW_DAYS = 30
"""The rolling window over which a network's small lots are summed."""
MIN_SPLIT_LOTS = 3
MANY_FIRMS = 4
"""Unrelated firms (of different parents) at one normalised address from which the address counts against them
(F7). The digest's design (§5, a hypothesis) says 5, but its own scenario T7 (four firms at one address) expects F7,
and its sources (BIS 2025 guidance, the address-only rule) give no number: docs/diversion.md."""
ADDRESS_MATCH = 0.85
"""Token similarity of a party's address to a listed address from which it is a near match (F16)."""
SMALL_FORWARDER = 5
"""A forwarder that serves at most this many consignees links them (a carrier serving many does not)."""
SHARED_PAYER = 50
DIE_PACKAGES = 10
"""Controlled packages (TPP 4800 each) the dies shipped to one network must make up before F21 fires."""
CONTROLLED_TPP = 4800.0
FREE_MAIL = frozenset(
    {"gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "163.com", "qq.com", "126.com", "live.com", "proton.me"}
)
NOTE_LIMIT = 20
OPTIONAL_COLUMNS = an.OPTIONAL_SHIPMENT
"""Shipment columns a file may lack: F19's prepayment and support checks need the first two, F15's documents the
other three."""
OPTIONAL_FOR = {
    "F19 assessed the route only": ("payment_terms", "support"),
    "F15 compared the route with the end-use country only": ("notify_party", "invoice_party", "booking_change"),
}
_CHIP_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9.]+)+$")
_CODE = {
    "f2": "F2-declared-goods",
    "f3": "F3-unit-value",
    "f4": "F4-hub-route",
    "f5": "F5-forwarder-consignee",
    "f6": "F6-new-entity",
    "f7": "F7-address",
    "f8": "F8-web-presence",
    "f9": "F9-payer-mismatch",
    "f10": "F10-no-datacentre",
    "f11": "F11-mirror-gap",
    "f13": "F13-relabel-serials",
    "f14": "F14-check-inconclusive",
    "f15": "F15-documents",
    "f16": "F16-fuzzy-listed",
    "f17": "F17-ownership",
    "f18": "F18-business-fit",
    "f19": "F19-commercial-oddities",
    "f20": "F20-cover-goods",
}


@dataclass
class Lists:
    """What the screening store gives a scan: name hits and listed addresses."""

    screener: Any
    addresses: dict[str, list[tuple[str, str, str]]]
    """Address key -> (entry key, list code, entry name) for the lists that stop a shipment."""
    tokens: dict[str, list[str]]
    version: str


STOP_LISTS = frozenset({"EL", "SDN", "DPL", "UVL", "MEU"})


def load_lists(url: str | None) -> Lists | None:
    """The screening store at ``url`` (None when no URL, or the store holds no lists), its names indexed from the
    index cache while the lists are unchanged."""
    if not url:
        return None
    from tiergate.screen.index import ScreeningIndex
    from tiergate.screen.model import ListStoreError
    from tiergate.screen.service import Screener
    from tiergate.screen.store import ListStore

    store = ListStore(url)
    try:
        store.check()
        entries = store.list_entries()
        version = store.data_version()
    except ListStoreError:
        store.close()
        return None
    addresses: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for entry in entries:
        if entry.list_code not in STOP_LISTS:
            continue
        for text in entry.addresses:
            key = address_key(text)
            if key is not None:
                addresses[key].append((entry.key, entry.list_code, entry.name))
    tokens: dict[str, list[str]] = defaultdict(list)
    for key in addresses:
        for token in set(key.split()):
            tokens[token].append(key)
    return Lists(Screener(ScreeningIndex.for_store(store), store), dict(addresses), dict(tokens), version)


def _d5(ruleset: Any, day: dt.date) -> tuple[str, ...]:
    """Country Group D:5 and Macau on ``day`` (as ``tiergate.screen.d5_macau_test`` reads the rulebook)."""
    from tiergate.rules.book import iso_country_codes

    found = []
    for code in sorted(iso_country_codes()):
        groups = ruleset.memberships(code, day)
        if "D:5" in groups or "MO" in groups:
            found.append(code)
    return tuple(found)


def _chip_rows(products: Iterable[str], ruleset: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The catalogue facts of each product written as a catalogue id or alias; notes for unknown chip ids."""
    from tiergate.catalog import load_catalogue
    from tiergate.classify import classify_chip

    catalogue = load_catalogue()
    h100 = catalogue.get("nvidia-h100-sxm")
    h100_tpp = classify_chip(h100, ruleset).tpp if h100 is not None else None
    rows: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for name in sorted(set(products)):
        chip = catalogue.get(name)
        if chip is None:
            if _CHIP_ID.match(name.strip().lower()) and catalogue.suggest(name):
                notes.append(
                    {
                        "product": name,
                        "note": f"unknown chip id {name!r}: not in the catalogue; the product is scored as text",
                        "suggestions": catalogue.suggest(name),
                    }
                )
            continue
        result = classify_chip(chip, ruleset)
        price = chip.price_usd
        rows.append(
            {
                "chip_name": name,
                "chip_id": chip.id,
                "chip_vendor": chip.vendor or "",
                "chip_controlled": result.eccn != "not_controlled",
                "chip_kw": (chip.tdp_w or 700.0) / 1000.0,
                "price_ref": (price.low + price.high) / 2 if price is not None else None,
                "h100e": (result.tpp / h100_tpp) if result.tpp and h100_tpp else None,
                "chip_tpp": result.tpp,
            }
        )
    return rows, notes


def _party_rows(
    parties: dict[str, dict[str, Any]], lists: Lists | None, on_chips: set[str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each party's row for the engine, and per party the facts behind its party-level flags (documented capacity
    from Epoch's clusters only for the parties ``on_chips``: the only ones it counts for)."""
    keys = {pid: address_key(p.get("address")) for pid, p in parties.items()}
    at: dict[str, list[str]] = defaultdict(list)
    for pid, key in keys.items():
        if key is not None:
            at[key].append(pid)
    facts: dict[str, Any] = {}
    rows = []
    for pid, p in parties.items():
        key = keys[pid]
        fact: dict[str, Any] = {}
        f7 = 0
        if p.get("address_type") in ("residential", "virtual"):
            f7 += 10
            fact["address_type"] = p["address_type"]
        if key is not None and len(at[key]) >= MANY_FIRMS:
            # firms of one parent (a head office and its subsidiaries) count once: unrelated firms are the signal
            groups = {str(parties[o].get("parent") or o).lower().strip() for o in at[key]}
            if len(groups) >= MANY_FIRMS:
                f7 += 10
                fact["firms_at_address"] = sorted(at[key])
        f8 = 0
        domain = (p.get("email_domain") or "").lower()
        if not p.get("website") or domain in FREE_MAIL:
            f8 = 5
            fact["web"] = "no website" if not p.get("website") else f"free e-mail ({domain})"
        site_mw = p.get("site_mw")
        if site_mw is None and pid in on_chips:
            from tiergate.diversion.sites import site_of

            site = site_of(p.get("name"), p.get("country"))
            if site is not None:
                site_mw = site.mw
                fact["epoch"] = {"owner": site.owner, "mw": round(site.mw, 3), "clusters": list(site.clusters[:5])}
        listed = ""
        f16 = 0
        if lists is not None:
            listed, f16 = _screen_party(p, key, lists, fact)
        facts[pid] = fact
        rows.append(
            {
                "p_id": pid,
                "p_name": p.get("name"),
                "p_country": p.get("country"),
                "p_is_forwarder": p.get("is_forwarder"),
                "p_site_mw": site_mw,
                "p_naics": p.get("naics"),
                "p_incorporated": p.get("incorporated"),
                "p_parent_country": p.get("parent_country"),
                "p_site_visit": p.get("site_visit"),
                "p_f7": min(f7, 25),
                "p_f8": f8,
                "p_f16": f16,
                "p_listed": listed,
            }
        )
    return rows, facts


def _screen_party(p: dict[str, Any], key: str | None, lists: Lists, fact: dict[str, Any]) -> tuple[str, int]:
    from tiergate.screen.model import Query, each_entry

    listed = ""
    f16 = 0
    if p.get("name"):
        hits = lists.screener.screen(Query(p["name"], country=p.get("country")), party=p["id"], limit=20)
        for hit in each_entry(hits):  # every membership of a grouped hit, not only its lead's list
            if hit.status == "cleared" or hit.entry.list_code not in STOP_LISTS:
                continue
            if hit.match:
                listed = "name"
                fact["listed"] = {
                    "entry": hit.entry.key,
                    "list": hit.entry.list_code,
                    "name": hit.entry.name,
                    "score": round(hit.score, 3),
                    "source": hit.entry.source,
                }
                break
            if hit.score >= 0.85 and not f16:
                f16 = 15
                fact["near_name"] = {"entry": hit.entry.key, "name": hit.entry.name, "score": round(hit.score, 3)}
    if not listed and key is not None:
        found = lists.addresses.get(key)
        if found:
            entry, code, name = found[0]
            listed = "address"
            fact["listed"] = {"entry": entry, "list": code, "name": name, "address": p.get("address"), "by": "address"}
        else:
            counts: dict[str, int] = defaultdict(int)
            for token in set(key.split()):
                bucket = lists.tokens.get(token, [])
                if len(bucket) > 200:
                    continue
                for other in bucket:
                    counts[other] += 1
            best = max(counts, key=lambda k: (similarity(key, k), k), default=None)
            if best is not None and similarity(key, best) >= ADDRESS_MATCH:
                f16 = max(f16, 15)
                entry, code, name = lists.addresses[best][0]
                fact["near_address"] = {
                    "entry": entry,
                    "list": code,
                    "name": name,
                    "similarity": round(similarity(key, best), 3),
                }
    return listed, f16


def _listed_name(name: str, country: str | None, lists: Lists, party: str | None = None) -> dict[str, Any] | None:
    """The stop-list entry that ``name`` matches (the screening matcher's match, not a near hit; an analyst's
    clearance of the hit for ``party`` is kept), or None."""
    from tiergate.screen.model import Query, each_entry

    hits = lists.screener.screen(Query(name, country=country), party=party, limit=20)
    for hit in each_entry(hits):
        if hit.status != "cleared" and hit.entry.list_code in STOP_LISTS and hit.match:
            return {
                "entry": hit.entry.key,
                "list": hit.entry.list_code,
                "name": hit.entry.name,
                "score": round(hit.score, 3),
            }
    return None


def _suppliers(exporters: Iterable[str], parties: dict[str, dict[str, Any]], lists: Lists) -> dict[str, dict[str, Any]]:
    """F17's supplier arm: by exporter name (lower case), the suppliers that are a listed firm, or whose parent (the
    ``parent`` of the party the exporter is, by id or name, in the parties file) is one."""
    by_name = {str(p["name"]).lower().strip(): p for p in parties.values() if p.get("name")}
    out: dict[str, dict[str, Any]] = {}
    for exporter in sorted(set(exporters)):
        party = parties.get(exporter) or by_name.get(exporter.lower().strip())
        found = _listed_name(exporter, party.get("country") if party else None, lists, party["id"] if party else None)
        if found is not None:
            out[exporter.lower().strip()] = {"supplier": exporter, "via": "supplier", **found}
            continue
        if party is not None and party.get("parent"):
            parent = str(party["parent"])
            found = _listed_name(parent, party.get("parent_country"), lists)
            if found is not None:
                out[exporter.lower().strip()] = {"supplier": exporter, "via": "parent", "parent": parent, **found}
    return out


@dataclass
class _Extra:
    """The facts of the flag arms computed outside the per-shipment features: F12's forwarders per buyer, F13's
    serials that the registry says were never issued, F17's suppliers tied to listed firms."""

    forwarders: list[dict[str, Any]]
    unissued: list[dict[str, Any]]
    suppliers: dict[str, dict[str, Any]]
    registry: str = ""
    documents: list[dict[str, Any]] = field(default_factory=list)


def _party_keys(parties: dict[str, dict[str, Any]]) -> Any:
    """Each party's id and name, as written and in lower case (F15's documents compare them without case)."""
    import pyarrow as pa

    ids = sorted(parties)
    names = [parties[i].get("name") for i in ids]
    return pa.table(
        {
            "k_id": pa.array(ids, pa.string()),
            "k_name": pa.array(names, pa.string()),
            "k_id_key": pa.array([i.lower() for i in ids], pa.string()),
            "k_name_key": pa.array([n.lower() if n else None for n in names], pa.string()),
        }
    )


def _documents_why(r: dict[str, Any]) -> str:
    parts = []
    if r["invoice_off"]:
        parts.append(f"the invoice names {r['invoice_party']!r}, not the consignee or end user")
    if r["notify_off"]:
        parts.append(f"the notify party {r['notify_party']!r} is not the consignee, end user or forwarder")
    if r["late_change"]:
        parts.append(f"the {str(r['booking_change']).replace('_', ' ')} changed after booking")
    return "; ".join(parts)


def _forwarder_windows(rows: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Per buyer, the 90-day window with the most forwarders, when it has :data:`an.MANY_FORWARDERS` or more."""
    by_buyer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_buyer[r["buyer"]].append(r)
    out = []
    for buyer, found in sorted(by_buyer.items()):
        found.sort(key=lambda r: (r["date"], r["id"], r["via"]))
        best: list[dict[str, Any]] = []
        most = 0
        start = 0
        for end in range(len(found)):
            while (found[end]["date"] - found[start]["date"]).days >= an.FORWARDER_DAYS:
                start += 1
            window = found[start : end + 1]
            n = len({r["via"] for r in window})
            if n > most:
                best, most = window, n
        if most >= an.MANY_FORWARDERS:
            out.append((buyer, best))
    return out


class _Union:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if ra < rb:
                self.parent[rb] = ra
            else:
                self.parent[ra] = rb


def _rows(con: Any, expr: Any) -> list[dict[str, Any]]:
    """The rows of ``expr`` run on ``con`` (an expression of in-memory tables alone would run on Ibis's default
    backend, DuckDB, whatever the engine)."""
    return list(con.to_pyarrow(expr).to_pylist())


def _parties_on_chips(con: Any, ships: Any, names: list[str], inputs: Any) -> set[str]:
    """The consignees and end users of the shipments of catalogue chips (the only ones whose data-centre capacity
    a flag weighs)."""
    import ibis

    s = ships.filter(ships.date.isnull() | (ships.date <= ibis.date(inputs.as_of)))
    s = s.filter(s["product"].isin(names))
    ids = s.select(pid=s.consignee_id).union(s.select(pid=s.end_user_id)).distinct()
    return {r["pid"] for r in _rows(con, ids) if r["pid"] is not None}


def run_scan(
    shipments: Path,
    parties: Path | None = None,
    *,
    engine: str = "duckdb",
    as_of: dt.date | None = None,
    lists_url: str | None = None,
    spark: Any = None,
    imports: Path | None = None,
    serial_registry: Path | None = None,
) -> ScanResult:
    """Scan ``shipments`` (with ``parties``) for diversion; every case, low ones included. ``imports``: hub imports
    by country and month for F11 (:func:`tiergate.diversion.mirror.read_imports`); the shipments' own are used for
    the country-months it does not give. ``serial_registry``: the serials makers issued, for F13's "serial not
    issued" (:mod:`tiergate.diversion.serials`)."""
    from tiergate.monitor.scan import engine_connection

    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}", hint="use duckdb or spark")
    with engine_connection(engine, spark) as (con, _session):
        return _scan(con, engine, Path(shipments), parties, as_of, lists_url, imports, serial_registry)


def _scan(
    con: Any,
    engine: str,
    shipments: Path,
    parties: Path | None,
    as_of: dt.date | None,
    lists_url: str | None,
    imports: Path | None,
    serial_registry: Path | None = None,
) -> ScanResult:
    """The scan on an open engine. A clean Parquet file on DuckDB is read by DuckDB itself, query by query, and
    never held in Python; anything else is read (and checked row by row when it must be) into Arrow first."""
    import ibis
    import pyarrow as pa
    import pyarrow.compute as pc

    from tiergate.diversion import mirror

    source = duckdb_shipments(con.con, shipments) if engine == "duckdb" else None
    problems: list[Problem] = []
    if source is not None:
        # a view, not ``con.sql``: Ibis reads the schema of a query with a call DuckDB deprecates (a warning)
        con.con.execute(f"CREATE OR REPLACE TEMP VIEW diversion_shipments AS {source.sql}")
        ships = con.table("diversion_shipments")
        last_date, products, referenced = source.last_date, source.products, source.parties
        rows, present = source.rows, source.present
    else:
        table, problems = read_shipments(shipments)
        ships = ibis.memtable(table)
        last_date = pc.max(table.column("date")).as_py() if table.num_rows else None
        products = [p for p in pc.unique(table.column("product")).to_pylist() if p]
        referenced = {v for c in ("consignee_id", "end_user_id") for v in pc.unique(table.column(c)).to_pylist() if v}
        rows = table.num_rows
        present = frozenset(c for c in OPTIONAL_COLUMNS if table.column(c).null_count < table.num_rows)
    party_map: dict[str, dict[str, Any]] = {}
    if parties is not None:
        party_map, party_problems = read_parties(Path(parties))
        problems.extend(party_problems)
    if as_of is None:
        as_of = last_date if last_date is not None else dt.date.today()
    notes: list[dict[str, Any]] = []
    lists = load_lists(lists_url)
    if lists is None:
        notes.append(
            {
                "note": "no restricted-party lists: listed names and addresses were not checked",
                "hint": "load lists with `tiergate lists load` and pass --lists URL",
            }
        )
    from tiergate.rules import load_rulebook

    ruleset, _ = load_rulebook().select(None, as_of)
    chip_rows, chip_notes = _chip_rows(products, ruleset)
    notes.extend(chip_notes)
    chips = ibis.memtable(an.chips_arrow(chip_rows))
    suppliers: dict[str, dict[str, Any]] = {}
    if lists is not None:
        in_scope = ships.filter(ships.date.isnull() | (ships.date <= ibis.date(as_of.isoformat())))
        exporters = [r["exporter"] for r in _rows(con, in_scope.select("exporter").distinct()) if r["exporter"]]
        suppliers = _suppliers(exporters, party_map, lists)
    inputs = an.Inputs(as_of.isoformat(), present=present, affiliated=tuple(sorted(suppliers)))
    # documented capacity (Epoch) is looked up only for the parties it can count for: those on catalogue chips
    on_chips = _parties_on_chips(con, ships, [r["chip_name"] for r in chip_rows], inputs) if chip_rows else set()
    party_rows, facts = _party_rows(party_map, lists, on_chips)
    unknown = sorted(referenced - set(party_map))
    if unknown:
        notes.append(
            {
                "note": f"insufficient data: {len(unknown)} part(ies) not in the parties file; "
                "their flags were not assessed",
                "parties": unknown[:NOTE_LIMIT],
            }
        )
    d5 = _d5(ruleset, as_of)
    hub_imports = mirror.Imports()
    if imports is not None:
        hub_imports, import_problems = mirror.read_imports(Path(imports))
        problems.extend(import_problems)
    for assessed, columns in OPTIONAL_FOR.items():
        absent = [c for c in columns if c not in present]
        if absent and rows:
            notes.append(
                {"note": f"insufficient data: no {' or '.join(absent)} in the shipments; {assessed}", "columns": absent}
            )
    if party_map and not any(p.get("site_visit") for p in party_map.values()):
        notes.append(
            {
                "note": "insufficient data: no site_visit in the parties; F10 weighed documented capacity only",
                "columns": ["site_visit"],
            }
        )
    for row in party_rows:
        an.party_facts(row, d5)
    party_table = ibis.memtable(an.parties_arrow(party_rows))
    mirror.add_shipments(hub_imports, _rows(con, mirror.hub_imports(ships, as_of.isoformat())), an.HUBS)
    gaps, no_prior = mirror.gaps(hub_imports, an.HUBS)
    # the per-shipment flags with their references: only the shipments that can make a case come back
    refs = {name: ibis.memtable(con.to_pyarrow(expr)) for name, expr in an.references(ships, inputs).items()}
    names = ibis.memtable(pa.table({"product": pa.array(sorted(set(products)), pa.string())}))
    chips = ibis.memtable(con.to_pyarrow(an.products(names, chips, refs["by_product"])))
    f = an.features(ships, party_table, chips, refs, d5, inputs)
    if engine == "duckdb":
        # one pass computes every shipment's flags and keeps the few columns the party links, serials, small lots
        # and counts read; the wide rows of the shipments over the floor are then computed for those alone
        b = con.create_table("diversion_base", an.narrow(f, inputs), temp=True)
        kept = b.filter(b.kept).select("id")
        f = an.features(an.only(ships, kept), party_table, chips, refs, d5, inputs)
    else:  # each query computes what it reads
        b = an.with_missing(an.base(ships, party_table, chips, inputs), inputs)
    flagged = sorted(_rows(con, an.flagged(f, inputs)), key=lambda r: str(r["id"]))
    for r in flagged:
        r["f11"] = mirror.prior(r, gaps, an.HUBS)
    links = {name: _rows(con, expr) for name, expr in an.party_links(b).items()}
    serials = _rows(con, an.repeated_serials(b))
    lots = _rows(con, an.small_lots(b))
    forwarders = _rows(con, an.buyer_forwarders(b))
    keys = ibis.memtable(_party_keys(party_map))
    docs = an.documents(ships, keys, inputs)
    documents = _rows(con, docs) if docs is not None else []
    unissued: list[dict[str, Any]] = []
    if serial_registry is not None:
        from tiergate.diversion.serials import read_registry, registry_arrow

        registry, registry_problems = read_registry(Path(serial_registry))
        problems.extend(registry_problems)
        if registry:
            full = an.base(ships, party_table, chips, inputs)
            unissued = _rows(con, an.unissued_serials(full, ibis.memtable(registry_arrow(registry))))
    else:
        notes.append(
            {
                "note": "insufficient data: no issued-serials registry; F13 checked brands and repeated serials only",
                "hint": "give the serials the makers issued with --serial-registry FILE",
            }
        )
    counted = _rows(con, an.counts(b))[0]
    total, missing_total = int(counted["total"]), int(counted["missing"])
    missing_rows = _rows(con, an.missing(b, NOTE_LIMIT)) if missing_total else []
    extra = _Extra(forwarders, unissued, suppliers, str(serial_registry) if serial_registry else "", documents)
    cases = _cases(flagged, links, serials, lots, party_map, facts, lists, gaps, extra)
    if no_prior:
        notes.append(
            {
                "note": f"insufficient data: F11's year-on-year test was not assessed for {len(no_prior)} hub "
                "country-month(s) with no imports a year before (give them with --imports)",
                "months": no_prior[:NOTE_LIMIT],
            }
        )
    if missing_total:
        notes.append(
            {
                "note": f"insufficient data: {missing_total} shipment(s) lack facts a flag needs; those flags "
                "were not assessed (no points)",
                "shipments": [
                    {"shipment": r["id"], "missing": r["missing"].split()} for r in missing_rows[:NOTE_LIMIT]
                ],
            }
        )
    scores = {s: (c.case, c.score if c.level != "block" else 101) for c in cases for s in c.shipments}
    return ScanResult(cases, problems, notes, as_of.isoformat(), total, scores)


def _why(code: str, r: dict[str, Any], fact: dict[str, Any], suppliers: dict[str, dict[str, Any]] | None = None) -> str:
    suppliers = suppliers or {}
    qty = r.get("quantity")
    if code == "f2":
        return f"{r['product']} declared as HS {r['hs6']} {r['description']!r}: not how an accelerator is declared"
    if code == "f3":
        if r.get("ratio") is not None and r["ratio"] < 0.5:
            return f"unit value ${r['value_usd'] / qty:,.0f} is {r['ratio']:.2f} of the reference for {r['product']}"
        return f"value per kg is {r['kg_ratio']:.1f} times the median for HS {r['hs6']} from this origin"
    if code == "f4":
        return f"route {r['route']} passes a transshipment hub" + (
            (
                f" that is not the end-use country ({r['eu_country']})"
                if r["eu_country"]
                else " and the end use is unknown"
            )
            if r["f4"] >= 15
            else " (hub as end-use country)"
        )
    if code == "f5":
        return "the consignee is a forwarder or an intermediary, not the end user"
    if code == "f6":
        return f"consignee incorporated {r['c_incorporated']}" + (
            " and this is its first, large order" if r["f6"] >= 20 else ""
        )
    if code == "f7":
        parts = []
        if "address_type" in fact:
            parts.append(f"{fact['address_type']} address")
        if "firms_at_address" in fact:
            parts.append(
                f"{len(fact['firms_at_address'])} firms at one address ({', '.join(fact['firms_at_address'][:6])})"
            )
        return "; ".join(parts) or "address"
    if code == "f8":
        return str(fact.get("web", "thin web presence"))
    if code == "f9":
        third = r["f9"] in (10 + an.THIRD_PARTY_PAYER, 20 + an.THIRD_PARTY_PAYER)
        return f"paid by {r['payer_name']!r} in {r['payer_country']}; consignee in {r['c_country']}" + (
            "; the payer is neither the consignee nor the end user of the end-user statement" if third else ""
        )
    if code == "f10":
        if r.get("site_visit") in an.SITE_VISIT_BAD:
            found = "still boxed" if r["site_visit"] == "boxed" else "not there"
            return f"{r['product']} x{qty}: a visit to the end user's data-centre site found the kit {found}"
        if r.get("site_mw") is None:
            return f"{r['product']} x{qty}: no documented data-centre capacity for the end user"
        epoch = fact.get("epoch")
        source = f" (Epoch AI: {epoch['owner']}'s existing clusters)" if epoch else ""
        return f"{r['product']} x{qty} needs about {r['demand_mw']:.2f} MW; documented site {r['site_mw']:g} MW{source}"
    if code == "f13":
        return f"brand label {r['brand']!r} is not a known maker of {r['product']}"
    if code == "f14":
        return "the end-use check was inconclusive"
    if code == "f15":
        return f"route {r['route']} ends outside the consignee's or end user's country"
    if code == "f16":
        near = fact.get("near_name") or fact.get("near_address") or {}
        return f"close to restricted-party entry {near.get('name')!r} ({near.get('entry')})"
    if code == "f17":
        parts = []
        supplier = suppliers.get(str(r.get("exporter") or "").lower().strip()) if r.get("supplier_listed") else None
        if supplier is not None:
            tie = "is" if supplier["via"] == "supplier" else f"is owned by {supplier['parent']!r}, which is"
            parts.append(
                f"the supplier {supplier['supplier']!r} {tie} {supplier['list']} entry {supplier['name']!r} "
                f"({supplier['entry']})"
            )
        if r.get("parent_d5"):
            parts.append("the party's parent is headquartered in Country Group D:5 or Macau")
        return "; ".join(parts)
    if code == "f18":
        return f"the consignee's business (NAICS {r['c_naics']}) does not fit accelerators"
    if code == "f19":
        odd = []
        if r.get("payment_terms") in an.ODD_PAYMENT:
            odd.append("paid in full before shipment" if r["payment_terms"] == "prepaid" else "paid in cash")
        if r.get("support") == "declined":
            odd.append("installation and support declined")
        legs = str(r.get("route") or "").split(">")
        if r.get("route") and (len(legs) >= an.ODD_ROUTE_LEGS or len(set(legs)) < len(legs)):
            odd.append(f"odd route {r['route']}")
        return "; ".join(odd)
    if code == "f20":
        return (
            f"HS {r['hs6']} {r['description']!r} at ${r['value_usd'] / max(r['gross_kg'], 1e-9):,.0f}/kg (compute-like)"
        )
    return code


def _mirror_why(r: dict[str, Any], gaps: dict[tuple[str, int], Any]) -> str:
    from tiergate.diversion.mirror import month_index

    day = r.get("date")
    month = month_index(day) if isinstance(day, dt.date) else -1
    legs = set(str(r.get("route") or "").split(">")[1:]) | {str(r.get("eu_country") or "")}
    found = [gaps[(code, month)].why for code in sorted(c for c in legs if c) if (code, month) in gaps]
    return f"route {r['route']} through a hub with a mirror gap (F4 x 1.5): " + "; ".join(found)


def _evidence(flags: list[Flag], shipments: list[str]) -> str:
    body = orjson.dumps([[f.code, f.points, sorted(f.shipments)] for f in flags] + [sorted(shipments)])
    return hashlib.sha256(body).hexdigest()[:32]


def _cases(
    flagged: list[dict[str, Any]],
    links: dict[str, list[dict[str, Any]]],
    serials: list[dict[str, Any]],
    lots: list[dict[str, Any]],
    parties: dict[str, dict[str, Any]],
    facts: dict[str, Any],
    lists: Lists | None,
    gaps: dict[tuple[str, int], Any] | None = None,
    extra: _Extra | None = None,
) -> list[Case]:
    extra = extra or _Extra([], [], {})
    u = _Union()
    edges: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    node = "party:"

    def link(a: str, b: str, via: str, value: str) -> None:
        u.union(node + a, node + b)
        edges[node + a].append((b, via, value))

    for r in sorted(links["end_user"], key=lambda r: (r["a"], r["b"])):
        link(r["a"], r["b"], "end_user", r["b"])
    by_payer: dict[str, list[str]] = defaultdict(list)
    for r in links["payer"]:
        by_payer[r["b"]].append(r["a"])
    for payer, unsorted in sorted(by_payer.items()):
        who = sorted(set(unsorted))
        if 1 < len(who) <= SHARED_PAYER:
            for other in who[1:]:
                link(who[0], other, "payer", payer)
    by_fwd: dict[str, list[str]] = defaultdict(list)
    for r in links["forwarder"]:
        by_fwd[r["b"]].append(r["a"])
    for fwd, unsorted in sorted(by_fwd.items()):
        who = sorted(set(unsorted))
        if 1 < len(who) <= SMALL_FORWARDER:
            for other in who[1:]:
                link(who[0], other, "forwarder", fwd)
    by_serial: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in serials:
        by_serial[r["serial"]].append(r)
    for serial, rows in by_serial.items():
        who = sorted({r["consignee_id"] for r in rows if r["consignee_id"]})
        for other in who[1:]:
            link(who[0], other, "serial", serial)
    by_key: dict[str, list[str]] = defaultdict(list)
    by_domain: dict[str, list[str]] = defaultdict(list)
    for pid, p in parties.items():
        key = address_key(p.get("address"))
        if key is not None:
            by_key[key].append(pid)
        domain = (p.get("email_domain") or "").lower()
        if domain and domain not in FREE_MAIL:
            by_domain[domain].append(pid)
    for key, unsorted in sorted(by_key.items()):
        who = sorted(set(unsorted))
        for other in who[1:]:
            link(who[0], other, "address", key)
    for domain, unsorted in sorted(by_domain.items()):
        who = sorted(set(unsorted))
        if len(who) <= SHARED_PAYER:
            for other in who[1:]:
                link(who[0], other, "email_domain", domain)

    def group(pid: str | None, sid: str) -> str:
        return u.find(node + pid) if pid else "shipment:" + sid

    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in flagged:
        groups[group(r["consignee_id"], r["id"])].append(r)
    lot_groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in lots:
        lot_groups[group(r["consignee_id"], r["id"])].append(r)
    # F12's forwarders per buyer: each buyer's window goes to the case(s) of the shipments it rests on
    fwd_groups: dict[str, list[tuple[str, list[dict[str, Any]]]]] = defaultdict(list)
    for buyer, window in _forwarder_windows(extra.forwarders):
        by_root: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in window:
            by_root[group(r["consignee_id"], r["id"])].append(r)
        for root, part in by_root.items():
            fwd_groups[root].append((buyer, window if len(by_root) == 1 else part))
    unissued_groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in extra.unissued:
        unissued_groups[group(r["consignee_id"], r["id"])].append(r)
    doc_groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in extra.documents:
        doc_groups[group(r["consignee_id"], r["id"])].append(r)
    members: dict[str, set[str]] = defaultdict(set)
    for name in list(u.parent):
        if name.startswith(node):
            members[u.find(name)].add(name.removeprefix(node))
    serial_ids: dict[str, list[str]] = defaultdict(list)
    for rows in by_serial.values():
        ids = sorted({r["id"] for r in rows})
        for r in rows:
            serial_ids[r["id"]] = sorted(set(serial_ids[r["id"]]) | set(ids))

    cases: list[Case] = []
    for root in set(groups) | set(lot_groups) | set(fwd_groups) | set(unissued_groups) | set(doc_groups):
        rows = sorted(groups.get(root, []), key=lambda r: r["id"])
        flags: list[Flag] = []
        hard: list[Flag] = []
        for r in rows:
            if r["hard"]:
                found = _hard_flag(r, facts, parties)
                same = next((h for h in hard if h.code == found.code and h.why == found.why), None)
                if same is None:
                    hard.append(found)
                else:
                    same.shipments.append(r["id"])
        for code in (*an.FLAG_COLUMNS, "f11"):
            fired = [r for r in rows if r[code] > 0]
            if not fired:
                continue
            best = max(fired, key=lambda r: (r[code], r["id"]))
            kind = FLAGS[_CODE[code]]
            party = best["consignee_id"] or ""
            why = (
                _mirror_why(best, gaps or {})
                if code == "f11"
                else _why(code, best, facts.get(party, {}), extra.suppliers)
            )
            shipments = sorted(r["id"] for r in fired)
            if len(fired) > 1:
                why += f" (and {len(fired) - 1} more shipment(s))"
            flags.append(Flag(kind.code, min(best[code], kind.cap), shipments, why, kind.citation))
        seen = sorted({s for r in rows for s in serial_ids.get(r["id"], [])})
        if seen:
            why = f"serial numbers seen in more than one shipment ({', '.join(seen[:8])})"
            _add_to(flags, "F13-relabel-serials", FLAGS["F13-relabel-serials"].cap, seen, why)
        never = unissued_groups.get(root, [])
        if never:
            makers = sorted({r["maker"] for r in never})
            numbers = sorted({r["serial"] for r in never})
            why = (
                f"serial number(s) {', '.join(numbers[:6])}{' ...' if len(numbers) > 6 else ''} not issued by "
                f"{' or '.join(makers)} (issued-serials registry {extra.registry})"
            )
            cap = FLAGS["F13-relabel-serials"].cap
            _add_to(flags, "F13-relabel-serials", cap, sorted({r["id"] for r in never}), why)
        papers = sorted(doc_groups.get(root, []), key=lambda r: r["id"])
        if papers:
            why = _documents_why(papers[0]) + (f" (and {len(papers) - 1} more shipment(s))" if len(papers) > 1 else "")
            cap = FLAGS["F15-documents"].cap
            _add_to(flags, "F15-documents", cap, [r["id"] for r in papers], why)
        flags.extend(_network_flags(lot_groups.get(root, []), flags))
        for buyer, window in fwd_groups.get(root, []):
            vias = sorted({r["via"] for r in window})
            days = (max(r["date"] for r in window) - min(r["date"] for r in window)).days + 1
            why = f"{len(vias)} forwarders for one buyer ({buyer}) within {days} days: " + ", ".join(
                v.split(" ", 1)[1] for v in vias[:6]
            )
            _add_to(flags, "F12-split-lots", FLAGS["F12-split-lots"].cap, sorted({r["id"] for r in window}), why)
        if not flags and not hard:
            continue
        relevant = (
            any(r["relevant"] for r in rows)
            or bool(lot_groups.get(root))
            or bool(fwd_groups.get(root))  # compute shipments only
            or bool(unissued_groups.get(root))  # catalogue chips only
        )
        total = sum(f.points for f in flags)
        cover = any(f.code in ("F2-declared-goods", "F3-unit-value", "F20-cover-goods") for f in flags)
        score = min(100, total if relevant or cover else min(total, GATE_CAP))
        if hard:
            level, score = "block", 100
        elif score >= HIGH:
            level = "high"
        elif score >= MEDIUM:
            level = "medium"
        else:
            level = "low"
        ship_ids = sorted({r["id"] for r in rows} | {s for f in flags for s in f.shipments})
        party_ids = sorted(
            members.get(root, set())
            | {r["consignee_id"] for r in rows if r["consignee_id"]}
            | {r["end_user_id"] for r in rows if r["end_user_id"]}
        )
        at_risk = 0.0
        for r in rows:
            if r["chip_id"] is not None and r["h100e"] and r["quantity"]:
                at_risk += r["quantity"] * r["h100e"] * H100_VALUE_USD * (8 if r["hs6"] in an.SERVER_HS else 1)
            elif (r["relevant"] or r["f20"] or r["f2"]) and r["value_usd"]:
                at_risk += r["value_usd"]
        row_ids = {x["id"] for x in rows}
        others = [*lot_groups.get(root, []), *(r for _b, w in fwd_groups.get(root, []) for r in w)]
        others.extend(unissued_groups.get(root, []))
        for r in others:
            if r["id"] not in row_ids:
                row_ids.add(r["id"])
                at_risk += r.get("value_usd") or 0.0
        notes = [
            {"shipment": r["id"], "note": "insufficient data: " + ", ".join(r["missing"].split()) + " missing"}
            for r in rows
            if r["missing"]
        ]
        all_flags = hard + sorted(flags, key=lambda f: (-f.points, f.code))
        case_links = [
            {"a": a.removeprefix(node), "b": b, "via": via, "value": value}
            for a in sorted(node + p for p in party_ids)
            for b, via, value in sorted(edges.get(a, []))
        ]
        cases.append(
            Case(
                case="",
                level=level,
                score=score,
                shipments=ship_ids,
                parties=party_ids,
                value_at_risk_usd=round(at_risk, 2),
                flags=all_flags,
                notes=notes,
                links=case_links,
                key=party_ids[0] if party_ids else ship_ids[0],
                evidence=_evidence(all_flags, ship_ids),
            )
        )
    cases.sort(key=lambda c: (LEVEL_RANK[c.level], -c.score * max(c.value_at_risk_usd, 1.0), c.key))
    for i, c in enumerate(cases, start=1):
        c.case = f"C-{i:04d}"
    return cases


def _add_to(flags: list[Flag], code: str, points: int, shipments: list[str], why: str) -> None:
    """Add a flag, or an arm of one already fired: its shipments joined, its why appended, the points the higher
    (never over the cap)."""
    kind = FLAGS[code]
    found = next((f for f in flags if f.code == code), None)
    if found is None:
        flags.append(Flag(code, min(points, kind.cap), shipments, why, kind.citation))
        return
    found.shipments = sorted(set(found.shipments) | set(shipments))
    found.why += "; " + why
    found.points = min(max(found.points, points), kind.cap)


def _hard_flag(r: dict[str, Any], facts: dict[str, Any], parties: dict[str, dict[str, Any]]) -> Flag:
    kind = r["hard"]
    if kind in ("listed", "listed-user"):
        party = r["consignee_id"] if kind == "listed" else r["end_user_id"]
        fact = facts.get(party, {}).get("listed", {})
        by_address = fact.get("by") == "address"
        code = "H1-listed-address" if by_address else "H1-listed-party"
        name = parties.get(party, {}).get("name")
        if by_address:
            why = (
                f"{name!r} ({party}) is at the address of {fact.get('list')} entry {fact.get('name')!r} "
                f"({fact.get('entry')}): {fact.get('address')!r}"
            )
        else:
            why = f"{name!r} ({party}) matches {fact.get('list')} entry {fact.get('name')!r} ({fact.get('entry')})"
        return Flag(code, 100, [r["id"]], why, HARD_STOPS[code])
    if kind == "d5":
        why = (
            f"{r['product']} is controlled (3A090/4A090) and goes to {r['eu_country'] or r['c_country']} (Country "
            "Group D:5 or Macau, or a party headquartered there) without a licence"
        )
        return Flag("H2-d5-no-licence", 100, [r["id"]], why, HARD_STOPS["H2-d5-no-licence"])
    return Flag("H3-check-failed", 100, [r["id"]], "the end-use check failed", HARD_STOPS["H3-check-failed"])


def _network_flags(lots: list[dict[str, Any]], flags: list[Flag]) -> list[Flag]:
    """Split lots over a rolling window; dies adding up to controlled packages; capacity for the summed lots."""
    out: list[Flag] = []
    gpu_lots = sorted(
        (r for r in lots if r["gpus"] is not None and r["date"] is not None), key=lambda r: (r["date"], r["id"])
    )
    best: list[dict[str, Any]] = []
    start = 0
    for end in range(len(gpu_lots)):
        while (gpu_lots[end]["date"] - gpu_lots[start]["date"]).days >= WINDOW_DAYS:
            start += 1
        window = gpu_lots[start : end + 1]
        if len(window) > len(best):
            best = window
    if len(best) >= MIN_SPLIT_LOTS:
        gpus = sum(r["gpus"] for r in best)
        value = sum(r["value_usd"] or 0.0 for r in best)
        if gpus >= an.SMALL_LOT_GPUS or value >= an.SMALL_LOT_VALUE:
            firms = sorted({r["consignee_id"] for r in best if r["consignee_id"]})
            kind = FLAGS["F12-split-lots"]
            why = (
                f"{len(best)} lots of under {an.SMALL_LOT_GPUS} accelerators within {WINDOW_DAYS} days to "
                f"{len(firms)} linked firm(s), {gpus:.0f} accelerators (${value:,.0f}) in all"
            )
            out.append(Flag(kind.code, kind.cap, sorted(r["id"] for r in best), why, kind.citation))
            if not any(f.code == "F10-no-datacentre" for f in flags):
                sites = {r["consignee_id"]: r["site_mw"] for r in best}
                documented = sum(v for v in sites.values() if v is not None)
                demand = sum(r["gpus"] * (r["chip_kw"] or 0.7) * an.KW_OVERHEAD / 1000.0 for r in best)
                if documented < demand:
                    kind = FLAGS["F10-no-datacentre"]
                    why = (
                        f"the linked firms received {gpus:.0f} accelerators (about {demand:.2f} MW) against "
                        f"{documented:g} MW of documented data-centre capacity"
                    )
                    out.append(Flag(kind.code, 15, sorted(r["id"] for r in best), why, kind.citation))
    dies = [r for r in lots if r["die_tpp"] is not None and r["quantity"]]
    if dies:
        tpp = sum(r["die_tpp"] * r["quantity"] for r in dies)
        packages = int(tpp // CONTROLLED_TPP)
        if packages >= DIE_PACKAGES:
            kind = FLAGS["F21-chiplet-sum"]
            why = (
                f"dies of TPP {sorted({r['die_tpp'] for r in dies})} x {sum(r['quantity'] for r in dies)} shipped to "
                f"linked firms add up to TPP {tpp:,.0f}: {packages} packages at the 3A090.a threshold "
                f"({CONTROLLED_TPP:g})"
            )
            out.append(Flag(kind.code, kind.cap, sorted(r["id"] for r in dies), why, kind.citation))
    return out
