"""The Replay report (docs/ARCHITECTURE.md, Replay): what changed between the two sides of a replay.

Every total carries the transactions' value in US dollars: ``value_usd`` is the declared value where the
transaction gives one and otherwise the midpoint of the catalogue's indicative price range times the
quantity; ``value_usd_estimated`` is the part of ``value_usd`` that is such an estimate, ``value_usd_low`` /
``value_usd_high`` the range with every estimate at its low and high end, and ``value_unpriced`` the number of
transactions with neither a declared value nor a catalogue price (left out of the dollar figures). TPP moved
is the TPP of the transactions whose determination changed, as classified under the ``from`` regime.

The report is deterministic: the same history, packs and options give the same bytes, and its provenance holds
the history's SHA-256, both sides' packs, the engine version, a Merkle root over the per-transaction results
(leaves of 4,096 transactions) and the SHA-256 of the report itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from tiergate import __version__
from tiergate.decide.model import OUTCOMES, POLICIES, Decision
from tiergate.merkle import leaf_hash, tree_root
from tiergate.replay.engine import EPOCH, Bound, Coded, ReplayResult, Side

LEAF_ROWS = 4096
TOP = 100
"""Breakdowns by consignee list the ``TOP`` most affected; the others are counted."""
UNREPLAYABLE_LISTED = 1000
LICENSING = frozenset({"license_required"})


def _round(value: float | None, digits: int = 4) -> float | int | None:
    if value is None or not math.isfinite(value):
        return None
    rounded = round(float(value), digits)
    return int(rounded) if rounded == int(rounded) and abs(rounded) < 2**53 else rounded


def _state(d: Decision) -> tuple[str, str | None, str | None]:
    return d.outcome, d.authorization, d.review_policy


def _state_order(state: tuple[str, str | None, str | None]) -> tuple[int, str, int]:
    outcome, authorization, policy = state
    return OUTCOMES.index(outcome), authorization or "", POLICIES.index(policy) if policy in POLICIES else -1


class _Rows:
    """Per-row arrays of a replay result, in input order."""

    def __init__(self, result: ReplayResult) -> None:
        facts = result.facts
        self.n = len(facts.ids)
        self.from_index = result.templates["from"]
        self.to_index = result.templates["to"]
        sides = result.sides
        # State codes in a fixed order (outcome, then authorisation and review policy), whatever order the
        # determinations were first met in, so that the Merkle leaves do not depend on how the replay ran.
        seen = {
            _state(side.templates[i])
            for side, used in ((sides[0], self.from_index), (sides[1], self.to_index))
            for i in np.unique(used).tolist()
        }
        states = sorted(seen, key=_state_order)
        codes = {state: k for k, state in enumerate(states)}

        def state_codes(side: Side) -> np.ndarray:
            return np.array([codes.get(_state(t), -1) for t in side.templates] or [0], dtype=np.int64)

        from_table, to_table = state_codes(sides[0]), state_codes(sides[1])
        self.states = states
        self.from_state = from_table[self.from_index] if self.n else np.zeros(0, dtype=np.int64)
        self.to_state = to_table[self.to_index] if self.n else np.zeros(0, dtype=np.int64)
        self.changed = self.from_state != self.to_state
        licensing = np.array([s[0] in LICENSING for s in states] or [False], dtype=bool)
        self.from_licence = licensing[self.from_state] if self.n else np.zeros(0, dtype=bool)
        self.to_licence = licensing[self.to_state] if self.n else np.zeros(0, dtype=bool)
        self.tpp = facts.tpp
        declared, low, high = facts.value_declared, facts.value_low, facts.value_high
        has_declared = ~np.isnan(declared)
        priced = ~np.isnan(low)
        self.unpriced = ~has_declared & ~priced
        estimated = ~has_declared & priced
        mid = (low + high) / 2
        self.value = np.where(has_declared, declared, np.where(priced, mid, 0.0))
        self.value_estimated = np.where(estimated, mid, 0.0)
        self.value_low = np.where(has_declared, declared, np.where(priced, low, 0.0))
        self.value_high = np.where(has_declared, declared, np.where(priced, high, 0.0))
        self.days = facts.days


def _sums(rows: _Rows, mask: np.ndarray) -> dict[str, Any]:
    return {
        "tpp": _round(float(rows.tpp[mask].sum())),
        "value_usd": _round(float(rows.value[mask].sum()), 2),
        "value_usd_estimated": _round(float(rows.value_estimated[mask].sum()), 2),
        "value_usd_low": _round(float(rows.value_low[mask].sum()), 2),
        "value_usd_high": _round(float(rows.value_high[mask].sum()), 2),
        "value_unpriced": int(rows.unpriced[mask].sum()),
    }


def _grouped(rows: _Rows, codes: np.ndarray, count: int) -> dict[str, np.ndarray]:
    """Per group code: transactions, changes, TPP and value moved, licence applications added and removed."""

    def add(weights: np.ndarray | None, mask: np.ndarray) -> np.ndarray:
        return np.bincount(codes[mask], weights=None if weights is None else weights[mask], minlength=count)

    every = np.ones(rows.n, dtype=bool)
    moved = rows.changed
    return {
        "transactions": add(None, every),
        "changed": add(None, moved),
        "tpp": add(rows.tpp, every),
        "tpp_moved": add(rows.tpp, moved),
        "value_usd_moved": add(rows.value, moved),
        "value_usd_moved_estimated": add(rows.value_estimated, moved),
        "value_usd_moved_low": add(rows.value_low, moved),
        "value_usd_moved_high": add(rows.value_high, moved),
        "value_unpriced_moved": add(None, moved & rows.unpriced),
        "licence_applications_added": add(None, ~rows.from_licence & rows.to_licence),
        "licence_applications_removed": add(None, rows.from_licence & ~rows.to_licence),
    }


def _entries(
    columns: dict[str, np.ndarray], labels: Sequence[str], key: str, h100: float | None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The groups as report entries, most TPP moved first (then most changes, most transactions, label);
    with ``limit``, only the first ``limit`` groups that changed."""
    order = np.lexsort(
        (
            np.array(labels, dtype=object).argsort().argsort() if labels else np.zeros(0),
            -columns["transactions"],
            -columns["changed"],
            -columns["tpp_moved"],
        )
    )
    order = order[columns["transactions"][order] > 0]  # a label no replayed transaction has
    if limit is not None:
        order = order[columns["changed"][order] > 0][:limit]
    out = []
    for g in order.tolist():
        entry: dict[str, Any] = {key: labels[g]}
        for name, values in columns.items():
            value = float(values[g])
            entry[name] = int(value) if name in _COUNTS else _round(value, 2 if "value" in name else 4)
        entry["h100e_moved"] = _round(float(columns["tpp_moved"][g]) / h100, 2) if h100 else None
        out.append(entry)
    return out


_COUNTS = frozenset(
    {"transactions", "changed", "value_unpriced_moved", "licence_applications_added", "licence_applications_removed"}
)


def _binds(side: Side) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[Bound]] = defaultdict(list)
    for bound in side.binds:
        groups[(bound.allocation, bound.rule)].append(bound)
    out = []
    for (allocation, rule), bounds in sorted(groups.items()):
        first = min(bounds, key=lambda b: (b.day, b.account))
        quarters = Counter(f"{b.day.year}Q{(b.day.month - 1) // 3 + 1}" for b in bounds)
        out.append(
            {
                "allocation": allocation,
                "rule": rule,
                "transactions": len(bounds),
                "accounts": len({b.account for b in bounds}),
                "first_date": first.day.isoformat(),
                "first_quarter": f"{first.day.year}Q{(first.day.month - 1) // 3 + 1}",
                "first_account": first.account,
                "by_quarter": dict(sorted(quarters.items())),
            }
        )
    return out


def _usage(side: Side) -> list[dict[str, Any]]:
    """Allocation accounts at the end of the history: per allocation, the accounts drawn, the TPP used and the
    accounts used up; the accounts of the country allocations (and of any allocation with at most 20 accounts)
    in full, with their headroom."""
    by_prefix: dict[str, list[str]] = defaultdict(list)
    for account in side.used:
        by_prefix[account.split(":", 1)[0]].append(account)
    out = []
    for prefix, accounts in sorted(by_prefix.items()):
        used = [side.used[a] for a in accounts]
        caps = [side.caps.get(a) for a in accounts]
        entry: dict[str, Any] = {
            "allocation": prefix,
            "accounts": len(accounts),
            "tpp_used": _round(float(np.sum(used))),
            "exhausted": sum(1 for u, c in zip(used, caps, strict=True) if c is not None and u >= c * (1 - 1e-9)),
        }
        if prefix == "country" or len(accounts) <= 20:
            entry["detail"] = [
                {
                    "account": a,
                    "tpp_used": _round(u),
                    "cap": _round(c),
                    "headroom": _round(max(0.0, c - u)) if c is not None else None,
                }
                for a, u, c in sorted(zip(accounts, used, caps, strict=True))
            ]
        out.append(entry)
    return out


def merkle_root(ids: Sequence[str | None], from_state: np.ndarray, to_state: np.ndarray) -> tuple[str, int]:
    """The RFC 6962 Merkle root (``tiergate.merkle``) over the per-transaction results, in leaves of
    :data:`LEAF_ROWS` transactions: each leaf entry is the block's ids, one a line, then both sides' state codes
    as little-endian 64-bit integers. An auditor re-derives a leaf from the report's inputs and checks it with
    an inclusion proof."""
    entries = []
    for start in range(0, len(ids), LEAF_ROWS):
        block = "\n".join("" if i is None else i for i in ids[start : start + LEAF_ROWS]).encode()
        block += np.ascontiguousarray(from_state[start : start + LEAF_ROWS], dtype="<i8").tobytes()
        block += np.ascontiguousarray(to_state[start : start + LEAF_ROWS], dtype="<i8").tobytes()
        entries.append(leaf_hash(block))
    return tree_root(entries).hex(), len(entries)


def build_report(result: ReplayResult, *, h100_tpp: float | None = None) -> dict[str, Any]:
    """The Replay JSON of a replay result."""
    rows = _Rows(result)
    facts = result.facts
    every = np.ones(rows.n, dtype=bool)
    states = rows.states

    # Transitions from -> to (every pair that occurs, the diagonal included).
    pair = rows.from_state * max(len(states), 1) + rows.to_state
    found, inverse = np.unique(pair, return_inverse=True) if rows.n else (np.zeros(0, dtype=np.int64), pair)
    transitions = []
    for k, code in enumerate(found.tolist()):
        a, b = states[code // max(len(states), 1)], states[code % max(len(states), 1)]
        mask = inverse == k
        transitions.append(
            {
                "from": a[0],
                "to": b[0],
                "from_authorization": a[1],
                "to_authorization": b[1],
                "from_review_policy": a[2],
                "to_review_policy": b[2],
                "changed": a != b,
                "count": int(mask.sum()),
                "share": _round(float(mask.sum()) / rows.n, 6) if rows.n else None,
                **_sums(rows, mask),
            }
        )
    transitions.sort(key=lambda t: (not t["changed"], -t["count"], _order(t)))

    def breakdown(column: Coded, key: str, limit: int | None = None) -> list[dict[str, Any]]:
        return _entries(_grouped(rows, column.codes, len(column.labels)), column.labels, key, h100_tpp, limit)

    months = rows.days.astype("datetime64[D]").astype("datetime64[M]")
    distinct, month_codes = np.unique(months, return_inverse=True) if rows.n else (months, months.astype(np.int64))
    by_month = breakdown(Coded(month_codes.astype(np.int64), [str(m) for m in distinct]), "month")
    by_month.sort(key=lambda e: e["month"])

    # Consignees: the most affected, with whether the "to" regime is the first to require a licence for them.
    codes, labels = facts.consignees.codes, facts.consignees.labels
    first_time = [False] * len(labels)
    if rows.n:
        ever_from = np.bincount(codes[rows.from_licence], minlength=len(labels)) > 0
        ever_to = np.bincount(codes[rows.to_licence], minlength=len(labels)) > 0
        first_time = (ever_to & ~ever_from).tolist()
    names = dict(zip(labels, facts.consignee_names, strict=True))
    position = {label: k for k, label in enumerate(labels)}
    affected = breakdown(facts.consignees, "consignee", TOP)
    for entry in affected:
        entry["name"] = names[entry["consignee"]]
        entry["first_licence_requirement"] = bool(first_time[position[entry["consignee"]]])
    affected_count = int((np.bincount(codes[rows.changed], minlength=len(labels)) > 0).sum()) if rows.n else 0

    added = ~rows.from_licence & rows.to_licence
    removed = rows.from_licence & ~rows.to_licence
    totals = {
        "transactions": rows.n,
        **_sums(rows, every),
        "changed": int(rows.changed.sum()),
        "moved": _sums(rows, rows.changed),
        "licence_applications_added": int(added.sum()),
        "licence_applications_removed": int(removed.sum()),
        "licence_applications_added_per_year": _round(
            float(added.sum()) * 365.25 / max(1, int(rows.days.max() - rows.days.min()) + 1), 1
        )
        if rows.n
        else None,
        "consignees_first_licence_requirement": int(sum(first_time)),
    }
    totals["moved"]["h100e"] = _round((totals["moved"]["tpp"] or 0) / h100_tpp, 2) if h100_tpp else None

    # Rule attribution: rule ids that fire under one side and not the other, counted over transactions.
    added_rules: Counter[str] = Counter()
    removed_rules: Counter[str] = Counter()
    if rows.n:
        pairs, counts = np.unique(
            result.templates["from"] * (len(result.sides[1].templates) + 1) + result.templates["to"],
            return_counts=True,
        )
        width = len(result.sides[1].templates) + 1
        for code, count in zip(pairs.tolist(), counts.tolist(), strict=True):
            a = set(result.sides[0].templates[code // width].rules)
            b = set(result.sides[1].templates[code % width].rules)
            for rule in b - a:
                added_rules[rule] += count
            for rule in a - b:
                removed_rules[rule] += count
    attributed: list[tuple[int, str, str]] = [(-n, r, "to") for r, n in added_rules.items()]
    attributed += [(-n, r, "from") for r, n in removed_rules.items()]
    rules = [{"rule": r, "fires_only_under": side, "transactions": -n} for n, r, side in sorted(attributed)]

    root, leaves = merkle_root(facts.ids, rows.from_state, rows.to_state)
    packs_from = _packs(result.sides[0], result.templates["from"])
    packs_to = _packs(result.sides[1], result.templates["to"])
    first = (EPOCH + dt.timedelta(days=int(rows.days.min()))).isoformat() if rows.n else None
    last = (EPOCH + dt.timedelta(days=int(rows.days.max()))).isoformat() if rows.n else None
    report: dict[str, Any] = {
        "from": result.regime_from,
        "to": result.regime_to,
        "total": rows.n,
        "changed": int(rows.changed.sum()),
        "history": {
            "source": result.history_source,
            "sha256": result.history_digest,
            "records": result.rows_read,
            "replayed": rows.n,
            "unreplayable": len(result.unreplayable),
            "first_date": first,
            "last_date": last,
            "path": result.path,
        },
        "options": {
            "effective_dates": result.effective_dates,
            "listings": [
                {
                    "list": h.list_code,
                    "name": h.name,
                    "country": h.country,
                    "consignee_id": h.consignee_id,
                    "effective": h.effective.isoformat(),
                    "license_policy": h.license_policy,
                }
                for h in result.listings
            ],
        },
        "packs": {"from": packs_from, "to": packs_to},
        "totals": totals,
        "transitions": transitions,
        "by_destination": breakdown(facts.destinations, "destination"),
        "by_consignee": affected,
        "by_consignee_count": affected_count,
        "by_chip": breakdown(facts.chips, "chip"),
        "by_month": by_month,
        "rules": rules[:TOP],
        "binds": {"from": _binds(result.sides[0]), "to": _binds(result.sides[1])},
        "allocations": {"from": _usage(result.sides[0]), "to": _usage(result.sides[1])},
        "unreplayable": result.unreplayable[:UNREPLAYABLE_LISTED],
        "unreplayable_count": len(result.unreplayable),
        "notes": [
            "value_usd: the declared value where a transaction gives one, else the midpoint of the catalogue's "
            "indicative price range (tiergate/catalog/accelerators.yaml price_usd) times the quantity; "
            "value_usd_estimated is the estimated part, value_usd_low/high the range; value_unpriced counts "
            "transactions with neither (left out of the dollar figures).",
            "TPP moved: the TPP (under the from regime) of the transactions whose outcome, authorisation or "
            "review policy changed.",
            "Allocations are carried forward on each side as the ledger would: a licence-required transaction is "
            "taken to ship under a licence and draws the allocation a licence draws when it fits, unless the "
            "ledger would refuse it (reviewed under presumption of denial with the country allocation); a "
            "prohibited one, or a listed party's whose outcome the listing changed, draws nothing.",
            "Advisory: a replay changes no ledger and no decision of record.",
        ],
        "provenance": {
            "engine": f"tiergate {__version__}",
            "history_sha256": result.history_digest,
            "packs_from": packs_from,
            "packs_to": packs_to,
            "merkle_root": root,
            "merkle_leaves": leaves,
            "merkle_leaf_rows": LEAF_ROWS,
            "states": [{"outcome": s[0], "authorization": s[1], "review_policy": s[2]} for s in states],
        },
    }
    report["provenance"]["report_sha256"] = hashlib.sha256(dumps(report)).hexdigest()
    return report


def _packs(side: Side, indices: np.ndarray) -> list[str]:
    """The packs the side's decisions of the replayed transactions used, in the order of the regime's stack."""
    used = {label for i in np.unique(indices).tolist() for label in side.templates[i].packs}
    stack = {pack: k for k, pack in enumerate(side.book.regime(side.regime).packs)}
    return sorted(used, key=lambda label: (stack.get(label.rsplit("@r", 1)[0], len(stack)), label))


def _order(t: dict[str, Any]) -> tuple[Any, ...]:
    def rank(outcome: str, policy: str | None) -> tuple[int, int]:
        return OUTCOMES.index(outcome), POLICIES.index(policy) if policy in POLICIES else -1

    return (
        rank(t["from"], t["from_review_policy"]),
        str(t["from_authorization"]),
        rank(t["to"], t["to_review_policy"]),
        str(t["to_authorization"]),
    )


def dumps(report: dict[str, Any]) -> bytes:
    """The report as JSON bytes (indented, keys in the documented order)."""
    return orjson.dumps(report, option=orjson.OPT_INDENT_2)
