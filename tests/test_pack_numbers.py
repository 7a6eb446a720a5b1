"""Pack numbers are finite numbers (issue 21, item 5): ``.nan``, ``.inf``, ``true`` and overflowing expressions
are refused when the pack loads, with the file, line and field; before, a NaN ``tpp_a1_min`` turned an 8,000-TPP
data-centre chip to China from licence required into authorized (NAC)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tiergate
from tiergate.errors import PackError
from tiergate.rules import expr, load_rulebook
from tiergate.rules.loader import packaged_packs_dir

CHIP_8000 = {"name": "X8000", "datacenter": True, "dense_tops": {"fp8": 1000}, "die_area_mm2": 2000}
"""8,000 TPP, performance density 4: 3A090.a.1 by TPP alone, 3A090.b.2 if the a.1 floor is lost."""


def _packs_with(tmp_path: Path, old: str, new: str, pack: str = "us-2023-10") -> tuple[Path, int]:
    root = tmp_path / "packs"
    shutil.copytree(packaged_packs_dir(), root)
    rules = root / pack / "rules.yaml"
    text = rules.read_text()
    assert old in text
    text = text.replace(old, new, 1)
    rules.write_text(text)
    line = text[: text.index(new)].count("\n") + 1 + new[: new.index("value")].count("\n")
    return root, line


def _china(chip: object) -> dict[str, object]:
    return {
        "id": "t",
        "date": "2025-03-03",
        "destination": "CN",
        "items": [{"chip": chip, "quantity": 10}],
        "consignee": {"name": "A", "headquarters": "CN"},
    }


def test_the_8000_tpp_chip_to_china_needs_a_licence(book: tiergate.Rulebook) -> None:
    decision = tiergate.determine(tiergate.parse_transaction(_china(CHIP_8000), book.catalogue), book)
    assert (decision.outcome, decision.items[0].eccn) == ("license_required", "3A090.a")


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (".nan", "nan is not a finite number"),
        (".NaN", "nan is not a finite number"),
        (".inf", "inf is not a finite number"),
        ("-.inf", "-inf is not a finite number"),
        ("true", "true is not a number"),
        ("false", "false is not a number"),
        ("'1e308 * 10'", "is not a finite number (it overflows)"),
        ("'1e308 * 10 - 1e308 * 10'", "is not a finite number (it overflows)"),
        ("1e999", "too large to represent"),
        ("'-1e999'", "too large to represent"),
        ("'nan'", "unknown quantity 'nan'"),
    ],
)
def test_a_parameter_that_is_not_a_finite_number_is_refused_with_file_and_line(
    tmp_path: Path, written: str, message: str
) -> None:
    old, new = "  - name: tpp_a1_min\n    value: 4800", f"  - name: tpp_a1_min\n    value: {written}"
    root, line = _packs_with(tmp_path, old, new)
    with pytest.raises(PackError) as raised:
        load_rulebook([root], include_packaged=False)
    text = str(raised.value)
    assert f"us-2023-10/rules.yaml:{line}: parameters[0].value" in text, text
    assert message in text, text
    assert "more problem" not in text, text


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (
            'when: [{metric: tpp, op: ">=", value: tpp_a1_min}]',
            'when: [{metric: tpp, op: ">=", value: .nan}]',
            "classification[0].when[0].value",
        ),
        ("    priority: 20\n", "    priority: true\n", "review_policies[0].priority"),
    ],
)
def test_thresholds_and_priorities_refuse_non_numbers(tmp_path: Path, old: str, new: str, field: str) -> None:
    root = tmp_path / "packs"
    shutil.copytree(packaged_packs_dir(), root)
    for rules in sorted(root.glob("*/rules.yaml")):
        text = rules.read_text()
        if old in text:
            rules.write_text(text.replace(old, new, 1))
            break
    else:
        pytest.fail(f"{old!r} is in no packaged pack")
    with pytest.raises(PackError, match=r"rules\.yaml:\d+: " + field.replace("[", r"\[").replace("]", r"\]")):
        load_rulebook([root], include_packaged=False)


def test_packs_validate_refuses_a_nan_parameter(tmp_path: Path) -> None:
    root, line = _packs_with(tmp_path, "  - name: tpp_a1_min\n    value: 4800", "  - name: tpp_a1_min\n    value: .nan")
    env = {k: v for k, v in os.environ.items() if k != "TIERGATE_DEBUG"}
    run = [sys.executable, "-m", "tiergate.cli", "packs", "validate", str(root / "us-2023-10")]
    result = subprocess.run(run, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert f"rules.yaml:{line}: parameters[0].value: nan is not a finite number" in result.stderr


def test_expressions_are_finite_at_every_step() -> None:
    with pytest.raises(expr.ExpressionError, match="overflows"):
        expr.evaluate("1e308 * 10", {})
    with pytest.raises(expr.ExpressionError, match="overflows"):
        expr.evaluate("max(1, h100_tpp * 1e308)", {"h100_tpp": 15832.0})
    with pytest.raises(expr.ExpressionError, match="not a finite number"):
        expr.evaluate("x + 1", {"x": float("nan")})
    with pytest.raises(expr.ExpressionError, match="only numbers"):
        expr.evaluate("True + 1", {})
    assert expr.evaluate("1e308 / 10", {}) == pytest.approx(1e307)
