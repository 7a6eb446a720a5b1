"""Benchmark of the model-weight vault (issue 17).

    python bench/vault.py [--ops 500] [--entries 100000] [--shard-mb 256] [--postgres URL] [--only sqlite|postgresql]

For SQLite (a file) and PostgreSQL (a throw-away database on 127.0.0.1:5432 unless --postgres names another):

1. ``--ops`` transfer requests, each approved twice, through ``tiergate.vault.Vault`` (each operation one committed
   transaction with its log entry): operations per second;
2. the log filled to ``--entries`` entries (synthetic entries written straight into ``vault_log``, encoded and hashed
   as the vault does, so that the figure is the log's, not the request path's), then: a signed checkpoint (which
   verifies the whole log first), ``verify``, an inclusion proof of the middle entry, a consistency proof from the
   first checkpoint, and the offline checks of both bundles;

and, once, the release check on one shard file of ``--shard-mb`` MiB (SHA-256 read from disk): MiB/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import tiergate
from tiergate.merkle import leaf_hash
from tiergate.vault import Vault, check_consistency, check_inclusion
from tiergate.vault.log import encode_entry
from tiergate.vault.model import ScreeningResult, Shard
from tiergate.vault.shards import check_folder

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def clean(name: str, country: str | None) -> ScreeningResult:
    return ScreeningResult(f"{country}:{name}", (), "bench", 0)


def timed(label: str, work: Any, results: dict[str, float]) -> Any:
    start = time.perf_counter()
    value = work()
    results[label] = time.perf_counter() - start
    return value


def fill(vault: Vault, target: int) -> None:
    """Synthetic entries up to ``target``, encoded and hashed exactly as the vault writes them."""
    engine = vault.ledger.engine
    with engine.begin() as conn:
        size = int(conn.execute(sa.text("SELECT size FROM vault_log_head WHERE id = 1")).scalar() or 0)
        moment = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)
        batch = []
        for index in range(size, target):
            text = encode_entry(index, moment, "approval", f"R-{index:06d}", "bench", {"approver": "alice", "n": index})
            batch.append(
                {
                    "seq": index,
                    "at": moment.isoformat(),
                    "kind": "approval",
                    "subject": f"R-{index:06d}",
                    "entry": text,
                    "leaf_hash": leaf_hash(text.encode()).hex(),
                }
            )
            if len(batch) == 5000:
                conn.execute(
                    sa.text("INSERT INTO vault_log VALUES (:seq, :at, :kind, :subject, :entry, :leaf_hash)"), batch
                )
                batch = []
        if batch:
            conn.execute(
                sa.text("INSERT INTO vault_log VALUES (:seq, :at, :kind, :subject, :entry, :leaf_hash)"), batch
            )
        conn.execute(sa.text("UPDATE vault_log_head SET size = :s WHERE id = 1"), {"s": max(size, target)})


def run(url: str, args: argparse.Namespace, book: tiergate.Rulebook) -> dict[str, float]:
    results: dict[str, float] = {}
    vault = Vault(url, book=book, actor="bench")
    vault.init("alice,bob,carol", 2)
    vault.register(
        {
            "id": "frontier-1",
            "name": "Frontier 1",
            "training_ops": 3.5e26,
            "open_weights": False,
            "shards": [{"sha256": "ab" * 32, "bytes": 1}],
        }
    )
    request = {
        "artefact": "frontier-1",
        "destination": "DE",
        "recipient": "Bench GmbH",
        "recipient_headquarters": "DE",
        "requester": "dave",
    }

    def cycle() -> None:
        for _ in range(args.ops):
            rid = vault.request(request, clean).view["request"]
            vault.approve(rid, "alice")
            vault.approve(rid, "bob")

    timed("ops", cycle, results)
    results["ops_per_s"] = 3 * args.ops / results["ops"]
    key = Ed25519PrivateKey.generate()
    first = vault.checkpoint(key)
    fill(vault, args.entries)
    timed("checkpoint", lambda: vault.checkpoint(key), results)
    verification = timed("verify", lambda: vault.verify(key.public_key()), results)
    assert verification.ok, verification.problems[:3]
    middle = args.entries // 2
    inclusion = timed("prove", lambda: vault.prove(middle), results)
    consistency = timed("consistency", lambda: vault.consistency(first.size), results)
    timed("check_inclusion", lambda: check_inclusion(inclusion, key.public_key()), results)
    timed("check_consistency", lambda: check_consistency(consistency, key.public_key()), results)
    results["entries"] = verification.size
    vault.close()
    return results


def shard_speed(mib: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shard.bin"
        block = os.urandom(1 << 20)
        digest = hashlib.sha256()
        with path.open("wb") as handle:
            for _ in range(mib):
                handle.write(block)
                digest.update(block)
        shard = Shard(digest.hexdigest(), mib << 20)
        from tiergate.vault.shards import shards_root

        start = time.perf_counter()
        check = check_folder(Path(folder), [shard], shards_root([shard]))
        elapsed = time.perf_counter() - start
        assert check.ok, check.problems
        return mib / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--shard-mb", type=int, default=256)
    parser.add_argument("--postgres", default=None, help="An admin URL of a PostgreSQL server.")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    args = parser.parse_args()
    book = tiergate.load_rulebook()
    print(f"vault benchmark: {args.ops} requests x 3 operations; log of {args.entries:,} entries")
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as folder:
            report("sqlite", run(f"sqlite:///{folder}/vault.db", args, book))
    if args.only in (None, "postgresql"):
        admin_url = args.postgres or PG_ADMIN
        name = "tiergate_bench_" + uuid.uuid4().hex[:8]
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
        except Exception as error:  # no server: say so, do not fail the SQLite figures
            print(f"postgresql: skipped ({type(error).__name__})")
        else:
            try:
                report("postgresql", run(admin_url.rsplit("/", 1)[0] + "/" + name, args, book))
            finally:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()
    print(f"release hashing: {shard_speed(args.shard_mb):,.0f} MiB/s over a {args.shard_mb} MiB shard")


def report(backend: str, r: dict[str, float]) -> None:
    print(
        f"{backend}: {r['ops_per_s']:,.0f} vault operations/s (request, approve, approve); "
        f"log of {int(r['entries']):,} entries: checkpoint {r['checkpoint']:.2f} s (verifies first), "
        f"verify {r['verify']:.2f} s, inclusion proof {r['prove']:.2f} s, consistency proof {r['consistency']:.2f} s, "
        f"offline checks {1000 * r['check_inclusion']:.1f} ms / {1000 * r['check_consistency']:.1f} ms"
    )


if __name__ == "__main__":
    main()
