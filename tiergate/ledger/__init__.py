"""The allocation ledger: capped accounts, reservations, licence depletion and a tamper-evident audit log.

SQLAlchemy Core with Alembic migrations; a SQLite file by default (WAL), PostgreSQL by URL.
"""

from tiergate.ledger.store import (
    AllocationExceeded,
    AuditProblem,
    Balance,
    IdempotencyConflict,
    Ledger,
    LedgerError,
    Movement,
    UnknownReservation,
    open_ledger,
)

__all__ = [
    "AllocationExceeded",
    "AuditProblem",
    "Balance",
    "IdempotencyConflict",
    "Ledger",
    "LedgerError",
    "Movement",
    "UnknownReservation",
    "open_ledger",
]
