"""Customers and their ownership: each account's customer, beneficial owner and chain of parents.

The customer table is small (one row per account), so ownership is walked here in Python and handed
to the analytics as a table. The beneficial owner of a customer is its own ``beneficial_owner_id``
when given, else that of its parent (``parent_id`` naming another customer), and so on up the chain;
a chain that ends without one makes the top of the chain the owner and is a KYC gap. A parent that
is not in the table is an outside parent: it ends the chain, its headquarters is ``parent_headquarters``.
Cycles are reported and broken (the owner is the smallest customer id in the cycle).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiergate.errors import InputError
from tiergate.monitor.model import CUSTOMER_REQUIRED, Problem
from tiergate.monitor.usage import csv_rows

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0", ""}


@dataclass(slots=True)
class Customer:
    customer_id: str
    name: str
    country: str | None
    headquarters: str | None
    parent_id: str | None
    parent_headquarters: str | None
    beneficial_owner_id: str | None
    verified: bool
    payment_country: str | None
    login_countries: tuple[str, ...]
    accounts: list[str] = field(default_factory=list)
    row: int = 0
    # resolved by the ownership walk
    owner_id: str = ""
    owner_found: bool = False
    chain: tuple[str, ...] = ()
    chain_headquarters: tuple[tuple[str, str], ...] = ()
    """(customer or outside-parent id, headquarters) for the customer and every parent up the chain."""
    cycle: bool = False


@dataclass(slots=True)
class Customers:
    by_id: dict[str, Customer]
    account_customer: dict[str, str]
    problems: list[Problem]
    file: str


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number as a reader sees it: the CSV line, or the Parquet row from 1, and the row)."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise InputError("no such file", where=str(path))
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as error:
            raise InputError(f"not a readable Parquet file: {error}", where=str(path)) from None
        missing = [c for c in CUSTOMER_REQUIRED if c not in table.column_names]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)}", where=str(path))
        yield from enumerate(table.select(list(CUSTOMER_REQUIRED)).to_pylist(), start=1)
        return
    if suffix not in (".csv", ".txt"):
        raise InputError("customers must be a .csv or .parquet file", where=str(path))
    for line, values in csv_rows(path, CUSTOMER_REQUIRED):
        yield line, {"__fields__": values} if isinstance(values, tuple) else values


def read_customers(path: Path, is_country: Callable[[str], bool]) -> Customers:
    """Read and check the customer table; rows that cannot be used are problems, not aborts."""
    file = str(path)
    problems: list[Problem] = []
    by_id: dict[str, Customer] = {}
    account_customer: dict[str, str] = {}

    def country(value: Any, row: int, column: str) -> str | None:
        if value is None:
            return None
        code = str(value).strip().upper()
        if not code:
            return None
        if not is_country(code):
            problems.append(
                Problem(file, row, column, f"{value!r} is not an ISO 3166-1 alpha-2 code", "treated as unknown")
            )
            return None
        return code

    for row, data in _rows(path):
        if "__fields__" in data:
            got, want = data["__fields__"]
            problems.append(Problem(file, row, "(line)", f"{got} fields, expected {want}", "row skipped"))
            continue
        cid = data.get("customer_id")
        if not cid:
            problems.append(Problem(file, row, "customer_id", "missing", "row skipped"))
            continue
        cid = str(cid)
        raw_verified = data.get("verified")
        if isinstance(raw_verified, bool):
            verified = raw_verified
        elif raw_verified is None or str(raw_verified).strip().lower() in _FALSE:
            verified = False
        elif str(raw_verified).strip().lower() in _TRUE:
            verified = True
        else:
            problems.append(Problem(file, row, "verified", f"{raw_verified!r} is not true/false", "taken as false"))
            verified = False
        logins_raw = data.get("login_countries") or ""
        logins = []
        for part in str(logins_raw).replace(",", ";").split(";"):
            code = country(part.strip() or None, row, "login_countries")
            if code:
                logins.append(code)
        customer = by_id.get(cid)
        if customer is None:
            customer = Customer(
                customer_id=cid,
                name=str(data.get("name") or ""),
                country=country(data.get("country"), row, "country"),
                headquarters=country(data.get("headquarters"), row, "headquarters"),
                parent_id=str(data["parent_id"]) if data.get("parent_id") else None,
                parent_headquarters=country(data.get("parent_headquarters"), row, "parent_headquarters"),
                beneficial_owner_id=str(data["beneficial_owner_id"]) if data.get("beneficial_owner_id") else None,
                verified=verified,
                payment_country=country(data.get("payment_country"), row, "payment_country"),
                login_countries=tuple(logins),
                row=row,
            )
            by_id[cid] = customer
        else:
            # Another account of the same customer: logins add up; an unverified row unverifies.
            customer.login_countries = tuple(dict.fromkeys((*customer.login_countries, *logins)))
            customer.verified = customer.verified and verified
        account = data.get("account_id")
        if account:
            account = str(account)
            if account in account_customer and account_customer[account] != cid:
                problems.append(
                    Problem(
                        file,
                        row,
                        "account_id",
                        f"account {account} already belongs to {account_customer[account]}",
                        "first owner kept",
                    )
                )
                continue
            account_customer[account] = cid
            customer.accounts.append(account)
    _walk(by_id, problems, file)
    return Customers(by_id, account_customer, problems, file)


def _walk(by_id: dict[str, Customer], problems: list[Problem], file: str) -> None:
    for customer in by_id.values():
        chain = [customer.customer_id]
        hqs: list[tuple[str, str]] = []
        if customer.headquarters:
            hqs.append((customer.customer_id, customer.headquarters))
        current = customer
        owner: str | None = customer.beneficial_owner_id
        cycle = False
        while owner is None and current.parent_id is not None:
            parent_id = current.parent_id
            if current.parent_headquarters:
                hqs.append((parent_id, current.parent_headquarters))
            parent = by_id.get(parent_id)
            if parent is None:  # an outside parent ends the chain
                chain.append(parent_id)
                break
            if parent_id in chain:
                cycle = True
                loop = chain[chain.index(parent_id) :]
                owner = min(loop)
                problems.append(
                    Problem(
                        file,
                        customer.row,
                        "parent_id",
                        f"ownership cycle {' -> '.join([*loop, parent_id])}",
                        f"cycle broken; {owner} taken as the beneficial owner",
                    )
                )
                break
            chain.append(parent_id)
            if parent.headquarters:
                hqs.append((parent_id, parent.headquarters))
            owner = parent.beneficial_owner_id
            current = parent
        if owner is None:
            # Parents with an owner given still count their headquarters (walk the rest for HQs only).
            customer.owner_found = False
            customer.owner_id = chain[-1] if not cycle else min(chain)
        else:
            customer.owner_found = not cycle
            customer.owner_id = owner
        # Headquarters of the remaining parents above the owner, for prohibited-use tests.
        seen = set(chain)
        while current.parent_id is not None and current.parent_id not in seen:
            if current.parent_headquarters:
                hqs.append((current.parent_id, current.parent_headquarters))
            seen.add(current.parent_id)
            nxt = by_id.get(current.parent_id)
            if nxt is None:
                break
            if nxt.headquarters:
                hqs.append((nxt.customer_id, nxt.headquarters))
            current = nxt
        customer.chain = tuple(chain)
        customer.chain_headquarters = tuple(dict.fromkeys(hqs))
        customer.cycle = cycle
