"""The rulebook: every loaded pack and regime, and the choice of the ruleset for a date or a scenario."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tiergate.catalog import Catalogue, EquipmentCatalogue, load_catalogue, load_equipment
from tiergate.errors import PackError, RegimeError, UnknownJurisdictionError
from tiergate.rules import allied as al
from tiergate.rules import schema
from tiergate.rules.compile import DATED_QUANTITIES, LoadedPack, compile_ruleset
from tiergate.rules.compile_allied import compile_allied
from tiergate.rules.loader import load_jurisdictions, load_pack_folders, packaged_packs_dir
from tiergate.rules.ruleset import Ruleset


@dataclass(frozen=True, slots=True)
class Selection:
    """Why this ruleset applies: the regime, whether it was chosen by date or named as a scenario,
    and the packs of the stack left out because they were not yet in force on the date."""

    regime: schema.RegimeDef
    day: dt.date
    scenario: bool
    left_out: tuple[tuple[str, dt.date], ...]
    quantities: tuple[tuple[str, float], ...] = ()
    """The date-dependent catalogue quantities the regime's thresholds read, as of the date."""

    def describe(self) -> str:
        r = self.regime
        span = f"{r.effective_from or 'open'} to {r.effective_until or 'today'}"
        if self.scenario:
            in_force = (r.effective_from is None or r.effective_from <= self.day) and (
                r.effective_until is None or self.day <= r.effective_until
            )
            state = "in force" if in_force else "a scenario: not in force"
            text = f"Regime {r.name} named explicitly ({state} on {self.day}; in force {span})."
        else:
            text = f"Regime {r.name} is the regime in force on {self.day} (in force {span})."
        if self.left_out:
            names = ", ".join(f"{pack} (from {start})" for pack, start in self.left_out)
            text += f" Packs of the stack not yet in force on that date are left out: {names}."
        if self.quantities:
            values = ", ".join(f"{name} = {value:,.4g}" for name, value in self.quantities)
            text += f" Catalogue quantities as of {self.day} (chips released by then): {values}."
        return text


class Rulebook:
    """All packs and regimes, validated; hands out compiled rulesets by regime name or by date."""

    def __init__(
        self,
        packs: dict[str, LoadedPack],
        regimes: Sequence[schema.RegimeDef],
        catalogue: Catalogue,
        is_country: Callable[[str], bool] | None = None,
        regime_files: dict[str, Path] | None = None,
        jurisdictions: Sequence[schema.JurisdictionDef] = (),
        equipment: EquipmentCatalogue | None = None,
    ) -> None:
        self.packs = packs
        self.regimes = {r.name: r for r in regimes}
        self.catalogue = catalogue
        self.equipment = equipment or load_equipment()
        self._is_country = is_country
        self._cache: dict[tuple[str, tuple[str, ...], dt.date | None], Ruleset] = {}
        self._releases = sorted({chip.released for chip in catalogue if chip.released is not None})
        self._selected: dict[tuple[str | None, dt.date], tuple[Ruleset, Selection]] = {}
        self.sources: tuple[tuple[Path, ...], bool] | None = None
        """The pack folders this rulebook was loaded from (lets a worker process load the same)."""
        files = regime_files or {}
        for regime in regimes:
            for pack_id in regime.packs:
                if pack_id not in packs:
                    raise PackError(
                        f"regime {regime.name!r} stacks pack {pack_id!r}, which is not loaded",
                        where=str(files.get(regime.name, "regimes.yaml")),
                        hint=f"known packs: {', '.join(sorted(packs))}",
                    )
                if packs[pack_id].manifest.scope == "alliance":
                    raise PackError(
                        f"regime {regime.name!r} stacks the alliance pack {pack_id!r}",
                        where=str(files.get(regime.name, "regimes.yaml")),
                        hint="alliance packs are stacked by jurisdiction and date (jurisdictions.yaml), not by regimes",
                    )
        self._allied_cache: dict[tuple[str, tuple[str, ...]], al.AlliedRules] = {}
        self._setup_jurisdictions(jurisdictions)
        dated = sorted(
            (r for r in regimes if r.effective_from is not None), key=lambda r: r.effective_from or dt.date.min
        )
        for earlier, later in itertools.pairwise(dated):
            if earlier.effective_until is None or (
                later.effective_from and later.effective_from <= earlier.effective_until
            ):
                raise PackError(
                    f"regimes {earlier.name!r} and {later.name!r} overlap in time; --as-of could not choose",
                    where=str(files.get(later.name, "regimes.yaml")),
                )
        self.dated = False
        """Whether a regime's thresholds read a date-dependent catalogue quantity (``frontier_tpp``)."""
        for regime in regimes:  # validate every full stack now, so that bad packs fail at load
            if self._compile(regime, tuple(regime.packs)).quantities_used & DATED_QUANTITIES:
                self.dated = True

    # ---------------------------------------------------------------- jurisdictions (alliance packs)

    def _setup_jurisdictions(self, defs: Sequence[schema.JurisdictionDef]) -> None:
        stacks: dict[str, list[LoadedPack]] = {d.code: [] for d in defs}
        for pack in self.packs.values():
            if pack.manifest.scope != "alliance":
                continue
            code = pack.manifest.jurisdiction
            if code not in stacks:
                raise UnknownJurisdictionError(
                    code,
                    _nearest(code, list(stacks)),
                    sorted(stacks),
                    where=f"{pack.folder / 'manifest.yaml'}: jurisdiction",
                )
            stacks[code].append(pack)
        self.alliance_stacks = {
            code: sorted(found, key=lambda p: p.manifest.effective_from) for code, found in stacks.items()
        }
        self.jurisdictions: dict[str, al.Jurisdiction] = {}
        for d in defs:
            first = self.alliance_stacks[d.code][0].manifest.effective_from if self.alliance_stacks[d.code] else None
            self.jurisdictions[d.code] = al.Jurisdiction(
                d.code,
                d.title,
                frozenset(d.territory),
                " ".join(d.authority.split()),
                d.citation,
                d.member_of,
                tuple(d.aliases),
                d.before_first_pack,
                first,
                " ".join(d.summary.split()),
            )
        self.us_group_names = frozenset(
            g.id for p in self.packs.values() if p.manifest.scope != "alliance" for g in p.rules.country_groups
        )
        territory: dict[str, list[str]] = {}
        for j in self.jurisdictions.values():
            if j.code == "US":
                continue
            for country in j.territory:
                territory.setdefault(country, []).append(j.code)
        self.territory_laws = {country: tuple(codes) for country, codes in territory.items()}
        """Country -> the (non-US) jurisdictions whose law an export from it engages, in declaration order."""
        for code, found in self.alliance_stacks.items():  # validate every stack now, so bad packs fail at load
            for pack in found:
                self.allied(code, pack.manifest.effective_from)

    def jurisdiction(self, code: str, *, where: str | None = None) -> al.Jurisdiction:
        """The jurisdiction of this code (or alias, e.g. ``GB`` for ``UK``); else an error with the nearest codes."""
        wanted = code.strip().upper()
        if wanted in self.jurisdictions:
            return self.jurisdictions[wanted]
        for j in self.jurisdictions.values():
            if wanted in j.aliases:
                return j
        known = sorted(self.jurisdictions)
        raise UnknownJurisdictionError(code, _nearest(wanted, known), known, where=where)

    def allied(self, code: str, day: dt.date) -> al.AlliedRules | None:
        """The law of jurisdiction ``code`` in force on ``day``: its alliance packs in force then, stacked in date
        order (``None`` when none is)."""
        packs = tuple(
            p
            for p in self.alliance_stacks.get(code, ())
            if p.manifest.effective_from <= day
            and (p.manifest.effective_until is None or day <= p.manifest.effective_until)
        )
        if not packs:
            return None
        key = (code, tuple(p.manifest.id for p in packs))
        found = self._allied_cache.get(key)
        if found is None:
            found = compile_allied(
                self.jurisdictions[code],
                packs,
                list(self.jurisdictions.values()),
                us_groups=self.us_group_names,
                is_country=self._is_country,
            )
            self._allied_cache[key] = found
        return found

    def release_dates(self) -> list[dt.date]:
        """The days a date-dependent catalogue quantity may change (chip release dates), when any regime's
        thresholds read one; else none."""
        return list(self._releases) if self.dated else []

    def _compile(self, regime: schema.RegimeDef, pack_ids: tuple[str, ...], day: dt.date | None = None) -> Ruleset:
        """The ruleset of a stack; with ``day``, and when its thresholds read ``frontier_tpp``, the one whose
        catalogue quantities are taken over the chips released on or before ``day``."""
        key: tuple[str, tuple[str, ...], dt.date | None] = (regime.name, pack_ids, None)
        ruleset = self._cache.get(key)
        if ruleset is None:
            ruleset = compile_ruleset(
                regime.name, regime.title, [self.packs[p] for p in pack_ids], self.catalogue, self._is_country
            )
            self._cache[key] = ruleset
        if day is None or not ruleset.quantities_used & DATED_QUANTITIES:
            return ruleset
        position = bisect.bisect_right(self._releases, day)
        if position == 0 and any(chip.released is None for chip in self.catalogue):
            since = None  # only the undated chips count before the first release date
        elif position == 0:
            first = self._releases[0] if self._releases else None
            raise PackError(
                f"regime {regime.name!r}: frontier_tpp is not defined on {day}: no catalogue chip is released by then",
                hint=f"the catalogue's first release date is {first}" if first else "the catalogue holds no chips",
            )
        else:
            since = self._releases[position - 1]
        key = (regime.name, pack_ids, since or dt.date.min)
        dated = self._cache.get(key)
        if dated is None:
            dated = compile_ruleset(
                regime.name,
                regime.title,
                [self.packs[p] for p in pack_ids],
                self.catalogue,
                self._is_country,
                as_of=since or dt.date.min,
            )
            self._cache[key] = dated
        return dated

    def regime(self, name: str) -> schema.RegimeDef:
        try:
            return self.regimes[name]
        except KeyError:
            raise RegimeError(f"unknown regime {name!r}", hint=f"known: {', '.join(self.regimes)}") from None

    def regime_in_force(self, day: dt.date) -> schema.RegimeDef:
        for regime in self.regimes.values():
            if regime.effective_from is None:
                continue
            if regime.effective_from <= day and (regime.effective_until is None or day <= regime.effective_until):
                return regime
        starts = [r.effective_from for r in self.regimes.values() if r.effective_from is not None]
        earliest = min(starts) if starts else None
        raise RegimeError(
            f"no regime is in force on {day}",
            hint=f"the earliest regime starts {earliest}; name one with --regime"
            if earliest
            else "name one with --regime",
        )

    def select(self, regime: str | None, day: dt.date) -> tuple[Ruleset, Selection]:
        """The ruleset for a named regime (a scenario: its whole stack) or, when ``regime`` is None,
        for the regime in force on ``day`` with only the packs already in force on that day."""
        cached = self._selected.get((regime, day))
        if cached is None:
            cached = self._selected[(regime, day)] = self._select(regime, day)
        return cached

    def _select(self, regime: str | None, day: dt.date) -> tuple[Ruleset, Selection]:
        if regime is not None:
            chosen = self.regime(regime)
            ruleset = self._compile(chosen, tuple(chosen.packs), day)
            return ruleset, Selection(chosen, day, True, (), _dated_values(ruleset))
        chosen = self.regime_in_force(day)
        kept = tuple(p for p in chosen.packs if self.packs[p].manifest.effective_from <= day)
        left = tuple((p, self.packs[p].manifest.effective_from) for p in chosen.packs if p not in kept)
        ruleset = self._compile(chosen, kept, day)
        return ruleset, Selection(chosen, day, False, left, _dated_values(ruleset))

    def select_in_force(self, regime: str, day: dt.date) -> tuple[Ruleset, Selection]:
        """The ruleset of a named regime with only the packs of its stack in force on ``day`` (each pack from its
        ``effective_from`` to its ``effective_until``): a proposal pack counts from the date it takes effect."""
        cached = self._selected.get((f"in-force:{regime}", day))
        if cached is not None:
            return cached
        chosen = self.regime(regime)

        def in_force(pack_id: str) -> bool:
            manifest = self.packs[pack_id].manifest
            return manifest.effective_from <= day and (
                manifest.effective_until is None or day <= manifest.effective_until
            )

        kept = tuple(p for p in chosen.packs if in_force(p))
        if not kept:
            first = min(self.packs[p].manifest.effective_from for p in chosen.packs)
            raise RegimeError(
                f"no pack of regime {regime!r} is in force on {day}", hint=f"its first pack takes effect {first}"
            )
        left = tuple((p, self.packs[p].manifest.effective_from) for p in chosen.packs if p not in kept)
        ruleset = self._compile(chosen, kept, day)
        result = ruleset, Selection(chosen, day, True, left, _dated_values(ruleset))
        self._selected[(f"in-force:{regime}", day)] = result
        return result

    def full(self, regime: str) -> Ruleset:
        chosen = self.regime(regime)
        return self._compile(chosen, tuple(chosen.packs))


def _dated_values(ruleset: Ruleset) -> tuple[tuple[str, float], ...]:
    if ruleset.quantities_as_of is None:
        return ()
    return tuple((name, ruleset.parameters[name]) for name in sorted(ruleset.quantities_used & DATED_QUANTITIES))


def _nearest(code: str, known: Sequence[str]) -> list[str]:
    """The known codes nearest to ``code`` (one letter apart, or sharing its first letter)."""
    wanted = code.strip().upper()
    close = [k for k in known if len(k) == len(wanted) and sum(a != b for a, b in zip(k, wanted, strict=True)) == 1]
    close += [k for k in known if k not in close and k[:1] == wanted[:1]]
    return close[:3]


def iso_country_codes() -> frozenset[str]:
    import pycountry

    return frozenset(country.alpha_2 for country in pycountry.countries)


def load_rulebook(
    extra_folders: Sequence[Path] = (),
    catalogue: Catalogue | None = None,
    *,
    include_packaged: bool = True,
) -> Rulebook:
    """The packaged packs and regimes, plus the packs and regimes under ``extra_folders``."""
    folders = ([packaged_packs_dir()] if include_packaged else []) + [Path(f) for f in extra_folders]
    packs, regimes, files = load_pack_folders(folders)
    codes = iso_country_codes()
    book = Rulebook(
        packs,
        regimes,
        catalogue or load_catalogue(),
        codes.__contains__,
        files,
        jurisdictions=load_jurisdictions(folders),
    )
    if catalogue is None:
        book.sources = (tuple(Path(f) for f in extra_folders), include_packaged)
    return book
