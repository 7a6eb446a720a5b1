"""``tiergate replay``, ``tiergate packs propose``, ``packs diff`` of a proposal and ``packs timeline`` from the
command line: the outputs, and one-line errors with exit code 2 for bad input (run in this process)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import tiergate
from tiergate.cli import app

from ..inprocess import Completed, run_cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tiergate" / "samples" / "transactions.jsonl"
ENV = {**os.environ, "TIERGATE_TODAY": "2026-03-02"}


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"TIERGATE_TODAY": "2026-03-02"})
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_replay_prints_a_table_and_writes_json_and_offline_html(tmp_path: Path) -> None:
    table = invoke("replay", str(SAMPLES), "--from", "us-2025-05", "--to", "us-diffusion-2025")
    assert "Replay us-2025-05 -> us-diffusion-2025: 12 transaction(s) replayed" in table
    assert "Transitions" in table and "Merkle root" in table
    invoke("replay", str(SAMPLES), "--from", "us-2025-05", "--to", "us-diffusion-2025", "--format", "json",
           "--out", str(tmp_path / "r.json"))  # fmt: skip
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["from"] == "us-2025-05" and report["total"] == 12 and report["changed"] == 8
    assert {"transitions", "by_destination", "by_consignee", "by_chip", "by_month", "unreplayable"} <= set(report)
    invoke("replay", str(SAMPLES), "--from", "us-2025-05", "--to", "us-diffusion-2025", "--format", "html",
           "--out", str(tmp_path / "r.html"))  # fmt: skip
    html = (tmp_path / "r.html").read_text()
    assert "Plotly.newPlot" in html and "window.PlotlyGeoAssets" in html
    assert "cdn.plot.ly" not in html.split("window.PlotlyGeoAssets", 1)[0]  # no script is fetched
    assert '<script src="http' not in html


def test_a_parquet_history_with_values_gives_declared_and_estimated_dollars(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "date": "2025-03-01", "destination": "IN", "chip": "nvidia-h100-sxm", "quantity": 2000,
         "consignee_name": "Acme", "consignee_headquarters": "IN", "value_usd": 70_000_000.0},
        {"id": "b", "date": "2025-03-02", "destination": "IN", "chip": "nvidia-h100-sxm", "quantity": 2000,
         "consignee_name": "Beta", "consignee_headquarters": "IN", "value_usd": None},
        {"id": "c", "date": "2025-03-03", "destination": "IN", "chip": "google-tpu-v6e", "quantity": 2000,
         "consignee_name": "Gamma", "consignee_headquarters": "IN", "value_usd": None},
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "h.parquet")
    report = json.loads(
        invoke(
            "replay",
            str(tmp_path / "h.parquet"),
            "--from",
            "us-2025-05",
            "--to",
            "us-diffusion-2025",
            "--format",
            "json",
        )
    )
    assert report["history"]["path"] == "columns"
    moved = report["totals"]["moved"]
    assert report["changed"] == 3
    assert moved["value_usd"] == 70_000_000 + 2000 * (33_600 + 50_000) / 2  # declared + midpoint estimate
    assert moved["value_usd_estimated"] == 2000 * (33_600 + 50_000) / 2
    assert moved["value_usd_low"] == 70_000_000 + 2000 * 33_600
    assert moved["value_unpriced"] == 1  # the TPU has no catalogue price


def test_propose_then_diff_then_replay_the_proposal(tmp_path: Path) -> None:
    folder = tmp_path / "proposals"
    said = invoke("packs", "propose", "--base", "us-diffusion-2025", "--set",
                  "lpp_tpp_per_consignee_year=1000*h100_tpp", "--effective", "2025-06-01", "--out", str(folder),
                  "--id", "lpp-1000")  # fmt: skip
    assert "lpp_tpp_per_consignee_year: 26,900,000 -> 1000*h100_tpp TPP" in said
    assert (folder / "lpp-1000" / "manifest.yaml").exists() and (folder / "regimes.yaml").exists()
    diff = invoke("packs", "diff", "us-diffusion-2025", "lpp-1000", "--packs", str(folder))
    assert "lpp_tpp_per_consignee_year: 26,900,000 -> 15,831,200" in diff
    report = json.loads(
        invoke(
            "replay",
            str(SAMPLES),
            "--from",
            "us-diffusion-2025",
            "--to",
            "lpp-1000",
            "--packs",
            str(folder),
            "--format",
            "json",
        )
    )
    assert report["packs"]["to"][-1] == "lpp-1000@r1"
    # The proposal takes effect on 2025-06-01: with --effective-dates, earlier transactions keep the base rules.
    dated = json.loads(
        invoke(
            "replay",
            str(SAMPLES),
            "--from",
            "us-diffusion-2025",
            "--to",
            "lpp-1000",
            "--packs",
            str(folder),
            "--format",
            "json",
            "--effective-dates",
        )
    )
    assert dated["options"]["effective_dates"] is True
    assert dated["changed"] <= report["changed"]


def test_timeline_table_and_json(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    invoke("packs", "propose", "--base", "us-2026-01", "--set", "tpp_a1_min=0.5*frontier_tpp", "--effective",
           "2026-04-01", "--out", str(folder), "--id", "half")  # fmt: skip
    text = invoke("packs", "timeline", "tpp_a1_min", "--from", "2022-01-01", "--to", "2026-12-31", "--every",
                  "quarter", "--regime", "half", "--packs", str(folder))  # fmt: skip
    assert "2025-01-01" in text and "now below: NVIDIA H100 SXM5 80GB" in text
    data = json.loads(
        invoke(
            "packs",
            "timeline",
            "frontier_tpp",
            "--from",
            "2024-01-01",
            "--to",
            "2024-12-31",
            "--every",
            "month",
            "--regime",
            "us-2026-01",
            "--format",
            "json",
        )
    )
    assert [row["value"] for row in data["dates"]][-1] == 36000 and len(data["dates"]) == 12


BAD = {
    "unknown regime": (["replay", str(SAMPLES), "--from", "us-2025-05", "--to", "us-2099"], "--to: unknown regime"),
    "unknown pack folder": (
        ["replay", str(SAMPLES), "--from", "us-2025-05", "--to", "us-2026-01", "--packs", "/nonexistent"],
        "not a folder of packs",
    ),
    "no regimes": (["replay", str(SAMPLES)], "give both --from REGIME and --to REGIME"),
    "history and ledger": (
        ["replay", str(SAMPLES), "--from", "us-2025-05", "--to", "us-2026-01", "--from-ledger", "sqlite:///x.db"],
        "give a history file or --from-ledger URL (one of them)",
    ),
    "html without out": (
        ["replay", str(SAMPLES), "--from", "us-2025-05", "--to", "us-2026-01", "--format", "html"],
        "--format html needs --out FILE",
    ),
    "unknown parameter": (
        [
            "packs",
            "propose",
            "--base",
            "us-2026-01",
            "--set",
            "tpp_a1_mim=1",
            "--effective",
            "2026-01-01",
            "--out",
            "p",
        ],
        "--set tpp_a1_mim: unknown parameter 'tpp_a1_mim' of regime us-2026-01 (did you mean tpp_a1_min",
    ),
    "circular": (
        [
            "packs",
            "propose",
            "--base",
            "us-2026-01",
            "--set",
            "tpp_a1_min=2*tpp_a2_min",
            "--set",
            "tpp_a2_min=tpp_a1_min/2",
            "--effective",
            "2026-01-01",
            "--out",
            "p",
        ],
        "circular definition: tpp_a1_min -> tpp_a2_min -> tpp_a1_min",
    ),
    "unknown name": (
        [
            "packs",
            "propose",
            "--base",
            "us-2026-01",
            "--set",
            "tpp_a1_min=0.3*frontier_ttp",
            "--effective",
            "2026-01-01",
            "--out",
            "p",
        ],
        "names 'frontier_ttp', which is neither a parameter of us-2026-01 nor a catalogue quantity",
    ),
    "not an expression": (
        [
            "packs",
            "propose",
            "--base",
            "us-2026-01",
            "--set",
            "tpp_a1_min=__import__('os')",
            "--effective",
            "2026-01-01",
            "--out",
            "p",
        ],
        "--set tpp_a1_min: only min(...) and max(...) may be called",
    ),
    "infinite": (
        [
            "packs",
            "propose",
            "--base",
            "us-2026-01",
            "--set",
            "tpp_a1_min=inf",
            "--effective",
            "2026-01-01",
            "--out",
            "p",
        ],
        "'inf' is not a finite number",
    ),
    "catalogue quantity": (
        [
            "packs",
            "propose",
            "--base",
            "us-2026-01",
            "--set",
            "frontier_tpp=1",
            "--effective",
            "2026-01-01",
            "--out",
            "p",
        ],
        "frontier_tpp is a catalogue quantity",
    ),
    "group of everyone": (
        [
            "packs",
            "propose",
            "--base",
            "us-diffusion-2025",
            "--add",
            "tier2=FR",
            "--effective",
            "2026-01-01",
            "--out",
            "p",
        ],
        "country group 'tier2' is defined as everyone",
    ),
    "not a country": (
        [
            "packs",
            "propose",
            "--base",
            "us-diffusion-2025",
            "--add",
            "tier1=XX",
            "--effective",
            "2026-01-01",
            "--out",
            "p",
        ],
        "'XX' is not an ISO 3166-1 alpha-2 country code",
    ),
    "no change": (
        ["packs", "propose", "--base", "us-2026-01", "--effective", "2026-01-01", "--out", "p"],
        "a proposal changes something",
    ),
    "bad effective": (
        ["packs", "propose", "--base", "us-2026-01", "--set", "tpp_a1_min=1", "--effective", "soon", "--out", "p"],
        "--effective: 'soon' is not a date",
    ),
    "timeline unknown": (
        ["packs", "timeline", "tpp_x", "--from", "2025-01-01", "--to", "2025-12-31", "--regime", "us-2026-01"],
        "unknown parameter 'tpp_x'",
    ),
}


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Completed]:
    folder = tmp_path_factory.mktemp("bad")
    done = {case: run_cli(args, cwd=folder, env=ENV) for case, (args, _) in BAD.items()}
    assert not (folder / "p").exists()  # nothing half-written
    return done


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_and_exit_code_2(bad_runs: dict[str, Completed], case: str) -> None:
    run = bad_runs[case]
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert BAD[case][1] in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


def test_an_undecidable_row_is_named_counted_and_the_replay_goes_on(tmp_path: Path, book: tiergate.Rulebook) -> None:
    lines = SAMPLES.read_text().splitlines()
    bad = json.loads(lines[0])
    bad["items"][0]["chip"] = "nvidia-h100-sxn"
    bad["id"] = "typo"
    (tmp_path / "h.jsonl").write_text("\n".join([*lines, json.dumps(bad), "{not json"]) + "\n")
    # A line that is not JSON stops the reading of the file (it is not a record at all): a clear error.
    runner = CliRunner()
    result = runner.invoke(app, ["replay", str(tmp_path / "h.jsonl"), "--from", "us-2025-05", "--to", "us-2026-01"])
    assert isinstance(result.exception, tiergate.InputError) and "h.jsonl:14: not valid JSON" in str(result.exception)
    (tmp_path / "h.jsonl").write_text("\n".join([*lines, json.dumps(bad)]) + "\n")
    report = json.loads(
        invoke("replay", str(tmp_path / "h.jsonl"), "--from", "us-2025-05", "--to", "us-2026-01", "--format", "json")
    )
    assert report["total"] == 12 and report["unreplayable_count"] == 1
    (entry,) = report["unreplayable"]
    assert entry["id"] == "typo" and entry["where"].endswith("h.jsonl:13")
    assert "unknown chip 'nvidia-h100-sxn'" in entry["why"] and "did you mean nvidia-h100-sxm" in entry["why"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("list,effective,name\nEL,2025-01-01,\n", "a listing names the consignee"),
        ("list,effective,name\nXL,2025-01-01,Acme\n", "list: Input should be 'EL', 'SDN' or 'DPL'"),
        ("list,effective,name\nEL,soon,Acme\n", "effective"),
        ("list,effective,name,colour\nEL,2025-01-01,Acme,red\n", "colour: unknown field"),
        ("list,effective,name\n", "no listing in the file"),
    ],
)
def test_a_bad_listing_file_names_its_line(tmp_path: Path, text: str, message: str) -> None:
    from tiergate.replay.history import read_listings

    path = tmp_path / "listing.csv"
    path.write_text(text)
    with pytest.raises(tiergate.InputError) as raised:
        read_listings(path)
    assert message in str(raised.value)
    if "no listing" not in message:
        assert "listing.csv:2" in str(raised.value)
