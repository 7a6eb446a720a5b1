"""Licences for tests: the interchange form of docs/formats.md, changed as a test needs, and recorded."""

from __future__ import annotations

from typing import Any

import tiergate
from tiergate.catalog import load_equipment
from tiergate.ledger import Ledger
from tiergate.ledger.licence import Licence, parse_licence


def licence_data(licence_id: str = "D1234567", **changes: Any) -> dict[str, Any]:
    """The licence of docs/formats.md (2,000 H100 SXM for 60 M USD to Example Compute Pvt Ltd, India)."""
    return {
        "id": licence_id,
        "jurisdiction": "US",
        "exporter": "Example Exporter Inc",
        "consignees": [{"name": "Example Compute Pvt Ltd", "country": "IN"}],
        "destination": "IN",
        "lines": [{"item": "nvidia-h100-sxm", "quantity": 2000, "value_usd": 60_000_000}],
        "issued": "2025-02-01",
        "expires": "2027-02-01",
        "conditions": ["no reexport without prior authorization"],
        **changes,
    }


def licence(licence_id: str = "D1234567", **changes: Any) -> Licence:
    catalogue = tiergate.load_rulebook().catalogue
    return parse_licence(licence_data(licence_id, **changes), catalogue, load_equipment())


def record(ledger: Ledger, licence_id: str = "D1234567", **changes: Any) -> Licence:
    recorded = licence(licence_id, **changes)
    ledger.add_licence(recorded)
    return recorded
