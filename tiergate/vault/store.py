"""The vault in a database: the ledger's (SQLite file by default, PostgreSQL by URL), tables ``vault_*``.

Every operation is one write transaction that first takes the log's head row, so operations are serialised and
each writes its rows and its log entries together or not at all. Input is validated before anything is written:
an unknown artefact or request, a malformed hash, a negative or NaN operations count or a name outside the
approver set is an error with nothing written. What the policy refuses (an approval that does not count, a
release that is blocked) is written: it is an entry of the log, and the answer says ``refused``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from tiergate.database import schema_revision
from tiergate.errors import InputError, TiergateError
from tiergate.interchange import decision_to_dict
from tiergate.ledger.store import WRITE_OPTION, Ledger
from tiergate.rules import Rulebook
from tiergate.rules.ruleset import Ruleset
from tiergate.signing import Checkpoint, key_id, public_key_pem, sign_checkpoint
from tiergate.vault import log as vlog
from tiergate.vault import policy
from tiergate.vault.inputs import ArtefactIn, DataCentreIn, TransferIn, approver_list, hours, parse, person
from tiergate.vault.model import (
    Approval,
    ApproverSet,
    Artefact,
    DataCentre,
    Proposal,
    Request,
    ScreeningResult,
    Shard,
    Status,
)
from tiergate.vault.proofs import consistency_bundle, inclusion_bundle
from tiergate.vault.schema import (
    VERSION_TABLE,
    approvals,
    approver_sets,
    artefacts,
    checkpoints,
    config,
    datacentres,
    log_head,
    requests,
)
from tiergate.vault.screening import Screen
from tiergate.vault.shards import ShardCheck, check_folder, shards_root

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD_REVISION = "vault0001"
KNOWN_REVISIONS = ("vault0001",)
DEFAULT_APPROVAL_TTL = dt.timedelta(hours=24)
DEFAULT_REQUEST_TTL = dt.timedelta(days=7)


class VaultError(TiergateError):
    """A vault operation that cannot be done as asked; nothing was changed."""


class NotFound(VaultError):
    """No artefact, request, data centre or log entry by that id; nothing was changed."""


class NotAnApprover(VaultError):
    """A name outside the approver set in force; nothing was changed."""


class LogTampered(TiergateError):
    """The log does not verify: an entry or checkpoint was altered, removed, reordered or truncated."""

    exit_code = 1

    def __init__(self, verification: vlog.Verification, message: str | None = None) -> None:
        self.verification = verification
        first = verification.problems[0] if verification.problems else None
        text = message or "the vault's log does not verify"
        if first is not None:
            text += f": {first.problem}"
            if len(verification.problems) > 1:
                text += f" (and {len(verification.problems) - 1} more problem(s))"
        super().__init__(text, hint="run `tiergate vault log verify` for every problem")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an operation did: its answer (``view``), whether the policy refused it, and its log entry."""

    view: dict[str, Any]
    refused: bool = False
    log_index: int | None = None


class Vault:
    """The model-weight vault: registry, requests, approvals, releases and the Merkle log, in one database."""

    def __init__(
        self,
        url: str | None = None,
        *,
        actor: str | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        book: Rulebook | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        """A vault in the database at ``url``, or in the database of ``ledger`` (sharing its connections, its clock
        and its actor: a server passes its ledger)."""
        if ledger is None:
            if url is None:
                raise ValueError("a vault needs a database URL or a ledger")
            ledger = Ledger(url, actor=actor, clock=clock or _utcnow)
        self.ledger = ledger
        self.url = ledger.url
        self.clock = clock or ledger.clock
        self._book = book
        self._ready = False

    @property
    def actor(self) -> str:
        return self.ledger.actor

    @property
    def book(self) -> Rulebook:
        if self._book is None:
            from tiergate.rules import load_rulebook

            self._book = load_rulebook()
        return self._book

    def now(self) -> dt.datetime:
        """The clock's time in UTC (SQLite keeps times without their zone: they are always written in UTC)."""
        moment = _aware(self.clock())
        assert moment is not None
        return moment.astimezone(dt.UTC)

    def close(self) -> None:
        self.ledger.close()

    # ------------------------------------------------------------------ schema

    def migrate(self) -> str:
        """Create or upgrade the vault's tables (Alembic, own version table); returns the schema revision."""
        from alembic import command
        from alembic.config import Config

        self._revision(allow_empty=True)
        settings = Config()
        settings.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.ledger.engine.connect() as conn, conn.execution_options(**{WRITE_OPTION: True}).begin():
                settings.attributes["connection"] = conn
                command.upgrade(settings, "head")
        except OperationalError as error:
            raise VaultError(f"cannot open {self.url}: {error.orig}") from None
        return HEAD_REVISION

    def _revision(self, *, allow_empty: bool = False) -> None:
        try:
            revision = schema_revision(self.ledger.engine, VERSION_TABLE)
        except OperationalError as error:
            raise VaultError(f"cannot open {self.url}: {error.orig}") from None
        if revision is None:
            if allow_empty:
                return
            raise VaultError(f"{self.url} holds no vault", hint="run `tiergate vault init --db URL` first")
        if revision not in KNOWN_REVISIONS:
            raise VaultError(
                f"{self.url} has vault schema {revision!r}, newer than this Tiergate knows ({HEAD_REVISION})",
                hint="upgrade Tiergate; nothing was changed",
            )

    def check(self) -> None:
        """Fail clearly unless the database holds an initialised vault of a schema this version knows (checked
        once per instance: a vault, once set up, stays set up)."""
        if self._ready:
            return
        self._revision()
        if self._read(lambda conn: conn.execute(sa.select(config.c.id)).first()) is None:
            raise VaultError(f"{self.url} holds no vault", hint="run `tiergate vault init --db URL` first")
        self._ready = True

    def _write(self, work: Callable[[Connection, vlog.Appender], Any]) -> Any:
        def run(conn: Connection) -> Any:
            return work(conn, vlog.Appender(conn))

        return self.ledger.run(run)

    def _read(self, work: Callable[[Connection], Any]) -> Any:
        """Run ``work`` in a read-only transaction (on SQLite it takes no write lock; readers never wait for
        writers under WAL)."""
        try:
            with self.ledger.engine.connect() as conn, conn.begin():
                return work(conn)
        except OperationalError as error:
            raise VaultError(f"database error on {self.url}: {error.orig}", hint="nothing was changed") from None

    # ------------------------------------------------------------------ set-up and approver sets

    def init(
        self,
        approvers: str | Sequence[str],
        threshold: int,
        *,
        approval_ttl_hours: float | None = None,
        request_ttl_hours: float | None = None,
        regime: str | None = None,
        public_key: str | None = None,
        requester: str | None = None,
    ) -> Outcome:
        """Set the vault up with its first approver set; on a vault already set up, propose a new set, which
        takes effect once K approvers of the current set have approved it (``approve``)."""
        names = approver_list(list(approvers) if not isinstance(approvers, str) else approvers)
        if isinstance(threshold, bool) or not isinstance(threshold, int) or not 1 <= threshold <= len(names):
            raise InputError(
                f"--threshold: {threshold!r} is not between 1 and the {len(names)} approver(s) named",
                hint="K of N: at least 1, at most the number of approvers",
            )
        if regime is not None:
            self.book.regime(regime)
        who = person(requester or self.actor, "--requester")
        approval_ttl = hours(approval_ttl_hours, "--ttl") if approval_ttl_hours is not None else None
        request_ttl = hours(request_ttl_hours, "--request-ttl") if request_ttl_hours is not None else None
        self._revision(allow_empty=True)
        self.migrate()
        now = self.now()

        def work(conn: Connection, appender: vlog.Appender) -> Outcome:
            current = _approver_set(conn)
            if current is None:
                chosen = regime or policy.POLICY_REGIME
                self.book.regime(chosen)
                conn.execute(
                    config.insert().values(id=1, regime=chosen, public_key=public_key, created_at=now, created_by=who)
                )
                created = ApproverSet(
                    1, names, threshold, approval_ttl or DEFAULT_APPROVAL_TTL, request_ttl or DEFAULT_REQUEST_TTL, now
                )
                _insert_set(conn, created, None)
                index = appender.append(
                    now,
                    "vault-init",
                    "approvers:1",
                    who,
                    {
                        **created.to_dict(),
                        "regime": chosen,
                        "signing_key": key_id_of(public_key),
                    },
                )
                return Outcome(
                    {"vault": self.url, "regime": chosen, "approver_set": created.to_dict(), "log_index": index},
                    log_index=index,
                )
            if regime is not None:
                raise InputError(
                    "--regime: the vault's regime is set when it is first set up",
                    hint="pass --regime to `vault register` or `vault request` to decide under another regime",
                )
            proposal = Proposal(
                names,
                threshold,
                approval_ttl or current.approval_ttl,
                request_ttl or current.request_ttl,
            )
            number = _next_number(conn)
            rid = f"R-{number:06d}"
            expires = now + current.request_ttl
            rule = policy.VAULT_RULES["vault/approver-rotation"]
            why = (
                f"A change of the approver set from {', '.join(current.approvers)} (K={current.threshold}) to "
                f"{', '.join(names)} (K={threshold}): {rule.summary} [{rule.id}; {rule.citation}]",
            )
            conn.execute(
                requests.insert().values(
                    id=rid,
                    number=number,
                    kind="rotation",
                    requester=who,
                    created_at=now,
                    expires_at=expires,
                    set_version=current.version,
                    outcome="pending",
                    reason="awaiting_approvals",
                    why=_json(why),
                    rules=_json([rule.id]),
                    proposal=_json(proposal.to_dict()),
                )
            )
            index = appender.append(
                now,
                "rotation-proposed",
                rid,
                who,
                {
                    "request": rid,
                    "set_version": current.version,
                    "proposal": proposal.to_dict(),
                    "expires_at": expires.isoformat(),
                },
            )
            request = _request(conn, rid)
            assert request is not None
            return Outcome(self._view(conn, request, now), log_index=index)

        return self._outcome(self._write(work))

    def _policy_ruleset(self, day: dt.date) -> Ruleset | None:
        """The ruleset of the vault's own definition of a controlled artefact, when the rulebook holds it."""
        if policy.POLICY_REGIME not in self.book.regimes:
            return None
        return self.book.select(policy.POLICY_REGIME, day)[0]

    def _regime_note(self, chosen: str, named: bool, day: dt.date) -> str:
        """Why this regime: named by the caller, or the vault's policy regime, with the regime in force today."""
        if named:
            return ""
        try:
            today = self.book.select(None, day)[0].regime
        except TiergateError:
            today = "none"
        if today == chosen:
            return f" Regime {chosen} is the vault's regime and the regime in force."
        return (
            f" Regime {chosen} is the vault's policy regime (set by `vault init`); the regime in force on {day} is "
            f"{today}, under which ECCN 4E091 may be dormant (see its notices): the vault keeps the stricter reading."
        )

    def _outcome(self, value: Any) -> Outcome:
        assert isinstance(value, Outcome)
        return value

    def approver_set(self) -> ApproverSet:
        found = self._read(_approver_set)
        if found is None:
            raise VaultError(f"{self.url} holds no vault", hint="run `tiergate vault init --db URL` first")
        assert isinstance(found, ApproverSet)
        return found

    def summary(self) -> dict[str, Any]:
        """The vault's regime, approver set, log size and latest checkpoint."""
        self.check()

        def read(conn: Connection) -> dict[str, Any]:
            row = conn.execute(sa.select(config)).mappings().first()
            current = _approver_set(conn)
            assert row is not None and current is not None
            size = conn.execute(sa.select(log_head.c.size)).scalar()
            latest = conn.execute(sa.select(checkpoints.c.body).order_by(checkpoints.c.id.desc()).limit(1)).scalar()
            counts = {
                "artefacts": conn.execute(sa.select(sa.func.count()).select_from(artefacts)).scalar(),
                "requests": conn.execute(sa.select(sa.func.count()).select_from(requests)).scalar(),
            }
            return {
                "regime": row["regime"],
                "approver_set": current.to_dict(),
                "signing_key": key_id_of(row["public_key"]),
                "log_size": size,
                "latest_checkpoint": orjson.loads(latest) if latest else None,
                **counts,
            }

        result: dict[str, Any] = self._read(read)
        return result

    # ------------------------------------------------------------------ the registry

    def register(self, data: Any, *, regime: str | None = None, where: str = "artefact") -> Artefact:
        """Register an artefact (``ArtefactIn``) and classify it; its training operations add up along ``base``."""
        spec: ArtefactIn = parse(ArtefactIn, data, where)
        shards = tuple(Shard(s.sha256.lower(), s.bytes) for s in spec.shards)
        seen: dict[str, int] = {}
        for index, shard in enumerate(shards):
            if shard.sha256 in seen:
                raise InputError(
                    f"shards[{index}].sha256: the same hash as shards[{seen[shard.sha256]}]",
                    where=where,
                    hint="each shard is one distinct file",
                )
            seen[shard.sha256] = index
        if spec.base == spec.id:
            raise InputError("base: an artefact cannot be its own base", where=where)
        self.check()
        now = self.now()

        def work(conn: Connection, appender: vlog.Appender) -> Artefact:
            chosen = regime or _regime(conn)
            ruleset, _ = self.book.select(chosen, now.date())
            if _artefact(conn, spec.id) is not None:
                raise VaultError(
                    f"id: artefact {spec.id!r} is already registered",
                    where=where,
                    hint="the registry is append-only: register the new checkpoint under a new id",
                )
            base = None
            if spec.base is not None:
                base = _artefact(conn, spec.base)
                if base is None:
                    raise NotFound(
                        f"base: no artefact {spec.base!r} is registered", where=where, hint="register the base first"
                    )
            eccn, why, rules, total = policy.classify_artefact(
                spec.name, spec.training_ops, spec.open_weights, base, ruleset
            )
            note = self._regime_note(ruleset.regime, regime is not None, now.date()).strip()
            why = (*why, note) if note else why
            root = shards_root(shards)
            artefact = Artefact(
                id=spec.id,
                name=spec.name,
                own_ops=spec.training_ops,
                training_ops=total,
                open_weights=spec.open_weights,
                base=spec.base,
                shards=shards,
                merkle_root=root,
                eccn=eccn,
                regime=ruleset.regime,
                why=why,
                rules=rules,
                registered_at=now,
                registered_by=self.actor,
            )
            conn.execute(
                artefacts.insert().values(
                    id=artefact.id,
                    name=artefact.name,
                    own_ops=artefact.own_ops,
                    training_ops=artefact.training_ops,
                    open_weights=artefact.open_weights,
                    base=artefact.base,
                    shards=_json([s.to_dict() for s in shards]),
                    merkle_root=root,
                    eccn=eccn,
                    regime=artefact.regime,
                    why=_json(list(why)),
                    rules=_json(list(rules)),
                    registered_at=now,
                    registered_by=self.actor,
                )
            )
            appender.append(
                now,
                "artefact-registered",
                artefact.id,
                self.actor,
                {
                    "artefact": artefact.id,
                    "name": artefact.name,
                    "eccn": eccn,
                    "rules": list(rules),
                    "regime": artefact.regime,
                    "training_ops": total,
                    "own_ops": artefact.own_ops,
                    "open_weights": artefact.open_weights,
                    "base": artefact.base,
                    "merkle_root": root,
                    "shards": len(shards),
                    "bytes": artefact.total_bytes,
                },
            )
            return artefact

        found: Artefact = self._write(work)
        return found

    def artefact(self, artefact_id: str) -> Artefact:
        self.check()
        found = self._read(lambda conn: _artefact(conn, artefact_id))
        if found is None:
            raise NotFound(f"no artefact {artefact_id!r} is registered", hint="see `tiergate vault status`")
        assert isinstance(found, Artefact)
        return found

    def artefacts(self) -> list[Artefact]:
        self.check()

        def read(conn: Connection) -> list[Artefact]:
            rows = conn.execute(sa.select(artefacts).order_by(artefacts.c.registered_at, artefacts.c.id)).mappings()
            return [_artefact_of(row) for row in rows]

        found: list[Artefact] = self._read(read)
        return found

    def add_datacentre(self, data: Any, *, where: str = "data centre") -> DataCentre:
        """Register a recipient's data centre with its operator's attestation of the storage conditions."""
        spec: DataCentreIn = parse(DataCentreIn, data, where)
        self.check()
        now = self.now()
        attestation = spec.attestation
        centre = DataCentre(
            id=spec.id,
            name=spec.name,
            country=spec.country,
            operator=spec.operator,
            veu=spec.veu,
            fedramp_high_equivalent=bool(attestation and attestation.fedramp_high_equivalent),
            dedicated_devices=bool(attestation and attestation.dedicated_devices),
            attested_by=attestation.attested_by if attestation else None,
            attested_on=attestation.attested_on if attestation else None,
        )

        def work(conn: Connection, appender: vlog.Appender) -> DataCentre:
            if _datacentre(conn, spec.id) is not None:
                raise VaultError(f"id: data centre {spec.id!r} is already registered", where=where)
            conn.execute(
                datacentres.insert().values(
                    id=centre.id,
                    name=centre.name,
                    country=centre.country,
                    operator=centre.operator,
                    veu=centre.veu,
                    fedramp_high_equivalent=centre.fedramp_high_equivalent,
                    dedicated_devices=centre.dedicated_devices,
                    attested_by=centre.attested_by,
                    attested_on=None if centre.attested_on is None else centre.attested_on.isoformat(),
                    registered_at=now,
                    registered_by=self.actor,
                )
            )
            appender.append(now, "datacentre-registered", centre.id, self.actor, centre.to_dict())
            return centre

        found: DataCentre = self._write(work)
        return found

    def datacentres(self) -> list[DataCentre]:
        self.check()

        def read(conn: Connection) -> list[DataCentre]:
            return [
                _datacentre_of(row)
                for row in conn.execute(sa.select(datacentres).order_by(datacentres.c.id)).mappings()
            ]

        found: list[DataCentre] = self._read(read)
        return found

    # ------------------------------------------------------------------ transfer requests

    def request(self, data: Mapping[str, Any], screen: Screen, *, where: str = "request") -> Outcome:
        """A transfer request (``TransferIn``): answered ``denied``, ``license_required`` or ``pending``."""
        spec: TransferIn = parse(TransferIn, dict(data), where)
        requester = person(spec.requester, "requester")
        self.check()
        if spec.regime is not None:
            self.book.regime(spec.regime)
        artefact = self.artefact(spec.artefact)
        centre = None
        if spec.data_centre is not None:
            centre = self._read(lambda conn: _datacentre(conn, spec.data_centre or ""))
            if centre is None:
                raise NotFound(
                    f"data_centre: no data centre {spec.data_centre!r} is registered",
                    where=where,
                    hint="register it with `tiergate vault datacentre add FILE`",
                )
            if centre.country != spec.destination:
                raise InputError(
                    f"data_centre: {centre.id!r} is in {centre.country}, not in the destination {spec.destination}",
                    where=where,
                )
        screening = screen(spec.recipient, spec.destination)
        now = self.now()

        def work(conn: Connection, appender: vlog.Appender) -> Outcome:
            chosen = spec.regime or _regime(conn)
            ruleset, selection = self.book.select(chosen, now.date())
            decision = _decide(
                artefact, spec, ruleset, selection.describe(), now.date(), centre.veu if centre else None
            )
            answer = policy.determine(
                artefact,
                ruleset=ruleset,
                day=now.date(),
                destination=spec.destination,
                headquarters=spec.recipient_headquarters,
                parent=spec.parent_headquarters,
                decision=decision,
                screening=screening,
                data_centre=centre,
                selection=selection.describe() + self._regime_note(chosen, spec.regime is not None, now.date()),
                by_policy=policy.policy_eccn(artefact, self._policy_ruleset(now.date())),
            )
            current = _approver_set(conn)
            assert current is not None
            number = _next_number(conn)
            rid = f"R-{number:06d}"
            expires = now + current.request_ttl
            decision_json = decision_to_dict(decision)
            conn.execute(
                requests.insert().values(
                    id=rid,
                    number=number,
                    kind="transfer",
                    requester=requester,
                    created_at=now,
                    expires_at=expires,
                    set_version=current.version,
                    outcome=answer.status,
                    reason=answer.reason,
                    why=_json(list(answer.why)),
                    rules=_json(list(answer.rules)),
                    artefact=artefact.id,
                    destination=spec.destination,
                    export_from=spec.export_from,
                    recipient=spec.recipient,
                    recipient_headquarters=spec.recipient_headquarters,
                    parent_headquarters=spec.parent_headquarters,
                    data_centre=spec.data_centre,
                    regime=ruleset.regime,
                    decision=_json(decision_json),
                )
            )
            index = appender.append(
                now,
                "request",
                rid,
                requester,
                {
                    "request": rid,
                    "artefact": artefact.id,
                    "eccn": artefact.eccn,
                    "merkle_root": artefact.merkle_root,
                    "destination": spec.destination,
                    "export_from": spec.export_from,
                    "recipient": spec.recipient,
                    "recipient_headquarters": spec.recipient_headquarters,
                    "parent_headquarters": spec.parent_headquarters,
                    "data_centre": spec.data_centre,
                    "regime": ruleset.regime,
                    "status": answer.status,
                    "reason": answer.reason,
                    "rules": list(answer.rules),
                    "licence_determination": {
                        "outcome": decision.outcome,
                        "authorization": decision.authorization,
                        "review_policy": decision.review_policy,
                    },
                    "screening": screening.to_dict(),
                    "expires_at": expires.isoformat(),
                },
            )
            request = _request(conn, rid)
            assert request is not None
            return Outcome(self._view(conn, request, now, current, []), log_index=index)

        return self._outcome(self._write(work))

    def approve(self, request_id: str, approver: str) -> Outcome:
        """Record ``approver``'s approval of a request. An approver outside the current set is an error (nothing
        written); an approval that does not count (the requester's, a second one, one on a refused, released or
        expired request) is written as a refusal and the outcome says ``refused``."""
        name = person(approver, "approver")
        self.check()
        now = self.now()

        def work(conn: Connection, appender: vlog.Appender) -> Outcome:
            request = _request(conn, request_id)
            if request is None:
                raise NotFound(f"no request {request_id!r}", hint="see `tiergate vault status`")
            current = _approver_set(conn)
            assert current is not None
            canonical = next((a for a in current.approvers if a.casefold() == name.casefold()), None)
            if canonical is None:
                raise NotAnApprover(
                    f"approver: {name!r} is not in the approver set ({', '.join(current.approvers)})",
                    hint="only a registered approver may approve; a change of the set needs K approvals",
                )
            previous = _approvals(conn, request.id)
            before = policy.status_of(request, previous, current, now)
            counted, reason = _may_count(request, before, canonical, previous, current, now)
            index = appender.append(
                now,
                "approval" if counted else "refusal",
                request.id,
                canonical,
                {
                    "request": request.id,
                    "kind": request.kind,
                    "action": "approve",
                    "approver": canonical,
                    "counted": counted,
                    "reason": reason,
                    "status_before": before.status,
                },
            )
            conn.execute(
                approvals.insert().values(
                    request=request.id, approver=canonical, at=now, counted=counted, reason=reason, log_index=index
                )
            )
            given = [*previous, Approval(canonical, now)]
            after = policy.status_of(request, given, current, now)
            if request.kind == "rotation" and counted and after.count is not None and after.count.met:
                self._apply_rotation(conn, appender, request, after, now)
                request = _request(conn, request.id) or request
                current = _approver_set(conn) or current
            view = self._view(conn, request, now, current, given)
            view.update({"approver": canonical, "counted": counted, "approval_reason": reason})
            return Outcome(view, refused=not counted, log_index=index)

        return self._outcome(self._write(work))

    def _apply_rotation(
        self, conn: Connection, appender: vlog.Appender, request: Request, status: Status, now: dt.datetime
    ) -> None:
        assert request.proposal is not None and status.count is not None
        current = _approver_set(conn)
        assert current is not None
        proposal = request.proposal
        created = ApproverSet(
            current.version + 1,
            proposal.approvers,
            proposal.threshold,
            proposal.approval_ttl,
            proposal.request_ttl,
            now,
        )
        _insert_set(conn, created, request.id)
        conn.execute(
            requests.update()
            .where(requests.c.id == request.id)
            .values(final_status="applied", final_reason="quorum_met", final_at=now)
        )
        appender.append(
            now,
            "approvers-changed",
            f"approvers:{created.version}",
            request.requester,
            {
                "request": request.id,
                "previous": current.to_dict(),
                "approver_set": created.to_dict(),
                "approved_by": [{"approver": a.approver, "at": a.at.isoformat()} for a in status.count.valid],
            },
        )

    def status(self, request_id: str) -> dict[str, Any]:
        self.check()
        now = self.now()

        def read(conn: Connection) -> dict[str, Any]:
            request = _request(conn, request_id)
            if request is None:
                raise NotFound(f"no request {request_id!r}", hint="see `tiergate vault status`")
            return self._view(conn, request, now)

        found: dict[str, Any] = self._read(read)
        return found

    def requests(self, limit: int = 200) -> list[dict[str, Any]]:
        """The latest ``limit`` requests, newest first, each with its status now."""
        self.check()
        now = self.now()

        def read(conn: Connection) -> list[dict[str, Any]]:
            ids = conn.execute(sa.select(requests.c.id).order_by(requests.c.number.desc()).limit(limit)).scalars()
            out = []
            for rid in list(ids):
                request = _request(conn, rid)
                assert request is not None
                out.append(self._view(conn, request, now))
            return out

        found: list[dict[str, Any]] = self._read(read)
        return found

    def _view(
        self,
        conn: Connection,
        request: Request,
        now: dt.datetime,
        current: ApproverSet | None = None,
        given: list[Approval] | None = None,
    ) -> dict[str, Any]:
        current = current or _approver_set(conn)
        assert current is not None
        given = _approvals(conn, request.id) if given is None else given
        status = policy.status_of(request, given, current, now)
        view: dict[str, Any] = {
            "request": request.id,
            "kind": request.kind,
            "status": status.status,
            "reason": status.reason,
            "why": [*request.why, *status.why],
            "rules": list(request.rules),
            "requester": request.requester,
            "created_at": request.created_at.isoformat(),
            "expires_at": request.expires_at.isoformat(),
        }
        if status.count is not None:
            view["approvals"] = {
                "counted": [{"approver": a.approver, "at": a.at.isoformat()} for a in status.count.valid],
                "needed": status.count.threshold,
                "not_counted": [
                    {"approver": a.approver, "at": a.at.isoformat(), "reason": why} for a, why in status.count.ignored
                ],
            }
        else:
            view["approvals"] = {
                "counted": [],
                "needed": current.threshold,
                "not_counted": [
                    {"approver": a.approver, "at": a.at.isoformat(), "reason": "not_counted"} for a in given
                ],
            }
        if request.kind == "transfer":
            view.update(
                {
                    "artefact": request.artefact,
                    "destination": request.destination,
                    "export_from": request.export_from,
                    "recipient": request.recipient,
                    "recipient_headquarters": request.recipient_headquarters,
                    "parent_headquarters": request.parent_headquarters,
                    "data_centre": request.data_centre,
                    "regime": request.regime,
                    "decision": request.decision,
                }
            )
        else:
            assert request.proposal is not None
            view["proposal"] = request.proposal.to_dict()
            view["set_version"] = request.set_version
        if request.final_at is not None:
            view["final_at"] = request.final_at.isoformat()
        return view

    # ------------------------------------------------------------------ release

    def release(self, request_id: str, folder: Path, screen: Screen) -> Outcome:
        """Release an eligible transfer: screen the recipient again, hash every shard in ``folder`` against the
        registered Merkle root, and, if the request is still eligible, record the release. Anything else is a
        refusal, written to the log (a screening hit also denies the request for good)."""
        self.check()
        folder = Path(folder)
        request = self._read(lambda conn: _request(conn, request_id))
        if request is None:
            raise NotFound(f"no request {request_id!r}", hint="see `tiergate vault status`")
        assert isinstance(request, Request)
        if request.kind != "transfer":
            raise VaultError(f"{request_id} is a change of the approver set, not a transfer", hint="nothing to release")
        if not folder.is_dir():
            raise InputError(
                "not a folder of shards", where=str(folder), hint="--shards DIR: the artefact's shard files"
            )
        status = self._status(request_id)
        if status.status != "eligible":
            return self._refuse_release(
                request_id, _not_eligible(status), {"status": status.status, "why": list(status.why)}
            )
        assert request.recipient is not None and request.destination is not None
        screening = screen(request.recipient, request.destination)
        if screening.blocking:
            return self._refuse_release(request_id, "screening_hit", {"screening": screening.to_dict()}, deny=True)
        artefact = self.artefact(request.artefact or "")
        check = check_folder(folder, artefact.shards, artefact.merkle_root)
        if not check.ok:
            return self._refuse_release(request_id, "hash_mismatch", {"shards": check.to_dict()})
        return self._release(request_id, artefact, check, screening)

    def _status(self, request_id: str) -> Status:
        now = self.now()

        def read(conn: Connection) -> Status:
            request = _request(conn, request_id)
            current = _approver_set(conn)
            assert request is not None and current is not None
            return policy.status_of(request, _approvals(conn, request_id), current, now)

        found: Status = self._read(read)
        return found

    def _refuse_release(self, request_id: str, reason: str, detail: dict[str, Any], *, deny: bool = False) -> Outcome:
        now = self.now()

        def work(conn: Connection, appender: vlog.Appender) -> Outcome:
            request = _request(conn, request_id)
            assert request is not None
            if deny and request.final_status is None:
                conn.execute(
                    requests.update()
                    .where(requests.c.id == request_id)
                    .values(final_status="denied", final_reason="screening_hit_at_release", final_at=now)
                )
            index = appender.append(
                now,
                "refusal",
                request_id,
                self.actor,
                {"request": request_id, "action": "release", "reason": reason, **detail},
            )
            request = _request(conn, request_id) or request
            view = self._view(conn, request, now)
            view.update({"released": False, "refusal": reason, **detail})
            return Outcome(view, refused=True, log_index=index)

        return self._outcome(self._write(work))

    def _release(self, request_id: str, artefact: Artefact, check: ShardCheck, screening: ScreeningResult) -> Outcome:
        now = self.now()

        def work(conn: Connection, appender: vlog.Appender) -> Outcome:
            request = _request(conn, request_id)
            current = _approver_set(conn)
            assert request is not None and current is not None
            status = policy.status_of(request, _approvals(conn, request_id), current, now)
            if status.status != "eligible" or status.count is None:  # the approvals lapsed while hashing
                reason = _not_eligible(status)
                index = appender.append(
                    now,
                    "refusal",
                    request_id,
                    self.actor,
                    {"request": request_id, "action": "release", "reason": reason, "status": status.status},
                )
                view = self._view(conn, request, now)
                view.update({"released": False, "refusal": reason})
                return Outcome(view, refused=True, log_index=index)
            conn.execute(
                requests.update()
                .where(requests.c.id == request_id)
                .values(final_status="released", final_reason="released", final_at=now)
            )
            index = appender.append(
                now,
                "release",
                request_id,
                self.actor,
                {
                    "request": request_id,
                    "artefact": artefact.id,
                    "merkle_root": artefact.merkle_root,
                    "recomputed_root": check.root,
                    "shards": check.files,
                    "bytes": check.bytes,
                    "recipient": request.recipient,
                    "destination": request.destination,
                    "approvals": [{"approver": a.approver, "at": a.at.isoformat()} for a in status.count.valid],
                    "threshold": status.count.threshold,
                    "approver_set": current.version,
                    "screening": screening.to_dict(),
                },
            )
            request = _request(conn, request_id) or request
            view = self._view(conn, request, now)
            view.update({"released": True, "shards": check.to_dict(), "screening": screening.to_dict()})
            return Outcome(view, log_index=index)

        return self._outcome(self._write(work))

    # ------------------------------------------------------------------ the log

    def _public_key(self) -> str | None:
        return self._read(lambda conn: conn.execute(sa.select(config.c.public_key)).scalar())  # type: ignore[no-any-return]

    def verify(
        self,
        trusted: Ed25519PublicKey | None = None,
        *,
        trust: str | None = None,
        external: Sequence[tuple[str, Checkpoint]] = (),
    ) -> vlog.Verification:
        """Check every entry and checkpoint. Checkpoints are checked against ``trusted`` (the operator's key from
        outside the database) or, without it, the key recorded when the vault was set up (which shows that the
        log is intact, not who signed it)."""
        self.check()
        if trusted is None:
            recorded = self._public_key()
            if recorded:
                from tiergate.signing import load_public_key

                trusted = load_public_key(recorded)
                trust = (
                    trust
                    or f"key {key_id(trusted)} recorded in the database (pass the operator's public key to check "
                    "who signed)"
                )
        trust = trust or (
            "no key: checkpoints checked against the key each names" if trusted is None else f"key {key_id(trusted)}"
        )

        def read(conn: Connection) -> vlog.Verification:
            return vlog.verify_log(
                vlog.rows(conn), vlog.stored_checkpoints(conn), trusted=trusted, trust=trust or "", external=external
            )

        found: vlog.Verification = self._read(read)
        return found

    def checkpoint(self, key: Ed25519PrivateKey) -> Checkpoint:
        """Sign the log's current root, after checking that the log still extends every earlier checkpoint (a
        tampered log is never signed)."""
        self.check()
        now = self.now()
        public = key.public_key()

        def work(conn: Connection, appender: vlog.Appender) -> Checkpoint:
            recorded = conn.execute(sa.select(config.c.public_key)).scalar()
            if recorded and key_id_of(recorded) != key_id(public):
                raise VaultError(
                    f"this signing key ({key_id(public)}) is not the vault's ({key_id_of(recorded)})",
                    hint="sign with the key the vault was set up with (TIERGATE_SIGNING_KEY)",
                )
            from tiergate.signing import load_public_key

            trusted = load_public_key(recorded) if recorded else public
            verification = vlog.verify_log(
                vlog.rows(conn), vlog.stored_checkpoints(conn), trusted=trusted, trust=f"key {key_id(trusted)}"
            )
            if not verification.ok:
                raise LogTampered(verification, "refusing to sign")
            if not recorded:
                conn.execute(config.update().where(config.c.id == 1).values(public_key=public_key_pem(public)))
            leaves = [leaf for leaf in verification.leaves if leaf is not None]
            previous = conn.execute(sa.select(sa.func.max(checkpoints.c.size))).scalar() or 0
            signed = sign_checkpoint(
                key, log=vlog.LOG_NAME, size=len(leaves), root=bytes.fromhex(verification.root), issued_at=now
            )
            conn.execute(
                checkpoints.insert().values(
                    size=signed.size,
                    root=signed.root,
                    issued_at=signed.issued_at,
                    key_id=signed.key_id,
                    body=signed.to_json(),
                    leaves=b"".join(leaves[previous:]).hex(),
                )
            )
            return signed

        found: Checkpoint = self._write(work)
        return found

    def _leaves_and_checkpoints(self) -> tuple[list[str], list[bytes], list[vlog.StoredCheckpoint]]:
        def read(conn: Connection) -> tuple[list[str], list[bytes], list[vlog.StoredCheckpoint]]:
            texts = [text for _, text, _ in vlog.rows(conn)]
            return texts, vlog.leaves_of(texts), vlog.stored_checkpoints(conn)

        found: tuple[list[str], list[bytes], list[vlog.StoredCheckpoint]] = self._read(read)
        return found

    def prove(self, index: int, size: int | None = None) -> dict[str, Any]:
        """The inclusion bundle of entry ``index`` under the latest checkpoint that covers it (or the one of
        ``size``), built from the log as it is now; checked before it is returned."""
        self.check()
        texts, leaves, stored = self._leaves_and_checkpoints()
        if not 0 <= index < len(texts):
            raise NotFound(f"no log entry {index}", hint=f"the log holds entries 0..{len(texts) - 1}")
        candidates = [s.checkpoint for s in stored if s.checkpoint is not None and s.checkpoint.size > index]
        if size is not None:
            candidates = [c for c in candidates if c.size == size]
        if not candidates:
            raise VaultError(
                f"no checkpoint covers entry {index}" + (f" with size {size}" if size is not None else ""),
                hint="sign one with `tiergate vault log checkpoint`",
            )
        chosen = candidates[-1]
        if chosen.size > len(leaves):
            raise VaultError(
                f"the checkpoint of size {chosen.size} covers more entries than the log holds ({len(leaves)})",
                hint="the log was truncated: run `tiergate vault log verify`",
            )
        return inclusion_bundle(texts[index], index, leaves, chosen)

    def consistency(self, old: int, new: int | None = None) -> dict[str, Any]:
        """The consistency bundle from the checkpoint of size ``old`` to the one of size ``new`` (default: the
        log as it is now, unsigned unless a checkpoint has that size)."""
        self.check()
        _texts, leaves, stored = self._leaves_and_checkpoints()
        signed = [s.checkpoint for s in stored if s.checkpoint is not None]
        olds = [c for c in signed if c.size == old]
        if not olds:
            raise VaultError(
                f"no checkpoint of size {old}",
                hint=f"checkpoint sizes: {', '.join(str(c.size) for c in signed) or 'none'}",
            )
        target = len(leaves) if new is None else new
        if not olds[-1].size <= target <= len(leaves):
            raise VaultError(f"NEW: {target} is not between {old} and the log's size {len(leaves)}")
        news = [c for c in signed if c.size == target]
        return consistency_bundle(leaves, olds[-1], news[-1] if news else None, target)

    def log_entries(self, start: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        self.check()
        found: list[dict[str, Any]] = self._read(lambda conn: vlog.entries(conn, start, limit))
        return found


# ---------------------------------------------------------------------- rows <-> records


def key_id_of(pem: str | None) -> str | None:
    if not pem:
        return None
    from tiergate.signing import load_public_key

    try:
        return key_id(load_public_key(pem))
    except TiergateError:
        return None


def _regime(conn: Connection) -> str:
    found = conn.execute(sa.select(config.c.regime)).scalar()
    return str(found) if found else policy.POLICY_REGIME


def _next_number(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(requests.c.number), 0))).scalar() or 0) + 1


def _insert_set(conn: Connection, created: ApproverSet, rotation: str | None) -> None:
    conn.execute(
        approver_sets.insert().values(
            version=created.version,
            approvers=_json(list(created.approvers)),
            threshold=created.threshold,
            approval_ttl_s=int(created.approval_ttl.total_seconds()),
            request_ttl_s=int(created.request_ttl.total_seconds()),
            created_at=created.created_at,
            rotation=rotation,
        )
    )


def _approver_set(conn: Connection) -> ApproverSet | None:
    row = conn.execute(sa.select(approver_sets).order_by(approver_sets.c.version.desc()).limit(1)).mappings().first()
    if row is None:
        return None
    created = _aware(row["created_at"])
    assert created is not None
    return ApproverSet(
        version=int(row["version"]),
        approvers=tuple(orjson.loads(row["approvers"])),
        threshold=int(row["threshold"]),
        approval_ttl=dt.timedelta(seconds=int(row["approval_ttl_s"])),
        request_ttl=dt.timedelta(seconds=int(row["request_ttl_s"])),
        created_at=created,
    )


def _artefact_of(row: Any) -> Artefact:
    registered = _aware(row["registered_at"])
    assert registered is not None
    return Artefact(
        id=row["id"],
        name=row["name"],
        own_ops=float(row["own_ops"]),
        training_ops=float(row["training_ops"]),
        open_weights=bool(row["open_weights"]),
        base=row["base"],
        shards=tuple(Shard(s["sha256"], int(s["bytes"])) for s in orjson.loads(row["shards"])),
        merkle_root=row["merkle_root"],
        eccn=row["eccn"],
        regime=row["regime"],
        why=tuple(orjson.loads(row["why"])),
        rules=tuple(orjson.loads(row["rules"])),
        registered_at=registered,
        registered_by=row["registered_by"],
    )


def _artefact(conn: Connection, artefact_id: str) -> Artefact | None:
    row = conn.execute(sa.select(artefacts).where(artefacts.c.id == artefact_id)).mappings().first()
    return None if row is None else _artefact_of(row)


def _datacentre_of(row: Any) -> DataCentre:
    return DataCentre(
        id=row["id"],
        name=row["name"],
        country=row["country"],
        operator=row["operator"],
        veu=row["veu"],
        fedramp_high_equivalent=bool(row["fedramp_high_equivalent"]),
        dedicated_devices=bool(row["dedicated_devices"]),
        attested_by=row["attested_by"],
        attested_on=dt.date.fromisoformat(row["attested_on"]) if row["attested_on"] else None,
    )


def _datacentre(conn: Connection, centre_id: str) -> DataCentre | None:
    row = conn.execute(sa.select(datacentres).where(datacentres.c.id == centre_id)).mappings().first()
    return None if row is None else _datacentre_of(row)


def _request(conn: Connection, request_id: str) -> Request | None:
    row = conn.execute(sa.select(requests).where(requests.c.id == request_id)).mappings().first()
    if row is None:
        return None
    created, expires = _aware(row["created_at"]), _aware(row["expires_at"])
    assert created is not None and expires is not None
    proposal = None
    if row["proposal"]:
        p = orjson.loads(row["proposal"])
        proposal = Proposal(
            tuple(p["approvers"]),
            int(p["threshold"]),
            dt.timedelta(hours=float(p["approval_ttl_hours"])),
            dt.timedelta(hours=float(p["request_ttl_hours"])),
        )
    return Request(
        id=row["id"],
        kind=row["kind"],
        requester=row["requester"],
        created_at=created,
        expires_at=expires,
        set_version=int(row["set_version"]),
        outcome=row["outcome"],
        reason=row["reason"],
        why=tuple(orjson.loads(row["why"])),
        rules=tuple(orjson.loads(row["rules"])),
        artefact=row["artefact"],
        destination=row["destination"],
        export_from=row["export_from"],
        recipient=row["recipient"],
        recipient_headquarters=row["recipient_headquarters"],
        parent_headquarters=row["parent_headquarters"],
        data_centre=row["data_centre"],
        regime=row["regime"],
        proposal=proposal,
        final_status=row["final_status"],
        final_reason=row["final_reason"],
        final_at=_aware(row["final_at"]),
        decision=orjson.loads(row["decision"]) if row["decision"] else None,
    )


def _approvals(conn: Connection, request_id: str) -> list[Approval]:
    rows = conn.execute(
        sa.select(approvals.c.approver, approvals.c.at)
        .where(approvals.c.request == request_id)
        .order_by(approvals.c.id)
    )
    out = []
    for approver, at in rows:
        moment = _aware(at)
        assert moment is not None
        out.append(Approval(approver, moment))
    return out


def _may_count(
    request: Request,
    status: Status,
    approver: str,
    previous: Sequence[Approval],
    current: ApproverSet,
    now: dt.datetime,
) -> tuple[bool, str]:
    """Whether a new approval by ``approver`` counts, and the reason code."""
    if status.status in ("denied", "license_required"):
        return False, request.reason if request.final_status is None else (request.final_reason or status.status)
    if status.status in ("released", "expired", "applied", "superseded"):
        return False, f"request_{status.status}"
    if request.kind == "transfer" and policy.same_identity(approver, request.requester):
        return False, "requester_cannot_approve"
    if status.count is not None and any(policy.same_identity(approver, a) for a in status.count.approvers):
        return False, "already_approved"
    return True, "counted"


def _not_eligible(status: Status) -> str:
    return {
        "pending": "not_eligible",
        "released": "already_released",
        "expired": "request_expired",
        "denied": "denied",
        "license_required": "license_required",
    }.get(status.status, "not_eligible")


def _decide(artefact: Artefact, spec: TransferIn, ruleset: Any, selection: str, day: dt.date, veu: str | None) -> Any:
    from tiergate.classify.model import ModelWeights
    from tiergate.decide import decide
    from tiergate.decide.model import Consignee, LineItem, Transaction

    txn = Transaction(
        id=None,
        date=day,
        export_from=spec.export_from,
        destination=spec.destination,
        items=(LineItem(ModelWeights(artefact.name, artefact.training_ops, artefact.open_weights), 1),),
        consignee=Consignee(
            name=spec.recipient,
            country=spec.destination,
            headquarters=spec.recipient_headquarters,
            parent_headquarters=spec.parent_headquarters,
            veu=veu,
        ),
        regime=ruleset.regime,
    )
    return decide(txn, ruleset, selection=selection)


def open_vault(url: str, **kwargs: Any) -> Vault:
    """A vault already set up at ``url`` (checked)."""
    vault = Vault(url, **kwargs)
    vault.check()
    return vault
