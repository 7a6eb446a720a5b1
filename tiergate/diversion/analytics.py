"""The per-shipment red flags, written once as Ibis expressions; DuckDB (default) and PySpark run the same code.

Each shipment gets the points of each flag (0 when it does not fire), the hard stops that need only the shipment
and its parties (controlled items to D:5 or Macau without a licence, a failed end-use check), and what was
missing to assess a flag. The party-level facts (address shared by several firms, listed address, web
presence, ownership) are computed once per party in Python and joined in. Only small results leave the engine:
the flagged shipments, the links between parties, repeated serial numbers, small lots and dies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

COMPUTE_HS = ("854231", "847150", "847180", "847330", "847141", "847149", "851762")
"""The gate (digest §5, step 2): HS-6 codes where accelerators, GPU servers and cards are declared."""
GPU_HS = ("854231", "847150", "847180", "847330", "847141", "847149", "847130", "847170")
"""The HS-6 codes a catalogue accelerator, card or server may honestly be declared under."""
SERVER_HS = ("847150", "847141", "847149")
GPUS_PER_SERVER = 8
COVER_HS_PREFIX = ("90", "8543", "8479")
HUBS = ("SG", "MY", "TH", "HK", "MO", "AE", "VN", "ID", "JP", "TW")
PAYER_RISK = ("CN", "HK", "MO")
NEW_ENTITY_DATE = "2022-10-07"
GENERIC = r"\b(computer parts|electronic components|spare parts|components|accessories|parts|toys|tea|connectors)\b"
LEXICON = r"(gpu|accelerator|graphics|h100|h200|h800|h20|a100|a800|b200|b300|mi300|mi250|gaudi|tensor|hbm|ai server)"
TPP_TEXT = r"tpp\s*([0-9]+)"
IT_NAICS = ("334", "4234", "4236", "5112", "5132", "517", "518", "519", "5415", "5416", "5417", "6113")
RESELLER_NAICS = ("4234", "4236", "5415")
KNOWN_BRANDS = (
    "nvidia", "amd", "intel", "supermicro", "dell", "hpe", "hewlett packard enterprise", "lenovo", "asus",
    "gigabyte", "msi", "pny", "inspur", "aivres", "quanta", "wiwynn", "foxconn", "zotac", "evga", "palit", "galax",
    "colorful", "h3c", "xfusion", "google", "aws", "huawei", "cisco", "ibm", "oracle", "leadtek", "inno3d",
)  # fmt: skip
KW_OVERHEAD = 1.5
"""Site power per chip: the chip's power times 1.5 (host, network and cooling)."""
SMALL_LOT_GPUS = 8
"""A lot under this many accelerators (and under $1M) is under the review threshold (first large order: 8)."""
SMALL_LOT_VALUE = 1_000_000.0

FLAG_COLUMNS = (
    "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f13", "f14", "f15", "f16", "f17", "f18", "f19", "f20",
)  # fmt: skip
"""The per-shipment flags the engine computes. F11 (the mirror-gap prior, F4 x 1.5 on a scan-wide aggregate) is
added in Python to the shipments read back (:mod:`tiergate.diversion.mirror`)."""
THIRD_PARTY_PAYER = 5
"""F9: points added when the payer is neither the consignee nor the end user (the parties of the end-user
statement), on top of a payer in another country (tri-seal note: a third-country payer not on the statement)."""
ODD_PAYMENT = ("prepaid", "cash")
ODD_ROUTE_LEGS = 5
"""F19: a route of this many legs or more (three transit countries) is odd, as is one that visits a country twice."""
SITE_VISIT_BAD = ("boxed", "absent")
"""F10: a site visit that found the kit still boxed, or not there at all (Megaspeed: a BIS visit found it boxed)."""
SMALL_FORWARDER = 5
"""A forwarder that serves at most this many consignees is a small one (a carrier serving many is not): F12's
forwarders per buyer count small forwarders and forwarding consignees."""


@dataclass(frozen=True, slots=True)
class Inputs:
    as_of: str
    """ISO date: shipments after it are left out."""
    present: frozenset[str] = frozenset()
    """The optional shipment columns the file holds (``payment_terms``, ``support``, ``notify_party``,
    ``invoice_party``, ``booking_change``): a shipment that lacks one of them is noted as insufficient data; a file
    without the column gets one scan note instead."""
    affiliated: tuple[str, ...] = ()
    """F17: the suppliers (exporter names, lower case) that are, or whose parent is, a listed firm."""


def base(ships: ir.Table, parties: ir.Table, chips: ir.Table, inputs: Inputs) -> ir.Table:
    """Every shipment on or before the scan date joined to its catalogue chip, consignee and end user, with the
    facts that need nothing beyond its own row (no references, no windows): what the party links, serial numbers
    and small lots are read from."""
    s = _in_scope(ships, inputs)
    s = s.mutate(hs6=s.hs_code.substr(0, 6), desc_low=s.description.lower().fill_null(""))
    s = s.left_join(chips, s["product"] == chips.chip_name).drop("chip_name")  # the table of :func:`products`
    c = parties.rename(lambda name: "c_" + name.removeprefix("p_"))
    s = s.left_join(c, s.consignee_id == c.c_id).drop("c_id")
    e = parties.rename(lambda name: "e_" + name.removeprefix("p_"))
    s = s.left_join(e, s.end_user_id == e.e_id).drop("e_id")

    has_user = s.end_user_id.notnull() & (s.end_user_id != s.consignee_id)
    forwarder = s.c_is_forwarder.fill_null(False)
    eu_country = ibis.ifelse(has_user, s.e_country, ibis.ifelse(forwarder, ibis.null("string"), s.c_country))
    site_mw = ibis.ifelse(has_user, s.e_site_mw, s.c_site_mw)
    site_visit = ibis.ifelse(has_user, s.e_site_visit, s.c_site_visit)
    die_tpp = s.die_tpp
    chip = s.chip_id.notnull()
    relevant = s.hs6.isin(COMPUTE_HS) | chip | s.desc_low.re_search(LEXICON).fill_null(False) | die_tpp.notnull()
    qty = s.quantity.cast("float64")
    gpus = qty * ibis.ifelse(s.hs6.isin(SERVER_HS), float(GPUS_PER_SERVER), 1.0)
    s = s.mutate(
        has_user=has_user,
        consignee_forwards=forwarder,
        eu_country=eu_country,
        site_mw=site_mw,
        site_visit=site_visit,
        die_tpp=die_tpp,
        relevant=relevant,
        gpus=ibis.ifelse(chip, gpus, ibis.null("float64")),
    )
    return s


def with_missing(s: ir.Table, inputs: Inputs) -> ir.Table:
    """``s`` (of :func:`base`) with what each shipment lacks to assess a flag (empty when nothing). The text is
    built only for the shipments that lack something (a test per fact for the others)."""
    facts = [
        (s.payer_country.isnull(), "payer_country "),
        (s.c_country.isnull(), "consignee "),
        (s.route.isnull(), "route "),
        (s.quantity.isnull() | s.value_usd.isnull(), "quantity/value_usd "),
        (s.c_country.notnull() & s.c_incorporated.isnull(), "incorporated "),
        (s.relevant & s.c_country.notnull() & s.c_naics.isnull(), "naics "),
        (s.date.isnull(), "date "),
        (s.payer_country.notnull() & s.payer_name.isnull(), "payer_name "),
    ]
    for column in OPTIONAL_SHIPMENT:
        if column in inputs.present:
            facts.append((s.relevant & s[column].isnull(), column + " "))
    lacking = ibis.literal(False)
    text = ibis.literal("")
    for test, name in facts:
        lacking = lacking | test
        text = text + ibis.ifelse(test, name, "")
    return s.mutate(missing=ibis.ifelse(lacking, text.strip(), ""))


OPTIONAL_SHIPMENT = ("payment_terms", "support", "notify_party", "invoice_party", "booking_change")
"""Shipment columns a file may lack (F19's prepayment and support; F15's notify and invoice parties and changes
after booking)."""


DOCUMENT_COLUMNS = ("notify_party", "invoice_party", "booking_change")


def _same(a: ir.StringValue, b: ir.StringValue) -> ir.BooleanValue:
    """Two names or ids the same, case and outer blanks aside (False when either is unknown)."""
    return (a.lower().strip() == b.lower().strip()).fill_null(False)


def documents(ships: ir.Table, keys: ir.Table, inputs: Inputs) -> ir.Table | None:
    """F15's documents arm: the shipments whose invoice (``invoice_party``) names a party that is neither the
    consignee nor the end user of the end-user statement (by id or name, without case), whose notify party
    (``notify_party``) is neither of them nor the forwarder, or that changed after booking (``booking_change``);
    None when the file has none of these columns. ``keys``: each party's id and name as written (``k_id``,
    ``k_name``) and in lower case (``k_id_key``, ``k_name_key``); the readers have trimmed every value.

    A query of its own over the few columns it reads: inside :func:`features` the comparisons were repeated in every
    expression that sums the flags, and doubled the features query's time. Exact comparisons first leave the few
    rows that differ; only those are compared without case."""
    present = [c for c in DOCUMENT_COLUMNS if c in inputs.present]
    if not present:
        return None
    s = _in_scope(ships, inputs).select(
        "id", "consignee_id", "end_user_id", "forwarder", "notify_party", "invoice_party", "booking_change"
    )
    c = keys.rename(c_key="k_id", c_name="k_name", c_id_key="k_id_key", c_name_key="k_name_key")
    e = keys.rename(e_key="k_id", e_name="k_name", e_id_key="k_id_key", e_name_key="k_name_key")
    s = s.left_join(c, s.consignee_id == c.c_key).drop("c_key")
    s = s.left_join(e, s.end_user_id == e.e_key).drop("e_key")

    def differs(column: ir.StringValue, others: tuple[ir.StringValue, ...]) -> ir.BooleanValue:
        same = ibis.literal(False)
        for other in others:
            same = same | (column == other).fill_null(False)
        return column.notnull() & ~same

    exact = (s.consignee_id, s.c_name, s.end_user_id, s.e_name)
    cheap = ibis.literal(False)
    if "invoice_party" in present:
        cheap = cheap | differs(s.invoice_party, exact)
    if "notify_party" in present:
        cheap = cheap | differs(s.notify_party, (*exact, s.forwarder))
    if "booking_change" in present:
        cheap = cheap | (s.booking_change.notnull() & (s.booking_change != "none"))
    s = s.filter(cheap)
    s = s.mutate(inv=s.invoice_party.lower(), note=s.notify_party.lower(), fwd=s.forwarder.lower())
    folded = (s.c_id_key, s.c_name_key, s.e_id_key, s.e_name_key)
    s = s.mutate(
        invoice_off=differs(s.inv, folded) if "invoice_party" in present else ibis.literal(False),
        notify_off=differs(s.note, (*folded, s.fwd)) if "notify_party" in present else ibis.literal(False),
        late_change=(s.booking_change.notnull() & (s.booking_change != "none"))
        if "booking_change" in present
        else ibis.literal(False),
    )
    s = s.filter(s.invoice_off | s.notify_off | s.late_change)
    return s.select(
        "id", "consignee_id", "invoice_party", "notify_party", "booking_change", "invoice_off", "notify_off",
        "late_change",
    )  # fmt: skip


def _in_scope(ships: ir.Table, inputs: Inputs) -> ir.Table:
    return ships.filter(ships.date.isnull() | (ships.date <= ibis.date(inputs.as_of)))


def _valued(s: ir.Table) -> ir.Table:
    qty = s.quantity.cast("float64")
    return s.mutate(
        hs6=s.hs_code.substr(0, 6),
        unit_value=ibis.ifelse(qty > 0, s.value_usd / qty, ibis.null("float64")),
        per_kg=ibis.ifelse(s.gross_kg > 0, s.value_usd / s.gross_kg, ibis.null("float64")),
    )


def references(ships: ir.Table, inputs: Inputs) -> dict[str, ir.Table]:
    """What the flags compare a shipment with, from the data itself: the median unit value per product, the median
    value per kg per HS-6 x origin, and each consignee's first shipment date. Each is a small table: the scan
    computes them first, each from the shipment columns it needs, and joins them into :func:`features`."""
    s = _valued(_in_scope(ships, inputs))
    by_product = (
        s.filter(s.unit_value.notnull()).group_by("product").aggregate(product_median=ibis._.unit_value.median())
    )
    by_hs = (
        s.filter(s.per_kg.notnull() & s.hs6.notnull())
        .group_by(["hs6", "exporter_country"])
        .aggregate(kg_median=ibis._.per_kg.median())
    )
    first = s.group_by("consignee_id").aggregate(first_date=s.date.min())
    return {"by_product": by_product, "by_hs": by_hs, "first": first}


def products(names: ir.Table, chips: ir.Table, by_product: ir.Table) -> ir.Table:
    """One row per product named in the shipments (``names``: a ``product`` column): its catalogue facts
    (``chips``, of :func:`chips_arrow`; none when it is not a catalogue chip), the median unit value of its
    shipments (``by_product`` of :func:`references`) and the TPP its text states (a die). The shipments join this
    small table once, instead of a join per fact and a pattern match per shipment."""
    bp = by_product.rename(ref_product="product")
    p = names.left_join(chips, names["product"] == chips.chip_name)
    p = p.left_join(bp, p["product"] == bp.ref_product)
    die_tpp = p["product"].lower().fill_null("").re_extract(TPP_TEXT, 1).nullif("").cast("float64")
    facts = {c: p[c] for c in chips.columns if c != "chip_name"}
    return p.select(chip_name=p["product"], **facts, product_median=p.product_median, die_tpp=die_tpp)


def features(
    ships: ir.Table,
    parties: ir.Table,
    chips: ir.Table,
    refs: dict[str, ir.Table],
    d5: tuple[str, ...],
    inputs: Inputs,
) -> ir.Table:
    """Every shipment on or before the scan date with its flag points, hard stops and missing facts (``refs``: the
    tables of :func:`references`, computed)."""
    s = base(ships, parties, chips, inputs)
    qty = s.quantity.cast("float64")
    s = s.mutate(
        generic=s.desc_low.re_search(GENERIC).fill_null(False),
        unit_value=ibis.ifelse(qty > 0, s.value_usd / qty, ibis.null("float64")),
        per_kg=ibis.ifelse(s.gross_kg > 0, s.value_usd / s.gross_kg, ibis.null("float64")),
    )
    # NULL consignees are one group (as a window's partition would make them)
    first = refs["first"].rename(ref_consignee="consignee_id")
    s = s.left_join(first, s.consignee_id.identical_to(first.ref_consignee)).drop("ref_consignee")
    by_hs = refs["by_hs"].rename(ref_hs6="hs6", ref_origin="exporter_country")
    s = s.left_join(by_hs, [s.hs6.identical_to(by_hs.ref_hs6), s.exporter_country.identical_to(by_hs.ref_origin)]).drop(
        "ref_hs6", "ref_origin"
    )

    # Each layer below is a subquery of its own (``view``): Ibis would otherwise inline every intermediate
    # expression into each use, and DuckDB does not share work inside CASE, AND and OR, so the route's tail, the
    # end-use country and each flag would be computed many times per shipment.
    chip = s.chip_id.notnull()
    reference = s.price_ref.fill_null(s.product_median)
    naics = s.c_naics.fill_null("")
    brand = s.brand.lower().strip().fill_null("")
    s = s.mutate(
        chip=chip,
        ratio=ibis.ifelse(chip & (reference > 0), s.unit_value / reference, ibis.null("float64")),
        kg_ratio=ibis.ifelse(s.kg_median > 0, s.per_kg / s.kg_median, ibis.null("float64")),
        # the legs after the origin, each between two '>' of its own ('US>SG>SG' -> '>>SG>>SG>>'), so that
        # removing every '>XX>' of one country leaves the others whole
        legs=(s.route.substr(2) + ">").replace(">", ">>").fill_null(""),
        naics=naics,
        brand_low=brand,
        n_legs=(s.route.length() + 1) // 3,
        demand_mw=s.gpus * s.chip_kw * KW_OVERHEAD / 1000.0,
        destination=ibis.ifelse(
            s.has_user, s.e_country, ibis.ifelse(s.consignee_forwards, ibis.null("string"), s.c_country)
        ),
    ).view()
    has_user, forwarder, site_mw, chip = s.has_user, s.consignee_forwards, s.site_mw, s.chip
    ratio, kg_ratio, naics, brand = s.ratio, s.kg_ratio, s.naics, s.brand_low
    hub = ">(" + "|".join(HUBS) + ")>"
    hub_any = s.legs.re_search(hub)
    others = ibis.ifelse(s.eu_country.isnull(), s.legs, s.legs.replace(">" + s.eu_country + ">", ""))
    hub_other = others.re_search(hub)
    hub_end_use = s.eu_country.isin(HUBS).fill_null(False)
    cover_hs = ibis.literal(False)
    for prefix in COVER_HS_PREFIX:
        cover_hs = cover_hs | s.hs6.startswith(prefix).fill_null(False)
    # facts of the consignee alone (its line of business; where it and the parties are) are worked out once per
    # party (:func:`party_facts`), not once per shipment
    it_naics = s.c_it_naics.fill_null(False)
    reseller = s.c_reseller.fill_null(False)
    new_entity = s.c_incorporated.notnull() & (
        (s.c_incorporated >= ibis.date(NEW_ENTITY_DATE)) | ((s.date - s.c_incorporated).cast("int64") < 365)
    )
    first_large = (s.date == s.first_date) & ((s.gpus >= SMALL_LOT_GPUS) | (s.value_usd >= SMALL_LOT_VALUE))
    demand_mw = s.demand_mw
    known_brand = brand.isin(KNOWN_BRANDS) | (brand == s.chip_vendor.lower().fill_null(""))
    destination = s.destination
    eu_d5 = ibis.ifelse(
        has_user, s.e_d5.fill_null(False), ibis.ifelse(forwarder, ibis.literal(False), s.c_d5.fill_null(False))
    )
    risky = eu_d5 | s.c_d5.fill_null(False) | s.c_parent_d5.fill_null(False) | s.e_parent_d5.fill_null(False)

    f9 = ibis.cases(
        (s.payer_country.isin(PAYER_RISK).fill_null(False), 20),
        (s.payer_country.notnull() & s.c_country.notnull() & (s.payer_country != s.c_country), 10),
        else_=0,
    )
    payer = s.payer_name.lower().strip()
    third_party = (
        s.payer_name.notnull()
        & s.c_name.notnull()
        & (payer != s.c_name.lower().strip())
        & (~has_user | (payer != s.e_name.lower().strip().fill_null("")))
    )
    # an odd route: many legs, or a country twice (the reader writes routes as two-letter codes joined by '>')
    n_legs = s.n_legs
    twice = ibis.literal(False)
    for j in range(1, ODD_ROUTE_LEGS - 1):
        for i in range(j):
            twice = twice | ((n_legs > j) & (s.route.substr(3 * i, 2) == s.route.substr(3 * j, 2)))
    odd_route = (n_legs >= ODD_ROUTE_LEGS) | twice

    # F15's route arm (its documents arm, :func:`documents`, is a query of its own: see there)
    route_off = s.route.notnull() & destination.notnull() & (s.route.right(2) != destination.fill_null(""))
    parent_d5 = s.c_parent_d5.fill_null(False) | s.e_parent_d5.fill_null(False)
    supplier = (
        s.exporter.lower().strip().isin(inputs.affiliated).fill_null(False)
        if inputs.affiliated
        else ibis.literal(False)
    )
    odd = (
        s.payment_terms.isin(ODD_PAYMENT).fill_null(False)
        | (s.support == "declined").fill_null(False)
        | odd_route.fill_null(False)
    )
    pts = {
        "f2": ibis.ifelse(chip & (~s.hs6.isin(GPU_HS).fill_null(False) | s.generic), 25, 0),
        "f3": ibis.cases((ratio < 0.2, 20), (ratio < 0.5, 10), (~s.relevant & (kg_ratio > 5), 20), else_=0),
        "f4": ibis.cases((hub_other, 15), (hub_any | hub_end_use, 5), else_=0),
        "f5": ibis.ifelse(forwarder | has_user, 15, 0),
        "f6": ibis.ifelse(new_entity, ibis.ifelse(first_large, 20, 10), 0),
        "f7": s.c_f7.fill_null(0),
        "f8": s.c_f8.fill_null(0),
        "f9": ibis.ifelse(f9 > 0, f9 + ibis.ifelse(third_party, THIRD_PARTY_PAYER, 0), 0),
        "f10": ibis.cases(
            (chip & s.site_visit.isin(SITE_VISIT_BAD).fill_null(False), 25),
            (~chip | s.gpus.isnull(), 0),
            (site_mw.isnull() & (s.gpus >= SMALL_LOT_GPUS), 15),
            (demand_mw > 2 * site_mw, 25),
            (demand_mw > site_mw, 15),
            else_=0,
        ),
        "f13": ibis.ifelse(chip & (brand != "") & ~known_brand, 25, 0),
        "f14": ibis.ifelse(s.end_use_check == "inconclusive", 20, 0),
        "f15": ibis.ifelse(route_off, 10, 0),
        "f16": ibis.greatest(s.c_f16.fill_null(0), s.e_f16.fill_null(0)),
        "f17": ibis.ifelse(parent_d5 | supplier, 15, 0),
        "f18": ibis.ifelse(s.relevant & (naics != "") & ~it_naics & ~forwarder, 15, 0),
        "f19": ibis.ifelse(odd, 5, 0),
        "f20": ibis.ifelse(cover_hs & (s.per_kg > 2000) & (kg_ratio > 5), ibis.ifelse(reseller, 25, 15), 0),
    }
    hard = ibis.cases(
        (s.c_listed.fill_null("") != "", "listed"),
        (s.e_listed.fill_null("") != "", "listed-user"),
        (s.chip_controlled.fill_null(False) & risky & s.licence.isnull(), "d5"),
        (s.end_use_check == "failed", "check"),
        else_=ibis.null("string"),
    )
    s = s.mutate(
        **{k: v.cast("int64") for k, v in pts.items()}, hard=hard, supplier_listed=supplier, parent_d5=parent_d5
    ).view()
    total = s.f2
    for name in FLAG_COLUMNS[1:]:
        total = total + s[name]
    gated = ibis.ifelse(s.relevant | (s.f2 + s.f3 + s.f20 > 0), ibis.least(total, 100), ibis.least(total, 30))
    return s.mutate(points=gated.cast("int64"))


SHIPMENT_OUT = (
    "id", "date", "consignee_id", "end_user_id", "hs6", "description", "product", "brand", "quantity",
    "value_usd", "gross_kg", "route", "payer_name", "payer_country", "end_use_check", "licence", "chip_id",
    "h100e", "relevant", "ratio", "kg_ratio", "demand_mw", "site_mw", "eu_country", "c_country", "c_naics",
    "c_incorporated", "hard", "points", "missing", *FLAG_COLUMNS, "payment_terms", "support",
    "exporter", "site_visit", "supplier_listed", "parent_d5",
)  # fmt: skip


BASE_OUT = (
    "id", "date", "consignee_id", "end_user_id", "payer_name", "c_name", "forwarder", "serials", "relevant", "gpus",
    "value_usd", "quantity", "die_tpp", "chip_kw", "site_mw", "missing", "consignee_forwards",
)  # fmt: skip
"""The columns of :func:`base` that the party links, serial numbers, small lots and counts read."""


FLOOR = 5
"""Shipments of this many points or fewer (a hub as the end-use country, alone) are not read back: they make no
case above ``low``, and at scale they are most of the compute traffic."""


def _kept(f: ir.Table) -> ir.BooleanValue:
    return (f.points > FLOOR) | f.hard.notnull()


def flagged(f: ir.Table, inputs: Inputs) -> ir.Table:
    """The shipments with more than :data:`FLOOR` points or a hard stop (what cases are made of)."""
    return with_missing(f.filter(_kept(f)), inputs).select(*SHIPMENT_OUT)


def narrow(f: ir.Table, inputs: Inputs) -> ir.Table:
    """Every shipment of ``f`` (of :func:`features`) in the columns of :data:`BASE_OUT`, and ``kept``: whether it
    is one of :func:`flagged`. One pass over the shipments computes both the flags and what the party links,
    serial numbers, small lots and counts read (a table the scan materialises once)."""
    return with_missing(f, inputs).select(*BASE_OUT, kept=_kept(f))


def only(ships: ir.Table, ids: ir.Table) -> ir.Table:
    """The shipments whose ``id`` is in the one-column table ``ids``."""
    return ships.filter(ships.id.isin(ids[ids.columns[0]]))


def missing(f: ir.Table, limit: int) -> ir.Table:
    """The first ``limit`` shipments (by id) that lack a fact a flag needs."""
    return f.filter(f.missing != "").select("id", "missing").order_by("id").limit(limit)


def counts(f: ir.Table) -> ir.Table:
    """One row: how many shipments were scanned, and how many lack a fact a flag needs."""
    return f.aggregate(total=f.count(), missing=ibis.ifelse(f.missing != "", 1, 0).sum().fill_null(0))


def party_links(f: ir.Table) -> dict[str, ir.Table]:
    """Distinct pairs that link parties: consignee and end user, consignee and payer, consignee and forwarder."""
    users = f.filter(f.end_user_id.notnull() & (f.end_user_id != f.consignee_id))
    payers = f.filter(f.payer_name.notnull() & f.consignee_id.notnull())
    fwd = f.filter(f.forwarder.notnull() & f.consignee_id.notnull())
    return {
        "end_user": users.select(a="consignee_id", b="end_user_id").distinct(),
        "payer": payers.select(a="consignee_id", b="payer_name", own=payers.c_name.identical_to(payers.payer_name))
        .filter(~ibis._.own)
        .select("a", "b")
        .distinct(),
        "forwarder": fwd.select(a="consignee_id", b="forwarder").distinct(),
    }


def repeated_serials(f: ir.Table) -> ir.Table:
    """(serial, shipment, consignee) for every serial number that appears in more than one shipment."""
    t = f.filter(f.serials.notnull()).select("id", "consignee_id", serial=f.serials.split(";").unnest())
    t = t.mutate(serial=t.serial.strip()).filter(ibis._.serial != "")
    counts = t.group_by("serial").aggregate(n=t.id.nunique())
    many = counts.filter(counts.n > 1).select(dup="serial")
    return t.join(many, t.serial == many.dup).select("serial", "id", "consignee_id")


def small_lots(f: ir.Table) -> ir.Table:
    """Compute shipments under the review threshold, and dies whose TPP the product text states."""
    lots = f.filter(
        (f.relevant & f.gpus.notnull() & (f.gpus < SMALL_LOT_GPUS) & (f.value_usd.fill_null(0) < SMALL_LOT_VALUE))
        | f.die_tpp.notnull()
    )
    return lots.select("id", "date", "consignee_id", "gpus", "value_usd", "quantity", "die_tpp", "chip_kw", "site_mw")


def party_facts(row: dict[str, Any], d5: tuple[str, ...]) -> None:
    """Add to a party's row (of :func:`parties_arrow`) whether it is in D:5 or Macau, whether its parent is, and
    whether its NAICS code is an IT business or a reseller of IT (each a test of the party alone)."""
    naics = row["p_naics"] or ""
    row["p_d5"] = row["p_country"] in d5
    row["p_parent_d5"] = row["p_parent_country"] in d5
    row["p_it_naics"] = naics.startswith(IT_NAICS)
    row["p_reseller"] = naics.startswith(RESELLER_NAICS)


def chips_arrow(rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    types = {
        "chip_name": pa.string(),
        "chip_id": pa.string(),
        "chip_vendor": pa.string(),
        "chip_controlled": pa.bool_(),
        "chip_kw": pa.float64(),
        "price_ref": pa.float64(),
        "h100e": pa.float64(),
        "chip_tpp": pa.float64(),
    }
    return pa.table({k: pa.array([r[k] for r in rows], t) for k, t in types.items()})


def parties_arrow(rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    types = {
        "p_id": pa.string(),
        "p_name": pa.string(),
        "p_country": pa.string(),
        "p_is_forwarder": pa.bool_(),
        "p_site_mw": pa.float64(),
        "p_naics": pa.string(),
        "p_incorporated": pa.date32(),
        "p_parent_country": pa.string(),
        "p_site_visit": pa.string(),
        "p_f7": pa.int64(),
        "p_f8": pa.int64(),
        "p_f16": pa.int64(),
        "p_listed": pa.string(),
        "p_d5": pa.bool_(),
        "p_parent_d5": pa.bool_(),
        "p_it_naics": pa.bool_(),
        "p_reseller": pa.bool_(),
    }
    return pa.table({k: pa.array([r[k] for r in rows], t) for k, t in types.items()})


FORWARDER_DAYS = 90
"""F12's second arm: three or more forwarders for one buyer within this many days."""
MANY_FORWARDERS = 3


def buyer_forwarders(f: ir.Table) -> ir.Table:
    """F12's forwarders per buyer: the compute shipments that reach a buyer through a forwarder (a forwarding or
    intermediary consignee, or a small forwarder named on the shipment), for the buyers reached through
    :data:`MANY_FORWARDERS` or more of them (the 90-day window is applied to these few rows in Python). The buyer is
    the end user when one is named, else a payer other than the consignee, else the consignee."""
    s = f.filter(f.consignee_id.notnull() & f.relevant & f.date.notnull())
    has_user = s.end_user_id.notnull() & (s.end_user_id != s.consignee_id)
    third_payer = s.payer_name.notnull() & ~_same(s.payer_name, s.c_name)
    s = s.mutate(
        buyer=ibis.cases(
            (has_user, "end user " + s.end_user_id),
            (third_payer, "payer " + s.payer_name),
            else_="consignee " + s.consignee_id,
        )
    )
    keep = ("id", "date", "buyer", "consignee_id", "value_usd", "gpus")
    forwarding = s.filter(s.consignee_forwards | has_user).select(*keep, via="consignee " + s.consignee_id)
    named = f.filter(f.forwarder.notnull() & f.consignee_id.notnull())
    small = (
        named.group_by(fwd="forwarder")
        .aggregate(n=named.consignee_id.nunique())
        .filter(ibis._.n <= SMALL_FORWARDER)
        .select("fwd")
    )
    by_name = s.join(small, s.forwarder == small.fwd).select(*keep, via="forwarder " + s.forwarder)
    t = forwarding.union(by_name, distinct=True)
    many = t.group_by(many_buyer="buyer").aggregate(n=t.via.nunique()).filter(ibis._.n >= MANY_FORWARDERS)
    return t.join(many, t.buyer == many.many_buyer).select(*keep, "via")


def unissued_serials(b: ir.Table, registry: ir.Table) -> ir.Table:
    """F13's issued-serials check: (shipment, consignee, maker, serial) for each serial of a catalogue chip whose
    maker (the brand label when the registry knows it, else the chip's vendor) the registry (``maker, prefix,
    first, last``) covers, and that none of that maker's prefixes or ranges holds."""
    by_brand = registry.select(by_brand="maker").distinct()
    by_vendor = registry.select(by_vendor="maker").distinct()
    t = b.filter(b.serials.notnull() & b.chip_id.notnull())
    t = t.mutate(brand_key=t.brand.lower().strip(), vendor_key=t.chip_vendor.lower().strip())
    t = t.left_join(by_brand, t.brand_key == by_brand.by_brand)
    t = t.left_join(by_vendor, t.vendor_key == by_vendor.by_vendor)
    t = t.mutate(maker=t.by_brand.fill_null(t.by_vendor)).filter(ibis._.maker.notnull())
    t = t.select("id", "consignee_id", "maker", "value_usd", serial=t.serials.split(";").unnest())
    t = t.mutate(serial=t.serial.strip()).filter(ibis._.serial != "")
    r = registry.rename(r_maker="maker")
    holds = (r.prefix.notnull() & t.serial.startswith(r.prefix.fill_null(""))) | (
        r.first.notnull() & (t.serial.length() == r.first.length()) & (t.serial >= r.first) & (t.serial <= r.last)
    )
    issued = t.join(r, [t.maker == r.r_maker, holds]).select(i_id="id", i_serial="serial").distinct()
    out = t.anti_join(issued, [t.id == issued.i_id, t.serial == issued.i_serial])
    return out.select("id", "consignee_id", "maker", "serial", "value_usd")
