"""Proofs about the vault's log that an auditor checks offline, without the database.

An **inclusion bundle** holds one entry's text, its index, the audit path and the signed checkpoint it is
proved against; a **consistency bundle** holds two tree sizes, the proof that the older tree is a prefix of the
newer, and the signed checkpoint of each (the newer may be the log's unsigned current root, marked so).
:func:`check_inclusion` and :func:`check_consistency` need only the bundle and, to know who signed, the
operator's public key: ``python -c "from tiergate.vault.proofs import check_file; check_file('proof.json')"``
or ``tiergate vault log check proof.json --public-key operator.pub``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tiergate.errors import InputError, TiergateError
from tiergate.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)
from tiergate.signing import Checkpoint, CheckpointError, verify_checkpoint

INCLUSION = "tiergate-vault-inclusion/1"
CONSISTENCY = "tiergate-vault-consistency/1"
LOG_NAME = "tiergate-vault"


class ProofError(TiergateError):
    """A proof that does not hold, or a bundle that is not one."""

    exit_code = 1


def inclusion_bundle(entry: str, index: int, leaves: Sequence[bytes], checkpoint: Checkpoint) -> dict[str, Any]:
    """The bundle proving entry ``index`` (text ``entry``) in the tree of ``checkpoint.size`` of ``leaves``: the
    audit path is built from ``leaves`` as they are, the root is the one the checkpoint signed (so an entry altered
    after the checkpoint does not prove)."""
    size = checkpoint.size
    return {
        "format": INCLUSION,
        "index": index,
        "entry": entry,
        "leaf_hash": leaf_hash(entry.encode()).hex(),
        "tree_size": size,
        "root": checkpoint.root,
        "proof": [h.hex() for h in inclusion_proof(leaves[:size], index)],
        "checkpoint": checkpoint.to_dict(),
    }


def consistency_bundle(
    leaves: Sequence[bytes], old: Checkpoint, new: Checkpoint | None, new_size: int | None = None
) -> dict[str, Any]:
    """The bundle proving the tree of ``old`` a prefix of ``new`` (or, without ``new``, of the current tree of
    ``new_size`` leaves, unsigned)."""
    size = new.size if new is not None else (new_size if new_size is not None else len(leaves))
    current = new.root if new is not None else tree_root(leaves[:size]).hex()
    return {
        "format": CONSISTENCY,
        "old_size": old.size,
        "new_size": size,
        "old_root": old.root,
        "new_root": current,
        "proof": [h.hex() for h in consistency_proof(leaves[:size], old.size)],
        "old_checkpoint": old.to_dict(),
        "new_checkpoint": new.to_dict() if new is not None else None,
    }


def _field(bundle: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = bundle.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ProofError(f"{name}: missing or of the wrong type", where="proof bundle")
    return value


def _hashes(bundle: Mapping[str, Any], name: str) -> list[bytes]:
    values = _field(bundle, name, list)
    out = []
    for i, value in enumerate(values):
        try:
            raw = bytes.fromhex(value) if isinstance(value, str) else b""
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise ProofError(f"{name}[{i}]: not a 32-byte hex hash", where="proof bundle")
        out.append(raw)
    return out


def _hash(bundle: Mapping[str, Any], name: str) -> bytes:
    value = _field(bundle, name, str)
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ProofError(f"{name}: not a 32-byte hex hash", where="proof bundle")
    return raw


def _checkpoint(bundle: Mapping[str, Any], name: str, trusted: Ed25519PublicKey | None) -> Checkpoint:
    data = bundle.get(name)
    if not isinstance(data, dict):
        raise ProofError(f"{name}: missing", where="proof bundle")
    try:
        checkpoint = Checkpoint.from_json(orjson.dumps(data), where=f"proof bundle: {name}")
        verify_checkpoint(checkpoint, trusted)
    except CheckpointError as error:
        raise ProofError(error.message, where=error.where) from None
    if checkpoint.log != LOG_NAME:
        raise ProofError(f"a checkpoint of log {checkpoint.log!r}, not of the vault", where=f"proof bundle: {name}")
    return checkpoint


def check_inclusion(bundle: Mapping[str, Any], trusted: Ed25519PublicKey | None = None) -> dict[str, Any]:
    """Raise :class:`ProofError` unless the bundle proves its entry at its index under a validly signed
    checkpoint (signed by ``trusted`` when given); returns a summary."""
    if bundle.get("format") != INCLUSION:
        raise ProofError(f"not an inclusion proof (expected format {INCLUSION!r})", where="proof bundle")
    index = _field(bundle, "index", int)
    size = _field(bundle, "tree_size", int)
    entry = _field(bundle, "entry", str)
    proof = _hashes(bundle, "proof")
    checkpoint = _checkpoint(bundle, "checkpoint", trusted)
    leaf = leaf_hash(entry.encode())
    if leaf != _hash(bundle, "leaf_hash"):
        raise ProofError(
            f"entry {index}: the entry's text does not hash to the bundle's leaf hash", where="proof bundle"
        )
    try:
        recorded = orjson.loads(entry).get("index")
    except (orjson.JSONDecodeError, AttributeError):
        recorded = None
    if recorded != index:
        raise ProofError(f"entry {index}: the entry records index {recorded!r}", where="proof bundle")
    if checkpoint.size != size or checkpoint.root != _hash(bundle, "root").hex():
        raise ProofError("the bundle's tree size or root is not the checkpoint's", where="proof bundle")
    if not verify_inclusion(leaf, index, size, proof, bytes.fromhex(checkpoint.root)):
        raise ProofError(
            f"entry {index} is not in the log of {size} entries that the checkpoint signed "
            f"(issued {checkpoint.issued_at}): the entry or the log was altered",
            where="proof bundle",
        )
    return {"ok": True, "proof": "inclusion", "index": index, "tree_size": size, "key_id": checkpoint.key_id}


def check_consistency(bundle: Mapping[str, Any], trusted: Ed25519PublicKey | None = None) -> dict[str, Any]:
    """Raise :class:`ProofError` unless the bundle proves the older signed tree a prefix of the newer one."""
    if bundle.get("format") != CONSISTENCY:
        raise ProofError(f"not a consistency proof (expected format {CONSISTENCY!r})", where="proof bundle")
    old_size = _field(bundle, "old_size", int)
    new_size = _field(bundle, "new_size", int)
    old_root = _hash(bundle, "old_root")
    new_root = _hash(bundle, "new_root")
    proof = _hashes(bundle, "proof")
    old = _checkpoint(bundle, "old_checkpoint", trusted)
    if old.size != old_size or old.root != old_root.hex():
        raise ProofError("old_size or old_root is not the old checkpoint's", where="proof bundle")
    signed = bundle.get("new_checkpoint") is not None
    if signed:
        new = _checkpoint(bundle, "new_checkpoint", trusted)
        if new.size != new_size or new.root != new_root.hex():
            raise ProofError("new_size or new_root is not the new checkpoint's", where="proof bundle")
    if not verify_consistency(old_size, new_size, old_root, new_root, proof):
        raise ProofError(
            f"the log of {new_size} entries does not extend the one of {old_size} entries signed at "
            f"{old.issued_at}: an entry covered by that checkpoint was altered, removed or reordered",
            where="proof bundle",
        )
    return {"ok": True, "proof": "consistency", "old_size": old_size, "new_size": new_size, "new_signed": signed}


def check_bundle(bundle: Mapping[str, Any], trusted: Ed25519PublicKey | None = None) -> dict[str, Any]:
    """Either kind of bundle, by its ``format``."""
    if bundle.get("format") == CONSISTENCY:
        return check_consistency(bundle, trusted)
    return check_inclusion(bundle, trusted)


def check_file(path: str | Path, trusted: Ed25519PublicKey | None = None) -> dict[str, Any]:
    """A bundle read from a JSON file (as ``tiergate vault log prove|consistency`` writes it)."""
    file = Path(path)
    try:
        data = orjson.loads(file.read_bytes())
    except OSError as error:
        raise InputError(f"cannot read ({error.strerror})", where=str(file)) from None
    except orjson.JSONDecodeError as error:
        raise InputError(f"not JSON ({error})", where=str(file)) from None
    if not isinstance(data, dict):
        raise ProofError("not a proof bundle (expected a JSON object)", where=str(file))
    return check_bundle(data, trusted)
