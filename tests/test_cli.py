"""End-to-end tests of the ``tiergate`` command line.

Every CLI invocation is declared once, at module level, with ``cli(key, *args)`` next to the test
that reads it; the input files are written by the functions decorated with ``@inputs``. The
``runs`` fixture writes the inputs into a temporary folder (with the bundled lists installed there,
as a first run leaves them) and runs all the commands there with TIERGATE_TODAY fixed so that
"today" is 2026-03-02. Tests then assert on the exit code, stdout, stderr and the files written.

The commands run in this process, through the same entry point as ``python -m tiergate.cli``
(:func:`tiergate.cli.main`, with its own argv, environment, working folder, stdout and stderr, and
the screeners of earlier commands forgotten): a process per command costs a second or more of start-up
each and tells nothing more. ``test_a_process_prints_what_the_in_process_run_printed`` runs a
sample of them as real processes and checks that they print the same.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import BundledLists
from .inprocess import run_cli

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tiergate"
SAMPLES = PACKAGE / "samples"
ITEMS = str(SAMPLES / "items.json")
TRANSACTIONS = str(SAMPLES / "transactions.jsonl")
PACK = PACKAGE / "packs" / "us-2026-01"
TODAY = "2026-03-02"


# ---------------------------------------------------------------- machinery


@dataclass(frozen=True, repr=False)
class Run:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.returncode == 0, self
        return json.loads(self.stdout)

    def jsonl(self) -> list[Any]:
        assert self.returncode == 0, self
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def __repr__(self) -> str:
        command = " ".join(self.args)
        return (
            f"tiergate {command} -> exit {self.returncode}\nstdout: {self.stdout[:2000]}\nstderr: {self.stderr[:2000]}"
        )


COMMANDS: dict[str, tuple[str, ...]] = {}
INPUT_WRITERS: list[Callable[[Path], None]] = []


def cli(key: str, *args: str) -> str:
    """Declare a CLI invocation (run in the workspace folder); returns its key."""
    assert key not in COMMANDS, key
    COMMANDS[key] = args
    return key


def inputs(writer: Callable[[Path], None]) -> Callable[[Path], None]:
    """Declare a function that writes input files into the workspace folder."""
    INPUT_WRITERS.append(writer)
    return writer


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, bundled_lists: BundledLists) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    for writer in INPUT_WRITERS:
        writer(folder)
    bundled_lists.install(folder)  # each decide screens against the installed lists by default
    return folder


def _environment(mp: pytest.MonkeyPatch) -> None:
    mp.setenv("TIERGATE_TODAY", TODAY)
    mp.setenv("NO_COLOR", "1")
    for name in ("TIERGATE_DEBUG", "FORCE_COLOR", "TIERGATE_LISTS", "TIERGATE_DB"):
        mp.delenv(name, raising=False)


def run_in_process(args: tuple[str, ...]) -> Run:
    """``tiergate ARGS`` as :func:`tiergate.cli.main` runs it, in the working folder and environment as they are."""
    done = run_cli(args)
    return Run(args, done.returncode, done.stdout, done.stderr)


def run_as_process(args: tuple[str, ...], cwd: Path) -> Run:
    env = {**os.environ, "TIERGATE_TODAY": TODAY, "NO_COLOR": "1"}
    for name in ("TIERGATE_DEBUG", "FORCE_COLOR", "TIERGATE_LISTS", "TIERGATE_DB"):
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, "-m", "tiergate.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    return Run(args, proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def runs(ws: Path) -> dict[str, Run]:
    with pytest.MonkeyPatch.context() as mp:
        _environment(mp)
        mp.chdir(ws)
        return {key: run_in_process(args) for key, args in COMMANDS.items()}


def transaction(**changes: Any) -> dict[str, Any]:
    """A valid transaction (10 H100 to an Indian data centre on 2025-03-03), with top-level changes."""
    txn: dict[str, Any] = {
        "id": "t-1",
        "date": "2025-03-03",
        "destination": "IN",
        "items": [{"chip": "nvidia-h100-sxm", "quantity": 10}],
        "consignee": {"name": "Example Compute Pvt Ltd", "country": "IN", "headquarters": "IN"},
        "end_use": "datacenter",
    }
    txn.update(changes)
    return txn


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value), encoding="utf-8")


def write_jsonl(path: Path, values: list[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(v) + "\n" for v in values), encoding="utf-8")


def assert_user_error(run: Run, *fragments: str) -> str:
    """Exit code 2, one stderr line starting with ``error:``, no traceback; returns the message."""
    assert run.returncode == 2, run
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout, run
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run
    assert lines[0].startswith("error:"), run
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return rows


# ---------------------------------------------------------------- 1. chips

CHIPS_LIST = cli("chips-list", "chips", "list", "--format", "json")
CHIPS_SHOW = cli("chips-show", "chips", "show", "NVIDIA H100 SXM5 80GB", "--format", "json")


def test_chips_list_json_has_the_catalogue(runs: dict[str, Run]) -> None:
    chips = runs[CHIPS_LIST].json()
    assert isinstance(chips, list)
    assert len(chips) == 35
    ids = [c["id"] for c in chips]
    assert len(set(ids)) == 35
    expected = {
        "nvidia-a100-sxm",
        "nvidia-h100-sxm",
        "nvidia-h20",
        "nvidia-b200",
        "nvidia-gb300",
        "nvidia-rtx-4090d",
        "amd-mi355x",
        "intel-gaudi3",
        "huawei-ascend-910c",
        "google-tpu-v7",
        "aws-trainium3",
    }
    assert expected <= set(ids)
    h100 = next(c for c in chips if c["id"] == "nvidia-h100-sxm")
    assert h100["eccn"] == "3A090.a"
    assert h100["tpp"] == pytest.approx(15831.2)


def test_chips_show_resolves_a_full_name(runs: dict[str, Run]) -> None:
    chip = runs[CHIPS_SHOW].json()
    assert chip["id"] == "nvidia-h100-sxm"
    assert chip["classification"]["eccn"] == "3A090.a"
    assert chip["classification"]["regime"] == "us-2026-01"  # today's regime


# ---------------------------------------------------------------- 2. classify

CLASSIFY_H100 = cli("classify-h100", "classify", "--chip", "H100", "--format", "json", "--regime", "us-2024-12")
CLASSIFY_H20 = cli("classify-h20", "classify", "--chip", "nvidia-h20", "--format", "json", "--regime", "us-2024-12")
CLASSIFY_L4 = cli("classify-l4", "classify", "--chip", "nvidia-l4", "--format", "json")
CLASSIFY_ITEMS = cli("classify-items", "classify", ITEMS, "--format", "json")
CLASSIFY_ITEMS_DIFFUSION = cli(
    "classify-items-diffusion", "classify", ITEMS, "--format", "json", "--regime", "us-diffusion-2025"
)


def test_classify_h100_shows_its_arithmetic(runs: dict[str, Run]) -> None:
    result = runs[CLASSIFY_H100].json()
    assert isinstance(result, dict)
    assert result["chip"] == "nvidia-h100-sxm"
    assert result["regime"] == "us-2024-12"
    assert result["eccn"] == "3A090.a"
    assert result["tpp"] == pytest.approx(15831.2)
    assert result["performance_density"] == pytest.approx(19.45, abs=0.01)
    assert any("1,978.9 x 8" in line for line in result["explanation"]), result["explanation"]


def test_classify_h20_is_not_controlled(runs: dict[str, Run]) -> None:
    result = runs[CLASSIFY_H20].json()
    assert result["chip"] == "nvidia-h20"
    assert result["eccn"] == "not_controlled"
    assert result["paragraph"] is None


def test_classify_l4_meets_the_performance_density_paragraph(runs: dict[str, Run]) -> None:
    result = runs[CLASSIFY_L4].json()
    assert result["eccn"] == "3A090.a"
    assert result["paragraph"] == "3A090.a.2"
    assert any("3A090.a.2" in line for line in result["explanation"])


def test_classify_items_file(runs: dict[str, Run]) -> None:
    results = runs[CLASSIFY_ITEMS].json()
    assert len(results) == 5
    assert {r["regime"] for r in results} == {"us-2026-01"}
    assert [r["kind"] for r in results] == ["chip", "chip", "chip", "system", "model_weights"]
    assert [r["eccn"] for r in results[:3]] == ["3A090.a", "not_controlled", "not_controlled"]
    system = results[3]
    assert system["eccn"] == "4A090.a"
    assert system["tpp"] == pytest.approx(126649.6)
    assert system["chips_per_system"] == 8
    assert results[4]["eccn"] == "not_controlled"


def test_classify_items_under_the_diffusion_regime_controls_the_weights(runs: dict[str, Run]) -> None:
    results = runs[CLASSIFY_ITEMS_DIFFUSION].json()
    assert len(results) == 5
    assert {r["regime"] for r in results} == {"us-diffusion-2025"}
    assert results[4]["kind"] == "model_weights"
    assert results[4]["eccn"] == "4E091"
    assert results[3]["eccn"] == "4A090.a"


# ---------------------------------------------------------------- 3. decide


@inputs
def _single_transactions(ws: Path) -> None:
    lines = Path(TRANSACTIONS).read_text(encoding="utf-8").splitlines()
    (ws / "demo-01.json").write_text(lines[0] + "\n", encoding="utf-8")
    (ws / "demo-02.json").write_text(lines[1] + "\n", encoding="utf-8")


DECIDE_SAMPLES = cli("decide-samples", "decide", TRANSACTIONS, "--format", "jsonl")
DECIDE_ONE_JSON = cli("decide-one-json", "decide", "demo-02.json", "--format", "json")
DECIDE_ONE_TABLE = cli("decide-one-table", "decide", "demo-02.json", "--format", "table", "--explain")

SAMPLE_OUTCOMES = {
    "demo-01": ("us-diffusion-2025", "authorized", "LPP", None),
    "demo-02": ("us-diffusion-2025", "license_required", "license", "presumption_of_approval"),
    "demo-03": ("us-diffusion-2025", "authorized", "AIA", None),
    "demo-04": ("us-diffusion-2025", "license_required", "license", "presumption_of_denial"),
    "demo-05": ("us-diffusion-2025", "authorized", "AIA", None),
    "demo-06": ("us-2023-10", "license_required", "license", "case_by_case"),
    "demo-07": ("us-2023-10", "authorized", "ACA", None),
    "demo-08": ("us-2025-05", "prohibited", None, None),
    "demo-09": ("us-2026-01", "license_required", "license", "case_by_case"),
    "demo-10": ("us-2026-01", "license_required", "license", "presumption_of_denial"),
    "demo-11": ("us-2026-01", "no_license_required", "NLR", None),
    "demo-12": ("us-2026-01", "license_required", "license", "case_by_case"),
}


def test_decide_samples_jsonl_in_input_order(runs: dict[str, Run]) -> None:
    run = runs[DECIDE_SAMPLES]
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    assert len(lines) == 12, run
    decisions = run.jsonl()
    assert [d["id"] for d in decisions] == [f"demo-{i:02d}" for i in range(1, 13)]
    got = {d["id"]: (d["regime"], d["outcome"], d["authorization"], d["review_policy"]) for d in decisions}
    assert got == SAMPLE_OUTCOMES


def test_decide_samples_details(runs: dict[str, Run]) -> None:
    decisions = {d["id"]: d for d in runs[DECIDE_SAMPLES].jsonl()}
    lpp = decisions["demo-01"]
    assert lpp["tpp_total"] == pytest.approx(15831.2 * 1000)
    assert "us-diffusion-2025/lpp" in lpp["rules"]
    assert [a["allocation"] for a in lpp["allocations"]] == ["lpp:consignee"]
    country = decisions["demo-02"]
    assert [a["account"] for a in country["allocations"]] == ["country:IN:2025-2027"]
    assert country["allocations"][0]["tpp"] == pytest.approx(15831.2 * 2000)
    assert "us-diffusion-2025/country-allocation" in country["rules"]
    assert decisions["demo-08"]["authorization"] is None
    assert "us-2026-01/review-china-case-by-case" in decisions["demo-09"]["rules"]
    assert decisions["demo-10"]["review_policy"] == "presumption_of_denial"
    assert decisions["demo-12"]["review_policy"] == "case_by_case"
    for d in decisions.values():
        assert d["explanation"], d["id"]  # jsonl carries the explanation


def test_decide_single_transaction_json_is_one_object(runs: dict[str, Run]) -> None:
    decision = runs[DECIDE_ONE_JSON].json()
    assert isinstance(decision, dict)
    keys = {"outcome", "authorization", "review_policy", "items", "tpp_total", "allocations", "rules", "explanation"}
    assert keys <= set(decision)
    assert decision["id"] == "demo-02"
    assert decision["outcome"] == "license_required"
    assert decision["items"][0]["eccn"] == "3A090.a"
    assert decision["items"][0]["quantity"] == 2000
    assert isinstance(decision["explanation"], list) and len(decision["explanation"]) >= 3
    assert all(isinstance(line, str) for line in decision["explanation"])


def test_decide_table_explain_prints_the_explanation(runs: dict[str, Run]) -> None:
    table = runs[DECIDE_ONE_TABLE]
    assert table.returncode == 0, table
    assert "demo-02" in table.stdout
    assert "license_required" in table.stdout
    explanation = runs[DECIDE_ONE_JSON].json()["explanation"]
    for line in explanation:
        assert line in table.stdout, line


# ---------------------------------------------------------------- 4. --regime and --as-of

AS_OF_2024 = cli("as-of-2024", "decide", "demo-01.json", "--format", "json", "--as-of", "2024-06-01")
AS_OF_2025 = cli("as-of-2025", "decide", "demo-01.json", "--format", "json", "--as-of", "2025-03-01")
REGIME_2023 = cli("regime-2023", "decide", "demo-01.json", "--format", "json", "--regime", "us-2023-10")


def test_as_of_picks_the_regime_in_force(runs: dict[str, Run]) -> None:
    before = runs[AS_OF_2024].json()
    after = runs[AS_OF_2025].json()
    assert before["regime"] == "us-2023-10"
    assert before["date"] == "2024-06-01"
    assert after["regime"] == "us-diffusion-2025"
    assert after["date"] == "2025-03-01"
    # 1,000 H100 to India: no licence before the Diffusion rule, LPP under it.
    assert before["outcome"] == "no_license_required"
    assert (after["outcome"], after["authorization"]) == ("authorized", "LPP")


def test_regime_overrides_the_dates_regime(runs: dict[str, Run]) -> None:
    scenario = runs[REGIME_2023].json()
    assert scenario["regime"] == "us-2023-10"
    assert scenario["date"] == "2025-03-03"  # the transaction's own date is kept
    assert scenario["outcome"] == "no_license_required"
    assert "us-diffusion-2025/lpp" not in scenario["rules"]


# ---------------------------------------------------------------- 5. batch CSV and Parquet

BATCH_COLUMNS = (
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
BATCH_CHIPS = ("nvidia-h100-sxm", "nvidia-h20", "huawei-ascend-910c", "nvidia-h200", "H100", "amd-mi300x", "nvidia-l4")
BATCH_DESTINATIONS = ("IN", "DE", "CN", "SG", "AE", "HK", "KH", "MY", "GB", "VN", "MO")
BATCH_DATES = ("2024-06-10", "2025-03-03", "2025-07-01", "2026-03-02", "2025-01-20")
BATCH_QUANTITIES = (1, 8, 1000, 1699, 1700, 2000)


def batch_rows() -> list[dict[str, Any]]:
    """48 varied rows, then two at the LPP boundary (1,699 H100 fit the 26.9M TPP allowance, 1,700 do not)."""
    rows = []
    for i in range(48):
        destination = BATCH_DESTINATIONS[i % len(BATCH_DESTINATIONS)]
        rows.append(
            {
                "id": f"b-{i + 1:02d}",
                "date": BATCH_DATES[i % len(BATCH_DATES)],
                "export_from": "SG" if i % 9 == 4 else "US",
                "destination": destination,
                "chip": BATCH_CHIPS[i % len(BATCH_CHIPS)],
                "quantity": BATCH_QUANTITIES[i % len(BATCH_QUANTITIES)],
                "consignee_name": f"Consignee {i % 4}",
                "consignee_country": destination if i % 3 == 0 else None,
                "consignee_headquarters": ("CN" if i % 8 == 3 else "US" if i % 8 == 5 else destination),
                "consignee_parent_headquarters": "CN" if i % 10 == 7 else None,
                "consignee_veu": "UVEU" if i % 13 == 6 else None,
                "end_use": "datacenter" if i % 2 else None,
            }
        )
    for n, quantity in ((49, 1699), (50, 1700)):
        rows.append(
            {
                "id": f"b-{n}",
                "date": "2025-03-03",
                "export_from": "US",
                "destination": "IN",
                "chip": "nvidia-h100-sxm",
                "quantity": quantity,
                "consignee_name": f"Boundary {n}",
                "consignee_country": None,
                "consignee_headquarters": "IN",
                "consignee_parent_headquarters": None,
                "consignee_veu": None,
                "end_use": "datacenter",
            }
        )
    return rows


@inputs
def _batch_inputs(ws: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = batch_rows()
    with (ws / "batch.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, BATCH_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    schema = pa.schema(
        [(c, pa.int64() if c == "quantity" else pa.date32() if c == "date" else pa.string()) for c in BATCH_COLUMNS]
    )
    typed = [{**row, "date": dt.date.fromisoformat(row["date"])} for row in rows]
    pq.write_table(pa.Table.from_pylist(typed, schema=schema), ws / "batch.parquet")


BATCH_CSV_PARQUET = cli(
    "batch-csv-parquet", "decide", "batch.csv", "--format", "parquet", "--out", "batch-csv.out.parquet"
)
BATCH_PQ_PARQUET = cli(
    "batch-pq-parquet", "decide", "batch.parquet", "--format", "parquet", "--out", "batch-pq.out.parquet"
)
BATCH_CSV_JSONL = cli("batch-csv-jsonl", "decide", "batch.csv", "--format", "jsonl", "--out", "batch-csv.out.jsonl")
BATCH_PQ_JSONL = cli("batch-pq-jsonl", "decide", "batch.parquet", "--format", "jsonl", "--out", "batch-pq.out.jsonl")


def _jsonl_file(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_batch_jsonl_out_writes_one_line_per_row(runs: dict[str, Run], ws: Path) -> None:
    expected_ids = [row["id"] for row in batch_rows()]
    for key, out in ((BATCH_CSV_JSONL, "batch-csv.out.jsonl"), (BATCH_PQ_JSONL, "batch-pq.out.jsonl")):
        assert runs[key].returncode == 0, runs[key]
        text = (ws / out).read_text(encoding="utf-8")
        assert text.endswith("\n")
        assert len(text.splitlines()) == 50
        assert [d["id"] for d in _jsonl_file(ws / out)] == expected_ids
    # The same rows from CSV and from Parquet give the same decisions.
    assert _jsonl_file(ws / "batch-csv.out.jsonl") == _jsonl_file(ws / "batch-pq.out.jsonl")


def test_batch_rows_exercise_several_outcomes(runs: dict[str, Run], ws: Path) -> None:
    assert runs[BATCH_CSV_JSONL].returncode == 0, runs[BATCH_CSV_JSONL]
    decisions = _jsonl_file(ws / "batch-csv.out.jsonl")
    assert len({d["outcome"] for d in decisions}) >= 3
    assert len({d["regime"] for d in decisions}) >= 3
    by_id = {d["id"]: d for d in decisions}
    assert (by_id["b-49"]["outcome"], by_id["b-49"]["authorization"]) == ("authorized", "LPP")
    assert [a["account"] for a in by_id["b-49"]["allocations"]] == ["lpp:IN:boundary-49:2025"]
    assert (by_id["b-50"]["outcome"], by_id["b-50"]["authorization"]) == ("license_required", "license")
    assert [a["account"] for a in by_id["b-50"]["allocations"]] == ["country:IN:2025-2027"]


@pytest.mark.parametrize(
    ("key", "out"),
    [
        (BATCH_PQ_PARQUET, "batch-pq.out.parquet"),  # Parquet in: the columnar path
        (BATCH_CSV_PARQUET, "batch-csv.out.parquet"),  # CSV in: row by row
    ],
)
def test_batch_parquet_output_matches_jsonl(runs: dict[str, Run], ws: Path, key: str, out: str) -> None:
    assert runs[key].returncode == 0, runs[key]
    assert runs[BATCH_PQ_JSONL].returncode == 0, runs[BATCH_PQ_JSONL]
    table = read_parquet(ws / out)
    expected = _jsonl_file(ws / "batch-pq.out.jsonl")
    assert len(table) == 50
    for column in ("id", "regime", "outcome", "authorization", "review_policy"):
        assert [r[column] for r in table] == [d[column] for d in expected], column
    assert [r["date"].isoformat() for r in table] == [d["date"] for d in expected]
    assert [r["tpp_total"] for r in table] == pytest.approx([d["tpp_total"] for d in expected])
    assert [[a["account"] for a in r["allocations"]] for r in table] == [
        [a["account"] for a in d["allocations"]] for d in expected
    ]
    assert [sorted(r["rules"]) for r in table] == [sorted(d["rules"]) for d in expected]


# ---------------------------------------------------------------- 6. packs

PACKS_LIST = cli("packs-list", "packs", "list", "--format", "json")
PACKS_SHOW = cli("packs-show", "packs", "show", "us-diffusion-2025", "--format", "json")
PACKS_DIFF_DIFFUSION = cli("packs-diff-diffusion", "packs", "diff", "us-2024-12", "us-diffusion-2025")
PACKS_DIFF_2026 = cli("packs-diff-2026", "packs", "diff", "us-2025-05", "us-2026-01", "--as-of", "2026-03-01")
PACKS_VALIDATE = cli("packs-validate", "packs", "validate", str(PACK))


def test_packs_list(runs: dict[str, Run]) -> None:
    data = runs[PACKS_LIST].json()
    assert [r["name"] for r in data["regimes"]] == [
        "us-2023-10",
        "us-2024-12",
        "us-diffusion-2025",
        "us-2025-05",
        "us-2026-01",
    ]
    assert {"us-2023-10", "us-diffusion-2025", "us-2026-01"} <= {p["id"] for p in data["packs"]}


def test_packs_show_regime(runs: dict[str, Run]) -> None:
    data = runs[PACKS_SHOW].json()
    assert data["regime"] == "us-diffusion-2025"
    ids = [r["id"] for r in data["rules"]]
    assert "us-diffusion-2025/lpp" in ids
    assert "us-2023-10/3a090.a.1" in ids
    assert all(r["citation"] and r["summary"] for r in data["rules"])


def test_packs_diff(runs: dict[str, Run]) -> None:
    diffusion = runs[PACKS_DIFF_DIFFUSION]
    assert diffusion.returncode == 0, diffusion
    assert "tier1" in diffusion.stdout
    assert "lpp" in diffusion.stdout
    later = runs[PACKS_DIFF_2026]
    assert later.returncode == 0, later
    assert "review-china-case-by-case" in later.stdout
    assert "tier1" not in later.stdout


def test_packs_validate_packaged_pack(runs: dict[str, Run]) -> None:
    run = runs[PACKS_VALIDATE]
    assert run.returncode == 0, run
    assert run.stdout.startswith("ok:")
    assert "us-2026-01" in run.stdout


# ---------------------------------------------------------------- 7. demo

DEMO = cli("demo", "demo")


def test_demo(runs: dict[str, Run]) -> None:
    run = runs[DEMO]
    assert run.returncode == 0, run
    assert "demo-12" in run.stdout
    assert "Traceback" not in run.stderr
    # A refusal caused by a licence mismatch: the licence names another consignee, destination and item.
    assert "demo-02 under licence D1234567: committed" in run.stdout
    assert "demo-lic under licence D1234567: not committed" in run.stdout and "destination CN" in run.stdout
    assert "demo-el: not committed: refused by screening" in run.stdout and "Entity List" in run.stdout


# ---------------------------------------------------------------- 8. bad input

CSV_HEADER = "id,date,destination,chip,quantity,consignee_name,consignee_headquarters\n"
CSV_ROW = "c-{n},2025-03-03,IN,nvidia-h100-sxm,{q},Example Compute Pvt Ltd,IN\n"


@inputs
def _bad_inputs(ws: Path) -> None:
    def items(**changes: Any) -> list[dict[str, Any]]:
        return [{"chip": "nvidia-h100-sxm", "quantity": 10, **changes}]

    write_json(ws / "bad-chip.json", transaction(items=items(chip="nvidia-h100-sxn")))
    write_json(ws / "bad-country.json", transaction(destination="XX"))
    write_json(ws / "zero-quantity.json", transaction(items=items(quantity=0)))
    write_json(ws / "negative-quantity.json", transaction(items=items(quantity=-5)))
    write_json(ws / "no-headquarters.json", transaction(consignee={"name": "Example Compute Pvt Ltd", "country": "IN"}))
    write_json(ws / "unknown-field.json", transaction(colour="red"))
    write_json(ws / "old-date.json", transaction(date="2020-01-01"))
    (ws / "malformed.json").write_text('{\n  "id": "t-1",\n  "date": ,\n  "destination": "IN"\n}\n', encoding="utf-8")
    good = json.dumps(transaction())
    (ws / "syntax-line3.jsonl").write_text(f'{good}\n{good}\n{{"id": "t-3", oops}}\n{good}\n', encoding="utf-8")
    write_jsonl(
        ws / "field-line3.jsonl",
        [
            transaction(id="t-1"),
            transaction(id="t-2"),
            transaction(id="t-3", items=[{"chip": "nvidia-h100-sxm", "quantity": 0}]),
            transaction(id="t-4"),
        ],
    )
    (ws / "unknown-column.csv").write_text(
        CSV_HEADER.replace("\n", ",colour\n") + CSV_ROW.format(n=1, q=10).replace("\n", ",red\n"), encoding="utf-8"
    )
    (ws / "bad-quantity.csv").write_text(
        CSV_HEADER + CSV_ROW.format(n=1, q=10) + CSV_ROW.format(n=2, q="ten"), encoding="utf-8"
    )
    write_json(ws / "items.txt", transaction())


BAD_INPUTS = [
    pytest.param(
        cli("bad-chip", "decide", "bad-chip.json"),
        ("bad-chip.json", "items[0].chip", "nvidia-h100-sxn", "did you mean", "nvidia-h100-sxm"),
        id="unknown-chip",
    ),
    pytest.param(
        cli("bad-country", "decide", "bad-country.json"),
        ("bad-country.json", "destination", "'XX'", "ISO 3166"),
        id="unknown-country",
    ),
    pytest.param(
        cli("zero-quantity", "decide", "zero-quantity.json"),
        ("zero-quantity.json", "items[0].quantity"),
        id="zero-quantity",
    ),
    pytest.param(
        cli("negative-quantity", "decide", "negative-quantity.json"),
        ("negative-quantity.json", "items[0].quantity"),
        id="negative-quantity",
    ),
    pytest.param(
        cli("no-headquarters", "decide", "no-headquarters.json"),
        ("no-headquarters.json", "consignee.headquarters", "missing"),
        id="missing-headquarters",
    ),
    pytest.param(
        cli("unknown-field", "decide", "unknown-field.json"),
        ("unknown-field.json", "colour", "unknown field"),
        id="unknown-field",
    ),
    pytest.param(cli("malformed", "decide", "malformed.json"), ("malformed.json:3", "JSON"), id="malformed-json"),
    pytest.param(
        cli("syntax-line3", "decide", "syntax-line3.jsonl", "--format", "jsonl"),
        ("syntax-line3.jsonl:3", "JSON"),
        id="jsonl-line3-syntax",
    ),
    pytest.param(
        cli("field-line3", "decide", "field-line3.jsonl", "--format", "jsonl"),
        ("field-line3.jsonl:3", "items[0].quantity"),
        id="jsonl-line3-field",
    ),
    pytest.param(
        cli("unknown-column", "decide", "unknown-column.csv"),
        ("unknown-column.csv", "colour", "column"),
        id="csv-unknown-column",
    ),
    pytest.param(
        cli("bad-quantity-csv", "decide", "bad-quantity.csv"),
        ("bad-quantity.csv:3", "quantity", "ten"),
        id="csv-bad-quantity",
    ),
    pytest.param(
        cli("missing-file", "decide", "no-such-file.jsonl"), ("no-such-file.jsonl", "No such file"), id="missing-file"
    ),
    pytest.param(cli("unknown-suffix", "decide", "items.txt"), ("items.txt", ".txt"), id="unknown-suffix"),
    pytest.param(
        cli("bad-as-of", "decide", "demo-01.json", "--as-of", "2025-13-45"), ("--as-of", "2025-13-45"), id="bad-as-of"
    ),
    pytest.param(
        cli("bad-regime", "decide", "demo-01.json", "--regime", "no-such-regime"),
        ("no-such-regime", "us-2026-01"),
        id="unknown-regime",
    ),
    pytest.param(
        cli("old-date", "decide", "old-date.json"),
        ("old-date.json", "2020-01-01", "no regime"),
        id="date-before-any-regime",
    ),
]


@pytest.mark.parametrize(("key", "fragments"), BAD_INPUTS)
def test_bad_input_is_one_line_error(runs: dict[str, Run], key: str, fragments: tuple[str, ...]) -> None:
    assert_user_error(runs[key], *fragments)
    assert runs[key].stdout.strip() == ""  # nothing decided before the error is printed


def test_unknown_chip_suggests_the_nearest_id_first(runs: dict[str, Run]) -> None:
    message = assert_user_error(runs["bad-chip"])
    assert message.split("did you mean", 1)[1].strip().startswith("nvidia-h100-sxm")


# --- broken packs

PACK_RULES = (PACK / "rules.yaml").read_text(encoding="utf-8")
PACK_LINES = PACK_RULES.splitlines()
POLICY_LINE = PACK_LINES.index("  - id: review-china-case-by-case") + 1
PRIORITY_LINE = PACK_LINES.index("    priority: 20") + 1
CASE_BY_CASE_LINE = PACK_LINES.index("    policy: case_by_case") + 1
DESTINATIONS_LINE = PACK_LINES.index("    destinations: {in: [CN, MO]}") + 1

PACK_CORRUPTIONS: dict[str, Callable[[str], str]] = {
    "invalid-yaml": lambda t: t.replace("    policy: case_by_case\n", "    policy: case_by_case: [oops\n"),
    "unknown-field": lambda t: t.replace("    priority: 20\n", "    priority: 20\n    colour: red\n"),
    "unknown-group": lambda t: t.replace("destinations: {in: [CN, MO]}", 'destinations: {in: [CN, "D:9"]}'),
    "bad-country": lambda t: t.replace("destinations: {in: [CN, MO]}", "destinations: {in: [CN, ZZ]}"),
}


@inputs
def _broken_packs(ws: Path) -> None:
    for name, corrupt in PACK_CORRUPTIONS.items():
        folder = ws / "broken" / name / "us-2026-01"
        shutil.copytree(PACK, folder)
        text = corrupt(PACK_RULES)
        assert text != PACK_RULES, name
        (folder / "rules.yaml").write_text(text, encoding="utf-8")
    shutil.copytree(PACK, ws / "renamed" / "my-pack")


for _name in PACK_CORRUPTIONS:
    cli(f"broken-{_name}", "packs", "validate", f"broken/{_name}/us-2026-01")
RENAMED_PACK = cli("renamed-pack", "packs", "validate", "renamed/my-pack")


def _rules_line(message: str) -> int:
    found = re.search(r"rules\.yaml:(\d+)", message)
    assert found, f"no rules.yaml:<line> in {message!r}"
    return int(found.group(1))


def test_pack_with_invalid_yaml(runs: dict[str, Run]) -> None:
    message = assert_user_error(runs["broken-invalid-yaml"], "broken/invalid-yaml/us-2026-01/rules.yaml:", "YAML")
    assert _rules_line(message) == CASE_BY_CASE_LINE


def test_pack_with_unknown_field(runs: dict[str, Run]) -> None:
    message = assert_user_error(
        runs["broken-unknown-field"], "rules.yaml:", "review_policies[0].colour", "unknown field"
    )
    assert _rules_line(message) == PRIORITY_LINE + 1  # the inserted line


def test_pack_with_unknown_country_group(runs: dict[str, Run]) -> None:
    message = assert_user_error(runs["broken-unknown-group"], "rules.yaml:", "destinations", "D:9")
    assert POLICY_LINE <= _rules_line(message) <= DESTINATIONS_LINE


def test_pack_with_unknown_country_code(runs: dict[str, Run]) -> None:
    message = assert_user_error(runs["broken-bad-country"], "rules.yaml:", "destinations", "ZZ")
    assert POLICY_LINE <= _rules_line(message) <= DESTINATIONS_LINE


def test_pack_whose_id_differs_from_its_folder(runs: dict[str, Run]) -> None:
    assert_user_error(runs[RENAMED_PACK], "manifest.yaml", "my-pack", "us-2026-01")


# ---------------------------------------------------------------- 9. nothing half-written


@inputs
def _atomic_inputs(ws: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [transaction(id=f"t-{n}") for n in range(1, 11)]
    rows[4]["items"] = [{"chip": "nvidia-h100-sxn", "quantity": 10}]
    write_jsonl(ws / "atomic-jsonl" / "in.jsonl", rows)
    flat = [
        {
            "id": f"p-{n}",
            "date": "2025-03-03",
            "destination": "IN",
            "chip": "nvidia-h100-sxn" if n == 5 else "nvidia-h100-sxm",
            "quantity": 10,
            "consignee_name": "Example Compute Pvt Ltd",
            "consignee_headquarters": "IN",
        }
        for n in range(1, 11)
    ]
    (ws / "atomic-parquet").mkdir()
    pq.write_table(pa.Table.from_pylist(flat), ws / "atomic-parquet" / "in.parquet")


ATOMIC_JSONL = cli(
    "atomic-jsonl", "decide", "atomic-jsonl/in.jsonl", "--format", "jsonl", "--out", "atomic-jsonl/out.jsonl"
)
ATOMIC_PARQUET = cli(
    "atomic-parquet",
    "decide",
    "atomic-parquet/in.parquet",
    "--format",
    "parquet",
    "--out",
    "atomic-parquet/out.parquet",
)


def test_failed_jsonl_run_writes_nothing(runs: dict[str, Run], ws: Path) -> None:
    assert_user_error(runs[ATOMIC_JSONL], "in.jsonl:5", "items[0].chip", "nvidia-h100-sxn")
    assert not (ws / "atomic-jsonl" / "out.jsonl").exists()
    assert sorted(p.name for p in (ws / "atomic-jsonl").iterdir()) == ["in.jsonl"]  # no temporary file left


def test_failed_parquet_run_writes_nothing(runs: dict[str, Run], ws: Path) -> None:
    assert_user_error(runs[ATOMIC_PARQUET], "in.parquet", "row 5", "nvidia-h100-sxn")
    assert not (ws / "atomic-parquet" / "out.parquet").exists()
    assert sorted(p.name for p in (ws / "atomic-parquet").iterdir()) == ["in.parquet"]


# ---------------------------------------------------------------- regressions found in review


@inputs
def _bug_inputs(ws: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = {
        "id": None,
        "date": "2025-03-03",
        "destination": "IN",
        "chip": "nvidia-h100-sxm",
        "quantity": 100,
        "consignee_name": "Example Compute Pvt Ltd",
        "consignee_headquarters": "IN",
        "consignee_id": None,
    }
    schema = pa.schema([(k, pa.int64() if k == "quantity" else pa.string()) for k in base])
    dated = [{**base, "id": f"d-{n}"} for n in range(1, 6)]
    dated[2]["date"] = "2025-02-30"  # no such day
    (ws / "bugs").mkdir()
    pq.write_table(pa.Table.from_pylist(dated, schema=schema), ws / "bugs" / "bad-date.parquet")
    spaced = [{**base, "id": f"s-{n}"} for n in range(1, 4)]
    spaced[1].update(id=" s-2 ", consignee_id=" c-1 ")
    pq.write_table(pa.Table.from_pylist(spaced, schema=schema), ws / "spaced.parquet")
    (ws / "bom.csv").write_text("\ufeff" + CSV_HEADER + CSV_ROW.format(n=1, q=10), encoding="utf-8")


BAD_DATE_JSONL = cli("bad-date-jsonl", "decide", "bugs/bad-date.parquet", "--format", "jsonl")
BAD_DATE_PARQUET = cli(
    "bad-date-parquet", "decide", "bugs/bad-date.parquet", "--format", "parquet", "--out", "bugs/out.parquet"
)
SPACED_JSONL = cli("spaced-jsonl", "decide", "spaced.parquet", "--format", "jsonl", "--out", "spaced.out.jsonl")
SPACED_PARQUET = cli("spaced-parquet", "decide", "spaced.parquet", "--format", "parquet", "--out", "spaced.out.parquet")
BOM_CSV = cli("bom-csv", "decide", "bom.csv", "--format", "jsonl")


def test_impossible_date_in_parquet_is_rejected_row_by_row(runs: dict[str, Run]) -> None:
    assert_user_error(runs[BAD_DATE_JSONL], "bad-date.parquet", "row 3", "date")


def test_impossible_date_in_parquet_is_rejected_by_parquet_output(runs: dict[str, Run], ws: Path) -> None:
    assert_user_error(runs[BAD_DATE_PARQUET], "bad-date.parquet", "row 3", "date")
    assert not (ws / "bugs" / "out.parquet").exists()


def test_parquet_output_strips_whitespace_like_jsonl(runs: dict[str, Run], ws: Path) -> None:
    assert runs[SPACED_JSONL].returncode == 0, runs[SPACED_JSONL]
    assert runs[SPACED_PARQUET].returncode == 0, runs[SPACED_PARQUET]
    expected = _jsonl_file(ws / "spaced.out.jsonl")
    assert [d["id"] for d in expected] == ["s-1", "s-2", "s-3"]
    assert expected[1]["allocations"][0]["account"] == "lpp:c-1:2025"
    table = read_parquet(ws / "spaced.out.parquet")
    assert [r["id"] for r in table] == [d["id"] for d in expected]
    assert [[a["account"] for a in r["allocations"]] for r in table] == [
        [a["account"] for a in d["allocations"]] for d in expected
    ]


def test_csv_with_byte_order_mark_is_read(runs: dict[str, Run]) -> None:
    decisions = runs[BOM_CSV].jsonl()
    assert [d["id"] for d in decisions] == ["c-1"]


# ---------------------------------------------------------------- the commands as real processes


@pytest.mark.parametrize("key", [DECIDE_SAMPLES, DECIDE_ONE_TABLE, "bad-chip"])
def test_a_process_prints_what_the_in_process_run_printed(runs: dict[str, Run], ws: Path, key: str) -> None:
    """``python -m tiergate.cli`` in its own process (its own start-up, the lists and index read from disk)
    exits with the code and prints the stdout and stderr of the same command run in this process."""
    process = run_as_process(COMMANDS[key], ws)
    assert (process.returncode, process.stdout, process.stderr) == (
        runs[key].returncode,
        runs[key].stdout,
        runs[key].stderr,
    ), f"as a process: {process!r}\nin this process: {runs[key]!r}"
