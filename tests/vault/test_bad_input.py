"""Bad input: a clear error naming the field (and file) and nothing written, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.vault.conftest import Shards, artefact, clean, transfer
from tiergate.errors import TiergateError
from tiergate.vault import Vault
from tiergate.vault.model import ScreeningResult
from tiergate.vault.schema import metadata
from tiergate.vault.screening import ScreeningUnavailable, from_lists

HASH = "ab" * 32


def snapshot(vault: Vault) -> dict[str, Any]:
    """Every row of every vault table."""
    found: dict[str, Any] = {}
    with vault.ledger.engine.connect() as conn:
        for table in metadata.sorted_tables:
            found[table.name] = sorted(map(repr, conn.execute(sa.select(table)).fetchall()))
    return found


@pytest.fixture
def ready(vault: Vault, shards: Shards) -> Vault:
    vault.register(artefact("frontier-1", 3.5e26, shards))
    vault.add_datacentre({"id": "dc-1", "name": "DC 1", "country": "IN", "operator": "Op", "veu": "UVEU"})
    rid = vault.request(transfer(), clean).view["request"]
    assert rid == "R-000001"
    return vault


def _artefact(**change: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": "new-1",
        "name": "New",
        "training_ops": 1e26,
        "open_weights": False,
        "shards": [{"sha256": HASH, "bytes": 10}],
    }
    for key, value in change.items():
        if value is ...:
            found.pop(key)
        else:
            found[key] = value
    return found


REGISTER: list[tuple[str, dict[str, Any], str]] = [
    ("negative operations", _artefact(training_ops=-1.0), "training_ops: Input should be greater than or equal to 0"),
    ("NaN operations", _artefact(training_ops=float("nan")), "training_ops: Input should be a finite number"),
    ("infinite operations", _artefact(training_ops=float("inf")), "training_ops: Input should be a finite number"),
    ("operations as text", _artefact(training_ops="1e26"), "training_ops: Input should be a valid number"),
    ("operations missing", _artefact(training_ops=...), "training_ops: required field is missing"),
    ("short hash", _artefact(shards=[{"sha256": "ab" * 31, "bytes": 1}]), "shards[0].sha256: String should match"),
    ("non-hex hash", _artefact(shards=[{"sha256": "zz" * 32, "bytes": 1}]), "shards[0].sha256: String should match"),
    ("long hash", _artefact(shards=[{"sha256": "ab" * 32 + "a", "bytes": 1}]), "shards[0].sha256: String should match"),
    (
        "hash as number",
        _artefact(shards=[{"sha256": 5, "bytes": 1}]),
        "shards[0].sha256: Input should be a valid string",
    ),
    ("zero bytes", _artefact(shards=[{"sha256": HASH, "bytes": 0}]), "shards[0].bytes: Input should be greater than 0"),
    ("bytes as text", _artefact(shards=[{"sha256": HASH, "bytes": "10"}]), "shards[0].bytes: Input should be a valid"),
    ("no shards", _artefact(shards=[]), "shards: List should have at least 1 item"),
    (
        "a shard twice",
        _artefact(shards=[{"sha256": HASH, "bytes": 1}, {"sha256": HASH.upper(), "bytes": 1}]),
        "shards[1].sha256: the same hash as shards[0]",
    ),
    ("open_weights as text", _artefact(open_weights="no"), "open_weights: Input should be a valid boolean"),
    ("unknown field", _artefact(weights="x"), "weights: unknown field"),
    ("id with a space", _artefact(id="new 1"), "id: String should match pattern"),
    ("empty name", _artefact(name=""), "name: String should have at least 1 character"),
    ("unknown base", _artefact(base="nowhere"), "base: no artefact 'nowhere' is registered"),
    ("its own base", _artefact(base="new-1"), "base: an artefact cannot be its own base"),
    ("already registered", _artefact(id="frontier-1"), "id: artefact 'frontier-1' is already registered"),
]


@pytest.mark.parametrize(("case", "data", "message"), REGISTER, ids=[c[0] for c in REGISTER])
def test_bad_artefacts_write_nothing(ready: Vault, case: str, data: dict[str, Any], message: str) -> None:
    before = snapshot(ready)
    with pytest.raises(TiergateError) as caught:
        ready.register(data, where="new.json")
    assert message in str(caught.value)
    assert str(caught.value).startswith("new.json: ")
    assert snapshot(ready) == before


def test_not_an_object(ready: Vault) -> None:
    with pytest.raises(TiergateError, match=r"new\.json: expected a JSON object, not list"):
        ready.register([1], where="new.json")


def test_an_unknown_regime(ready: Vault) -> None:
    before = snapshot(ready)
    with pytest.raises(TiergateError, match="unknown regime 'us-1999'"):
        ready.register(_artefact(), regime="us-1999")
    with pytest.raises(TiergateError, match="unknown regime 'us-1999'"):
        ready.request(transfer(regime="us-1999"), clean)
    assert snapshot(ready) == before


def _refuse_screening(name: str, country: str | None) -> ScreeningResult:
    raise ScreeningUnavailable("cannot screen the recipient: the list store holds no list")


REQUESTS: list[tuple[str, dict[str, Any], Callable[[str, str | None], ScreeningResult], str]] = [
    ("unknown artefact", transfer("nowhere"), clean, "no artefact 'nowhere' is registered"),
    ("not a country", transfer(destination="XX"), clean, "destination: 'XX' is not an ISO 3166-1 alpha-2"),
    ("a country name", transfer(hq="China"), clean, "recipient_headquarters: 'China' is not an ISO 3166-1 alpha-2"),
    ("unknown data centre", transfer(data_centre="dc-9"), clean, "data_centre: no data centre 'dc-9'"),
    (
        "data centre elsewhere",
        transfer(data_centre="dc-1"),
        clean,
        "data_centre: 'dc-1' is in IN, not in the destination DE",
    ),
    ("requester with a newline", transfer(requester="dave\nroot"), clean, "requester: 'dave\\nroot' is not a name"),
    ("empty recipient", transfer(recipient=""), clean, "recipient: String should have at least 1 character"),
    ("no lists to screen", transfer(), _refuse_screening, "cannot screen the recipient"),
]


@pytest.mark.parametrize(("case", "data", "screen", "message"), REQUESTS, ids=[c[0] for c in REQUESTS])
def test_bad_requests_write_nothing(
    ready: Vault, case: str, data: dict[str, Any], screen: Callable[[str, str | None], ScreeningResult], message: str
) -> None:
    before = snapshot(ready)
    with pytest.raises(TiergateError) as caught:
        ready.request(data, screen)
    assert message in str(caught.value)
    assert snapshot(ready) == before


def test_an_empty_list_store_refuses_to_screen(ready: Vault, tmp_path: Path) -> None:
    from tiergate.screen.store import open_store

    url = f"sqlite:///{tmp_path / 'empty-lists.db'}"
    store = open_store(url)
    store.init()
    store.close()
    before = snapshot(ready)
    with pytest.raises(ScreeningUnavailable, match="the list store holds no list"):
        ready.request(transfer(), from_lists(url))
    with pytest.raises(ScreeningUnavailable, match="cannot screen the recipient"):
        ready.request(transfer(), from_lists(f"sqlite:///{tmp_path / 'no-such-folder' / 'x.db'}"))
    assert snapshot(ready) == before


@pytest.mark.parametrize(
    ("request_id", "approver", "message"),
    [
        ("R-999999", "alice", "no request 'R-999999'"),
        ("R-000001", "mallory", "approver: 'mallory' is not in the approver set (alice, bob, carol)"),
        ("R-000001", "", "approver: '' is not a name"),
        ("R-000001", "alice; DROP TABLE vault_log", "is not a name"),
    ],
)
def test_bad_approvals_write_nothing(ready: Vault, request_id: str, approver: str, message: str) -> None:
    before = snapshot(ready)
    with pytest.raises(TiergateError) as caught:
        ready.approve(request_id, approver)
    assert message in str(caught.value)
    assert snapshot(ready) == before


def test_bad_releases_write_nothing(ready: Vault, shards: Shards, tmp_path: Path) -> None:
    before = snapshot(ready)
    with pytest.raises(TiergateError, match="no request 'R-7'"):
        ready.release("R-7", shards.folder, clean)
    with pytest.raises(TiergateError, match="not a folder of shards"):
        ready.release("R-000001", tmp_path / "missing", clean)
    rotation = ready.init("alice,bob", 1).view["request"]
    after_rotation = snapshot(ready)
    with pytest.raises(TiergateError, match="a change of the approver set, not a transfer"):
        ready.release(rotation, shards.folder, clean)
    assert snapshot(ready) == after_rotation
    assert before != after_rotation


@pytest.mark.parametrize(
    ("approvers", "threshold", "ttl", "message"),
    [
        ("alice,bob", 0, None, "--threshold: 0 is not between 1 and the 2 approver(s) named"),
        ("alice,bob", 3, None, "--threshold: 3 is not between 1 and the 2 approver(s) named"),
        ("alice,Alice", 1, None, "--approvers: 'Alice' is named twice"),
        ("alice,,bob", 1, None, "--approvers: an empty name"),
        ("alice,bob", 1, -1.0, "--ttl: -1.0 is not a number of hours"),
        ("alice,bob", 1, float("nan"), "--ttl: nan is not a number of hours"),
        ("alice,bob", 1, 0.0, "--ttl: 0.0 is not a number of hours"),
    ],
)
def test_bad_approver_sets_write_nothing(
    ready: Vault, approvers: str, threshold: int, ttl: float | None, message: str
) -> None:
    before = snapshot(ready)
    with pytest.raises(TiergateError) as caught:
        ready.init(approvers, threshold, approval_ttl_hours=ttl)
    assert message in str(caught.value)
    assert snapshot(ready) == before


def test_the_regime_is_set_once(ready: Vault) -> None:
    before = snapshot(ready)
    with pytest.raises(TiergateError, match="the vault's regime is set when it is first set up"):
        ready.init("alice,bob", 1, regime="us-2026-01")
    assert snapshot(ready) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id": "dc-2", "name": "x", "country": "IN", "operator": "o", "veu": "XVEU"}, "veu: Input should be"),
        ({"id": "dc-2", "name": "x", "country": "India", "operator": "o"}, "country: 'India' is not an ISO"),
        (
            {
                "id": "dc-2",
                "name": "x",
                "country": "IN",
                "operator": "o",
                "attestation": {"fedramp_high_equivalent": True, "dedicated_devices": "yes"},
            },
            "attestation.dedicated_devices: Input should be a valid boolean",
        ),
        ({"id": "dc-1", "name": "x", "country": "IN", "operator": "o"}, "id: data centre 'dc-1' is already registered"),
    ],
)
def test_bad_data_centres_write_nothing(ready: Vault, data: dict[str, Any], message: str) -> None:
    before = snapshot(ready)
    with pytest.raises(TiergateError) as caught:
        ready.add_datacentre(data, where="dc.json")
    assert message in str(caught.value)
    assert snapshot(ready) == before


def test_bad_log_queries(ready: Vault) -> None:
    with pytest.raises(TiergateError, match="no log entry 99"):
        ready.prove(99)
    with pytest.raises(TiergateError, match="no log entry -1"):
        ready.prove(-1)
    with pytest.raises(TiergateError, match="no checkpoint covers entry 0"):
        ready.prove(0)
    with pytest.raises(TiergateError, match="no checkpoint of size 3"):
        ready.consistency(3)


def test_a_database_without_a_vault(tmp_path: Path) -> None:
    vault = Vault(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(TiergateError, match=r"holds no vault .*run `tiergate vault init"):
        vault.status("R-000001")
    with pytest.raises(TiergateError, match=r"folder .* does not exist"):
        Vault(f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}")
