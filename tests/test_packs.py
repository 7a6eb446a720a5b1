"""Rule packs: every packaged regime loads; malformed or inconsistent packs fail with file, line
and field; a threshold change is a new pack, not new code; diff says what changed."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

import tiergate
from tiergate.classify import classify
from tiergate.errors import PackError
from tiergate.rules import expr, load_pack, load_rulebook
from tiergate.rules.diff import diff_rulesets, render_diff
from tiergate.rules.loader import packaged_packs_dir

from .conftest import decide_dict, transaction

PACKS = packaged_packs_dir()


def test_every_regime_compiles_with_provenance(book: tiergate.Rulebook) -> None:
    assert set(book.regimes) == {"us-2023-10", "us-2024-12", "us-diffusion-2025", "us-2025-05", "us-2026-01"}
    for name in book.regimes:
        ruleset = book.full(name)
        for entry in (*ruleset.classification, *ruleset.requirements, *ruleset.exceptions, *ruleset.review_policies):
            assert entry.provenance.citation and entry.provenance.summary
            assert entry.provenance.status in ("verified", "recalled", "derived")
            assert entry.provenance.rule_id.split("/")[0] in {p.id for p in ruleset.packs}


def test_recalled_facts_are_marked_in_the_packs(book: tiergate.Rulebook) -> None:
    ruleset = book.full("us-diffusion-2025")
    assert ruleset.groups["D:5"].provenance.status == "recalled"
    assert ruleset.groups["tier1"].provenance.status == "verified"
    assert ruleset.allocations["country-allocation"].provenance.status == "recalled"
    b2 = next(r for r in ruleset.classification if r.paragraph == "3A090.b.2")
    assert b2.provenance.recalled


def _copy_pack(tmp_path: Path, name: str = "us-2026-01") -> Path:
    target = tmp_path / name
    shutil.copytree(PACKS / name, target)
    return target


def _expect_error(folder: Path, *fragments: str) -> str:
    with pytest.raises(PackError) as raised:
        load_pack(folder)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    folder = _copy_pack(tmp_path)
    rules = folder / "rules.yaml"
    rules.write_text(rules.read_text() + "\nreview_policies: [ {id: x\n")
    _expect_error(folder, "rules.yaml:", "not valid YAML")


def test_unknown_field_names_line_and_field(tmp_path: Path) -> None:
    folder = _copy_pack(tmp_path)
    rules = folder / "rules.yaml"
    text = rules.read_text().replace("    priority: 20\n", "    priority: 20\n    priorty: 3\n")
    rules.write_text(text)
    line = text.splitlines().index("    priorty: 3") + 1
    _expect_error(folder, f"rules.yaml:{line}", "review_policies[0].priorty", "unknown field")


def test_wrong_type_names_field(tmp_path: Path) -> None:
    folder = _copy_pack(tmp_path)
    rules = folder / "rules.yaml"
    rules.write_text(rules.read_text().replace("priority: 20", "priority: high"))
    _expect_error(folder, "review_policies[0].priority")


def test_manifest_id_must_match_folder(tmp_path: Path) -> None:
    folder = _copy_pack(tmp_path)
    manifest = folder / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("id: us-2026-01", "id: us-2026-02"))
    _expect_error(folder, "manifest.yaml:1", "does not match the folder name")


def test_duplicate_rule_ids_are_refused(tmp_path: Path) -> None:
    folder = _copy_pack(tmp_path)
    rules = folder / "rules.yaml"
    rules.write_text(
        rules.read_text().replace("  - name: china_cbc_dram_bandwidth_max", "  - name: china_cbc_dram_bandwidth_max")
        + "\nnotices:\n  - id: review-china-case-by-case\n    text: x\n    summary: x\n    citation: x\n"
    )
    _expect_error(folder, "already the id of an entry")


def _scenario(tmp_path: Path, rules: str, stack: tuple[str, ...] = ("us-2023-10", "us-2024-04", "us-2024-12")) -> Path:
    root = tmp_path / "scenario"
    pack = root / "scenario-2027"
    pack.mkdir(parents=True)
    (pack / "manifest.yaml").write_text(
        "id: scenario-2027\njurisdiction: US\ntitle: Scenario\ncitation: proposal\n"
        "effective_from: 2027-01-01\nrevision: 1\n"
    )
    (pack / "rules.yaml").write_text(rules)
    (root / "regimes.yaml").write_text(
        "regimes:\n  - name: scenario-2027\n    title: Scenario\n    packs: ["
        + ", ".join((*stack, "scenario-2027"))
        + "]\n"
    )
    return root


def test_inconsistent_reference_is_located(tmp_path: Path) -> None:
    root = _scenario(
        tmp_path,
        "requirements:\n  - id: r\n    items: [{eccns: [3A090.a]}]\n    destinations: {in: ['D:9']}\n"
        "    summary: s\n    citation: c\n",
    )
    with pytest.raises(PackError) as raised:
        load_rulebook([root])
    assert "unknown country group 'D:9'" in str(raised.value)
    assert "scenario-2027/rules.yaml:4: requirements[0].destinations" in str(raised.value)


def test_unknown_country_code_is_refused(tmp_path: Path) -> None:
    root = _scenario(tmp_path, "country_groups:\n  - id: extra\n    members: [ZZ]\n    summary: s\n    citation: c\n")
    with pytest.raises(PackError, match="'ZZ' is not an ISO 3166-1 alpha-2"):
        load_rulebook([root])


def test_limit_must_name_an_allocation(tmp_path: Path) -> None:
    root = _scenario(
        tmp_path,
        "exceptions:\n  - id: x\n    symbol: LPP\n    precedence: 1\n    items: [{eccns: [3A090.a]}]\n"
        "    limit: nowhere\n    summary: s\n    citation: c\n",
    )
    with pytest.raises(PackError, match="limit names allocation 'nowhere'"):
        load_rulebook([root])


def test_parameter_cycles_and_unsafe_expressions_are_refused(tmp_path: Path) -> None:
    cycle = _scenario(
        tmp_path,
        "parameters:\n  - {name: a, value: 'b + 1', summary: s, citation: c}\n"
        "  - {name: b, value: 'a * 2', summary: s, citation: c}\n",
    )
    with pytest.raises(PackError, match="depends on itself"):
        load_rulebook([cycle])
    with pytest.raises(expr.ExpressionError):
        expr.evaluate("__import__('os').system('true')", {})
    with pytest.raises(expr.ExpressionError):
        expr.evaluate("h100_tpp ** 2", {"h100_tpp": 1.0})
    assert expr.evaluate("max(2, 0.3 * frontier_tpp)", {"frontier_tpp": 60000}) == 18000


def test_overlapping_regimes_are_refused(tmp_path: Path) -> None:
    root = _scenario(tmp_path, "{}\n")
    (root / "regimes.yaml").write_text(
        "regimes:\n  - name: scenario-2027\n    title: S\n    packs: [us-2023-10, us-2024-04, scenario-2027]\n"
        "    effective_from: 2026-06-01\n"
    )
    with pytest.raises(PackError, match="overlap in time"):
        load_rulebook([root])


def test_a_threshold_change_is_a_new_pack_not_new_code(tmp_path: Path) -> None:
    """A proposal: control at 30 % of the frontier chip's TPP. The expression tracks the catalogue."""
    root = _scenario(
        tmp_path,
        "parameters:\n  - name: tpp_a1_min\n    value: 0.3 * frontier_tpp\n"
        "    summary: 30 % of the strongest catalogue chip\n    citation: proposal\n",
    )
    scenario = load_rulebook([root])
    ruleset = scenario.full("scenario-2027")
    frontier = max(c.tpp or 0 for c in (classify(chip, ruleset) for chip in scenario.catalogue))
    assert ruleset.parameters["tpp_a1_min"] == pytest.approx(0.3 * frontier)
    h100 = scenario.catalogue.resolve("nvidia-h100-sxm")
    a100 = scenario.catalogue.resolve("nvidia-a100-sxm")
    assert classify(h100, ruleset).eccn == "3A090.a"
    assert classify(a100, ruleset).paragraph == "3A090.a.2"  # no longer a.1: 4,992 < 18,000
    decision = decide_dict(
        scenario, transaction("nvidia-a100-sxm", 10, "AE", date="2026-03-01"), regime="scenario-2027"
    )
    assert decision.regime == "scenario-2027"
    assert "scenario-2027" in " ".join(decision.packs)


def test_diff_reports_thresholds_groups_exceptions_and_caps(book: tiergate.Rulebook) -> None:
    diff = diff_rulesets(book.full("us-2024-12"), book.full("us-diffusion-2025"))
    text = "\n".join(render_diff(diff))
    assert "lpp_tpp_per_consignee_year: (absent) -> 26,900,000" in text
    assert "tier1: added" in text
    assert "+ exception us-diffusion-2025/lpp" in text
    assert "~ exception us-diffusion-2025/aca (was us-2024-04/aca)" in text
    assert "lpp-allowance: (absent) -> 26900000" in text.replace(",", "")
    back = diff_rulesets(book.full("us-diffusion-2025"), book.full("us-2025-05"))
    assert any(r["id"].endswith("/lpp") and r["change"] == "removed" for r in back["rules"])
    dated = diff_rulesets(book.full("us-2026-01"), book.full("us-2026-01"), dt.date(2026, 3, 1))
    assert not dated["rules"] and not dated["parameters"]
