"""Errors raised by Tiergate.

Every error a user can cause derives from :class:`TiergateError` and says what went
wrong, where (file, line, field) and, where it can, how to fix it::

    TiergateError
    ├── InputError            a transaction, item or chip spec is malformed or inconsistent
    │   ├── UnknownChipError  a chip id or alias that is not in the catalogue (with suggestions)
    │   ├── UnknownEquipmentError  an equipment id that is not in the equipment catalogue (with suggestions)
    │   ├── UnknownJurisdictionError  a jurisdiction code Tiergate holds no law for (with suggestions)
    │   └── UnknownCountryError  a country code that is not ISO 3166-1 alpha-2
    ├── PackError             a rule pack is malformed or inconsistent (file, line, field)
    ├── RegimeError           no regime is in force on a date, or an unknown regime name
    └── CatalogueError        the accelerator catalogue file is malformed

The CLI prints ``str(error)`` on one line and exits with code 2.
"""

from __future__ import annotations


class TiergateError(Exception):
    """Base of every error a user can cause."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text = f"{text} ({self.hint})"
        return text


class InputError(TiergateError):
    """A transaction or item that cannot be decided as given."""


class UnknownChipError(InputError):
    """A chip id or alias that the catalogue does not hold."""

    def __init__(self, chip: str, suggestions: list[str], *, where: str | None = None) -> None:
        self.chip = chip
        self.suggestions = suggestions
        hint = f"did you mean {', '.join(suggestions)}?" if suggestions else "see `tiergate chips list`"
        super().__init__(f"unknown chip {chip!r}", where=where, hint=hint)


class UnknownEquipmentError(InputError):
    """An equipment id or alias that the equipment catalogue does not hold."""

    def __init__(self, name: str, suggestions: list[str], *, where: str | None = None) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f"did you mean {', '.join(suggestions)}?" if suggestions else "see `tiergate equipment list`"
        super().__init__(f"unknown equipment {name!r}", where=where, hint=hint)


class UnknownJurisdictionError(InputError):
    """A jurisdiction code that no pack of Tiergate encodes."""

    def __init__(self, code: str, suggestions: list[str], known: list[str], *, where: str | None = None) -> None:
        self.code = code
        self.suggestions = suggestions
        hint = f"did you mean {', '.join(suggestions)}?" if suggestions else ""
        hint = (hint + " " if hint else "") + f"known: {', '.join(known)}"
        super().__init__(f"unknown jurisdiction {code!r}", where=where, hint=hint)


class UnknownCountryError(InputError):
    """A country code that is not an ISO 3166-1 alpha-2 code."""


class PackError(TiergateError):
    """A rule pack that cannot be loaded: malformed, invalid or inconsistent."""


class RegimeError(TiergateError):
    """An unknown regime, or a date on which no regime is in force."""


class CatalogueError(TiergateError):
    """A malformed accelerator catalogue."""
