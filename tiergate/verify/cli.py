"""``tiergate verify ...``: where a chip is (round trips and the speed of light) and whether it is the chip
declared (a matrix-multiplication probe), for one chip or a fleet.

Exit codes: 0 the check ran (consistent, or inconclusive); 1 a finding (ruled out, rejected, inconsistent);
2 bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from tiergate.batch import atomic_output
from tiergate.console import Column, print_table
from tiergate.errors import InputError

verify_app = typer.Typer(
    no_args_is_help=True,
    help="Verification: a chip's location from round-trip times, its performance against the declared part.",
)
keys_app = typer.Typer(no_args_is_help=True, help="Ed25519 keys bound to chips' serials (signed replies).")
verify_app.add_typer(keys_app, name="keys")

out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DEFAULT_DB = "sqlite:///tiergate-ledger.db"  # the ledger's database, as `tiergate ledger` defaults to
DbOpt = Annotated[
    str,
    typer.Option("--db", envvar="TIERGATE_DB", help="Database URL (the ledger's): sqlite:///FILE or postgresql://..."),
]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Tier 3 as in force on this date (YYYY-MM-DD; default today).")
]
PacksOpt = Annotated[
    list[Path] | None, typer.Option("--packs", help="An extra folder of packs (with an optional regimes.yaml).")
]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write here instead of standard output.")]


class Format(StrEnum):
    table = "table"
    json = "json"
    html = "html"


class ProbeFormat(StrEnum):
    table = "table"
    json = "json"


def _day(text: str | None) -> dt.date:
    if text is None:
        override = os.environ.get("TIERGATE_TODAY")
        return dt.date.fromisoformat(override) if override else dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{text!r} is not a date (use YYYY-MM-DD)", where="--as-of") from None


def _read(path: Path) -> str:
    from tiergate.verify.service import decode

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", where=str(path)) from None
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", where=str(path)) from None
    return decode(raw, str(path))


def _emit(text: str, path: Path | None) -> None:
    if path is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    with atomic_output(path, "w") as handle:
        handle.write(text)


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n"


def _keys(db: str) -> Any:
    from tiergate.verify.chipkeys import ChipKeys

    return ChipKeys(db)


@verify_app.command("locate")
def locate(
    claim: Annotated[str, typer.Option("--claim", help="Where the chip is said to be: CC (ISO code) or LAT,LON.")],
    rtt: Annotated[Path, typer.Option("--rtt", help="CSV: landmark, lat, lon, rtt_ms [, nonce, signature].")],
    serial: Annotated[
        str | None, typer.Option("--serial", help="The chip whose registered key signed the replies.")
    ] = None,
    format: Annotated[Format, typer.Option("--format")] = Format.table,
    out_path: OutOpt = None,
    as_of: AsOfOpt = None,
    packs: PacksOpt = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Is the chip where its owner says? The speed of light bounds how far each landmark's reply travelled."""
    from tiergate.rules import load_rulebook
    from tiergate.verify import report as drawing
    from tiergate.verify.location import C_KM_PER_MS, FIBRE_FACTOR
    from tiergate.verify.service import locate_claim, parse_claim, read_rtt

    parsed = parse_claim(claim, where="--claim")
    samples, signed = read_rtt(_read(rtt), str(rtt))
    keys = _keys(db) if signed else None
    try:
        found = locate_claim(
            load_rulebook(packs or ()), parsed, samples, signed, serial=serial, keys=keys, day=_day(as_of)
        )
    finally:
        if keys is not None:
            keys.close()
    if format is Format.json:
        _emit(_json(found.to_dict()), out_path)
    elif format is Format.html:
        _emit(drawing.page(found), out_path)
    else:
        table = Table("landmark", "min RTT ms", "samples", "km at c", "km at 2/3 c", "signed", title=f"Claim: {claim}")
        for lm in found.landmarks:
            table.add_row(
                lm.name,
                f"{lm.min_rtt_ms:g}",
                str(lm.samples),
                f"{lm.radius_km(C_KM_PER_MS):,.1f}",
                f"{lm.radius_km(C_KM_PER_MS * FIBRE_FACTOR):,.1f}",
                "yes" if lm.signed else "no",
            )
        console = out if out_path is None else Console(file=io.StringIO(), width=200)
        console.print(f"verdict: {found.verdict.value}", markup=False)
        console.print(table)
        for line in found.reasons:
            console.print(f"- {line}", markup=False)
        if out_path is not None:
            _emit(console.file.getvalue(), out_path)  # type: ignore[attr-defined]
    if found.verdict.value in ("ruled_out", "rejected"):
        raise typer.Exit(1)


@verify_app.command("probe")
def probe_command(
    declared: Annotated[str, typer.Option("--declared", help="The declared chip: catalogue id or alias (e.g. H20).")],
    measured: Annotated[
        list[str] | None, typer.Option("--measured", help="PRECISION=TFLOPS, dense, measured; repeatable.")
    ] = None,
    run: Annotated[bool, typer.Option("--run", help="Time large GEMMs here (the accelerator, else the CPU).")] = False,
    size: Annotated[int | None, typer.Option("--size", min=64, max=32768, help="Matrix size for --run.")] = None,
    format: Annotated[ProbeFormat, typer.Option("--format")] = ProbeFormat.table,
    as_of: AsOfOpt = None,
    packs: PacksOpt = None,
) -> None:
    """Is it the chip declared? A part cannot run faster than its silicon: measured TPP / declared TPP."""
    from tiergate.rules import load_rulebook
    from tiergate.verify.probe import parse_measured, probe

    if bool(measured) == run:
        raise InputError("give either --measured PRECISION=TFLOPS (repeatable) or --run", where="probe")
    book = load_rulebook(packs or ())
    ruleset, _ = book.select(None, _day(as_of))
    chip = book.catalogue.resolve(declared, where="--declared")
    environment: dict[str, object] = {}
    if run:
        from tiergate.verify import gemm

        rates, environment = gemm.run(size)
        if environment.get("engine") == "numpy-cpu":
            err.print("note: no accelerator found; timing the CPU with NumPy, which says nothing about the chip")
    else:
        rates = parse_measured(measured or [])
    found = probe(chip, rates, ruleset.bit_lengths, environment)
    if format is ProbeFormat.json:
        sys.stdout.write(_json(found.to_dict()))
    else:
        out.print(f"verdict: {found.verdict.value} (ratio {found.ratio:.3f})", markup=False)
        for line in found.reasons:
            out.print(f"- {line}", markup=False)
        if environment:
            out.print(f"measured on: {environment.get('device')} ({environment.get('engine')})", markup=False)
    if found.verdict.value == "inconsistent":
        raise typer.Exit(1)


@verify_app.command("fleet")
def fleet(
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV: serial, declared, claim, then landmark, lat, lon, rtt_ms "
            "[, nonce, signature] and/or precision, tflops per row."
        ),
    ],
    format: Annotated[Format, typer.Option("--format")] = Format.table,
    out_path: OutOpt = None,
    as_of: AsOfOpt = None,
    packs: PacksOpt = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """A fleet's chips: which are ruled out, inconsistent or unverified, the worst first."""
    from tiergate.rules import load_rulebook
    from tiergate.verify.service import fleet_report, read_fleet

    chips = read_fleet(_read(path), str(path))
    keys = _keys(db) if any(chip.signed for chip in chips) else None
    try:
        rows = fleet_report(load_rulebook(packs or ()), chips, keys=keys, day=_day(as_of))
    finally:
        if keys is not None:
            keys.close()
    if format is Format.json:
        _emit(_json(rows), out_path)
    elif format is Format.html:
        from tiergate.verify.report import fleet_page

        _emit(fleet_page(rows), out_path)
    else:
        keys = ("serial", "declared", "claim", "status", "location", "probe", "ratio")
        print_table(
            out,
            "Fleet",
            [Column(k, key=k in ("serial", "claim", "status")) for k in keys],
            ([str(row[k]) if row[k] is not None else "–" for k in keys] for row in rows),
        )
        flagged = sum(1 for row in rows if row["status"] != "verified")
        out.print(f"{flagged} of {len(rows)} chip(s) ruled out, rejected, inconsistent or unverified", markup=False)
    if any(row["status"] in ("ruled_out", "rejected", "inconsistent") for row in rows):
        raise typer.Exit(1)


@verify_app.command("measure")
def measure_command(
    landmarks: Annotated[Path, typer.Option("--landmarks", help="CSV: landmark, lat, lon, host, port.")],
    samples: Annotated[int, typer.Option("--samples", min=1, max=100, help="Connects per landmark.")] = 5,
    timeout: Annotated[float, typer.Option("--timeout", min=0.01, max=60, help="Seconds per connect.")] = 2.0,
    out_path: OutOpt = None,
) -> None:
    """Time TCP connects to landmark hosts from this machine; writes the CSV `verify locate --rtt` reads."""
    from tiergate.verify.measure import measure, read_landmarks

    targets = read_landmarks(_read(landmarks), str(landmarks))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["landmark", "lat", "lon", "rtt_ms"])
    failed = []
    for row in measure(targets, samples, timeout):
        if "error" in row:
            failed.append(f"{row['landmark']}: {row['error']}")
            continue
        writer.writerow([row["landmark"], row["lat"], row["lon"], row["rtt_ms"]])
    for line in failed:
        err.print(f"warning: no answer from {line}", markup=False)
    if len(failed) == len(targets):
        raise InputError("no landmark answered", where=str(landmarks), hint="check the hosts and ports")
    _emit(buffer.getvalue(), out_path)


@verify_app.command("challenge")
def challenge(
    serial: Annotated[str, typer.Option("--serial", help="The chip to challenge (its key must be registered).")],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """A fresh nonce for the chip's host to sign (valid ten minutes); JSON on standard output."""
    keys = _keys(db)
    try:
        sys.stdout.write(_json(keys.challenge(serial, now=dt.datetime.now(dt.UTC))))
    finally:
        keys.close()


@verify_app.command("respond")
def respond(
    challenge_file: Annotated[Path, typer.Argument(help="The challenge JSON from `verify challenge`.")],
    key: Annotated[Path, typer.Option("--key", help="The chip's Ed25519 private key (PEM).")],
) -> None:
    """On the chip's host: sign a challenge with the chip's key (no database needed)."""
    from tiergate.signing import load_signing_key
    from tiergate.verify.chipkeys import respond as sign

    try:
        data = orjson.loads(_read(challenge_file))
    except orjson.JSONDecodeError as error:
        raise InputError(f"not JSON ({error})", where=str(challenge_file)) from None
    if not isinstance(data, dict):
        raise InputError("not a challenge object", where=str(challenge_file))
    sys.stdout.write(_json(sign(data, load_signing_key(key))))


@keys_app.command("add")
def keys_add(
    serial: Annotated[str, typer.Argument(help="The chip's serial number.")],
    public_key: Annotated[Path, typer.Argument(help="The chip's Ed25519 public key (PEM).")],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Bind a chip's public key to its serial."""
    import getpass

    keys = _keys(db)
    try:
        sys.stdout.write(
            _json(keys.register(serial, _read(public_key), by=getpass.getuser(), now=dt.datetime.now(dt.UTC)))
        )
    finally:
        keys.close()


@keys_app.command("list")
def keys_list(db: DbOpt = DEFAULT_DB) -> None:
    """The chips with a registered key (JSON)."""
    keys = _keys(db)
    try:
        sys.stdout.write(_json([{k: v for k, v in row.items() if k != "public_key"} for row in keys.registered()]))
    finally:
        keys.close()


@keys_app.command("revoke")
def keys_revoke(serial: Annotated[str, typer.Argument()], db: DbOpt = DEFAULT_DB) -> None:
    """Unbind a chip's key (its replies no longer count as signed)."""
    keys = _keys(db)
    try:
        keys.revoke(serial)
    finally:
        keys.close()
    out.print(f"key of {serial} revoked", markup=False)
