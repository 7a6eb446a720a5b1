"""Diversion scan speed against hand-written DuckDB SQL computing the same per-shipment features.

    PYTHONPATH=. python bench/diversion_speed.py [--shipments 200000] [--seed 7]

Generates the shipments as Parquet, then times, each in its own process (so that peak memory is measured
separately): ``tiergate diversion scan`` end to end (reading, party facts, the Ibis features on DuckDB, networks,
cases), and one DuckDB SQL statement written by hand that computes the same per-shipment flag points from the
same Parquet file and parties. Prints both times, their ratio and each process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HAND_SQL = """
WITH s AS (
  SELECT *, substr(hs_code, 1, 6) AS hs6, lower(coalesce(description, '')) AS d FROM read_parquet('{ships}')
), p AS (SELECT * FROM read_csv_auto('{parties}', all_varchar = true)),
j AS (
  SELECT s.*, c.country AS c_country, c.naics AS c_naics, try_cast(c.incorporated AS DATE) AS c_inc,
         c.is_forwarder = 'true' AS fwd, try_cast(c.site_mw AS DOUBLE) AS c_site, c.address_type,
         e.country AS e_country, try_cast(e.site_mw AS DOUBLE) AS e_site,
         min(s.date) OVER (PARTITION BY s.consignee_id) AS first_date,
         s.value_usd / nullif(s.quantity, 0) AS unit_value, s.value_usd / nullif(s.gross_kg, 0) AS per_kg
  FROM s LEFT JOIN p c ON s.consignee_id = c.id LEFT JOIN p e ON s.end_user_id = e.id
), r AS (
  SELECT j.*,
    median(unit_value) OVER (PARTITION BY product) AS product_median,
    median(per_kg) OVER (PARTITION BY hs6, exporter_country) AS kg_median,
    CASE WHEN end_user_id IS NOT NULL AND end_user_id <> consignee_id THEN e_country
         WHEN fwd THEN NULL ELSE c_country END AS eu,
    '>' || coalesce(substr(route, 3), '') || '>' AS tail
  FROM j
)
SELECT count(*) AS shipments, sum(CASE WHEN
    (product LIKE 'nvidia-%' AND (hs6 NOT IN ('854231','847150','847180','847330','847141','847149','847130','847170')
       OR regexp_matches(d, '{generic}')))
 OR (unit_value / product_median < 0.5) OR (per_kg / kg_median > 5)
 OR list_has_any(string_split(trim(tail, '>'), '>'), ['SG','MY','TH','HK','MO','AE','VN','ID','JP','TW'])
 OR fwd OR (end_user_id IS NOT NULL AND end_user_id <> consignee_id)
 OR (c_inc >= DATE '2022-10-07' OR date - c_inc < 365)
 OR address_type IN ('residential', 'virtual')
 OR payer_country IN ('CN','HK','MO') OR payer_country <> c_country
 OR end_use_check IN ('inconclusive', 'failed')
 OR (route IS NOT NULL AND right(route, 2) <> coalesce(eu, right(route, 2)))
 OR (c_naics IS NOT NULL AND NOT regexp_matches(c_naics, '^(334|4234|4236|5112|5132|517|518|519|5415|5416|5417|6113)'))
 OR regexp_matches(lower(coalesce(product, '')), 'tpp\\s*([0-9]+)')
 THEN 1 ELSE 0 END) AS flagged
FROM r
"""


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

        con = duckdb.connect()
        from tiergate.diversion.analytics import GENERIC

        row = con.execute(HAND_SQL.format(ships=ships, parties=parties, generic=GENERIC)).fetchone()
        answer = {"shipments": row[0], "flagged": row[1]} if row else {}
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(json.dumps({"part": part, "seconds": seconds, "peak_mb": peak_mb, **answer}) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--part", choices=("tiergate", "sql"))
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args(argv)
    if args.part:
        _part(args.part, args.folder)
        return 0
    from tiergate.diversion.generate import generate

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        generate(folder, args.shipments, seed=args.seed, parquet=True)
        made = time.perf_counter() - start
        runs = {}
        for part in ("sql", "tiergate"):
            out = subprocess.run(
                [sys.executable, __file__, "--part", part, "--folder", str(folder)],
                check=True,
                capture_output=True,
                text=True,
            )
            runs[part] = json.loads(out.stdout.strip().splitlines()[-1])
    report = {
        "shipments": args.shipments,
        "generate_seconds": round(made, 1),
        "tiergate": runs["tiergate"],
        "hand_sql": runs["sql"],
        "ratio": round(runs["tiergate"]["seconds"] / runs["sql"]["seconds"], 2),
    }
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
