"""The generator: deterministic, every scheme planted as often as asked with two or more signals, decoys with one,
legitimate hub traffic paid from the consignee's own country."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from tiergate.diversion import DECOYS, SCHEMES, generate


def test_same_seed_same_files(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", 300, seed=3, instances=1, decoys=1)
    b = generate(tmp_path / "b", 300, seed=3, instances=1, decoys=1)
    c = generate(tmp_path / "c", 300, seed=4, instances=1, decoys=1)
    assert a.shipments.read_bytes() == b.shipments.read_bytes()
    assert a.parties.read_bytes() == b.parties.read_bytes()
    assert a.shipments.read_bytes() != c.shipments.read_bytes()


def test_schemes_decoys_and_hub_traffic(scanned) -> None:  # type: ignore[no-untyped-def]
    labels = list(scanned.labels.values())
    networks = Counter(label["scheme"] for label in {(r["scheme"], r["network"]): r for r in labels}.values())
    for scheme in SCHEMES:
        assert networks[scheme] == 2, scheme
    for decoy in DECOYS:
        assert networks[decoy] == 2, decoy
    for label in labels:
        if label["kind"] == "planted":
            assert len(label["signals"].split(";")) >= 2, label
        if label["kind"] == "decoy":
            assert len(label["signals"].split(";")) == 1, label
    with scanned.made.shipments.open() as handle:
        rows = {r["id"]: r for r in csv.DictReader(handle)}
    with scanned.made.parties.open() as handle:
        parties = {r["id"]: r for r in csv.DictReader(handle)}
    hub = [rows[s] for s, label in scanned.labels.items() if label["kind"] == "legit-hub"]
    assert hub
    for row in hub:
        consignee = parties[row["consignee_id"]]
        assert consignee["country"] in ("SG", "MY", "AE", "TH")
        assert float(consignee["site_mw"]) > 0
        assert row["payer_country"] in ("", consignee["country"])
        assert row["end_use_check"] == "passed"


def test_default_plants_each_scheme_twenty_times(tmp_path: Path) -> None:
    made = generate(tmp_path, 0, decoys=0)
    with made.labels.open() as handle:
        labels = list(csv.DictReader(handle))
    per = Counter(r["scheme"] for r in {(r["scheme"], r["network"]): r for r in labels}.values())
    assert all(per[s] >= 20 for s in SCHEMES), per
