"""Fixtures of the replay tests: proposal packs written by ``tiergate packs propose``'s functions into a
temporary folder, and the rulebook loaded with them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

import tiergate
from tiergate.replay.proposal import build_proposal, write_proposal
from tiergate.rules import load_rulebook

Proposer = Callable[..., tiergate.Rulebook]


@pytest.fixture
def propose(tmp_path: Path, book: tiergate.Rulebook) -> Proposer:
    """Write a proposal on top of ``base`` into a folder and return the rulebook that loads it."""
    folder = tmp_path / "proposals"

    def make(
        base: str,
        *,
        sets: tuple[tuple[str, str], ...] = (),
        add: tuple[tuple[str, str], ...] = (),
        remove: tuple[tuple[str, str], ...] = (),
        effective: str = "2020-01-01",
        pack_id: str = "proposal",
    ) -> tiergate.Rulebook:
        proposal = build_proposal(
            book, base, sets=sets, add=add, remove=remove, effective=dt.date.fromisoformat(effective), pack_id=pack_id
        )
        write_proposal(proposal, folder, book)
        return load_rulebook([folder])

    return make
