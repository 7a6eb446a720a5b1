"""The vault's inputs, validated (pydantic) with errors that name the file and the field: artefacts, data centres,
transfer requests and approver names."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from tiergate.errors import InputError
from tiergate.interchange import Country, validation_error

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,199}$"
NAME = re.compile(r"^[\w.@+\- ]{1,100}$")
"""An approver's or requester's name: as an API key's owner is written (so that HTTP keys match the set)."""
MAX_SHARDS = 100_000

Ops = Annotated[float, Field(strict=True, ge=0, le=1e40, allow_inf_nan=False)]
Ident = Annotated[str, Field(pattern=ID_PATTERN)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ShardIn(_In):
    sha256: Annotated[
        str, Field(pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256 of the shard file's bytes, 64 hex digits.")
    ]
    bytes: Annotated[int, Field(strict=True, gt=0, le=1 << 50)]


class ArtefactIn(_In):
    """A checkpoint of model weights to register: ``training_ops`` are this stage's operations (pre-training, or
    the fine-tune on ``base``); the vault adds the base's."""

    id: Ident
    name: Annotated[str, Field(min_length=1, max_length=200)]
    training_ops: Ops
    open_weights: StrictBool
    base: Ident | None = None
    shards: Annotated[list[ShardIn], Field(min_length=1, max_length=MAX_SHARDS)]


class AttestationIn(_In):
    fedramp_high_equivalent: StrictBool
    dedicated_devices: StrictBool
    attested_by: Annotated[str | None, Field(max_length=200)] = None
    attested_on: dt.date | None = None


class DataCentreIn(_In):
    id: Ident
    name: Annotated[str, Field(min_length=1, max_length=200)]
    country: Country
    operator: Annotated[str, Field(min_length=1, max_length=200)]
    veu: Literal["UVEU", "NVEU"] | None = None
    attestation: AttestationIn | None = None


class TransferIn(_In):
    artefact: Ident
    destination: Country
    recipient: Annotated[str, Field(min_length=1, max_length=300)]
    recipient_headquarters: Country
    parent_headquarters: Country | None = None
    data_centre: Ident | None = None
    requester: Annotated[str, Field(min_length=1, max_length=100)]
    regime: Annotated[str | None, Field(max_length=100)] = None
    export_from: Country = "US"


def parse(model: type[_In], data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object, not {type(data).__name__}", where=where)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise validation_error(error, where) from None


def person(name: str, field: str) -> str:
    """An approver's or requester's name, stripped; refused unless it is 1-100 letters, digits, spaces or . @ + - _."""
    cleaned = name.strip()
    if not NAME.match(cleaned):
        raise InputError(
            f"{field}: {cleaned[:120]!r} is not a name",
            hint="1 to 100 letters, digits, spaces or . @ + - _ (as an API key's owner is written)",
        )
    return cleaned


def approver_list(text: str | list[str]) -> tuple[str, ...]:
    """``NAME,NAME,...`` (or a list) as distinct names; the same name twice (in any case) is refused."""
    names = [n for n in (text.split(",") if isinstance(text, str) else text)]
    found: list[str] = []
    seen: set[str] = set()
    for raw in names:
        if not raw.strip():
            raise InputError("--approvers: an empty name", hint="NAME,NAME,... without empty items")
        name = person(raw, "--approvers")
        if name.casefold() in seen:
            raise InputError(f"--approvers: {name!r} is named twice", hint="each approver is one identity, named once")
        seen.add(name.casefold())
        found.append(name)
    if not found:
        raise InputError("--approvers: no approver named", hint="NAME,NAME,...")
    return tuple(found)


def hours(value: float, field: str) -> dt.timedelta:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not value == value
        or not 0 < value <= 24 * 3650
    ):
        raise InputError(f"{field}: {value!r} is not a number of hours between 0 and 87600", hint="e.g. 24")
    return dt.timedelta(hours=float(value))
