"""Rule packs: schema, loading with located errors, merging into rulesets, regimes and diffs."""

from tiergate.rules.book import Rulebook, Selection, load_rulebook
from tiergate.rules.compile import LoadedPack
from tiergate.rules.loader import load_pack
from tiergate.rules.ruleset import Ruleset

__all__ = ["LoadedPack", "Rulebook", "Ruleset", "Selection", "load_pack", "load_rulebook"]
