"""What the faces share: reading round-trip and fleet files, parsing claims, the Tier 3 territories in force
on a date, and the checks of signed replies. The CLI, the HTTP API and the dashboard call these."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from tiergate.errors import InputError, UnknownCountryError
from tiergate.geo import Territory, territories_of, world
from tiergate.rules import Rulebook
from tiergate.verify.chipkeys import ChipKeys
from tiergate.verify.location import Claim, LocationReport, Sample, Verdict, locate
from tiergate.verify.probe import ProbeReport, ProbeVerdict, probe

RTT_COLUMNS = ("landmark", "lat", "lon", "rtt_ms")
SIGNED_COLUMNS = ("nonce", "signature")
FLEET_COLUMNS = ("serial", "declared", "claim")
FLEET_OPTIONAL = ("landmark", "lat", "lon", "rtt_ms", "nonce", "signature", "precision", "tflops")
MAX_ROWS = 100_000


def decode(raw: bytes, source: str) -> str:
    """UTF-8 text (a byte-order mark allowed); anything else is named, never guessed."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"not UTF-8 text (byte {error.start})", where=source, hint="save the file as UTF-8 (CSV UTF-8)"
        ) from None


def csv_rows(
    text: str, source: str, required: Sequence[str], optional: Sequence[str] = ()
) -> Iterator[tuple[str, dict[str, str]]]:
    """The rows of a CSV text as (where, {column: value}), with the header checked."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise InputError("empty file (no header row)", where=source, hint=f"columns: {', '.join(required)}") from None
    except csv.Error as error:
        raise InputError(f"malformed CSV: {error}", where=f"{source}:1") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}", where=f"{source}:1", hint=f"columns: {', '.join(required)}"
        )
    unknown = [c for c in header if c not in required and c not in optional]
    if unknown:
        raise InputError(
            f"unknown column(s) {', '.join(map(repr, unknown))}",
            where=f"{source}:1",
            hint=f"columns: {', '.join((*required, *optional))}",
        )
    count = 0
    try:
        for cells in reader:
            where = f"{source}:{reader.line_num}"
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise InputError(f"{len(cells)} fields where the header has {len(header)}", where=where)
            count += 1
            if count > MAX_ROWS:
                raise InputError(f"more than {MAX_ROWS:,} rows", where=source, hint="split the file")
            yield where, {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
    except csv.Error as error:
        raise InputError(f"malformed CSV: {error}", where=f"{source}:{reader.line_num}") from None


def _number(text: str, column: str, where: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{column}: {text!r} is not a number", where=where) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise InputError(f"{column}: {text} is out of range ({low:g} to {high:g})", where=where)
    return value


def sample_of(row: dict[str, str], where: str) -> Sample:
    name = row.get("landmark", "")
    if not name:
        raise InputError("landmark: empty", where=where, hint="name the landmark")
    rtt = _number(row["rtt_ms"], "rtt_ms", where, -math.inf, math.inf)
    if rtt <= 0:
        raise InputError(
            f"rtt_ms: {row['rtt_ms']} is not a round trip (it must be above 0 ms)",
            where=where,
            hint="a round trip takes time: check the units (milliseconds)",
        )
    return Sample(
        name,
        _number(row["lat"], "lat", where, -90.0, 90.0),
        _number(row["lon"], "lon", where, -180.0, 180.0),
        rtt,
        where,
    )


def read_rtt(text: str, source: str) -> tuple[list[Sample], list[tuple[str, str, str]]]:
    """Round-trip samples, and per row that carries one, its (where, nonce, signature)."""
    samples: list[Sample] = []
    signed: list[tuple[str, str, str]] = []
    for where, row in csv_rows(text, source, RTT_COLUMNS, SIGNED_COLUMNS):
        samples.append(sample_of(row, where))
        nonce, signature = row.get("nonce", ""), row.get("signature", "")
        if bool(nonce) != bool(signature):
            raise InputError("nonce and signature go together", where=where)
        if nonce:
            signed.append((where, nonce, signature))
    if not samples:
        raise InputError("no round-trip samples", where=source, hint=f"columns: {', '.join(RTT_COLUMNS)}")
    return samples, signed


def parse_claim(text: str, where: str = "claim") -> Claim:
    """``CC`` (ISO 3166-1 alpha-2) or ``LAT,LON``."""
    raw = text.strip()
    if "," in raw:
        lat_text, _, lon_text = raw.partition(",")
        lat = _number(lat_text.strip(), "latitude", where, -90.0, 90.0)
        lon = _number(lon_text.strip(), "longitude", where, -180.0, 180.0)
        return Claim(raw, point=(lat, lon))
    import pycountry

    code = raw.upper()
    country = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    if country is None:
        named = [f"{c.alpha_2} ({c.name})" for c in pycountry.countries if c.name.lower().startswith(raw.lower()[:4])]
        raise UnknownCountryError(
            f"{raw!r} is not an ISO 3166-1 alpha-2 country code or a LAT,LON point",
            where=where,
            hint=f"did you mean {', '.join(named[:3])}?" if len(raw) > 2 and named else "e.g. SG or 1.35,103.82",
        )
    shapes = territories_of(code)
    if not shapes:
        raise InputError(
            f"{country.name} ({code}) has no shape on the bundled map (Natural Earth 1:50m)",
            where=where,
            hint="claim the site's coordinates instead: LAT,LON",
        )
    return Claim(raw, country=code, territories=tuple(shapes))


def tier3_codes(book: Rulebook, day: dt.date) -> tuple[frozenset[str], str]:
    """The map's country codes in Tier 3 on ``day`` (Country Group D:5 and Macau, as the pack in force has
    them, with Hong Kong treated as China), and a phrase saying so."""
    ruleset, _ = book.select(None, day)
    codes = {t.code for t in world() if t.code is not None}
    found = frozenset(
        code for code in codes if "D:5" in ruleset.memberships(code, day) or ruleset.canonical_country(code) == "MO"
    )
    return found, f"Tier 3 (Country Group D:5 and Macau under {ruleset.regime} on {day})"


def locate_claim(
    book: Rulebook,
    claim: Claim,
    samples: Sequence[Sample],
    signed: Sequence[tuple[str, str, str]] = (),
    *,
    serial: str | None,
    keys: ChipKeys | None,
    day: dt.date,
) -> LocationReport:
    """The location verdict, with signed replies checked against the key bound to ``serial``."""
    marked, rejected = check_signatures(samples, signed, serial=serial, keys=keys)
    tier3, basis = tier3_codes(book, day)
    report = locate(claim, marked, world(), tier3, as_of=day.isoformat(), tier3_basis=basis)
    if rejected:
        report.verdict = Verdict.rejected
        report.reasons.append(
            "Rejected: " + "; ".join(f"{where}: {why}" for where, why in rejected) + ". A reply not signed by the "
            "chip's own key may come from a relay or proxy near the landmark, so the whole measurement is refused."
        )
    return report


def check_signatures(
    samples: Sequence[Sample],
    signed: Sequence[tuple[str, str, str]],
    *,
    serial: str | None,
    keys: ChipKeys | None,
) -> tuple[list[Sample], list[tuple[str, str]]]:
    """Every sample, marked signed where its reply verifies; and the rows whose signature fails, with why
    (they stay in the geometry, drawn and reported, but the verdict is then ``rejected``)."""
    if not signed:
        return list(samples), []
    if serial is None or keys is None:
        raise InputError(
            "the round trips carry signatures but no chip serial was given",
            where="serial",
            hint="name the chip whose key signed them (--serial)",
        )
    by_row = {where: (nonce, signature) for where, nonce, signature in signed}
    seen: dict[str, str] = {}
    rejected: list[tuple[str, str]] = []
    out: list[Sample] = []
    for sample in samples:
        found = by_row.get(sample.where)
        if found is None:
            out.append(sample)
            continue
        nonce, signature = found
        if nonce in seen:
            rejected.append((sample.where, f"nonce already used in {seen[nonce]} (a replayed reply)"))
            out.append(replace(sample, signed=False))
            continue
        seen[nonce] = sample.where
        check = keys.check(serial, nonce, signature)
        out.append(replace(sample, signed=check.ok))
        if not check.ok:
            rejected.append((sample.where, check.why))
    return out, rejected


# ---------------------------------------------------------------- fleet


@dataclass(slots=True)
class ChipRecord:
    serial: str
    declared: str
    claim: str
    where: str
    samples: list[Sample] = field(default_factory=list)
    signed: list[tuple[str, str, str]] = field(default_factory=list)
    measured: dict[str, float] = field(default_factory=dict)


def read_fleet(text: str, source: str) -> list[ChipRecord]:
    """One record per serial: its declared model and claim, its round trips and its probe rates."""
    chips: dict[str, ChipRecord] = {}
    for where, row in csv_rows(text, source, FLEET_COLUMNS, FLEET_OPTIONAL):
        serial = row["serial"]
        if not serial:
            raise InputError("serial: empty", where=where)
        chip = chips.get(serial)
        if chip is None:
            chip = chips[serial] = ChipRecord(serial, row["declared"], row["claim"], where)
        elif (row["declared"], row["claim"]) != (chip.declared, chip.claim):
            raise InputError(
                f"serial {serial!r} is declared {row['declared']!r} in {row['claim']!r} here but "
                f"{chip.declared!r} in {chip.claim!r} at {chip.where}",
                where=where,
            )
        if row.get("rtt_ms"):
            chip.samples.append(sample_of(row, where))
            if row.get("nonce") or row.get("signature"):
                if not (row.get("nonce") and row.get("signature")):
                    raise InputError("nonce and signature go together", where=where)
                chip.signed.append((where, row["nonce"], row["signature"]))
        if row.get("precision") or row.get("tflops"):
            precision = row.get("precision", "").lower()
            if not precision:
                raise InputError("tflops without a precision", where=where)
            rate = _number(row.get("tflops", ""), "tflops", where, 0.0, math.inf)
            if rate <= 0:
                raise InputError("tflops: a rate must be above 0", where=where)
            chip.measured[precision] = max(rate, chip.measured.get(precision, 0.0))
    if not chips:
        raise InputError("no chips", where=source, hint=f"columns: {', '.join((*FLEET_COLUMNS, *FLEET_OPTIONAL))}")
    return list(chips.values())


STATUS_ORDER = ("ruled_out", "rejected", "inconsistent", "unverified", "verified")


def fleet_report(
    book: Rulebook, chips: Sequence[ChipRecord], *, keys: ChipKeys | None, day: dt.date
) -> list[dict[str, object]]:
    """Per chip: the location and probe verdicts and one status, the worst first."""
    ruleset, _ = book.select(None, day)
    rows: list[dict[str, object]] = []
    for chip in chips:
        location: LocationReport | None = None
        probed: ProbeReport | None = None
        problems: list[str] = []
        declared = book.catalogue.resolve(chip.declared, where=f"{chip.where}: declared")
        if chip.samples:
            claim = parse_claim(chip.claim, where=f"{chip.where}: claim")
            location = locate_claim(
                book, claim, chip.samples, chip.signed, serial=chip.serial, keys=keys if chip.signed else None, day=day
            )
        else:
            problems.append("no round trips")
        if chip.measured:
            probed = probe(declared, chip.measured, ruleset.bit_lengths)
        else:
            problems.append("no probe")
        status = _status(location, probed)
        rows.append(
            {
                "serial": chip.serial,
                "declared": declared.id,
                "claim": chip.claim,
                "status": status,
                "location": location.verdict.value if location else None,
                "probe": probed.verdict.value if probed else None,
                "ratio": round(probed.ratio, 3) if probed else None,
                "why": _why(location, probed, problems),
                "location_report": location.to_dict() if location else None,
                "probe_report": probed.to_dict() if probed else None,
            }
        )
    rows.sort(key=lambda r: (STATUS_ORDER.index(str(r["status"])), str(r["serial"])))
    return rows


def _status(location: LocationReport | None, probed: ProbeReport | None) -> str:
    if location is not None and location.verdict is Verdict.ruled_out:
        return "ruled_out"
    if location is not None and location.verdict is Verdict.rejected:
        return "rejected"
    if probed is not None and probed.verdict is ProbeVerdict.inconsistent:
        return "inconsistent"
    if (
        location is not None
        and location.verdict is Verdict.consistent
        and probed is not None
        and probed.verdict is ProbeVerdict.consistent
    ):
        return "verified"
    return "unverified"


def _why(location: LocationReport | None, probed: ProbeReport | None, problems: list[str]) -> str:
    parts = []
    if location is not None:
        parts.append(location.reasons[-1])
    if probed is not None:
        parts.append(probed.reasons[-1])
    parts.extend(problems)
    return " ".join(parts)


def territory_names(codes: Sequence[str]) -> list[str]:
    names = {t.code: t.name for t in world() if t.code}
    return [f"{names.get(code.rstrip('?'), code)} ({code})" for code in codes]


__all__ = [
    "ChipRecord",
    "Territory",
    "check_signatures",
    "decode",
    "fleet_report",
    "locate_claim",
    "parse_claim",
    "read_fleet",
    "read_rtt",
    "tier3_codes",
]
