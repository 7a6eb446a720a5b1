"""The packs' monitoring section: cited data, merged over the stack, validated with file and line;
and the cluster registry's arithmetic on a hand-made Epoch file."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

from tiergate.errors import InputError, PackError
from tiergate.monitor.clusters import load_registry
from tiergate.rules import load_pack, load_rulebook
from tiergate.rules.loader import packaged_packs_dir

PACKS = packaged_packs_dir()


def test_every_regime_has_cited_monitoring(book: Any) -> None:
    for name in book.regimes:
        monitoring = book.full(name).monitoring
        assert monitoring is not None
        for entry in (*monitoring.thresholds, *monitoring.caps, *monitoring.prohibited_use):
            assert entry.provenance.citation and entry.provenance.summary
            assert entry.provenance.status in ("verified", "recalled", "derived")
        assert monitoring.utilisation.default == 0.4
        ids = {t.id: t for t in monitoring.thresholds}
        assert ids["eu-ai-act-systemic-risk"].value == 1e25 and ids["eu-ai-act-systemic-risk"].comparator == ">"
        assert ids["us-training-report"].value == 1e26
        assert ids["us-cluster-report"].value == 1e20


def test_later_packs_amend_monitoring(book: Any) -> None:
    base = {t.id: t for t in book.full("us-2024-12").monitoring.thresholds}
    assert base["us-training-report"].in_force
    now = {t.id: t for t in book.full("us-2026-01").monitoring.thresholds}
    assert not now["us-training-report"].in_force
    assert now["us-training-report"].provenance.rule_id == "us-2025-05/us-training-report"
    assert "eccn-4e091-training" not in now
    eu = now["eu-ai-act-systemic-risk"]
    assert not eu.binding_on(dt.date(2025, 8, 1)) and eu.binding_on(dt.date(2025, 8, 2))
    diffusion = book.full("us-diffusion-2025").monitoring
    # The 4E091 threshold is the pack parameter, not a second copy of the number.
    assert {t.id: t for t in diffusion.thresholds}["eccn-4e091-training"].value == 1e26
    assert {c.id for c in diffusion.caps} == {"tier2-customer-year", "tier2-country-year"}
    assert diffusion.prohibited_use[0].headquarters.text == "in tier3"
    assert not book.full("us-2026-01").monitoring.caps


def _copy(tmp_path: Path, name: str) -> Path:
    shutil.copytree(PACKS / name, tmp_path / name)
    return tmp_path / name


def test_bad_monitoring_data_names_file_and_line(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "us-2023-10")
    rules = folder / "rules.yaml"
    text = rules.read_text()
    rules.write_text(text.replace("    low: 0.3\n", "    low: 0.45\n"))
    with pytest.raises(PackError, match=r"rules\.yaml:\d+: monitoring\.utilisation: low <= default <= high"):
        load_pack(folder)
    rules.write_text(text.replace('      comparator: ">"\n', '      comparator: "=>"\n', 1))
    with pytest.raises(PackError, match=r"monitoring\.thresholds\[0\]\.comparator"):
        load_pack(folder)
    rules.write_text(text.replace("  projection_days: 30\n", "  projection_days: 30\n  projection_dayz: 3\n"))
    with pytest.raises(PackError, match=r"monitoring\.projection_dayz: unknown field"):
        load_pack(folder)


def test_a_stack_must_set_every_monitoring_setting(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "us-2023-10")
    rules = folder / "rules.yaml"
    rules.write_text(rules.read_text().replace("  declared_gap_ratio: 2.0\n", ""))
    root = tmp_path / "root"
    root.mkdir()
    for name in ("us-2024-04", "us-2024-12", "us-diffusion-2025", "us-2025-04-h20", "us-2025-05", "us-2026-01"):
        shutil.copytree(PACKS / name, root / name)
    shutil.move(str(folder), root / "us-2023-10")
    shutil.copy(PACKS / "regimes.yaml", root / "regimes.yaml")
    with pytest.raises(PackError, match="never set declared_gap_ratio"):
        load_rulebook([root], include_packaged=False)


def test_removing_an_unknown_monitoring_entry_fails(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(PACKS, root)
    rules = root / "us-2026-01" / "rules.yaml"
    rules.write_text(rules.read_text() + "\nmonitoring:\n  remove: [no-such-threshold]\n")
    with pytest.raises(PackError, match="removes monitoring entry 'no-such-threshold'"):
        load_rulebook([root], include_packaged=False)


def test_cluster_registry_arithmetic(tmp_path: Path, book: Any) -> None:
    csv_file = tmp_path / "clusters.csv"
    csv_file.write_text(
        "Name,Status,Country,Chip type (primary),Chip quantity (primary),Chip type (secondary),"
        "Chip quantity (secondary),H100 equivalents,Possible Duplicate\n"
        "A,Existing,Germany,NVIDIA H100 SXM5 80GB,1000,,,1000,\n"
        "B,Existing,Hong Kong,NVIDIA B200 GPUs,100,NVIDIA V100,50,250,\n"
        "C,Existing,India,Tesla D1 Dojo,10,,,40,\n"
        "D,Planned,India,NVIDIA H100 SXM5 80GB,99999,,,99999,\n"
        "E,Existing,India,NVIDIA H100 SXM5 80GB,5,,,5,True\n"
    )
    day = dt.date(2025, 3, 1)
    ruleset = book.full("us-diffusion-2025")
    registry = load_registry(ruleset, book.catalogue, day, csv_file)
    h100 = 1978.9 * 8
    rows = {r.name: r for r in registry.rows}
    assert set(rows) == {"A", "B", "C"}
    assert rows["A"].tpp == pytest.approx(1000 * h100) and rows["A"].tier == "tier1"
    assert rows["B"].tier == "tier3"  # Hong Kong is treated as China
    assert rows["B"].tpp == pytest.approx(250 * h100)  # the V100 is not in the catalogue: Epoch's H100e
    assert rows["C"].tpp == pytest.approx(40 * h100) and rows["C"].tier == "tier2"
    assert registry.unmapped == {"NVIDIA V100": 1, "Tesla D1 Dojo": 1}
    assert registry.skipped == {"status planned": 1, "possible duplicate": 1}
    tiers = {t["key"]: t for t in registry.by_tier}
    assert tiers["tier1"]["h100e"] == pytest.approx(1000)
    csv_file.write_text("Name,Status\nA,Existing\n")
    with pytest.raises(InputError, match="missing column"):
        load_registry(ruleset, book.catalogue, day, csv_file)
