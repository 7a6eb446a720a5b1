"""The Merkle log: every way of tampering with it after a checkpoint is caught and named; proofs verify offline,
without the database; a tampered log is never signed."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.vault.conftest import Shards, artefact, clean, transfer
from tiergate.merkle import leaf_hash
from tiergate.signing import Checkpoint, public_key_pem
from tiergate.vault import LogTampered, Vault, check_bundle, check_consistency, check_file, check_inclusion
from tiergate.vault.proofs import ProofError


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def filled(vault: Vault, shards: Shards, key: Ed25519PrivateKey) -> Vault:
    """Ten entries (0..9), a checkpoint over the first eight... and two entries after it."""
    vault.register(artefact("frontier-1", 3.5e26, shards))
    for _ in range(2):
        rid = vault.request(transfer(), clean).view["request"]
        vault.approve(rid, "alice")
        vault.approve(rid, "bob")
    assert vault.summary()["log_size"] == 8
    vault.checkpoint(key)
    rid = vault.request(transfer(), clean).view["request"]
    vault.approve(rid, "carol")
    return vault


@pytest.fixture
def db(vault_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(vault_url)
    yield engine
    engine.dispose()


def sql(engine: sa.Engine, statement: str, **params: Any) -> Any:
    with engine.begin() as conn:
        result = conn.execute(sa.text(statement), params)
        return result.fetchall() if statement.startswith("SELECT") else None


def entry_text(engine: sa.Engine, seq: int) -> str:
    return str(sql(engine, "SELECT entry FROM vault_log WHERE seq = :s", s=seq)[0][0])


def forge(text: str) -> str:
    """An approval entry turned into a refusal."""
    forged = text.replace('"counted":true', '"counted":false')
    assert forged != text
    return forged


def rewrite(engine: sa.Engine, seq: int, text: str, *, leaf: bool) -> None:
    if leaf:
        sql(
            engine,
            "UPDATE vault_log SET entry = :e, leaf_hash = :h WHERE seq = :s",
            e=text,
            h=leaf_hash(text.encode()).hex(),
            s=seq,
        )
    else:
        sql(engine, "UPDATE vault_log SET entry = :e WHERE seq = :s", e=text, s=seq)


def problems(vault: Vault, key: Ed25519PrivateKey, **kwargs: Any) -> list[tuple[int | None, str]]:
    found = vault.verify(key.public_key(), **kwargs)
    return [(p.entry, p.problem) for p in found.problems]


def test_an_untouched_log_verifies(filled: Vault, key: Ed25519PrivateKey) -> None:
    found = filled.verify(key.public_key())
    assert found.ok and found.size == 10 and found.checkpoints == 1


def test_edited_text_is_named(filled: Vault, db: sa.Engine, key: Ed25519PrivateKey) -> None:
    rewrite(db, 4, forge(entry_text(db, 4)), leaf=False)
    found = problems(filled, key)
    assert found[0][0] == 4 and "does not match its recorded leaf hash" in found[0][1]


def test_edited_text_and_leaf_hash_are_named_by_the_checkpoint(
    filled: Vault, db: sa.Engine, key: Ed25519PrivateKey
) -> None:
    rewrite(db, 4, forge(entry_text(db, 4)), leaf=True)
    found = problems(filled, key)
    assert found == [(4, found[0][1])]
    assert "differs from the entry checkpoint 1 (size 8" in found[0][1]


def test_when_the_checkpoints_leaves_are_rewritten_too_the_range_is_named(
    filled: Vault, db: sa.Engine, key: Ed25519PrivateKey
) -> None:
    rewrite(db, 4, forge(entry_text(db, 4)), leaf=True)
    rows = sql(db, "SELECT leaf_hash FROM vault_log WHERE seq < 8 ORDER BY seq")
    sql(db, "UPDATE vault_checkpoints SET leaves = :l", l="".join(r[0] for r in rows))
    texts = [p for _, p in problems(filled, key)]
    assert any("do not reproduce its signed root" in t for t in texts)
    assert any("entries 0..7 no longer hash to its signed root" in t for t in texts)


def test_reordered_entries_are_named(filled: Vault, db: sa.Engine, key: Ed25519PrivateKey) -> None:
    three, four = entry_text(db, 3), entry_text(db, 4)
    rewrite(db, 3, four, leaf=True)
    rewrite(db, 4, three, leaf=True)
    named = {entry for entry, _ in problems(filled, key)}
    assert {3, 4} <= named


def test_reordered_and_renumbered_entries_are_named(filled: Vault, db: sa.Engine, key: Ed25519PrivateKey) -> None:
    three, four = orjson.loads(entry_text(db, 3)), orjson.loads(entry_text(db, 4))
    three["index"], four["index"] = 4, 3
    canonical = orjson.OPT_SORT_KEYS
    rewrite(db, 3, orjson.dumps(four, option=canonical).decode(), leaf=True)
    rewrite(db, 4, orjson.dumps(three, option=canonical).decode(), leaf=True)
    found = problems(filled, key)
    assert {entry for entry, _ in found} == {3, 4}
    assert all("differs from the entry checkpoint 1" in text for _, text in found)


def test_a_deleted_entry_is_named(filled: Vault, db: sa.Engine, key: Ed25519PrivateKey) -> None:
    sql(db, "DELETE FROM vault_log WHERE seq = 5")
    found = problems(filled, key)
    assert found[0] == (5, "entry 5 is missing (deleted): the next entry is 6")


def test_a_deleted_and_renumbered_entry_is_named(filled: Vault, db: sa.Engine, key: Ed25519PrivateKey) -> None:
    texts = [entry_text(db, seq) for seq in range(10)]
    sql(db, "DELETE FROM vault_log WHERE seq >= 5")
    sql(db, "UPDATE vault_log_head SET size = 5")
    for seq, text in enumerate(texts[6:], start=5):
        data = orjson.loads(text)
        data["index"] = seq
        shifted = orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
        sql(
            db,
            "INSERT INTO vault_log (seq, at, kind, subject, entry, leaf_hash) VALUES (:s, 'x', 'x', 'x', :e, :h)",
            s=seq,
            e=shifted,
            h=leaf_hash(shifted.encode()).hex(),
        )
    found = problems(filled, key)
    assert found[0][0] == 5 and "differs from the entry checkpoint 1" in found[0][1]


def test_a_truncated_log_is_named(filled: Vault, db: sa.Engine, key: Ed25519PrivateKey) -> None:
    sql(db, "DELETE FROM vault_log WHERE seq >= 6")
    sql(db, "UPDATE vault_log_head SET size = 6")
    found = problems(filled, key)
    assert found[0][0] == 6
    assert "entries 6..7 are missing" in found[0][1] and "truncated" in found[0][1]


def test_a_rollback_of_log_and_checkpoints_is_caught_by_a_kept_checkpoint(
    filled: Vault, db: sa.Engine, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    kept = filled.checkpoint(key)  # the operator keeps this one outside the database
    sql(db, "DELETE FROM vault_log WHERE seq >= 6")
    sql(db, "UPDATE vault_log_head SET size = 6")
    sql(db, "DELETE FROM vault_checkpoints")
    assert filled.verify(key.public_key()).ok  # the database alone cannot tell
    found = problems(filled, key, external=[("kept.json", kept)])
    assert found[0][0] == 6 and "checkpoint kept.json (size 10" in found[0][1]


def test_an_altered_checkpoint_is_named(filled: Vault, db: sa.Engine, key: Ed25519PrivateKey) -> None:
    body = orjson.loads(sql(db, "SELECT body FROM vault_checkpoints")[0][0])
    body["size"] = 7
    sql(db, "UPDATE vault_checkpoints SET body = :b", b=orjson.dumps(body).decode())
    found = filled.verify(key.public_key())
    assert found.problems[0].checkpoint == 1 and "signature does not verify" in found.problems[0].problem


def test_a_checkpoint_resigned_with_another_key_fails_against_the_operators(
    filled: Vault, db: sa.Engine, key: Ed25519PrivateKey
) -> None:
    """Someone who rewrites the log, re-signs with a key of their own and records that key in the database passes
    a check against the database's key, never one against the operator's."""
    mallory = Ed25519PrivateKey.generate()
    rewrite(db, 4, forge(entry_text(db, 4)), leaf=True)
    sql(db, "DELETE FROM vault_checkpoints")
    sql(db, "UPDATE vault_config SET public_key = :k", k=public_key_pem(mallory))
    filled.checkpoint(mallory)
    assert filled.verify().ok
    found = filled.verify(key.public_key())
    assert not found.ok and "not by the trusted key" in found.problems[0].problem


def test_a_tampered_log_is_never_signed(filled: Vault, db: sa.Engine, key: Ed25519PrivateKey) -> None:
    rewrite(db, 2, entry_text(db, 2).replace('"DE"', '"CN"'), leaf=True)
    with pytest.raises(LogTampered, match="refusing to sign: entry 2 differs"):
        filled.checkpoint(key)
    assert len(sql(db, "SELECT id FROM vault_checkpoints")) == 1


def test_only_the_vaults_key_signs(filled: Vault) -> None:
    with pytest.raises(Exception, match="is not the vault's"):
        filled.checkpoint(Ed25519PrivateKey.generate())


# ---------------------------------------------------------------- offline proofs


def test_every_entry_proves_offline(filled: Vault, key: Ed25519PrivateKey, tmp_path: Path) -> None:
    for index in range(8):
        bundle = filled.prove(index)
        file = tmp_path / f"proof-{index}.json"
        file.write_bytes(orjson.dumps(bundle))
        assert check_file(file, key.public_key())["index"] == index
    with pytest.raises(Exception, match="no checkpoint covers entry 8"):
        filled.prove(8)


def test_consistency_proves_offline_between_checkpoints(filled: Vault, key: Ed25519PrivateKey) -> None:
    filled.checkpoint(key)
    bundle = filled.consistency(8, 10)
    assert bundle["new_checkpoint"] is not None
    assert check_consistency(bundle, key.public_key())["new_signed"] is True
    unsigned = filled.consistency(8)
    assert check_consistency(unsigned, key.public_key())["new_size"] == 10


def test_proof_checks_need_nothing_but_the_bundle(filled: Vault, key: Ed25519PrivateKey) -> None:
    """The checkers import no database code and read nothing but the bundle."""
    import ast

    import tiergate.vault.proofs as proofs

    tree = ast.parse(Path(proofs.__file__).read_text())
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert not any(m.startswith(("sqlalchemy", "tiergate.vault.store", "tiergate.ledger")) for m in imported)
    bundle = filled.prove(3)
    filled.close()
    assert check_bundle(orjson.loads(orjson.dumps(bundle)), key.public_key())["ok"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b.update(entry=b["entry"].replace('"bob"', '"eve"')),
        lambda b: b.update(index=b["index"] + 1),
        lambda b: b["proof"].__setitem__(0, "00" * 32),
        lambda b: b.update(proof=b["proof"][:-1]),
        lambda b: b["checkpoint"].update(root="11" * 32),
        lambda b: b["checkpoint"].update(size=b["checkpoint"]["size"] + 1),
        lambda b: b.update(format="something-else/1"),
        lambda b: b.update(proof="not a list"),
    ],
)
def test_a_damaged_inclusion_bundle_fails(filled: Vault, key: Ed25519PrivateKey, damage: Any) -> None:
    bundle = filled.prove(4)
    check_inclusion(bundle, key.public_key())
    broken = copy.deepcopy(bundle)
    damage(broken)
    with pytest.raises(ProofError):
        check_inclusion(broken, key.public_key())


def test_a_bundle_signed_by_another_key_fails_against_the_operators(filled: Vault, key: Ed25519PrivateKey) -> None:
    bundle = filled.prove(4)
    with pytest.raises(ProofError, match="not by the trusted key"):
        check_inclusion(bundle, Ed25519PrivateKey.generate().public_key())


def test_a_damaged_consistency_bundle_fails(filled: Vault, key: Ed25519PrivateKey) -> None:
    filled.checkpoint(key)
    bundle = filled.consistency(8, 10)
    broken = copy.deepcopy(bundle)
    broken["proof"][0] = "22" * 32
    with pytest.raises(ProofError):
        check_consistency(broken, key.public_key())
    swapped = copy.deepcopy(bundle)
    swapped["new_root"] = bundle["old_root"]
    with pytest.raises(ProofError):
        check_consistency(swapped, key.public_key())


def test_checkpoint_json_round_trips(filled: Vault, key: Ed25519PrivateKey) -> None:
    signed = filled.checkpoint(key)
    assert Checkpoint.from_json(signed.to_json()) == signed


def test_concurrent_writers_leave_no_gap_or_fork(vault: Vault, vault_url: str, shards: Shards, book: Any) -> None:
    """Eight writers at once (each its own connection pool): every entry has its own index, the log verifies."""
    from concurrent.futures import ThreadPoolExecutor

    vault.register(artefact("frontier-1", 3.5e26, shards))
    rid = vault.request(transfer(), clean).view["request"]

    def work(i: int) -> str:
        mine = Vault(vault_url, clock=vault.clock, book=book)
        try:
            made = mine.request(transfer(recipient=f"Recipient {i}"), clean).view["request"]
            mine.approve(rid, ("alice", "bob", "carol")[i % 3])
            return str(made)
        finally:
            mine.close()

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(work, range(8)))
    assert len(set(made)) == 8
    found = vault.verify()
    assert found.ok and found.size == 3 + 16
    view = vault.status(rid)
    assert view["status"] == "eligible" and len(view["approvals"]["counted"]) == 3
