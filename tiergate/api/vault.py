"""``/v1/vault``: the model-weight vault over HTTP. The requester of a transfer and the approver of a request are
the API key's owner, never a field of the body; approving needs the ``approver`` role (and the vault's approver
set must name the key's owner)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from tiergate.api.auth import admin, context, officer, require, viewer
from tiergate.api.context import ApiContext
from tiergate.api.errors import ApiError, responses
from tiergate.api.keys import ApiKey, acting_as
from tiergate.api.schemas import ok
from tiergate.errors import TiergateError
from tiergate.interchange import Country
from tiergate.vault.inputs import ID_PATTERN, ArtefactIn, DataCentreIn
from tiergate.vault.screening import ScreeningUnavailable, from_server
from tiergate.vault.store import NotAnApprover, NotFound, Outcome, Vault, VaultError

router = APIRouter(prefix="/v1/vault", tags=["vault"])
approver = require("approver", "approve vault requests")

RequestId = Annotated[str, PathParam(max_length=20, pattern=r"^R-\d{6}$", description="A request's id (R-000001).")]
ArtefactId = Annotated[str, PathParam(max_length=200, pattern=ID_PATTERN, description="An artefact's id.")]
_OBJECT = {"type": "object"}
_ARRAY = {"type": "array", "items": {"type": "object"}}


class TransferBody(BaseModel):
    """A transfer request; the requester is the key's owner."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    artefact: Annotated[str, Field(pattern=ID_PATTERN)]
    destination: Country
    recipient: Annotated[str, Field(min_length=1, max_length=300)]
    recipient_headquarters: Country
    parent_headquarters: Country | None = None
    data_centre: Annotated[str | None, Field(pattern=ID_PATTERN)] = None
    regime: Annotated[str | None, Field(max_length=100)] = None
    export_from: Country = "US"


class ReleaseBody(BaseModel):
    """Where the shards are: a folder under the server's shard storage (``--vault-shards``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    shards: Annotated[str, Field(min_length=1, max_length=1000, description="A folder, relative to the storage.")]


class ApproversBody(BaseModel):
    """A new approver set; it takes effect once K approvers of the current set approve it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    approvers: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(min_length=1, max_length=50)]
    threshold: Annotated[int, Field(strict=True, ge=1, le=50)]
    ttl_hours: Annotated[float | None, Field(gt=0, le=87_600, allow_inf_nan=False)] = None
    request_ttl_hours: Annotated[float | None, Field(gt=0, le=87_600, allow_inf_nan=False)] = None


def vault_of(ctx: ApiContext, key: ApiKey | None = None) -> Vault:
    """The vault in the server's database, acting as the key's owner; a 404 while the database holds none."""
    vault = Vault(ledger=acting_as(ctx.ledger, key.owner) if key else ctx.ledger, book=ctx.book)
    try:
        vault.check()
    except VaultError as error:
        raise ApiError(
            404, "this server's database holds no vault", hint="run `tiergate vault init --db URL`"
        ) from error
    return vault


def _answer(run: Any) -> Any:
    """Run a vault operation; its errors in the one error shape (404 unknown, 409 refused state, 422 input)."""
    try:
        return run()
    except NotFound as error:
        raise ApiError(404, error.message, where=error.where, hint=error.hint) from None
    except NotAnApprover as error:
        raise ApiError(403, error.message, where=error.where, hint=error.hint) from None
    except ScreeningUnavailable as error:
        raise ApiError(409, error.message, where=error.where, hint=error.hint) from None
    except VaultError as error:
        raise ApiError(409, error.message, where=error.where, hint=error.hint) from None
    except TiergateError as error:
        if error.exit_code == 1:
            raise ApiError(409, error.message, where=error.where, hint=error.hint) from None
        raise


def _outcome(outcome: Outcome) -> dict[str, Any]:
    return {**outcome.view, "refused": outcome.refused, "log_index": outcome.log_index}


@router.get(
    "",
    summary="The vault",
    description="The vault's regime, approver set, log size and latest signed checkpoint.",
    responses={**ok(_OBJECT, "The vault."), **responses(404)},
)
def get_vault(request: Request, key: Annotated[ApiKey, Depends(viewer)]) -> dict[str, Any]:
    ctx = context(request)
    result: dict[str, Any] = ctx.read(lambda: vault_of(ctx).summary())
    return result


@router.get(
    "/artefacts",
    summary="Registered artefacts",
    responses={**ok(_ARRAY, "Every artefact with its ECCN and Merkle root."), **responses(404)},
)
def get_artefacts(request: Request, key: Annotated[ApiKey, Depends(viewer)]) -> list[dict[str, Any]]:
    ctx = context(request)
    return [a.to_dict() for a in ctx.read(lambda: vault_of(ctx).artefacts())]


@router.get(
    "/artefacts/{artefact_id}",
    summary="One artefact",
    responses={**ok(_OBJECT, "The artefact, its ECCN with why, its shards and root."), **responses(404)},
)
def get_artefact(request: Request, artefact_id: ArtefactId, key: Annotated[ApiKey, Depends(viewer)]) -> dict[str, Any]:
    ctx = context(request)
    found: dict[str, Any] = _answer(lambda: vault_of(ctx).artefact(artefact_id).to_dict())
    return found


@router.post(
    "/artefacts",
    summary="Register an artefact",
    description="Classify a model checkpoint (4E091 or not_controlled, with why; training operations add up along "
    "`base`) and record its shards' Merkle root. Entered in the vault's log.",
    status_code=201,
    responses={
        201: {"description": "Registered.", "content": {"application/json": {"schema": _OBJECT}}},
        **responses(404, 409),
    },
)
def post_artefact(
    request: Request,
    body: ArtefactIn,
    key: Annotated[ApiKey, Depends(officer)],
    regime: Annotated[str | None, Query(max_length=100, description="Classify under this regime.")] = None,
) -> dict[str, Any]:
    ctx = context(request)
    found: dict[str, Any] = _answer(
        lambda: vault_of(ctx, key).register(body.model_dump(), regime=regime, where="body").to_dict()
    )
    return found


@router.get(
    "/datacentres",
    summary="Registered data centres",
    responses={**ok(_ARRAY, "Every data centre with its attestation."), **responses(404)},
)
def get_datacentres(request: Request, key: Annotated[ApiKey, Depends(viewer)]) -> list[dict[str, Any]]:
    ctx = context(request)
    return [c.to_dict() for c in ctx.read(lambda: vault_of(ctx).datacentres())]


@router.post(
    "/datacentres",
    summary="Register a data centre",
    description="A recipient's data centre with its operator's attestation (FedRAMP High-equivalent baseline, "
    "dedicated devices). An attested UVEU location opens the Tier 2 path, so this needs the admin role.",
    status_code=201,
    responses={
        201: {"description": "Registered.", "content": {"application/json": {"schema": _OBJECT}}},
        **responses(404, 409),
    },
)
def post_datacentre(request: Request, body: DataCentreIn, key: Annotated[ApiKey, Depends(admin)]) -> dict[str, Any]:
    ctx = context(request)
    found: dict[str, Any] = _answer(
        lambda: vault_of(ctx, key).add_datacentre(body.model_dump(mode="json"), where="body").to_dict()
    )
    return found


@router.post(
    "/requests",
    summary="Request a transfer",
    description="The requester is the key's owner. Answered `denied` (Tier 3 floor, screening), `license_required` "
    "or `pending` approvals, with why. Entered in the vault's log.",
    status_code=201,
    responses={
        201: {"description": "The request.", "content": {"application/json": {"schema": _OBJECT}}},
        **responses(404, 409),
    },
)
def post_request(request: Request, body: TransferBody, key: Annotated[ApiKey, Depends(officer)]) -> dict[str, Any]:
    ctx = context(request)
    data = {**body.model_dump(), "requester": key.owner}
    screen = from_server(ctx.screening())
    found: dict[str, Any] = _answer(lambda: _outcome(vault_of(ctx, key).request(data, screen, where="body")))
    return found


@router.get(
    "/requests",
    summary="Requests",
    responses={**ok(_ARRAY, "The latest requests, newest first, each with its status now."), **responses(404)},
)
def get_requests(
    request: Request,
    key: Annotated[ApiKey, Depends(viewer)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    ctx = context(request)
    found: list[dict[str, Any]] = ctx.read(lambda: vault_of(ctx).requests(limit))
    return found


@router.get(
    "/requests/{request_id}",
    summary="A request's status",
    responses={
        **ok(_OBJECT, "Its status now, the approvals that count and those that do not, with why."),
        **responses(404),
    },
)
def get_request(request: Request, request_id: RequestId, key: Annotated[ApiKey, Depends(viewer)]) -> dict[str, Any]:
    ctx = context(request)
    found: dict[str, Any] = _answer(lambda: vault_of(ctx).status(request_id))
    return found


@router.post(
    "/requests/{request_id}/approve",
    summary="Approve a request",
    description="The approver is the key's owner, who must be in the vault's approver set. An approval that does not "
    "count (the requester's, a second one, one on a refused or closed request) is logged as a refusal: "
    "`refused: true`.",
    responses={**ok(_OBJECT, "The request after the approval."), **responses(403, 404, 409)},
)
def post_approve(request: Request, request_id: RequestId, key: Annotated[ApiKey, Depends(approver)]) -> dict[str, Any]:
    ctx = context(request)
    found: dict[str, Any] = _answer(lambda: _outcome(vault_of(ctx, key).approve(request_id, key.owner)))
    return found


@router.post(
    "/requests/{request_id}/release",
    summary="Release an eligible transfer",
    description="Screens the recipient again and recomputes every shard's hash, in a folder under the server's shard "
    "storage, against the registered Merkle root. A blocked release is logged: `refused: true`.",
    responses={**ok(_OBJECT, "The request after the release (or the refusal)."), **responses(404, 409)},
)
def post_release(
    request: Request, request_id: RequestId, body: ReleaseBody, key: Annotated[ApiKey, Depends(officer)]
) -> dict[str, Any]:
    ctx = context(request)
    root = ctx.settings.vault_shards
    if root is None:
        raise ApiError(
            409,
            "this server has no shard storage to hash",
            hint="start it with --vault-shards DIR, or release with `tiergate vault release`",
        )
    base = Path(root).resolve()
    folder = (base / body.shards).resolve()
    if folder != base and base not in folder.parents:
        raise ApiError(422, "shards: the folder is outside the server's shard storage", where="body")
    if not folder.is_dir():
        raise ApiError(422, f"shards: no folder {body.shards!r} in the server's shard storage", where="body")
    screen = from_server(ctx.screening())
    found: dict[str, Any] = _answer(lambda: _outcome(vault_of(ctx, key).release(request_id, folder, screen)))
    found.get("shards", {}).pop("folder", None)  # where the server keeps shards is no client's business
    return found


@router.post(
    "/approvers",
    summary="Propose a new approver set",
    description="It takes effect once K approvers of the current set approve it "
    "(`POST /v1/vault/requests/{id}/approve`).",
    status_code=201,
    responses={
        201: {"description": "The proposal.", "content": {"application/json": {"schema": _OBJECT}}},
        **responses(404, 409),
    },
)
def post_approvers(request: Request, body: ApproversBody, key: Annotated[ApiKey, Depends(admin)]) -> dict[str, Any]:
    ctx = context(request)
    vault = vault_of(ctx, key)
    found: dict[str, Any] = _answer(
        lambda: _outcome(
            vault.init(
                body.approvers,
                body.threshold,
                approval_ttl_hours=body.ttl_hours,
                request_ttl_hours=body.request_ttl_hours,
                requester=key.owner,
            )
        )
    )
    return found


# ---------------------------------------------------------------- the log


def trusted_key(ctx: ApiContext) -> tuple[Any, str | None]:
    path = ctx.settings.signing_key
    if path is None or not Path(path).exists():
        return None, None
    from tiergate.signing import key_id, load_public_key

    found = load_public_key(Path(path))
    return found, f"key {key_id(found)} of the server's signing key"


@router.get(
    "/log/verify",
    summary="Verify the log",
    description="Every entry and checkpoint checked; `ok: false` with each problem, naming the entry, when one was "
    "edited, deleted, reordered or truncated after a checkpoint.",
    responses={**ok(_OBJECT, "The verification."), **responses(404)},
)
def get_verify(request: Request, key: Annotated[ApiKey, Depends(viewer)]) -> dict[str, Any]:
    ctx = context(request)
    trusted, trust = trusted_key(ctx)
    found: dict[str, Any] = ctx.read(lambda: vault_of(ctx).verify(trusted, trust=trust).to_dict())
    return found


@router.post(
    "/log/checkpoint",
    summary="Sign a checkpoint",
    description="Signs the log's current root with the server's key, after checking that the log extends every "
    "earlier checkpoint (a tampered log is refused, 409).",
    responses={**ok(_OBJECT, "The signed checkpoint: keep it outside the database."), **responses(404, 409)},
)
def post_checkpoint(request: Request, key: Annotated[ApiKey, Depends(admin)]) -> dict[str, Any]:
    ctx = context(request)
    path = ctx.settings.signing_key
    if path is None:
        raise ApiError(409, "this server has no signing key", hint="start it with --signing-key FILE")
    from tiergate.signing import load_signing_key

    signing = load_signing_key(Path(path))
    found: dict[str, Any] = _answer(lambda: vault_of(ctx, key).checkpoint(signing).to_dict())
    return found


@router.get(
    "/log/entries",
    summary="Log entries",
    responses={**ok(_ARRAY, "Entries as written, with their leaf hashes."), **responses(404)},
)
def get_entries(
    request: Request,
    key: Annotated[ApiKey, Depends(viewer)],
    start: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[dict[str, Any]]:
    ctx = context(request)
    found: list[dict[str, Any]] = ctx.read(lambda: vault_of(ctx).log_entries(start, limit))
    return found


def _checked(bundle: dict[str, Any], check: Any, trusted: Any) -> dict[str, Any]:
    from tiergate.vault.proofs import ProofError

    try:
        check(bundle, trusted)
        return {**bundle, "verified": True, "problem": None}
    except ProofError as error:
        return {**bundle, "verified": False, "problem": str(error)}


@router.get(
    "/log/proofs/inclusion/{entry}",
    summary="Inclusion proof of an entry",
    description="The bundle an auditor checks offline (`tiergate vault log check FILE`), under the latest signed "
    "checkpoint covering the entry (or the one of `size`); `verified` says whether it holds now.",
    responses={**ok(_OBJECT, "The proof bundle."), **responses(404, 409)},
)
def get_inclusion(
    request: Request,
    entry: Annotated[int, PathParam(ge=0, le=2**31 - 1)],
    key: Annotated[ApiKey, Depends(viewer)],
    size: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> dict[str, Any]:
    from tiergate.vault.proofs import check_inclusion

    ctx = context(request)
    trusted, _ = trusted_key(ctx)
    bundle: dict[str, Any] = _answer(lambda: vault_of(ctx).prove(entry, size))
    return _checked(bundle, check_inclusion, trusted)


@router.get(
    "/log/proofs/consistency",
    summary="Consistency proof between two sizes",
    description="That the log of `old` entries (a signed checkpoint's size) is a prefix of the log of `new` "
    "(default: now); `verified` says whether it holds.",
    responses={**ok(_OBJECT, "The proof bundle."), **responses(404, 409)},
)
def get_consistency(
    request: Request,
    key: Annotated[ApiKey, Depends(viewer)],
    old: Annotated[int, Query(ge=0, le=2**31 - 1)],
    new: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
) -> dict[str, Any]:
    from tiergate.vault.proofs import check_consistency

    ctx = context(request)
    trusted, _ = trusted_key(ctx)
    bundle: dict[str, Any] = _answer(lambda: vault_of(ctx).consistency(old, new))
    return _checked(bundle, check_consistency, trusted)
