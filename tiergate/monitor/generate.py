"""Synthetic cloud usage and customers, deterministic for a seed, with planted cases.

The clean population: providers with clusters in several countries, customers headquartered mostly in
Tier 1 and Tier 2 countries (never in D:5 or Macau), ownership groups (a parent and subsidiaries that
reach their beneficial owner through the parent), one to three accounts each, and jobs of 1 to 512
chips split into consecutive segments of one to six hours. Bulk records are generated with numpy in
chunks and written as Parquet row groups, so 10^8 records need a few hundred MB of memory.

Planted cases (ids in :data:`PLANTED`): a run past 10^25 FLOP split over three accounts of one
beneficial owner; accounts whose parent is headquartered in China (Tier 3); a customer with logins from
Iran (D:5); a running job that crosses 10^26 within a week at its current rate; a co-located cluster past
10^20 OP/s; a Tier 2 customer past the usage cap (under a regime with caps); declared FLOP far from the
estimate; an unverified customer without beneficial owner; payment from a D:5 country.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tiergate.batch import atomic_output

DEFAULT_END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
SPAN_DAYS = 180
CHUNK = 4_000_000

PROVIDERS = ("aws", "azure", "gcp", "oracle", "coreweave", "lambda")
CLUSTER_COUNTRIES = ("US", "US", "US", "IE", "DE", "GB", "JP", "SG", "IN", "AE", "NL", "KR", "BR", "SA")
HQ_COUNTRIES = {
    "US": 40,
    "GB": 6,
    "DE": 6,
    "FR": 4,
    "JP": 5,
    "KR": 3,
    "CA": 3,
    "NL": 2,
    "IN": 6,
    "SG": 4,
    "AE": 3,
    "IL": 3,
    "BR": 3,
    "SA": 2,
    "MY": 2,
    "MX": 2,
    "PL": 2,
    "CH": 2,
    "AU": 2,
    "SE": 2,
}
CHIPS = {
    "nvidia-h100-sxm": 45,
    "nvidia-a100-sxm": 15,
    "nvidia-h200": 10,
    "nvidia-b200": 7,
    "amd-mi300x": 6,
    "google-tpu-v5p": 5,
    "intel-gaudi3": 3,
    "aws-trainium2": 4,
    "nvidia-l40s": 5,
}
FP8_CHIPS = frozenset({"nvidia-h100-sxm", "nvidia-h200", "nvidia-b200", "amd-mi300x", "aws-trainium2", "nvidia-l40s"})
CHIP_COUNTS = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512], dtype=np.int32)
CHIP_COUNT_WEIGHTS = np.array([4, 4, 6, 20, 14, 10, 8, 5, 3, 1], dtype=float)

_FIRST = (
    "Amber",
    "Birch",
    "Cobalt",
    "Delta",
    "Elm",
    "Fjord",
    "Garnet",
    "Harbor",
    "Indigo",
    "Juniper",
    "Kestrel",
    "Linden",
    "Maple",
    "Nimbus",
    "Onyx",
    "Pine",
    "Quill",
    "Raven",
    "Sable",
    "Tidal",
    "Umber",
    "Vale",
    "Willow",
)
_SECOND = (
    "Analytics",
    "Labs",
    "Systems",
    "Robotics",
    "Vision",
    "Data",
    "Compute",
    "Intelligence",
    "Bio",
    "Health",
    "Finance",
    "Media",
    "Logistics",
    "Research",
    "Software",
)
_SUFFIX = {
    "US": "Inc",
    "GB": "Ltd",
    "DE": "GmbH",
    "FR": "SAS",
    "JP": "KK",
    "IN": "Pvt Ltd",
    "SG": "Pte Ltd",
    "AE": "FZ-LLC",
    "BR": "Ltda",
    "NL": "BV",
    "SE": "AB",
    "CH": "AG",
    "PL": "Sp. z o.o.",
    "MX": "SA de CV",
}

PLANTED = {
    "split_owner": "bo-ember",
    "split_accounts": ("acct-ember-1", "acct-ember-2", "acct-ember-3"),
    "tier3_parent_customer": "cu-falcon",
    "d5_login_customer": "cu-heron",
    "crossing_job": "job-northwind-pretrain",
    "cluster_owner": "bo-bluefin",
    "cap_customer": "cu-saffron",
    "cap_country": "IN",
    "declared_gap_job": "job-quartz-ft",
    "kyc_customer": "cu-lumen",
    "d5_payment_customer": "cu-tamarack",
}
"""The subjects of the planted cases (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class Generated:
    usage: Path
    customers: Path
    records: int
    customers_count: int
    end: dt.datetime


def _pick(rng: np.random.Generator, weights: dict[str, int], size: int) -> np.ndarray:
    keys = np.array(list(weights))
    p = np.array(list(weights.values()), dtype=float)
    return keys[rng.choice(len(keys), size=size, p=p / p.sum())]


def _customers(rng: np.random.Generator, count: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Clean customers in ownership groups of one to four; the accounts of those that use compute."""
    rows: list[dict[str, Any]] = []
    accounts: list[str] = []
    hqs = _pick(rng, HQ_COUNTRIES, count)
    i = 0
    group = 0
    while i < count:
        size = int(min(count - i, rng.choice([1, 1, 1, 2, 3, 4])))
        owner = f"bo-{group:06d}"
        parent_id: str | None = None
        parent_hq: str | None = None
        for k in range(size):
            cid = f"cu-{i:06d}"
            hq = str(hqs[i] if k == 0 else (hqs[i] if rng.random() < 0.5 else hqs[i - k]))
            name = (
                f"{_FIRST[i % len(_FIRST)]} {_SECOND[(i // len(_FIRST)) % len(_SECOND)]} {i} {_SUFFIX.get(hq, 'Ltd')}"
            )
            explicit_owner = k == 0 or rng.random() < 0.5
            logins = hq if rng.random() < 0.7 else f"{hq};US"
            base = {
                "customer_id": cid,
                "name": name,
                "country": hq,
                "headquarters": hq,
                "parent_id": parent_id,
                "parent_headquarters": parent_hq,
                "beneficial_owner_id": owner if explicit_owner else None,
                "verified": True,
                "payment_country": hq,
                "login_countries": logins,
            }
            for a in range(int(rng.integers(1, 4))):
                account = f"acct-{i:06d}-{a}"
                rows.append({"account_id": account, **base})
                accounts.append(account)
            if k == 0:
                parent_id, parent_hq = cid, hq
            i += 1
        group += 1
    return rows, accounts


def _planted_customers() -> list[dict[str, Any]]:
    def row(account: str | None, cid: str, name: str, hq: str, **extra: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "account_id": account,
            "customer_id": cid,
            "name": name,
            "country": hq,
            "headquarters": hq,
            "parent_id": None,
            "parent_headquarters": None,
            "beneficial_owner_id": None,
            "verified": True,
            "payment_country": hq,
            "login_countries": hq,
        }
        base.update(extra)
        return base

    rows = [row(None, "cu-ember-holding", "Ember Holdings Pte Ltd", "SG", beneficial_owner_id="bo-ember")]
    for k in (1, 2, 3):
        rows.append(
            row(
                f"acct-ember-{k}",
                f"cu-ember-{k}",
                f"Ember Research {k} Pte Ltd",
                "SG",
                parent_id="cu-ember-holding",
                parent_headquarters="SG",
            )
        )
    rows += [
        row(
            "acct-falcon-1",
            "cu-falcon",
            "Falcon Ridge Analytics FZ-LLC",
            "AE",
            parent_id="ext-8841",
            parent_headquarters="CN",
            beneficial_owner_id="bo-falcon",
        ),
        row(
            "acct-falcon-2",
            "cu-falcon",
            "Falcon Ridge Analytics FZ-LLC",
            "AE",
            parent_id="ext-8841",
            parent_headquarters="CN",
            beneficial_owner_id="bo-falcon",
        ),
        row(
            "acct-heron-1",
            "cu-heron",
            "Heron Vision Ltd",
            "GB",
            beneficial_owner_id="bo-heron",
            login_countries="GB;IR",
        ),
        row(
            "acct-northwind-1", "cu-northwind", "Northwind Frontier Labs Inc", "US", beneficial_owner_id="bo-northwind"
        ),
        row("acct-bluefin-1", "cu-bluefin", "Bluefin Compute Co", "US", beneficial_owner_id="bo-bluefin"),
        row("acct-saffron-1", "cu-saffron", "Saffron Cloud Services Pvt Ltd", "IN", beneficial_owner_id="bo-saffron"),
        row("acct-quartz-1", "cu-quartz", "Quartz Harbor AI GmbH", "DE", beneficial_owner_id="bo-quartz"),
        row("acct-lumen-1", "cu-lumen", "Lumen Grid Sdn Bhd", "MY", verified=False),
        row(
            "acct-tamarack-1",
            "cu-tamarack",
            "Tamarack Data Systems AS",
            "TR",
            beneficial_owner_id="bo-tamarack",
            payment_country="VE",
        ),
    ]
    return rows


def _planted_usage(end: dt.datetime) -> list[dict[str, Any]]:
    """The planted jobs, as segments. Rates: H100 SXM dense bf16 989.4 TFLOP/s."""
    out: list[dict[str, Any]] = []

    def job(
        job_id: str,
        account: str,
        cluster: str,
        chips: int,
        first: dt.datetime,
        days: float,
        *,
        segment_hours: float = 24.0,
        utilization: float | None = 0.4,
        declared: float | None = None,
        running: bool = False,
        chip: str = "nvidia-h100-sxm",
    ) -> None:
        provider, country = cluster.split("-")[0], cluster.split("-")[1]

        def segment(k: int, start: dt.datetime, until: dt.datetime | None) -> None:
            out.append(
                {
                    "record_id": f"p-{job_id}-{k:04d}",
                    "provider": provider,
                    "account_id": account,
                    "job_id": job_id,
                    "cluster_id": cluster,
                    "datacenter_country": country,
                    "chip": chip,
                    "chip_count": chips,
                    "start": start,
                    "end": until,
                    "precision": "bf16",
                    "utilization": utilization,
                    "declared_flop": declared if k == 0 and until is not None else None,
                }
            )

        t = first
        stop = first + dt.timedelta(days=days)
        k = 0
        while t < stop - dt.timedelta(seconds=1):
            seg_end = min(t + dt.timedelta(hours=segment_hours), stop)
            segment(k, t, seg_end)
            t = seg_end
            k += 1
        if running:
            segment(k, stop, None)  # still running: no end yet

    day = dt.timedelta(days=1)
    for k in (1, 2, 3):  # 3 x 2048 H100 x 72 days x 0.4 = 3 x 5.04e24 FLOP: only the owner passes 1e25
        job(f"job-ember-{k}", f"acct-ember-{k}", "gcp-SG-1", 2048, end - 84 * day, 72)
    job("job-falcon-1", "acct-falcon-2", "azure-AE-1", 64, end - 20 * day, 5)
    job("job-heron-1", "acct-heron-1", "aws-GB-1", 32, end - 30 * day, 3)
    # 24,576 H100 x 113 days x 0.4 = 9.50e25 FLOP, running at 9.73e18 FLOP/s: crosses 1e26 in about 6 days.
    job("job-northwind-pretrain", "acct-northwind-1", "aws-US-1", 24576, end - 113 * day, 113, running=True)
    for k in (1, 2, 3):  # 61,440 H100 at once: 1.22e20 OP/s at the H100's best dense rate (fp8/int8)
        job(f"job-bluefin-{k}", "acct-bluefin-1", "oracle-US-1", 20480, end - 40 * day, 1.5, segment_hours=6)
    # 2,400 H100 for 290 days of the calendar year: 16.7 M H100e-hours, past the LPP analogue (14.9 M).
    year_start = dt.datetime(end.year, 1, 10, tzinfo=dt.UTC)
    job("job-saffron-1", "acct-saffron-1", "aws-IN-1", 2400, year_start, 290, utilization=0.1)
    # 256 H100 for 10 days at 0.4 = 8.75e22 estimated; declared ten times that.
    job("job-quartz-ft", "acct-quartz-1", "azure-DE-1", 256, end - 50 * day, 10, declared=8.75e23)
    job("job-lumen-1", "acct-lumen-1", "aws-SG-2", 16, end - 15 * day, 2, utilization=None)
    job("job-tamarack-1", "acct-tamarack-1", "azure-DE-2", 8, end - 12 * day, 1, utilization=None)
    return out


def _schema() -> Any:
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    return pa.schema(
        [
            ("record_id", pa.string()),
            ("provider", pa.string()),
            ("account_id", pa.string()),
            ("job_id", pa.string()),
            ("cluster_id", pa.string()),
            ("datacenter_country", pa.string()),
            ("chip", pa.string()),
            ("chip_count", pa.int32()),
            ("start", ts),
            ("end", ts),
            ("precision", pa.string()),
            ("utilization", pa.float64()),
            ("declared_flop", pa.float64()),
        ]
    )


def _bulk_chunk(
    rng: np.random.Generator,
    size: int,
    first_record: int,
    first_job: int,
    accounts: Any,
    clusters: tuple[Any, Any, Any],
    end_us: int,
) -> tuple[Any, int]:
    """``size`` clean records of whole jobs (the last job may be cut short), as an Arrow table."""
    import pyarrow as pa
    import pyarrow.compute as pc

    span_us = SPAN_DAYS * 86_400 * 1_000_000
    jobs = size // 3 + 16
    segments = np.minimum(rng.geometric(0.3, jobs), 12).astype(np.int64)
    cum = np.cumsum(segments)
    jobs = int(np.searchsorted(cum, size) + 1)
    segments = segments[:jobs]
    segments[-1] -= int(cum[jobs - 1] - size)
    hours = rng.integers(1, 7, jobs).astype(np.int64)
    seg_us = hours * 3_600_000_000
    job_us = seg_us * segments
    job_start = end_us - span_us + (rng.random(jobs) * (span_us - job_us)).astype(np.int64)
    job_account = rng.integers(0, len(accounts), jobs)
    job_cluster = rng.integers(0, len(clusters[0]), jobs)
    chip_names = np.array(list(CHIPS))
    chip_p = np.array(list(CHIPS.values()), dtype=float)
    job_chip = rng.choice(len(chip_names), jobs, p=chip_p / chip_p.sum())
    job_count = CHIP_COUNTS[rng.choice(len(CHIP_COUNTS), jobs, p=CHIP_COUNT_WEIGHTS / CHIP_COUNT_WEIGHTS.sum())]
    fp8_ok = np.array([c in FP8_CHIPS for c in chip_names])[job_chip]
    job_fp8 = fp8_ok & (rng.random(jobs) < 0.1)
    job_util = np.where(rng.random(jobs) < 0.6, rng.uniform(0.2, 0.55, jobs), np.nan)

    rep = np.repeat(np.arange(jobs), segments)
    offsets = np.arange(size, dtype=np.int64) - np.repeat(cum[:jobs] - segments, segments)
    start = job_start[rep] + offsets * seg_us[rep]
    stop = start + seg_us[rep]
    ids = pa.array(np.arange(first_record, first_record + size, dtype=np.int64)).cast(pa.string())
    job_ids = pa.array(np.arange(first_job, first_job + jobs, dtype=np.int64)).cast(pa.string())
    cluster_ids, cluster_providers, cluster_countries = clusters
    ts = pa.timestamp("us", tz="UTC")
    util = job_util[rep]
    table = pa.table(
        {
            "record_id": pc.binary_join_element_wise("r", ids, ""),
            "provider": cluster_providers.take(pa.array(job_cluster[rep])),
            "account_id": accounts.take(pa.array(job_account[rep])),
            "job_id": pc.binary_join_element_wise("job-", job_ids, "").take(pa.array(rep)),
            "cluster_id": cluster_ids.take(pa.array(job_cluster[rep])),
            "datacenter_country": cluster_countries.take(pa.array(job_cluster[rep])),
            "chip": pa.array(chip_names).take(pa.array(job_chip[rep])),
            "chip_count": pa.array(job_count[rep], pa.int32()),
            "start": pa.array(start, pa.int64()).cast(ts),
            "end": pa.array(stop, pa.int64()).cast(ts),
            "precision": pa.array(np.where(job_fp8[rep], "fp8", "bf16")),
            "utilization": pa.array(util, pa.float64(), mask=np.isnan(util)),
            "declared_flop": pa.nulls(size, pa.float64()),
        }
    )
    return table, jobs


def generate(
    out: Path,
    records: int,
    *,
    seed: int = 0,
    end: dt.datetime = DEFAULT_END,
    planted: bool = True,
    customers: int | None = None,
) -> Generated:
    """Write ``out/usage.parquet`` (``records`` clean records plus the planted ones) and
    ``out/customers.parquet``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    count = customers if customers is not None else int(min(max(records // 400, 40), 50_000))
    rows, accounts = _customers(rng, count)
    if planted:
        rows += _planted_customers()
    cluster_ids, providers, countries = [], [], []
    for p in PROVIDERS:
        for k, cc in enumerate(CLUSTER_COUNTRIES[: 6 + PROVIDERS.index(p)]):
            cluster_ids.append(f"{p}-{cc}-{k + 10}")
            providers.append(p)
            countries.append(cc)
    clusters = (pa.array(cluster_ids), pa.array(providers), pa.array(countries))
    account_array = pa.array(accounts)
    schema = _schema()
    end_us = int(end.timestamp() * 1_000_000)
    usage = out / "usage.parquet"
    written = 0
    with atomic_output(usage) as handle, pq.ParquetWriter(handle, schema, compression="zstd") as writer:
        if planted:
            planted_rows = _planted_usage(end)
            writer.write_table(pa.Table.from_pylist(planted_rows, schema=schema))
            written += len(planted_rows)
        done = 0
        jobs = 0
        while done < records:
            size = min(CHUNK, records - done)
            table, n_jobs = _bulk_chunk(rng, size, done, jobs, account_array, clusters, end_us)
            writer.write_table(table.cast(schema), row_group_size=1_000_000)
            done += size
            jobs += n_jobs
        written += done
    customers_file = out / "customers.parquet"
    customer_schema = pa.schema(
        [
            ("account_id", pa.string()),
            ("customer_id", pa.string()),
            ("name", pa.string()),
            ("country", pa.string()),
            ("headquarters", pa.string()),
            ("parent_id", pa.string()),
            ("parent_headquarters", pa.string()),
            ("beneficial_owner_id", pa.string()),
            ("verified", pa.bool_()),
            ("payment_country", pa.string()),
            ("login_countries", pa.string()),
        ]
    )
    with atomic_output(customers_file) as handle:
        pq.write_table(pa.Table.from_pylist(rows, schema=customer_schema), handle)
    return Generated(usage, customers_file, written, len({r["customer_id"] for r in rows}), end)
