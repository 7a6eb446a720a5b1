"""Synthetic transactions for the decide benchmark: a realistic mix of chips, destinations, dates,
quantities and consignees (some headquartered or owned in China, some VEUs), as flat Parquet rows."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

CHIPS = [
    ("nvidia-h100-sxm", 20),
    ("nvidia-h200", 15),
    ("nvidia-b200", 10),
    ("nvidia-gb200", 5),
    ("nvidia-h20", 8),
    ("nvidia-a100-sxm", 6),
    ("nvidia-l40s", 5),
    ("nvidia-l4", 5),
    ("nvidia-l20", 3),
    ("nvidia-rtx-4090", 6),
    ("nvidia-rtx-4090d", 3),
    ("nvidia-rtx-5090", 4),
    ("amd-mi300x", 6),
    ("amd-mi325x", 3),
    ("amd-mi355x", 3),
    ("intel-gaudi3", 2),
    ("google-tpu-v5e", 1),
    ("aws-trainium2", 1),
    ("huawei-ascend-910b", 1),
    ("nvidia-h800-sxm", 2),
]
DESTINATIONS = [
    ("IN", 10),
    ("DE", 6),
    ("GB", 5),
    ("JP", 5),
    ("KR", 4),
    ("TW", 4),
    ("FR", 3),
    ("AE", 5),
    ("SA", 4),
    ("SG", 6),
    ("MY", 6),
    ("TH", 3),
    ("VN", 3),
    ("IL", 2),
    ("BR", 3),
    ("MX", 3),
    ("ID", 2),
    ("CN", 6),
    ("HK", 3),
    ("MO", 1),
    ("RU", 1),
    ("PL", 2),
    ("TR", 2),
    ("KH", 1),
    ("EG", 1),
    ("US", 3),
    ("CA", 2),
    ("AU", 2),
    ("PK", 1),
    ("KZ", 1),
]
START, END = dt.date(2023, 11, 17), dt.date(2026, 11, 27)


def generate(n: int, path: Path, seed: int = 7) -> Path:
    rng = random.Random(seed)
    chips, chip_w = zip(*CHIPS, strict=True)
    dests, dest_w = zip(*DESTINATIONS, strict=True)
    span = (END - START).days
    names = [f"Consignee {i:05d} Ltd" for i in range(20_000)]
    cols: dict[str, list[object]] = {
        k: []
        for k in (
            "id",
            "date",
            "export_from",
            "destination",
            "chip",
            "quantity",
            "consignee_name",
            "consignee_country",
            "consignee_headquarters",
            "consignee_parent_headquarters",
            "consignee_veu",
            "end_use",
        )
    }
    dest_draw = rng.choices(dests, dest_w, k=n)
    chip_draw = rng.choices(chips, chip_w, k=n)
    for i in range(n):
        dest = dest_draw[i]
        r = rng.random()
        hq = dest if r < 0.85 else ("CN" if r < 0.92 else ("US" if r < 0.97 else "IN"))
        parent = None if rng.random() < 0.9 else rng.choice(["CN", "US", "DE", "IN"])
        veu = None if rng.random() < 0.96 else rng.choice(["UVEU", "NVEU"])
        cols["id"].append(f"t{i:08d}")
        cols["date"].append((START + dt.timedelta(days=rng.randrange(span))).isoformat())
        cols["export_from"].append("US" if rng.random() < 0.8 else rng.choice(["SG", "TW", "MY", dest]))
        cols["destination"].append(dest)
        cols["chip"].append(chip_draw[i])
        cols["quantity"].append(max(1, int(10 ** rng.uniform(0, 3.8))))
        cols["consignee_name"].append(rng.choice(names))
        cols["consignee_country"].append(dest)
        cols["consignee_headquarters"].append(hq)
        cols["consignee_parent_headquarters"].append(parent)
        cols["consignee_veu"].append(veu)
        cols["end_use"].append(rng.choice(["datacenter", "datacenter", "datacenter", "research", "development"]))
    table = pa.table(cols)
    pq.write_table(table, path, row_group_size=100_000)
    return path


if __name__ == "__main__":
    import sys

    generate(int(sys.argv[1]), Path(sys.argv[2]))
