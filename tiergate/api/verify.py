"""``/v1/verify``: where a chip is (round trips bounded by the speed of light), whether it is the chip
declared (a measured GEMM rate against the declared part's TPP), a fleet report, and the keys and
challenges that make a round trip count as signed (``tiergate.verify``, as ``tiergate verify``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from tiergate.api.auth import context, require, viewer
from tiergate.api.context import ApiContext
from tiergate.api.errors import ApiError, responses
from tiergate.api.keys import ApiKey
from tiergate.api.schemas import ok
from tiergate.verify.chipkeys import ChipKeys
from tiergate.verify.location import LocationReport, Sample
from tiergate.verify.probe import probe
from tiergate.verify.service import decode, fleet_report, locate_claim, parse_claim, read_fleet

router = APIRouter(prefix="/v1/verify", tags=["verify"])
officer = require("officer", "challenge chips")
admin = require("admin", "register chip keys")
MAX_SAMPLES = 10_000
MAX_FLEET_BYTES = 8 * 1024 * 1024

Finite = Annotated[float, Field(allow_inf_nan=False)]


class SampleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    landmark: Annotated[str, Field(min_length=1, max_length=200)]
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    rtt_ms: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False, description="Round trip, milliseconds.")]
    nonce: Annotated[str | None, Field(max_length=128)] = None
    signature: Annotated[str | None, Field(max_length=256)] = None


class LocateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "claim": "SG",
                    "samples": [
                        {"landmark": "SIN", "lat": 1.3521, "lon": 103.8198, "rtt_ms": 2.0},
                        {"landmark": "KUL", "lat": 3.139, "lon": 101.6869, "rtt_ms": 4.5},
                    ],
                }
            ]
        },
    )
    claim: Annotated[str, Field(min_length=2, max_length=60, description="CC (ISO alpha-2) or LAT,LON.")]
    samples: Annotated[list[SampleIn], Field(min_length=1, max_length=MAX_SAMPLES)]
    serial: Annotated[str | None, Field(max_length=200, description="The chip whose key signed the replies.")] = None
    as_of: dt.date | None = None


class ProbeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"declared": "nvidia-h20", "measured": {"bf16": 796.8}}]}
    )
    declared: Annotated[str, Field(min_length=1, max_length=200, description="Catalogue id or alias.")]
    measured: Annotated[
        dict[
            Literal["fp64", "tf32", "fp32", "fp16", "bf16", "fp8", "int8", "fp4", "int4"],
            Annotated[float, Field(gt=0, le=1e9, allow_inf_nan=False)],
        ],
        Field(min_length=1, description="Dense TFLOP/s measured, per precision."),
    ]
    as_of: dt.date | None = None


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    serial: Annotated[str, Field(min_length=1, max_length=200)]
    public_key: Annotated[str, Field(min_length=1, max_length=4000, description="Ed25519 public key, PEM.")]


class ChallengeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    serial: Annotated[str, Field(min_length=1, max_length=200)]


_REPORT = {
    "type": "object",
    "required": ["verdict", "reasons"],
    "properties": {"verdict": {"type": "string"}, "reasons": {"type": "array", "items": {"type": "string"}}},
}


def _keys(ctx: ApiContext) -> ChipKeys:
    """The chip keys, in the server's ledger database (on the ledger's connection pool)."""
    return ChipKeys(ctx.ledger.engine)


def _day(ctx: ApiContext, as_of: dt.date | None) -> dt.date:
    return as_of or ctx.today()


def locate_report(ctx: ApiContext, body: LocateIn) -> LocationReport:
    claim = parse_claim(body.claim, where="claim")
    samples: list[Sample] = []
    signed: list[tuple[str, str, str]] = []
    for index, s in enumerate(body.samples):
        where = f"samples[{index}]"
        samples.append(Sample(s.landmark, s.lat, s.lon, s.rtt_ms, where))
        if bool(s.nonce) != bool(s.signature):
            raise ApiError(422, "nonce and signature go together", where=where)
        if s.nonce and s.signature:
            signed.append((where, s.nonce, s.signature))
    keys = _keys(ctx) if signed else None
    return locate_claim(ctx.book, claim, samples, signed, serial=body.serial, keys=keys, day=_day(ctx, body.as_of))


@router.post(
    "/locate",
    summary="Check a location claim against round-trip times",
    description="The feasible region is the intersection of disks of radius c·minRTT/2 around the landmarks. "
    "Verdicts: `ruled_out`, `consistent` (signed replies, no Tier 3 territory in reach), `consistent_unsigned`, "
    "`inconclusive`, `rejected` (a reply signed by another key).",
    dependencies=[Depends(viewer)],
    responses={**ok(_REPORT, "The location verdict with the landmarks' radii and the reasoning."), **responses(415)},
)
async def locate_route(request: Request, body: LocateIn) -> Any:
    report = await run_in_threadpool(locate_report, context(request), body)
    return report.to_dict()


def probe_body(ctx: ApiContext, body: ProbeIn) -> dict[str, Any]:
    ruleset, _ = ctx.book.select(None, _day(ctx, body.as_of))
    chip = ctx.book.catalogue.resolve(body.declared, where="declared")
    measured = {str(name): rate for name, rate in body.measured.items()}
    return probe(chip, measured, ruleset.bit_lengths).to_dict()


@router.post(
    "/probe",
    summary="Check a measured GEMM rate against the declared chip",
    description="Measured TPP = max over precisions of dense TFLOP/s × bit length; above 1.10× the declared "
    "part's TPP is `inconsistent`, 0.65–1.10 `consistent`, below 0.65 `inconclusive`.",
    dependencies=[Depends(viewer)],
    responses={**ok(_REPORT, "The probe verdict."), **responses(415)},
)
async def probe_route(request: Request, body: ProbeIn) -> Any:
    return probe_body(context(request), body)


@router.post(
    "/fleet",
    summary="Verify a fleet (CSV)",
    description="A CSV body (`text/csv`): `serial, declared, claim` and per row a round trip "
    "(`landmark, lat, lon, rtt_ms[, nonce, signature]`) and/or a probe rate (`precision, tflops`).",
    dependencies=[Depends(viewer)],
    responses={
        **ok({"type": "array", "items": {"type": "object"}}, "One row per chip, the worst first."),
        **responses(415),
    },
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def fleet_route(request: Request) -> Any:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in ("text/csv", "text/plain"):
        raise ApiError(415, f"content type {media[:100]!r} is not accepted", hint="send text/csv")
    raw = await request.body()
    if len(raw) > MAX_FLEET_BYTES:
        raise ApiError(413, f"the fleet file is larger than {MAX_FLEET_BYTES:,} bytes", hint="split the fleet")
    ctx = context(request)
    text = decode(raw, "body")

    def run() -> list[dict[str, Any]]:
        chips = read_fleet(text, "body")
        keys = _keys(ctx) if any(c.signed for c in chips) else None
        return fleet_report(ctx.book, chips, keys=keys, day=ctx.today())

    return await run_in_threadpool(run)


@router.post(
    "/keys",
    summary="Bind a chip's Ed25519 public key to its serial",
    responses={**ok({"type": "object"}, "The registered key."), **responses(415)},
)
async def keys_route(request: Request, body: KeyIn, key: Annotated[ApiKey, Depends(admin)]) -> Any:
    ctx = context(request)
    return await run_in_threadpool(_keys(ctx).register, body.serial, body.public_key, by=key.owner, now=ctx.now())


@router.get(
    "/keys",
    summary="Chips with a registered key",
    dependencies=[Depends(viewer)],
    responses={**ok({"type": "array", "items": {"type": "object"}}, "Registered keys."), **responses()},
)
async def keys_list_route(request: Request) -> Any:
    rows = await run_in_threadpool(_keys(context(request)).registered)
    return [{k: v for k, v in row.items() if k != "public_key"} for row in rows]


@router.post(
    "/challenge",
    summary="A fresh nonce for a chip's host to sign",
    dependencies=[Depends(officer)],
    responses={**ok({"type": "object"}, "The challenge (valid ten minutes)."), **responses(415)},
)
async def challenge_route(request: Request, body: ChallengeIn) -> Any:
    ctx = context(request)
    return await run_in_threadpool(_keys(ctx).challenge, body.serial, now=ctx.now())
