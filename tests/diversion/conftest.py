"""Diversion tests share one small generated data set (each scheme planted twice, two decoys of each kind) with
its synthetic Entity List loaded into a list store, and one DuckDB scan of it."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from tiergate.diversion import ScanResult, generate, run_scan
from tiergate.diversion.generate import Made


@dataclass
class Scanned:
    made: Made
    lists: str
    result: ScanResult
    labels: dict[str, dict[str, str]]

    def cases_of(self, scheme: str) -> list[dict[str, object]]:
        ids = {s for s, label in self.labels.items() if label["scheme"] == scheme}
        return [c.to_dict() for c in self.result.cases if ids & set(c.shipments)]


@pytest.fixture(scope="session")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Scanned:
    from tiergate.screen.ingest import read_lists
    from tiergate.screen.store import ListStore

    folder = tmp_path_factory.mktemp("diversion")
    made = generate(folder, 1500, seed=11, instances=2, decoys=2)
    url = f"sqlite:///{folder / 'lists.db'}"
    store = ListStore(url)
    store.load(read_lists([made.lists]))
    store.close()
    result = run_scan(made.shipments, made.parties, lists_url=url, serial_registry=made.registry)
    with made.labels.open() as handle:
        labels = {row["shipment"]: row for row in csv.DictReader(handle)}
    return Scanned(made, url, result, labels)


def write_csv(path: Path, rows: list[dict[str, object]], columns: tuple[str, ...]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path
