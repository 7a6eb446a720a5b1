"""Tiergate: export controls on advanced AI compute as software.

The Python API::

    import tiergate
    book = tiergate.load_rulebook()                      # packaged packs + catalogue
    txn = tiergate.parse_transaction({...}, book.catalogue)
    decision = tiergate.determine(txn, book)             # regime in force on the transaction date
    tiergate.decision_to_dict(decision)                  # the interchange JSON
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import sys
import types
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tiergate.errors import InputError, PackError, RegimeError, TiergateError, UnknownChipError, UnknownCountryError

if TYPE_CHECKING:
    from tiergate.catalog import Catalogue, Chip, load_catalogue
    from tiergate.classify import Classification, classify
    from tiergate.decide import Decision, Transaction, decide
    from tiergate.decide.model import DenialNotice, Listing
    from tiergate.interchange import classification_to_dict, decision_to_dict, parse_item, parse_transaction
    from tiergate.rules import Rulebook, Ruleset, load_rulebook

_WHERE = {
    "Catalogue": "tiergate.catalog",
    "Chip": "tiergate.catalog",
    "load_catalogue": "tiergate.catalog",
    "Classification": "tiergate.classify",
    "classify": "tiergate.classify",
    "Decision": "tiergate.decide",
    "Transaction": "tiergate.decide",
    "decide": "tiergate.decide",
    "DenialNotice": "tiergate.decide.model",
    "Listing": "tiergate.decide.model",
    "classification_to_dict": "tiergate.interchange",
    "decision_to_dict": "tiergate.interchange",
    "parse_item": "tiergate.interchange",
    "parse_transaction": "tiergate.interchange",
    "Rulebook": "tiergate.rules",
    "Ruleset": "tiergate.rules",
    "load_rulebook": "tiergate.rules",
}


_FUNCTIONS = frozenset({"classify", "decide"})
"""Public functions named as their subpackage: the name is the function's, as ``from tiergate.decide import decide``
made it, even after the subpackage is imported (which would otherwise set the package's attribute to it)."""


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FUNCTIONS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    """The public names are imported on first use, so that a command that needs one capability (``tiergate screen
    name``) does not pay for loading all of them."""
    module = _WHERE.get(name)
    if module is None:  # a subpackage used as an attribute (``tiergate.interchange.decision_to_dict``)
        try:
            return importlib.import_module(f"tiergate.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"tiergate.{name}":
                raise
            raise AttributeError(f"module 'tiergate' has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)


__all__ = [
    "Catalogue",
    "Chip",
    "Classification",
    "Decision",
    "InputError",
    "PackError",
    "RegimeError",
    "Rulebook",
    "Ruleset",
    "TiergateError",
    "Transaction",
    "UnknownChipError",
    "UnknownCountryError",
    "classification_to_dict",
    "classify",
    "decide",
    "decision_to_dict",
    "determine",
    "load_catalogue",
    "load_rulebook",
    "parse_item",
    "parse_transaction",
]

__version__ = "0.1.0"


def determine(
    txn: Transaction,
    rulebook: Rulebook,
    *,
    regime: str | None = None,
    as_of: dt.date | None = None,
    balances: Mapping[str, float] | None = None,
    listings: Sequence[Listing] = (),
    denials: Sequence[DenialNotice] = (),
) -> Decision:
    """Decide ``txn`` under ``regime`` (a scenario: the whole stack) or, by default, the transaction's own
    ``regime`` field or else the regime in force on its date. ``as_of`` replaces the transaction's date.

    Every law the transaction engages answers (see ``tiergate.alliance``): the exporting country's (and the
    EU's for a Member State) and US law through its reach rules; ``listings`` are the allied-list entries
    screening found for the consignee, ``denials`` the denial notices held (consultation, no general
    authorisation against them). A transaction that engages US law alone is decided as before."""
    from tiergate.alliance import determine_all

    if as_of is not None and as_of != txn.date:
        txn = dataclasses.replace(txn, date=as_of)
    ruleset, selection = rulebook.select(regime or txn.regime, txn.date)
    return determine_all(
        txn,
        rulebook,
        ruleset,
        balances=balances,
        selection=selection.describe(),
        listings=listings,
        denials=denials,
    )
