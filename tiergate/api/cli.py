"""``tiergate serve`` and ``tiergate keys create|list|revoke``."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from tiergate.api.settings import DEFAULT_DB
from tiergate.console import Column, print_table
from tiergate.errors import InputError

if TYPE_CHECKING:
    from tiergate.ledger import Ledger

keys_app = typer.Typer(no_args_is_help=True, help="API keys of the HTTP API and dashboard (hashed at rest).")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DbOpt = Annotated[
    str,
    typer.Option(
        "--db", envvar="TIERGATE_DB", help="Ledger database URL: sqlite:///FILE (default) or postgresql://..."
    ),
]


def _who() -> str:
    return os.environ.get("TIERGATE_ACTOR") or os.environ.get("USER") or "tiergate"


def _ledger(db: str) -> Ledger:
    from tiergate.api.keys import init_keys
    from tiergate.ledger import Ledger

    ledger = Ledger(db)
    ledger.init()
    init_keys(ledger)
    return ledger


@keys_app.command("create")
def keys_create(
    owner: Annotated[str, typer.Option("--owner", help="Who holds the key (a name or e-mail address).")],
    role: Annotated[
        str,
        typer.Option(
            "--role", help="viewer (reads), officer (decides, ships), approver (also approves vault transfers), admin."
        ),
    ],
    expires: Annotated[
        str | None, typer.Option("--expires", help="Expiry: a date (YYYY-MM-DD, end of day UTC) or ISO date-time.")
    ] = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Create a key; its secret is printed once (only its hash is stored)."""
    from tiergate.api.keys import check_role, create_key

    check_role(role)
    expires_at = None
    if expires is not None:
        try:
            if len(expires) == 10:
                expires_at = dt.datetime.combine(dt.date.fromisoformat(expires), dt.time.max, tzinfo=dt.UTC)
            else:
                expires_at = dt.datetime.fromisoformat(expires)
        except ValueError:
            raise InputError(f"--expires: {expires!r} is not a date or date-time (YYYY-MM-DD)") from None
    ledger = _ledger(db)
    token, key = create_key(ledger, owner, role, who=_who(), expires_at=expires_at)
    ledger.close()
    err.print(f"created key {key.id} for {key.owner} ({key.role}); the secret is shown once:", markup=False)
    sys.stdout.write(token + "\n")


class KeysFormat(StrEnum):
    table = "table"
    json = "json"


@keys_app.command("list")
def keys_list(
    db: DbOpt = DEFAULT_DB,
    format: Annotated[KeysFormat, typer.Option("--format", help="table or json")] = KeysFormat.table,
) -> None:
    """Every key: id (whole, as `keys revoke` takes it), owner, role, state, dates. Never the secrets."""
    from tiergate.api.keys import list_keys

    ledger = _ledger(db)
    now = ledger.clock()
    keys = list_keys(ledger)
    ledger.close()
    if format == KeysFormat.json:
        rows = [
            {
                "id": key.id,
                "owner": key.owner,
                "role": key.role,
                "state": key.state(now),
                "created_at": key.created_at.isoformat(),
                "created_by": key.created_by,
                "expires_at": None if key.expires_at is None else key.expires_at.isoformat(),
                "revoked_at": None if key.revoked_at is None else key.revoked_at.isoformat(),
                "revoked_by": key.revoked_by,
            }
            for key in keys
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    print_table(
        out,
        f"API keys ({len(keys)})",
        [
            Column("id", key=True),
            "owner",
            Column("role", key=True),
            Column("state", key=True),
            "created",
            "expires",
            "revoked",
        ],
        (
            [
                key.id,
                key.owner,
                key.role,
                key.state(now),
                f"{key.created_at:%Y-%m-%d %H:%M} by {key.created_by}",
                "" if key.expires_at is None else f"{key.expires_at:%Y-%m-%d %H:%M}",
                "" if key.revoked_at is None else f"{key.revoked_at:%Y-%m-%d %H:%M} by {key.revoked_by}",
            ]
            for key in keys
        ),
    )


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `tiergate keys list`).")], db: DbOpt = DEFAULT_DB
) -> None:
    """Revoke a key for good (a running server stops accepting it within two seconds)."""
    from tiergate.api.keys import revoke_key

    ledger = _ledger(db)
    key = revoke_key(ledger, key_id, who=_who())
    ledger.close()
    out.print(f"key {key.id} of {key.owner} is revoked", markup=False)


def serve(
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for every interface: "
            "put TLS in front of it).",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    db: DbOpt = DEFAULT_DB,
    packs: Annotated[
        list[Path] | None, typer.Option("--packs", help="An extra folder of packs (with an optional regimes.yaml).")
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn's log level.")] = "info",
    lists: Annotated[
        str | None,
        typer.Option(
            "--lists",
            help="Restricted-party list store URL (default $TIERGATE_LISTS, else tiergate-lists.db beside a SQLite "
            "ledger, filled from the bundled lists on first use).",
        ),
    ] = None,
    max_list_age: Annotated[
        int | None,
        typer.Option(
            "--max-list-age",
            min=0,
            help="Warn when a list's data is older than this many days (default $TIERGATE_MAX_LIST_AGE, else 7).",
        ),
    ] = None,
    no_screening: Annotated[
        bool, typer.Option("--no-screening", help="Do not screen (no /v1/screen; consignees are not screened).")
    ] = False,
    usage: Annotated[
        Path | None, typer.Option("--usage", help="Usage records for monitoring (default: a generated sample).")
    ] = None,
    customers: Annotated[Path | None, typer.Option("--customers", help="Customers for --usage.")] = None,
    vault_shards: Annotated[
        Path | None,
        typer.Option("--vault-shards", help="Folder of the weight shards the vault's release route may hash."),
    ] = None,
    signing_key: Annotated[
        Path | None,
        typer.Option("--signing-key", help="The operator's Ed25519 key: the vault's checkpoints are signed with it."),
    ] = None,
) -> None:
    """Serve the HTTP API (/v1, OpenAPI at /openapi.json) and the dashboard (on 127.0.0.1 unless --host)."""
    import uvicorn

    from tiergate.api import Settings, create_app

    if (usage is None) != (customers is None):
        raise InputError("give --usage and --customers together (or neither, for the generated sample)")
    for option, path in (("--usage", usage), ("--customers", customers), ("--vault-shards", vault_shards)):
        if path is not None and not path.exists():
            raise InputError("no such file or folder", where=f"{option} {path}")
    settings = Settings(
        db=db,
        packs=tuple(packs or ()),
        lists=lists,
        max_list_age_days=max_list_age,
        screening=not no_screening,
        monitor_usage=usage,
        monitor_customers=customers,
        vault_shards=vault_shards,
        signing_key=signing_key,
    )
    app = create_app(settings)
    if not app.state.tiergate.has_keys():
        err.print(
            f"no active API key in {db}: create one with `tiergate keys create --owner NAME --role admin --db {db}`",
            markup=False,
        )
    lists_note = "screening off" if no_screening else f"lists {settings.lists_url()}"
    shown = f"[{host}]" if ":" in host else host
    err.print(f"Tiergate on http://{shown}:{port}/ (ledger {db}; {lists_note})", markup=False)
    import gc

    gc.collect()
    gc.freeze()  # the rulebook and catalogue live as long as the server: keep them out of every collection
    from tiergate.api.server import server_config

    uvicorn.Server(server_config(app, settings, host=host, port=port, log_level=log_level)).run()
