"""``tiergate vault ...``: the model-weight vault on the command line. Every command prints JSON on standard output.

Exit codes: 0 done; 2 bad input or an unusable database, nothing written; 3 the vault refused (an approval that
does not count, a release that is blocked), written to the log; 1 the log does not verify, or a proof does not
hold. The command line trusts its operator (who holds the database): ``--approver`` names the approver. Over
HTTP the approver is the API key's owner.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from tiergate.errors import InputError

if TYPE_CHECKING:
    from tiergate.vault.store import Outcome, Vault

vault_app = typer.Typer(
    no_args_is_help=True,
    help="Model-weight vault: classified checkpoints, k-of-n transfer approvals, nothing to Tier 3, a verifiable log.",
)
log_app = typer.Typer(no_args_is_help=True, help="The vault's Merkle log: verify, sign checkpoints, prove entries.")
datacentre_app = typer.Typer(no_args_is_help=True, help="Recipients' data centres and their storage attestations.")
vault_app.add_typer(log_app, name="log")
vault_app.add_typer(datacentre_app, name="datacentre")

DEFAULT_DB = "sqlite:///tiergate-ledger.db"
REFUSED = 3


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


clock = _now
"""The vault's clock (tests replace it)."""

DbOpt = Annotated[
    str,
    typer.Option(
        "--db", envvar="TIERGATE_DB", help="Database URL (the ledger's): sqlite:///FILE (default) or postgresql://..."
    ),
]
ListsOpt = Annotated[
    str | None,
    typer.Option(
        "--lists",
        envvar="TIERGATE_LISTS",
        help="Restricted-party list store the recipient is screened against (default tiergate-lists.db here, "
        "filled from the bundled lists on first use).",
    ),
]
RegimeOpt = Annotated[
    str | None,
    typer.Option("--regime", help="Classify or decide under this regime (default: the vault's, us-diffusion-2025)."),
]
KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--signing-key",
        help="The operator's Ed25519 key (PEM); default $TIERGATE_SIGNING_KEY, else "
        "~/.config/tiergate/signing-ed25519.pem.",
    ),
]
PublicKeyOpt = Annotated[
    Path | None,
    typer.Option("--public-key", help="The operator's public key (or key file) to check checkpoints against."),
]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Also write the JSON to this file (whole or not at all).")]


def _emit(value: Any, out: Path | None = None) -> None:
    text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n"
    if out is not None:
        from tiergate.batch import atomic_output

        with atomic_output(out, "w") as handle:
            handle.write(text)
    sys.stdout.write(text)


def _vault(db: str) -> Vault:
    from tiergate.vault.store import Vault

    return Vault(db, clock=lambda: clock())


def _read_json(file: Path) -> Any:
    try:
        return orjson.loads(file.read_bytes())
    except FileNotFoundError:
        raise InputError("no such file", where=str(file)) from None
    except IsADirectoryError:
        raise InputError("a folder, not a JSON file", where=str(file)) from None
    except orjson.JSONDecodeError as error:
        raise InputError(
            f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})", where=str(file)
        ) from None


def _finish(outcome: Outcome) -> None:
    _emit(outcome.view)
    if outcome.refused:
        raise typer.Exit(REFUSED)


@vault_app.command("init")
def init_cmd(
    approvers: Annotated[str, typer.Option("--approvers", help="The approver set: NAME,NAME,...")],
    threshold: Annotated[int, typer.Option("--threshold", help="K: approvals needed of the set.")],
    ttl: Annotated[float | None, typer.Option("--ttl", help="Hours an approval stays valid (default 24).")] = None,
    request_ttl: Annotated[
        float | None, typer.Option("--request-ttl", help="Hours a request stays open (default 168).")
    ] = None,
    regime: RegimeOpt = None,
    requester: Annotated[
        str | None, typer.Option("--requester", help="Who sets the vault up or proposes the change (default $USER).")
    ] = None,
    signing_key: KeyOpt = None,
    create_key: Annotated[
        bool, typer.Option("--create-key", help="Create the signing key if it does not exist.")
    ] = False,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Set the vault up with its approver set (K of N). On a vault already set up: propose a new set, which takes
    effect once K approvers of the current set approve it (`tiergate vault approve REQUEST --approver NAME`)."""
    from tiergate.signing import key_path, load_signing_key, public_key_pem

    path = key_path(signing_key)
    public = None
    if create_key or path.exists():
        public = public_key_pem(load_signing_key(path, create=create_key))
    vault = _vault(db)
    try:
        outcome = vault.init(
            approvers,
            threshold,
            approval_ttl_hours=ttl,
            request_ttl_hours=request_ttl,
            regime=regime,
            public_key=public,
            requester=requester,
        )
    finally:
        vault.close()
    _finish(outcome)


@vault_app.command("register")
def register_cmd(
    file: Annotated[
        Path, typer.Argument(help='Artefact JSON: {"id", "name", "training_ops", "open_weights", "base", "shards"}.')
    ],
    regime: RegimeOpt = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Register a model checkpoint: its ECCN (4E091 or not_controlled, with why) and the Merkle root of its shards.
    Training operations add up along `base` (a fine-tune counts its base's)."""
    data = _read_json(file)
    vault = _vault(db)
    try:
        artefact = vault.register(data, regime=regime, where=str(file))
    finally:
        vault.close()
    _emit(artefact.to_dict())


@datacentre_app.command("add")
def datacentre_add(
    file: Annotated[
        Path,
        typer.Argument(
            help='Data centre JSON: {"id", "name", "country", "operator", "veu", "attestation": '
            '{"fedramp_high_equivalent", "dedicated_devices", "attested_by", "attested_on"}}.'
        ),
    ],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Register a recipient's data centre with its operator's attestation of the storage conditions."""
    data = _read_json(file)
    vault = _vault(db)
    try:
        centre = vault.add_datacentre(data, where=str(file))
    finally:
        vault.close()
    _emit(centre.to_dict())


@datacentre_app.command("list")
def datacentre_list(db: DbOpt = DEFAULT_DB) -> None:
    """Every registered data centre."""
    vault = _vault(db)
    try:
        found = vault.datacentres()
    finally:
        vault.close()
    _emit([c.to_dict() for c in found])


@vault_app.command("request")
def request_cmd(
    artefact: Annotated[str, typer.Argument(help="The artefact's id.")],
    destination: Annotated[str, typer.Option("--destination", help="Destination country (ISO alpha-2).")],
    recipient: Annotated[str, typer.Option("--recipient", help="The recipient's name (screened).")],
    recipient_headquarters: Annotated[
        str, typer.Option("--recipient-headquarters", help="Where the recipient is headquartered (ISO alpha-2).")
    ],
    requester: Annotated[str, typer.Option("--requester", help="Who asks for the transfer (cannot approve it).")],
    parent_headquarters: Annotated[
        str | None, typer.Option("--parent-headquarters", help="Where its ultimate parent is headquartered.")
    ] = None,
    data_centre: Annotated[
        str | None, typer.Option("--data-centre", help="The recipient's registered data centre (its id).")
    ] = None,
    export_from: Annotated[str, typer.Option("--export-from", help="Where the weights are now.")] = "US",
    regime: RegimeOpt = None,
    lists: ListsOpt = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Ask to transfer an artefact: denied (Tier 3 floor, screening), license_required, or pending approvals."""
    from tiergate.vault.screening import from_lists

    vault = _vault(db)
    try:
        outcome = vault.request(
            {
                "artefact": artefact,
                "destination": destination,
                "recipient": recipient,
                "recipient_headquarters": recipient_headquarters,
                "parent_headquarters": parent_headquarters,
                "data_centre": data_centre,
                "requester": requester,
                "regime": regime,
                "export_from": export_from,
            },
            from_lists(lists),
            where="request",
        )
    finally:
        vault.close()
    _finish(outcome)


@vault_app.command("approve")
def approve_cmd(
    request: Annotated[str, typer.Argument(help="The request's id (R-000001).")],
    approver: Annotated[str, typer.Option("--approver", help="The approver (a name of the approver set).")],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Approve a transfer or a change of the approver set. Exit 3 when the approval does not count (the
    requester's, a second one, one on a refused or closed request): it is logged as a refusal."""
    vault = _vault(db)
    try:
        outcome = vault.approve(request, approver)
    finally:
        vault.close()
    _finish(outcome)


@vault_app.command("status")
def status_cmd(
    request: Annotated[
        str | None, typer.Argument(help="A request's id; without it, the vault and its requests.")
    ] = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """A request's status now (approvals counted and not, with why), or the vault's summary and latest requests."""
    vault = _vault(db)
    try:
        if request is not None:
            _emit(vault.status(request))
            return
        summary = vault.summary()
        summary["artefacts"] = [
            {"id": a.id, "eccn": a.eccn, "training_ops": a.training_ops, "merkle_root": a.merkle_root}
            for a in vault.artefacts()
        ]
        summary["requests"] = [
            {k: r[k] for k in ("request", "kind", "status", "reason", "created_at")} for r in vault.requests(50)
        ]
        _emit(summary)
    finally:
        vault.close()


@vault_app.command("release")
def release_cmd(
    request: Annotated[str, typer.Argument(help="The request's id.")],
    shards: Annotated[Path, typer.Option("--shards", help="The folder holding the artefact's shard files.")],
    lists: ListsOpt = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Release an eligible transfer: screen the recipient again and recompute every shard's hash against the
    registered Merkle root. Exit 3 when blocked (logged: not_eligible, screening_hit, hash_mismatch)."""
    from tiergate.vault.screening import from_lists

    vault = _vault(db)
    try:
        outcome = vault.release(request, shards, from_lists(lists))
    finally:
        vault.close()
    _finish(outcome)


# ---------------------------------------------------------------- the log


def _trusted(public_key: Path | None) -> tuple[Any, str | None]:
    from tiergate.signing import key_id, key_path, load_public_key

    if public_key is not None:
        found = load_public_key(public_key)
        return found, f"key {key_id(found)} from {public_key}"
    path = key_path(None)
    if path.exists():
        found = load_public_key(path)
        return found, f"key {key_id(found)} of the signing key at {path}"
    return None, None


@log_app.command("verify")
def log_verify(
    public_key: PublicKeyOpt = None,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint", help="A checkpoint kept outside the database; the log must extend it. Repeatable."
        ),
    ] = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Check every entry and checkpoint. Exit 1, naming the entry, when one was edited, deleted, reordered or
    truncated after a checkpoint."""
    from tiergate.signing import Checkpoint

    trusted, trust = _trusted(public_key)
    external = []
    for path in checkpoint or []:
        try:
            text = path.read_text()
        except OSError as error:
            raise InputError(f"cannot read ({error.strerror})", where=str(path)) from None
        external.append((str(path), Checkpoint.from_json(text, where=str(path))))
    vault = _vault(db)
    try:
        verification = vault.verify(trusted, trust=trust, external=external)
    finally:
        vault.close()
    _emit(verification.to_dict())
    if not verification.ok:
        from tiergate.vault.store import LogTampered

        raise LogTampered(verification)


@log_app.command("checkpoint")
def log_checkpoint(
    signing_key: KeyOpt = None,
    create_key: Annotated[
        bool, typer.Option("--create-key", help="Create the signing key if it does not exist.")
    ] = False,
    out: OutOpt = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Sign the log's current root (after checking that it extends every earlier checkpoint). Keep the printed
    checkpoint outside the database: `log verify --checkpoint FILE` later proves the log only grew."""
    from tiergate.signing import key_path, load_signing_key

    key = load_signing_key(key_path(signing_key), create=create_key)
    vault = _vault(db)
    try:
        signed = vault.checkpoint(key)
    finally:
        vault.close()
    _emit(signed.to_dict(), out)


@log_app.command("prove")
def log_prove(
    entry: Annotated[int, typer.Argument(help="The entry's index.")],
    size: Annotated[int | None, typer.Option("--size", help="Prove against the checkpoint of this size.")] = None,
    out: OutOpt = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """An inclusion proof of one entry under a signed checkpoint, checkable offline (`vault log check FILE`).
    Exit 1 when the entry no longer proves (it was altered after the checkpoint)."""
    from tiergate.vault.proofs import check_inclusion

    vault = _vault(db)
    try:
        bundle = vault.prove(entry, size)
    finally:
        vault.close()
    _emit(bundle, out)
    check_inclusion(bundle)


@log_app.command("consistency")
def log_consistency(
    old: Annotated[int, typer.Argument(help="The size of a signed checkpoint.")],
    new: Annotated[int | None, typer.Argument(help="A later size (default: the log's current size).")] = None,
    out: OutOpt = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """A consistency proof that the log of OLD entries is a prefix of the log of NEW, checkable offline. Exit 1
    when it is not (an entry covered by the OLD checkpoint was altered, removed or reordered)."""
    from tiergate.vault.proofs import check_consistency

    vault = _vault(db)
    try:
        bundle = vault.consistency(old, new)
    finally:
        vault.close()
    _emit(bundle, out)
    check_consistency(bundle)


@log_app.command("check")
def log_check(
    file: Annotated[Path, typer.Argument(help="A proof bundle written by `vault log prove|consistency --out`.")],
    public_key: PublicKeyOpt = None,
) -> None:
    """Check a proof bundle offline, without the database. Exit 1 when it does not hold."""
    from tiergate.signing import key_id, load_public_key
    from tiergate.vault.proofs import check_file

    trusted = load_public_key(public_key) if public_key is not None else None
    summary = check_file(file, trusted)
    summary["trust"] = (
        f"key {key_id(trusted)} from {public_key}"
        if trusted is not None
        else "the key named in the checkpoint (pass --public-key to check who signed)"
    )
    _emit(summary)


@log_app.command("entries")
def log_entries(
    start: Annotated[int, typer.Option("--from", min=0, help="First entry.")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000, help="At most this many.")] = 100,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Log entries as written (decoded JSON with their leaf hash)."""
    vault = _vault(db)
    try:
        found = vault.log_entries(start, limit)
    finally:
        vault.close()
    _emit(found)
