"""Ten million shipments (or any multiple) from a generated set, fast: ``copies`` disjoint copies of it.

    PYTHONPATH=. python bench/diversion_replicate.py SOURCE_DIR OUT_DIR --copies 10

Generating 10^7 shipments row by row takes an hour on a shared 2-core machine; this writes them in a minute with
DuckDB. Copy ``k`` renames everything that links shipments and parties (shipment, party and payer ids and
names, forwarders, the notify and invoice parties the generator writes as names, serial numbers, corporate
e-mail domains, addresses), so the copies never join into one network: a scan of N copies finds N times the cases
of one. Prices, HS codes, dates and routes are the same in every copy, so
the medians the flags compare with are those of the source.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def replicate(source: Path, out: Path, copies: int) -> None:
    import duckdb

    from tiergate.diversion.scan import FREE_MAIL

    out.mkdir(parents=True, exist_ok=True)
    free = ", ".join(f"'{d}'" for d in sorted(FREE_MAIL))
    con = duckdb.connect()
    con.execute(f"""
        COPY (
          SELECT s.* REPLACE (
                   s.id || '-' || k AS id,
                   s.consignee_id || '-' || k AS consignee_id,
                   s.end_user_id || '-' || k AS end_user_id,
                   s.payer_name || ' ' || k AS payer_name,
                   s.forwarder || ' ' || k AS forwarder,
                   s.notify_party || ' ' || k AS notify_party,
                   s.invoice_party || ' ' || k AS invoice_party,
                   regexp_replace(s.serials, '([A-Z]+[0-9]+)', '\\1-' || k, 'g') AS serials)
          FROM read_parquet('{source / "shipments.parquet"}') s, range({copies}) r(k)
          ORDER BY k, s.id
        ) TO '{out / "shipments.parquet"}' (FORMAT parquet, ROW_GROUP_SIZE 200000)
    """)
    con.execute(f"""
        COPY (
          SELECT p.* REPLACE (
                   p.id || '-' || k AS id,
                   p.name || ' ' || k AS name,
                   CASE WHEN p.address IS NULL OR p.address = '' THEN p.address
                        ELSE p.address || ' Z' || k END AS address,
                   CASE WHEN p.email_domain IS NULL OR p.email_domain = '' OR lower(p.email_domain) IN ({free})
                        THEN p.email_domain ELSE 'c' || k || p.email_domain END AS email_domain)
          FROM read_csv('{source / "parties.csv"}', all_varchar = true) p, range({copies}) r(k)
          ORDER BY k, p.id
        ) TO '{out / "parties.csv"}' (HEADER, DELIMITER ',')
    """)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--copies", type=int, default=10)
    args = parser.parse_args(argv)
    replicate(args.source, args.out, args.copies)
    sys.stdout.write(f"{args.copies} copies of {args.source} in {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
