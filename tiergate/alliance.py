"""Choosing the laws a transaction engages and deciding it in each: the edge between the rulebook (which
holds every pack) and the pure combined decision (``tiergate.decide.combined``).

A transaction that engages US law alone (exported from a country whose law Tiergate does not encode,
chips only, no origin facts, no matching denial) takes the US fast path: ``tiergate.decide.decide``
under the US regime, exactly as before the alliance packs existed. Any other goes to the combined
decision, with the law of the exporting country's territory (its national law first, then the EU's for
a Member State) and US law through its reach rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tiergate.catalog.model import Equipment
from tiergate.decide import decide
from tiergate.decide.combined import Law, decide_combined
from tiergate.decide.model import Decision, DenialNotice, Listing, Transaction
from tiergate.errors import InputError
from tiergate.rules.book import Rulebook
from tiergate.rules.ruleset import Ruleset

__all__ = ["determine_all", "engaged_laws", "is_us_only"]


def _party(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _denial_may_match(txn: Transaction, denials: Sequence[DenialNotice]) -> bool:
    who = _party(txn.consignee.name)
    for d in denials:
        if d.destination != txn.destination or not (d.date <= txn.date <= d.expires):
            continue
        if (d.end_user_id and d.end_user_id == txn.consignee.id) or _party(d.end_user) == who:
            return True
    return False


def is_us_only(book: Rulebook, txn: Transaction, denials: Sequence[DenialNotice] = ()) -> bool:
    """Whether ``txn`` engages US law alone (the fast path)."""
    if txn.export_from in book.territory_laws:
        return False
    if any(isinstance(line.item, Equipment) or line.origin is not None for line in txn.items):
        return False
    return not (denials and _denial_may_match(txn, denials))


def engaged_laws(book: Rulebook, txn: Transaction) -> list[Law]:
    """The non-US laws an export from ``txn.export_from`` engages: national laws first, then the EU's."""
    codes = book.territory_laws.get(txn.export_from, ())
    ordered = sorted(codes, key=lambda code: 0 if book.jurisdictions[code].member_of else 1)
    return [Law(book.jurisdictions[code], book.allied(code, txn.date)) for code in ordered]


def determine_all(
    txn: Transaction,
    book: Rulebook,
    ruleset: Ruleset,
    *,
    balances: Mapping[str, float] | None = None,
    selection: str | None = None,
    explain: bool = True,
    listings: Sequence[Listing] = (),
    denials: Sequence[DenialNotice] = (),
) -> Decision:
    """The decision for ``txn`` under the US ``ruleset`` and every other law it engages."""
    if is_us_only(book, txn, denials):
        return decide(txn, ruleset, balances=balances, selection=selection, explain=explain)
    if "US" not in book.jurisdictions:
        raise InputError(
            "this transaction engages allied law, but the rulebook declares no jurisdictions",
            hint="load the packaged packs (jurisdictions.yaml) with your own",
        )
    return decide_combined(
        txn,
        ruleset,
        engaged_laws(book, txn),
        book.jurisdictions["US"],
        book.allied("US", txn.date),
        balances=balances,
        selection=selection,
        explain=explain,
        listings=listings,
        denials=denials,
    )
