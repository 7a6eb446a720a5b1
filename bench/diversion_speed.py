"""Diversion scan speed against hand-written DuckDB SQL computing the same per-shipment features.

    PYTHONPATH=. python bench/diversion_speed.py [--shipments 200000] [--seed 7] [--data DIR] [--repeat N]

Generates the shipments as Parquet, then times, each in its own process (so that peak memory is measured
separately): ``tiergate diversion scan`` end to end (reading, party facts, the Ibis features on DuckDB, networks,
cases), and one DuckDB SQL statement written by hand that computes the same per-shipment flag points from the
same Parquet file and parties. Prints both times, their ratio and each process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HAND_SQL = """
WITH s AS NOT MATERIALIZED (
  SELECT id, date, exporter_country, consignee_id, end_user_id, substr(hs_code, 1, 6) AS hs6,
         lower(coalesce(description, '')) AS d, product, lower(trim(coalesce(brand, ''))) AS brand, quantity,
         value_usd, route, payer_name, payer_country, end_use_check, licence, payment_terms, support,
         CASE WHEN quantity > 0 THEN value_usd / quantity END AS unit_value,
         CASE WHEN gross_kg > 0 THEN value_usd / gross_kg END AS per_kg
  FROM read_parquet('{ships}') WHERE date IS NULL OR date <= (SELECT max(date) FROM read_parquet('{ships}'))
), raw AS (
  SELECT *, list_sort(list_distinct(flatten(list_transform(
           filter(string_split_regex(lower(coalesce(address, '')), '[^a-z0-9]+'), t -> t <> ''),
           t -> string_split(coalesce({words}[t], t), ' '))))) AS tokens
  FROM read_csv('{parties}', all_varchar = true)
), pk AS (
  SELECT *, CASE WHEN len(filter(tokens, t -> t <> '')) >= 3 THEN array_to_string(filter(tokens, t -> t <> ''), ' ')
            END AS addr FROM raw
), shared AS (SELECT addr, count(*) AS firms FROM pk WHERE addr IS NOT NULL GROUP BY addr),
p AS (
  SELECT pk.id, pk.name, pk.country, pk.naics, try_cast(pk.incorporated AS DATE) AS inc, pk.parent_country,
         coalesce(lower(pk.is_forwarder) IN ('true', '1', 'yes'), false) AS fwd, try_cast(pk.site_mw AS DOUBLE) AS site,
         least(CASE WHEN pk.address_type IN ('residential', 'virtual') THEN 10 ELSE 0 END
               + CASE WHEN coalesce(shared.firms, 0) >= 4 THEN 10 ELSE 0 END, 25) AS f7,
         CASE WHEN coalesce(pk.website, '') = '' OR lower(coalesce(pk.email_domain, '')) IN ({free}) THEN 5 ELSE 0
         END AS f8
  FROM pk LEFT JOIN shared ON pk.addr = shared.addr
), by_product AS (SELECT product, median(unit_value) AS m FROM s WHERE unit_value IS NOT NULL GROUP BY product),
by_hs AS (
  SELECT hs6, exporter_country, median(per_kg) AS m FROM s WHERE per_kg IS NOT NULL AND hs6 IS NOT NULL
  GROUP BY ALL
), first AS (SELECT consignee_id, min(date) AS first_date FROM s GROUP BY consignee_id),
j AS (
  SELECT s.*, ch.chip_id, ch.chip_vendor, ch.chip_controlled, ch.chip_kw, ch.price_ref,
         c.country AS c_country, c.naics AS c_naics, c.inc AS c_inc, c.parent_country AS c_parent, c.fwd,
         c.f7, c.f8, e.country AS e_country, e.parent_country AS e_parent, c.name AS c_name, e.name AS e_name,
         s.end_user_id IS NOT NULL AND s.end_user_id <> s.consignee_id AS has_user,
         CASE WHEN s.end_user_id IS NOT NULL AND s.end_user_id <> s.consignee_id THEN e.site ELSE c.site END AS site,
         CASE WHEN s.end_user_id IS NOT NULL AND s.end_user_id <> s.consignee_id THEN e.country
              WHEN coalesce(c.fwd, false) THEN NULL ELSE c.country END AS eu,
         CAST(nullif(regexp_extract(lower(coalesce(s.product, '')), '{tpp}', 1), '') AS DOUBLE) AS die_tpp,
         CASE WHEN ch.chip_id IS NOT NULL
              THEN s.quantity * CASE WHEN s.hs6 IN ('847150', '847141', '847149') THEN 8.0 ELSE 1.0 END END AS gpus,
         coalesce(ch.price_ref, bp.m) AS ref, bh.m AS kg_m, f.first_date
  FROM s LEFT JOIN chips ch ON s.product = ch.chip_name
  LEFT JOIN p c ON s.consignee_id = c.id LEFT JOIN p e ON s.end_user_id = e.id
  LEFT JOIN by_product bp ON s.product = bp.product
  LEFT JOIN by_hs bh
    ON s.hs6 IS NOT DISTINCT FROM bh.hs6 AND s.exporter_country IS NOT DISTINCT FROM bh.exporter_country
  LEFT JOIN first f ON s.consignee_id IS NOT DISTINCT FROM f.consignee_id
), k AS (
  SELECT *,
    hs6 IN ({compute_hs}) OR chip_id IS NOT NULL OR coalesce(regexp_matches(d, '{lexicon}'), false)
      OR die_tpp IS NOT NULL AS relevant,
    CASE WHEN chip_id IS NOT NULL AND ref > 0 THEN unit_value / ref END AS ratio,
    CASE WHEN kg_m > 0 THEN per_kg / kg_m END AS kg_ratio,
    '>' || coalesce(substr(route, 3), '') || '>' AS tail,
    gpus * chip_kw * 1.5 / 1000.0 AS demand,
    coalesce(c_naics, '') AS naics
  FROM j
), f AS (
  SELECT *,
    CASE WHEN chip_id IS NOT NULL
              AND (NOT coalesce(hs6 IN ({gpu_hs}), false) OR coalesce(regexp_matches(d, '{generic}'), false))
         THEN 25 ELSE 0 END AS f2,
    CASE WHEN ratio < 0.2 THEN 20 WHEN ratio < 0.5 THEN 10 WHEN NOT relevant AND kg_ratio > 5 THEN 20 ELSE 0 END AS f3,
    CASE WHEN list_has_any(string_split(trim(tail, '>'), '>'), [{hubs}]) AND list_has_any(
                list_filter(string_split(trim(tail, '>'), '>'), x -> x <> coalesce(eu, '')), [{hubs}]) THEN 15
         WHEN list_has_any(string_split(trim(tail, '>'), '>'), [{hubs}]) OR coalesce(eu IN ({hubs}), false) THEN 5
         ELSE 0 END AS f4,
    CASE WHEN coalesce(fwd, false) OR has_user THEN 15 ELSE 0 END AS f5,
    CASE WHEN c_inc IS NOT NULL AND (c_inc >= DATE '2022-10-07' OR date - c_inc < 365)
         THEN CASE WHEN date = first_date AND (gpus >= 8 OR value_usd >= 1000000) THEN 20 ELSE 10 END ELSE 0 END AS f6,
    coalesce(f7, 0) AS f7p, coalesce(f8, 0) AS f8p,
    CASE WHEN coalesce(payer_country IN ('CN', 'HK', 'MO'), false) THEN 20
         WHEN payer_country IS NOT NULL AND c_country IS NOT NULL AND payer_country <> c_country THEN 10
         ELSE 0 END AS f9_base,
    payer_name IS NOT NULL AND c_name IS NOT NULL AND lower(trim(payer_name)) <> lower(trim(c_name))
      AND (NOT has_user OR lower(trim(payer_name)) <> coalesce(lower(trim(e_name)), '')) AS third_party,
    CASE WHEN coalesce(payment_terms IN ('prepaid', 'cash'), false) OR coalesce(support = 'declined', false)
              OR coalesce(len(string_split(route, '>')) >= 5
                 OR len(list_distinct(string_split(route, '>')[1:4])) < len(string_split(route, '>')[1:4]), false)
         THEN 5 ELSE 0 END AS f19,
    CASE WHEN chip_id IS NULL OR gpus IS NULL THEN 0 WHEN site IS NULL AND gpus >= 8 THEN 15
         WHEN demand > 2 * site THEN 25 WHEN demand > site THEN 15 ELSE 0 END AS f10,
    CASE WHEN chip_id IS NOT NULL AND brand <> ''
              AND NOT (brand IN ({brands}) OR brand = lower(coalesce(chip_vendor, '')))
         THEN 25 ELSE 0 END AS f13,
    CASE WHEN end_use_check = 'inconclusive' THEN 20 ELSE 0 END AS f14,
    CASE WHEN route IS NOT NULL AND eu IS NOT NULL AND right(route, 2) <> eu THEN 10 ELSE 0 END AS f15,
    CASE WHEN coalesce(c_parent IN ({d5}), false) OR coalesce(e_parent IN ({d5}), false) THEN 15 ELSE 0 END AS f17,
    CASE WHEN relevant AND naics <> '' AND NOT regexp_matches(naics, '^({it_naics})') AND NOT coalesce(fwd, false)
         THEN 15 ELSE 0 END AS f18,
    CASE WHEN regexp_matches(coalesce(hs6, ''), '^({cover})') AND per_kg > 2000 AND kg_ratio > 5
         THEN CASE WHEN regexp_matches(naics, '^({reseller})') THEN 25 ELSE 15 END ELSE 0 END AS f20,
    CASE WHEN coalesce(chip_controlled, false) AND licence IS NULL AND (coalesce(eu IN ({d5}), false)
              OR coalesce(c_country IN ({d5}), false) OR coalesce(c_parent IN ({d5}), false)
              OR coalesce(e_parent IN ({d5}), false)) THEN 'd5'
         WHEN end_use_check = 'failed' THEN 'check' END AS hard
  FROM k
), g AS (
  SELECT *, CASE WHEN f9_base > 0 THEN f9_base + CASE WHEN third_party THEN 5 ELSE 0 END ELSE 0 END AS f9 FROM f
), scored AS (
  SELECT *, f2 + f3 + f4 + f5 + f6 + f7p + f8p + f9 + f10 + f13 + f14 + f15 + f17 + f18 + f19 + f20 AS total FROM g
)
SELECT count(*) AS shipments,
       count(*) FILTER (WHERE least(total, CASE WHEN relevant OR f2 + f3 + f20 > 0 THEN 100 ELSE 30 END) > 5
                               OR hard IS NOT NULL) AS flagged
FROM scored
"""
"""The same per-shipment flag points as ``tiergate.diversion.analytics.features`` (every flag, its thresholds, the
gate and the hard stops that need no list store), written by hand: the catalogue facts of the products (a small
table the bench writes before timing) and D:5 are its only inputs besides the two files. It counts the shipments
over the floor that the scan reads back, so the two runs can be checked to agree."""


def hand_sql(ships: Path, parties: Path, d5: tuple[str, ...]) -> str:
    from tiergate.diversion import analytics as an
    from tiergate.diversion.addresses import _WORDS
    from tiergate.diversion.scan import FREE_MAIL

    def words(values: tuple[str, ...] | frozenset[str]) -> str:
        return ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values))

    table = "MAP {" + ", ".join(f"'{k}': '{v}'" for k, v in _WORDS.items()) + "}"
    return HAND_SQL.format(
        ships=ships,
        parties=parties,
        words=table,
        free=words(FREE_MAIL),
        tpp=an.TPP_TEXT,
        compute_hs=words(an.COMPUTE_HS),
        lexicon=an.LEXICON,
        gpu_hs=words(an.GPU_HS),
        generic=an.GENERIC,
        hubs=words(an.HUBS),
        brands=words(an.KNOWN_BRANDS),
        d5=words(d5) or "NULL",
        it_naics="|".join(an.IT_NAICS),
        cover="|".join(an.COVER_HS_PREFIX),
        reseller="|".join(an.RESELLER_NAICS),
    )


def write_references(folder: Path) -> tuple[str, ...]:
    """The catalogue facts of the products in the shipments (chips.parquet) and D:5 on the last shipment date:
    reference data the hand-written SQL is given, not computed (the scan works them out itself, timed)."""
    import duckdb
    import pyarrow.parquet as pq

    from tiergate.diversion import analytics as an
    from tiergate.diversion.scan import _chip_rows, _d5
    from tiergate.rules import load_rulebook

    ships = folder / "shipments.parquet"
    con = duckdb.connect()
    found = con.execute(
        f"SELECT list(DISTINCT product) FILTER (WHERE product IS NOT NULL), max(date) FROM read_parquet('{ships}')"
    ).fetchone()
    products, last = found if found else ([], None)
    ruleset, _ = load_rulebook().select(None, last)
    rows, _ = _chip_rows(products or [], ruleset)
    pq.write_table(an.chips_arrow(rows), folder / "chips.parquet")
    return _d5(ruleset, last)


def _part(part: str, folder: Path) -> None:
    ships = folder / "shipments.parquet"
    parties = folder / "parties.csv"
    start = time.perf_counter()
    if part == "tiergate":
        from tiergate.diversion.scan import run_scan

        result = run_scan(ships, parties)
        answer = {"cases": len(result.cases), "shipments": result.shipments}
    else:
        import duckdb

        d5 = tuple(json.loads((folder / "d5.json").read_text()))
        con = duckdb.connect()
        con.execute(f"CREATE VIEW chips AS SELECT * FROM read_parquet('{folder / 'chips.parquet'}')")
        row = con.execute(hand_sql(ships, parties, d5)).fetchone()
        answer = {"shipments": row[0], "flagged": row[1]} if row else {}
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(json.dumps({"part": part, "seconds": seconds, "peak_mb": peak_mb, **answer}) + "\n")


def _run(part: str, folder: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--part", part, "--folder", str(folder)], check=True, capture_output=True, text=True
    )
    answer: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, help="keep the generated files here (and reuse them when present)")
    parser.add_argument("--repeat", type=int, default=1, help="timed pairs (SQL then scan), side by side")
    parser.add_argument("--part", choices=("tiergate", "sql"))
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args(argv)
    if args.part:
        _part(args.part, args.folder)
        return 0
    from tiergate.diversion.generate import generate

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data or Path(tmp)
        made = 0.0
        if not (folder / "shipments.parquet").exists():
            start = time.perf_counter()
            generate(folder, args.shipments, seed=args.seed, parquet=True)
            made = time.perf_counter() - start
        (folder / "d5.json").write_text(json.dumps(write_references(folder)))
        pairs = [(_run("sql", folder), _run("tiergate", folder)) for _ in range(max(1, args.repeat))]
    ratios = sorted(scan["seconds"] / sql["seconds"] for sql, scan in pairs)
    report = {
        "shipments": pairs[0][1]["shipments"],
        "generate_seconds": round(made, 1),
        "tiergate": [scan for _, scan in pairs],
        "hand_sql": [sql for sql, _ in pairs],
        "ratios": [round(r, 2) for r in ratios],
        "ratio": round(ratios[len(ratios) // 2], 2),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
