"""The denial notice format: parsing with located errors, and the JSON shape.

```json
{"id": "NL-2024-0113", "jurisdiction": "NL", "date": "2024-03-01", "expires": "2027-03-01",
 "control_keys": ["3B1001.f.4", "lithography.immersion_duv"], "destination": "CN",
 "end_user": {"name": "Example Fab Co", "id": null}, "end_use": "advanced_node_fab",
 "reason": "risk of military end use", "public": true}
```
``expires`` defaults to three years after ``date`` (EU Member States review their denials within three
years, Reg. (EC) 428/2009 Art. 13). ``jurisdiction`` is a jurisdiction Tiergate encodes (``EU``, ``NL``,
``JP``, ``UK``...) or the ISO code of the denying state (``FR``, ``DE``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tiergate.decide.model import DenialNotice
from tiergate.errors import InputError, UnknownJurisdictionError
from tiergate.interchange import Country, iso_codes, validation_error

VALIDITY_YEARS = 3
Key = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]


class EndUserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    name: Annotated[str, Field(min_length=1, max_length=500)]
    id: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class DenialIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    id: Annotated[str, Field(min_length=1, max_length=100)]
    jurisdiction: Annotated[str, Field(min_length=2, max_length=3)]
    date: dt.date
    expires: dt.date | None = None
    control_keys: list[Key] = Field(min_length=1, max_length=50)
    destination: Country
    end_user: EndUserIn
    end_use: Annotated[str, Field(max_length=100)] | None = None
    reason: Annotated[str, Field(max_length=2000)] = ""
    public: bool = True

    @model_validator(mode="after")
    def _dates(self) -> DenialIn:
        if self.expires is not None and self.expires < self.date:
            raise ValueError("expires is before date")
        return self


def _three_years(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + VALIDITY_YEARS)
    except ValueError:  # 29 February
        return day.replace(year=day.year + VALIDITY_YEARS, day=28)


def parse_denial(
    data: Any,
    *,
    where: str = "denial",
    jurisdictions: Mapping[str, str] | None = None,
) -> DenialNotice:
    """A denial notice from its JSON form. ``jurisdictions`` maps codes and aliases to jurisdiction codes (the
    rulebook's); a code that is neither a jurisdiction nor an ISO country code is an error naming the field."""
    if not isinstance(data, Mapping):
        raise InputError(f"expected a denial object, got {type(data).__name__}", where=where)
    try:
        notice = DenialIn.model_validate(data)
    except ValidationError as error:
        raise validation_error(error, where) from None
    known = dict(
        jurisdictions
        or {"US": "US", "EU": "EU", "NL": "NL", "JP": "JP", "KR": "KR", "UK": "UK", "GB": "UK", "TW": "TW"}
    )
    code = notice.jurisdiction.upper()
    if code in known:
        code = known[code]
    elif code not in iso_codes():
        names = sorted(set(known.values()))
        near = [k for k in names if k[:1] == code[:1] or sum(a != b for a, b in zip(k, code, strict=False)) <= 1]
        raise UnknownJurisdictionError(notice.jurisdiction, near[:3], names, where=f"{where}: jurisdiction")
    return DenialNotice(
        id=notice.id,
        jurisdiction=code,
        date=notice.date,
        expires=notice.expires or _three_years(notice.date),
        control_keys=tuple(notice.control_keys),
        destination=notice.destination,
        end_user=notice.end_user.name,
        end_user_id=notice.end_user.id,
        end_use=notice.end_use,
        reason=notice.reason,
        public=notice.public,
    )


def denial_to_dict(d: DenialNotice) -> dict[str, Any]:
    return {
        "id": d.id,
        "jurisdiction": d.jurisdiction,
        "date": d.date.isoformat(),
        "expires": d.expires.isoformat(),
        "control_keys": list(d.control_keys),
        "destination": d.destination,
        "end_user": {"name": d.end_user, "id": d.end_user_id},
        "end_use": d.end_use,
        "reason": d.reason,
        "public": d.public,
    }


def jurisdiction_aliases(codes: Sequence[tuple[str, Sequence[str]]]) -> dict[str, str]:
    """Code and alias -> code, for :func:`parse_denial`."""
    out: dict[str, str] = {}
    for code, aliases in codes:
        out[code] = code
        for alias in aliases:
            out[alias] = code
    return out
