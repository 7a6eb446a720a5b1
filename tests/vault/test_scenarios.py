"""The twelve scenarios of the research digest (vault_verify_replay.md, A5), on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import tiergate
from tests.vault.conftest import CSL_HEADER, SAMPLE_LISTS, Clock, Shards, artefact, clean, listed, transfer
from tiergate.vault import Vault, check_consistency, check_inclusion
from tiergate.vault.proofs import ProofError
from tiergate.vault.screening import from_lists


def log_kinds(vault: Vault) -> list[tuple[str, str]]:
    return [(e["kind"], e["subject"]) for e in vault.log_entries(0, 10_000)]


# ---------------------------------------------------------------- A1-A3: classification


def test_a1_closed_weights_over_the_threshold_are_4e091(vault: Vault, shards: Shards) -> None:
    found = vault.register(artefact("frontier-1", 3.5e26, shards))
    assert found.eccn == "4E091"
    assert found.rules == ("us-diffusion-2025/4e091",)
    assert any(
        "training_ops 3.5e+26 >= max(weights_ops_threshold, published_model_floor_ops) = 1e+26" in line
        for line in found.why
    )
    assert found.regime == "us-diffusion-2025"
    assert "the regime in force on 2026-12-03 is us-2026-01" in found.why[-1]


def test_a2_fine_tune_adds_its_base_training(vault: Vault, shards: Shards) -> None:
    base = vault.register(artefact("base-9e25", 9e25, shards))
    assert base.eccn == "not_controlled"
    tuned = vault.register(artefact("tuned", 2e25, shards, base="base-9e25"))
    assert tuned.eccn == "4E091"
    assert tuned.training_ops == pytest.approx(1.1e26)
    assert tuned.own_ops == 2e25
    assert "2e+25 for this stage + 9e+25 of base 'base-9e25' = 1.1e+26" in tuned.why[0]
    twice = vault.register(artefact("tuned-again", 1e24, shards, base="tuned"))
    assert twice.training_ops == pytest.approx(1.11e26)  # along the whole chain


def test_a3_published_weights_are_excluded(vault: Vault, shards: Shards) -> None:
    found = vault.register(artefact("open-3e26", 3e26, shards, open_weights=True))
    assert found.eccn == "not_controlled"
    assert any("open_weights" in line and "fails" in line for line in found.why)


def test_the_threshold_comes_from_the_packs(tmp_path: Path, clock: Clock, shards: Shards) -> None:
    """A pack that lowers weights_ops_threshold to 5e25 (the digest's C6) moves a 6e25 model into 4E091."""
    pack = tmp_path / "packs" / "vault-test-5e25"
    pack.mkdir(parents=True)
    (pack / "manifest.yaml").write_text(
        "id: vault-test-5e25\njurisdiction: US\ntitle: Test threshold\ncitation: test\n"
        "effective_from: 2025-01-13\nrevision: 1\n"
    )
    (pack / "rules.yaml").write_text(
        "parameters:\n  - name: weights_ops_threshold\n    value: 5.0e25\n    unit: operations\n"
        "    summary: A lower 4E091 threshold (a scenario).\n    citation: test\n    source: test\n"
    )
    (tmp_path / "packs" / "regimes.yaml").write_text(
        "regimes:\n  - name: test-5e25\n    title: Diffusion with a 5e25 threshold\n"
        "    packs: [us-2023-10, us-2024-04, us-2024-12, us-diffusion-2025, vault-test-5e25]\n"
    )
    book = tiergate.load_rulebook([tmp_path / "packs"])
    vault = Vault(f"sqlite:///{tmp_path / 'v.db'}", clock=clock, book=book)
    vault.init("alice,bob", 1)
    assert vault.register(artefact("m-6e25", 6e25, shards)).eccn == "not_controlled"
    lowered = vault.register(artefact("m-6e25-b", 6e25, shards), regime="test-5e25")
    assert lowered.eccn == "4E091"
    assert any("= 6e+25" in line or "= 5e+25" in line for line in lowered.why)
    vault.close()


def test_under_the_regime_in_force_4e091_is_dormant_and_says_so(vault: Vault, shards: Shards) -> None:
    found = vault.register(artefact("frontier-now", 3.5e26, shards), regime="us-2026-01")
    assert found.eccn == "not_controlled"
    assert any("weights-4e091-dormant" in line for line in found.why)


# ---------------------------------------------------------------- A4: the Tier 3 floor


@pytest.mark.parametrize(
    ("destination", "hq", "parent"),
    [("CN", "CN", None), ("DE", "CN", None), ("SG", "SG", "MO"), ("HK", "HK", None), ("MO", "DE", None)],
)
def test_a4_no_quorum_releases_to_tier3(
    vault: Vault, shards: Shards, destination: str, hq: str, parent: str | None
) -> None:
    vault.init("alice,bob,carol", 3)  # a proposal to make it 3 of 3
    for name in ("alice", "bob"):
        vault.approve("R-000001", name)
    assert vault.approver_set().threshold == 3
    vault.register(artefact("frontier-1", 3.5e26, shards))
    extra = {"parent_headquarters": parent} if parent else {}
    made = vault.request(transfer(destination=destination, hq=hq, **extra), clean)
    rid = made.view["request"]
    assert (made.view["status"], made.view["reason"]) == ("denied", "tier3_floor")
    assert "vault/tier3-floor" in made.view["rules"]
    for name in ("alice", "bob", "carol"):
        outcome = vault.approve(rid, name)
        assert outcome.refused and outcome.view["status"] == "denied"
        assert outcome.view["approval_reason"] == "tier3_floor"
    assert vault.status(rid)["status"] == "denied"
    released = vault.release(rid, shards.folder, clean)
    assert released.refused and released.view["status"] == "denied"
    refusals = [k for k in log_kinds(vault) if k == ("refusal", rid)]
    assert len(refusals) == 4  # three approvals ignored and logged, one release refused


def test_a4_the_floor_holds_under_any_regime(vault: Vault, shards: Shards) -> None:
    vault.register(artefact("frontier-1", 3.5e26, shards))
    for regime in ("us-2026-01", "us-2025-05", "us-2023-10"):
        made = vault.request(transfer(destination="CN", regime=regime), clean)
        assert (made.view["status"], made.view["reason"]) == ("denied", "tier3_floor"), regime


def test_a4_an_uncontrolled_artefact_is_not_floored(vault: Vault, shards: Shards) -> None:
    vault.register(artefact("small", 1e24, shards))
    made = vault.request(transfer("small", destination="CN"), clean)
    assert made.view["status"] == "pending"
    assert any("Tier 3 floor not applied" in line for line in made.view["why"])


# ---------------------------------------------------------------- A5-A7: approvals


def test_a5_two_distinct_approvers_make_it_eligible(vault: Vault, shards: Shards) -> None:
    vault.register(artefact("frontier-1", 3.5e26, shards))
    made = vault.request(transfer(destination="DE"), clean)
    rid = made.view["request"]
    assert (made.view["status"], made.view["reason"]) == ("pending", "awaiting_approvals")
    assert "us-diffusion-2025/aia" in made.view["rules"]
    first = vault.approve(rid, "alice")
    assert not first.refused and first.view["status"] == "pending"
    assert first.view["approvals"]["needed"] == 2
    second = vault.approve(rid, "bob")
    assert second.view["status"] == "eligible"
    assert [a["approver"] for a in second.view["approvals"]["counted"]] == ["alice", "bob"]


@pytest.mark.parametrize("second", ["alice", "Alice", " alice "])
def test_a6_the_same_identity_counts_once(vault: Vault, shards: Shards, second: str) -> None:
    vault.register(artefact("frontier-1", 3.5e26, shards))
    rid = vault.request(transfer(), clean).view["request"]
    vault.approve(rid, "alice")
    again = vault.approve(rid, second)
    assert again.refused and again.view["approval_reason"] == "already_approved"
    assert vault.status(rid)["status"] == "pending"


def test_a6_the_requester_cannot_approve(vault: Vault, shards: Shards) -> None:
    vault.register(artefact("frontier-1", 3.5e26, shards))
    rid = vault.request(transfer(requester="carol"), clean).view["request"]
    vault.approve(rid, "alice")
    own = vault.approve(rid, "CAROL")
    assert own.refused and own.view["approval_reason"] == "requester_cannot_approve"
    assert vault.status(rid)["status"] == "pending"
    assert vault.approve(rid, "bob").view["status"] == "eligible"


def test_a7_approvals_expire_after_the_ttl(
    vault_url: str, clock: Clock, book: tiergate.Rulebook, shards: Shards
) -> None:
    vault = Vault(vault_url, clock=clock, book=book)
    vault.init("alice,bob,carol", 2, approval_ttl_hours=4)
    vault.register(artefact("frontier-1", 3.5e26, shards))
    rid = vault.request(transfer(), clean).view["request"]
    vault.approve(rid, "alice")
    clock.advance(1)
    assert vault.approve(rid, "bob").view["status"] == "eligible"
    clock.advance(2.99)
    assert vault.status(rid)["status"] == "eligible"
    clock.advance(0.01)  # alice's approval is 4 h old
    view = vault.status(rid)
    assert view["status"] == "pending"
    assert {"approver": "alice", "reason": "approval_expired"}.items() <= view["approvals"]["not_counted"][0].items()
    released = vault.release(rid, shards.folder, clean)
    assert released.refused and released.view["refusal"] == "not_eligible"
    renewed = vault.approve(rid, "alice")  # an expired approval may be renewed
    assert not renewed.refused and renewed.view["status"] == "eligible"
    vault.close()


def test_a_request_expires(vault: Vault, clock: Clock, shards: Shards) -> None:
    vault.register(artefact("frontier-1", 3.5e26, shards))
    rid = vault.request(transfer(), clean).view["request"]
    clock.advance(7 * 24)
    assert vault.status(rid)["status"] == "expired"
    late = vault.approve(rid, "alice")
    assert late.refused and late.view["approval_reason"] == "request_expired"


# ---------------------------------------------------------------- A8: screening at release


def test_a8_a_recipient_listed_after_approval_is_not_released(vault: Vault, shards: Shards, tmp_path: Path) -> None:
    from tiergate.screen.ingest import read_lists
    from tiergate.screen.store import open_store

    lists_url = f"sqlite:///{tmp_path / 'lists.db'}"
    store = open_store(lists_url)
    store.init()
    store.load(read_lists([SAMPLE_LISTS]))
    vault.register(artefact("frontier-1", 3.5e26, shards))
    made = vault.request(transfer(recipient="Northwind Compute GmbH"), from_lists(lists_url))
    rid = made.view["request"]
    assert made.view["status"] == "pending"
    vault.approve(rid, "alice")
    assert vault.approve(rid, "bob").view["status"] == "eligible"

    added = tmp_path / "entity_list_update.csv"
    row = [""] * len(CSL_HEADER.split(","))
    row[0], row[1], row[5], row[7] = (
        "vault-test-1",
        "Entity List (EL) - Bureau of Industry and Security",
        "Northwind Compute GmbH",
        "Berlin, DE",
    )
    added.write_text(CSL_HEADER + "\n" + ",".join(f'"{v}"' for v in row) + "\n")
    store.load(read_lists([added]))
    store.close()

    blocked = vault.release(rid, shards.folder, from_lists(lists_url))
    assert blocked.refused and blocked.view["refusal"] == "screening_hit"
    assert blocked.view["status"] == "denied"
    assert blocked.view["screening"]["blocking"][0]["list"] == "EL"
    assert ("refusal", rid) in log_kinds(vault)
    assert vault.release(rid, shards.folder, clean).refused  # denied for good
    assert vault.status(rid)["reason"] == "screening_hit_at_release"


def test_a8_a_listed_recipient_is_denied_at_request(vault: Vault, shards: Shards) -> None:
    vault.register(artefact("frontier-1", 3.5e26, shards))
    made = vault.request(transfer(), listed)
    assert (made.view["status"], made.view["reason"]) == ("denied", "screening_hit")


# ---------------------------------------------------------------- A9: Tier 2 storage conditions


def _centre(ident: str, veu: str | None, fedramp: bool, dedicated: bool) -> dict[str, object]:
    return {
        "id": ident,
        "name": ident,
        "country": "IN",
        "operator": "Operator Pvt Ltd",
        "veu": veu,
        "attestation": {
            "fedramp_high_equivalent": fedramp,
            "dedicated_devices": dedicated,
            "attested_by": "CISO",
            "attested_on": "2026-11-01",
        },
    }


@pytest.mark.parametrize(
    ("veu", "fedramp", "dedicated", "expected"),
    [
        (None, True, True, "license_required"),
        ("NVEU", True, True, "license_required"),
        ("UVEU", False, True, "license_required"),
        ("UVEU", True, False, "license_required"),
        ("UVEU", True, True, "pending"),
    ],
)
def test_a9_tier2_needs_an_attested_uveu_data_centre(
    vault: Vault, shards: Shards, veu: str | None, fedramp: bool, dedicated: bool, expected: str
) -> None:
    vault.register(artefact("frontier-1", 3.5e26, shards))
    vault.add_datacentre(_centre("mumbai-1", veu, fedramp, dedicated))
    made = vault.request(transfer(destination="IN", hq="US", data_centre="mumbai-1"), clean)
    rid = made.view["request"]
    assert made.view["status"] == expected
    assert "vault/uveu-attested-storage" in made.view["rules"]
    vault.approve(rid, "alice")
    vault.approve(rid, "bob")
    after = vault.status(rid)["status"]
    assert after == ("eligible" if expected == "pending" else "license_required")


def test_a9_tier2_without_a_data_centre_needs_a_licence(vault: Vault, shards: Shards) -> None:
    vault.register(artefact("frontier-1", 3.5e26, shards))
    made = vault.request(transfer(destination="IN"), clean)
    assert (made.view["status"], made.view["reason"]) == ("license_required", "license_required")
    assert "us-diffusion-2025/review-weights-tier2" in made.view["rules"]


# ---------------------------------------------------------------- A10: shard integrity


def _eligible(vault: Vault) -> str:
    rid = vault.request(transfer(), clean).view["request"]
    vault.approve(rid, "alice")
    vault.approve(rid, "bob")
    return str(rid)


def test_a10_a_changed_shard_blocks_release(vault: Vault, shards: Shards) -> None:
    vault.register(artefact("frontier-1", 3.5e26, shards))
    rid = _eligible(vault)
    victim = shards.folder / "model-00001.safetensors"
    original = victim.read_bytes()
    victim.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    blocked = vault.release(rid, shards.folder, clean)
    assert blocked.refused and blocked.view["refusal"] == "hash_mismatch"
    assert blocked.view["status"] == "eligible"
    problems = blocked.view["shards"]["problems"]
    assert any("model-00001.safetensors" in p and "not a shard" in p for p in problems)
    assert any(p.startswith("shard 1 ") for p in problems)
    entry = vault.log_entries(0, 1000)[-1]
    assert (entry["kind"], entry["data"]["reason"]) == ("refusal", "hash_mismatch")
    victim.write_bytes(original)
    done = vault.release(rid, shards.folder, clean)
    assert not done.refused and done.view["status"] == "released"
    assert done.view["shards"]["recomputed_root"] == vault.artefact("frontier-1").merkle_root
    again = vault.release(rid, shards.folder, clean)
    assert again.refused and again.view["refusal"] == "already_released"


def test_a10_missing_extra_and_resized_shards_block(vault: Vault, shards: Shards) -> None:
    vault.register(artefact("frontier-1", 3.5e26, shards))
    rid = _eligible(vault)
    (shards.folder / "smuggled.bin").write_bytes(b"not registered")
    assert vault.release(rid, shards.folder, clean).view["refusal"] == "hash_mismatch"
    (shards.folder / "smuggled.bin").unlink()
    (shards.folder / "link.bin").symlink_to(shards.folder / "model-00000.safetensors")
    linked = vault.release(rid, shards.folder, clean)
    assert any("link.bin: not a regular file" in p for p in linked.view["shards"]["problems"])
    (shards.folder / "link.bin").unlink()
    (shards.folder / "model-00002.safetensors").unlink()
    blocked = vault.release(rid, shards.folder, clean)
    assert any("shard 2" in p and "not in the folder" in p for p in blocked.view["shards"]["problems"])


# ---------------------------------------------------------------- A11: an entry changed after a checkpoint


def test_a11_an_edited_entry_fails_inclusion_and_consistency(vault: Vault, vault_url: str, shards: Shards) -> None:
    key = Ed25519PrivateKey.generate()
    vault.register(artefact("frontier-1", 3.5e26, shards))
    _eligible(vault)
    old = vault.checkpoint(key)
    bundle = vault.prove(3)
    check_inclusion(bundle, key.public_key())
    _eligible(vault)
    engine = sa.create_engine(vault_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        text = conn.execute(sa.text("SELECT entry FROM vault_log WHERE seq = 3")).scalar()
        forged = text.replace('"alice"', '"mallory"')
        assert forged != text
        conn.execute(sa.text("UPDATE vault_log SET entry = :e WHERE seq = 3"), {"e": forged})
    engine.dispose()
    with pytest.raises(ProofError, match="entry 3 is not in the log"):
        check_inclusion(vault.prove(3), key.public_key())
    with pytest.raises(ProofError, match="does not extend"):
        check_consistency(vault.consistency(old.size), key.public_key())
    verification = vault.verify(key.public_key())
    assert not verification.ok
    assert verification.problems[0].entry == 3


# ---------------------------------------------------------------- A12: approver-set rotation


def test_a12_a_rotation_needs_k_of_the_old_set(vault: Vault, clock: Clock) -> None:
    proposed = vault.init("alice,bob,erin", 2)
    rid = proposed.view["request"]
    assert proposed.view["kind"] == "rotation" and proposed.view["status"] == "pending"
    assert vault.approve(rid, "alice").view["status"] == "pending"
    with pytest.raises(tiergate.TiergateError, match="not in the approver set"):
        vault.approve(rid, "erin")  # a member of the proposed set only
    assert vault.approver_set().approvers == ("alice", "bob", "carol")
    clock.advance(7 * 24)
    assert vault.status(rid)["status"] == "expired"
    assert vault.approver_set().version == 1

    again = vault.init("alice,bob,erin", 2).view["request"]
    vault.approve(again, "alice")
    applied = vault.approve(again, "carol")
    assert applied.view["status"] == "applied"
    assert vault.approver_set().approvers == ("alice", "bob", "erin")
    kinds = [k for k, _ in log_kinds(vault)]
    assert kinds.count("approvers-changed") == 1


def test_a12_a_rotation_drops_the_removed_approvers_approvals(vault: Vault, shards: Shards) -> None:
    vault.register(artefact("frontier-1", 3.5e26, shards))
    rid = _eligible(vault)  # alice and bob approved
    change = vault.init("alice,carol,erin", 2).view["request"]
    vault.approve(change, "carol")
    vault.approve(change, "alice")
    view = vault.status(rid)
    assert view["status"] == "pending"  # bob is no longer an approver
    assert any(a["reason"] == "not_in_approver_set" for a in view["approvals"]["not_counted"])


def test_a12_a_second_rotation_supersedes_the_first(vault: Vault) -> None:
    first = vault.init("alice,bob", 1).view["request"]
    second = vault.init("alice,carol", 1).view["request"]
    vault.approve(second, "alice")
    vault.approve(second, "bob")
    assert vault.status(first)["status"] == "superseded"
    assert vault.approve(first, "carol").refused


def test_sqlite_file_is_the_default_store(sqlite_url: str, clock: Clock, book: tiergate.Rulebook) -> None:
    vault = Vault(sqlite_url, clock=clock, book=book)
    vault.init("alice,bob", 1)
    vault.close()
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {t for t in tables if t.startswith("vault_")} == {
        "vault_config",
        "vault_approver_sets",
        "vault_artefacts",
        "vault_datacentres",
        "vault_requests",
        "vault_approvals",
        "vault_log",
        "vault_log_head",
        "vault_checkpoints",
    }
    assert "tiergate_vault_version" in tables


@pytest.mark.parametrize("regime", ["us-2026-01", "us-2025-05", "us-2023-10"])
def test_a4_the_floor_holds_when_registered_and_requested_under_a_regime_without_4e091(
    vault: Vault, shards: Shards, regime: str
) -> None:
    """Review fix: an artefact registered under a regime that does not apply 4E091 (not_controlled there) and
    requested to China under the same regime was released after two approvals. The floor uses the vault's own
    definition (closed weights, 10^26 operations or more), whatever regime is chosen."""
    registered = vault.register(artefact("frontier-now", 3.5e26, shards), regime=regime)
    assert registered.eccn == "not_controlled"
    made = vault.request(transfer("frontier-now", destination="CN", regime=regime), clean)
    rid = made.view["request"]
    assert (made.view["status"], made.view["reason"]) == ("denied", "tier3_floor")
    assert any("vault's own definition" in line for line in made.view["why"])
    for name in ("alice", "bob"):
        assert vault.approve(rid, name).refused
    assert vault.release(rid, shards.folder, clean).refused
    assert vault.status(rid)["status"] == "denied"
    small = vault.register(artefact("small-now", 9e25, shards), regime=regime)
    assert vault.request(transfer(small.id, destination="CN", regime=regime), clean).view["status"] == "pending"
