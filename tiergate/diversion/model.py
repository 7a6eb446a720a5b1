"""Cases, flags and the red-flag catalogue with citations (the scoring design of the diversion digest).

Every flag a scan fires is one of :data:`FLAGS`: a code, a cap on its points (no soft flag decides alone: none
reaches the 60 points that hold a shipment) and the source it rests on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HIGH = 60
"""Points from which a case is held (``high``)."""
MEDIUM = 35
"""Points from which a case goes to enhanced due diligence (``medium``)."""
GATE_CAP = 30
"""Most points of a shipment that is not compute-relevant, unless F2, F3 or F20 fires."""
LEVELS = ("block", "high", "medium", "low")
LEVEL_RANK = {level: i for i, level in enumerate(LEVELS)}
H100_VALUE_USD = 50_000.0
"""Value at risk per H100-equivalent: 2,400 H100 for $120M in servers (CNAS 2025)."""

SUPP3 = "15 CFR Part 732, Supp. No. 3 (BIS 'Know your customer' guidance and red flags)"
BIS_2025 = "BIS, guidance on diversion of advanced-computing integrated circuits, 2025-05-13"
FINCEN_2022 = "FinCEN/BIS joint alert FIN-2022-Alert003 (2022-06-28), transshipment points"
FINCEN_2023 = "FinCEN/BIS supplemental alert (2023-05-19) and notice FIN-2023-GLOBALEXPORT (2023-11-06)"
TRISEAL = "DOJ/Commerce/Treasury tri-seal compliance note (2023-03-02): split shipments, price understated >5x"
CHPL = "Common High Priority List (US, EU, JP, UK; 2024-02-23), bis.gov/node/6280"
ADDRESS_ONLY = "BIS Entity List address-only entries (final rule of 2024-06-12), 15 CFR Part 744 Supp. No. 4"


@dataclass(frozen=True, slots=True)
class FlagKind:
    code: str
    title: str
    cap: int
    citation: str


FLAGS: dict[str, FlagKind] = {
    f.code: f
    for f in (
        FlagKind(
            "F2-declared-goods",
            "declared goods differ from the product",
            25,
            f"{CHPL}; US v. ALX Solutions (C.D. Cal. 2025) and Operation Gatekeeper (S.D. Tex. 2025): "
            "'computer parts', 'electronic components'",
        ),
        FlagKind(
            "F3-unit-value",
            "unit value far from the reference",
            20,
            f"{TRISEAL}; WCO BACUDA unit-price features (Kim et al., Customs-Fraud-Detection)",
        ),
        FlagKind(
            "F4-hub-route", "transshipment hub on the route", 15, f"{FINCEN_2022}; Hong Kong and Macau: {TRISEAL}"
        ),
        FlagKind("F5-forwarder-consignee", "forwarder or intermediary as consignee", 15, f"{SUPP3}; {BIS_2025}"),
        FlagKind("F6-new-entity", "new company, first large order", 20, f"{BIS_2025}; {FINCEN_2023}"),
        FlagKind(
            "F7-address", "residential or virtual address, many firms at one address", 25, f"{BIS_2025}; {ADDRESS_ONLY}"
        ),
        FlagKind("F8-web-presence", "no website or free e-mail", 5, f"{BIS_2025}; BIS officials, March 2024"),
        FlagKind(
            "F9-payer-mismatch",
            "payer in another country, or in CN/HK/MO; a payer not on the end-user statement",
            25,
            f"{TRISEAL} (payer from a third country not on the end-user statement); US v. ALX Solutions; "
            "Janford Realtor (M.D. Fla. 2025)",
        ),
        FlagKind(
            "F10-no-datacentre",
            "no documented data-centre capacity for the quantity, or a site visit found the kit boxed or absent",
            25,
            f"{BIS_2025} (data centre cannot confirm power or cooling); Megaspeed (NYT, Oct 2025)",
        ),
        FlagKind(
            "F11-mirror-gap",
            "hub imports far above last year's or above documented data-centre capacity (F4 x 1.5)",
            8,
            "Mirror statistics: Malaysia's GPU imports from Taiwan up 3,400 % y/y in April 2025 (SemiMedia); "
            "imports / $50,000 per H100e against Epoch AI's documented clusters (diversion digest, §2); "
            f"{FINCEN_2022}",
        ),
        FlagKind(
            "F12-split-lots",
            "lots split under the review threshold across linked parties, or many forwarders for one buyer",
            20,
            f"{TRISEAL} (shipments split into smaller lots); US v. ALX Solutions (C.D. Cal. 2025): 21 lots to SG/MY "
            "forwarders",
        ),
        FlagKind(
            "F13-relabel-serials",
            "unknown brand on an accelerator, serial numbers seen before or never issued by the maker",
            25,
            "Operation Gatekeeper ('SANDKYAN' labels, 2025); Supermicro insiders (S.D.N.Y. 2026): serials moved",
        ),
        FlagKind(
            "F14-check-inconclusive",
            "end-use check inconclusive",
            20,
            f"{SUPP3}; US v. ALX Solutions (BIS could not verify the customer)",
        ),
        FlagKind(
            "F15-documents",
            "documents disagree on the parties or where the goods go, or changed after booking",
            10,
            f"{SUPP3}; {TRISEAL} (last-minute routing changes); Janford Realtor (M.D. Fla. 2025): fake contracts",
        ),
        FlagKind("F16-fuzzy-listed", "name or address close to a restricted-party entry", 15, SUPP3),
        FlagKind(
            "F17-ownership",
            "parent headquartered in D:5 or Macau, or a supplier tied to a listed firm",
            15,
            "15 CFR 744.23 and Supp. No. 3 red flags for 3A090/4A090 (end user headquartered in D:5); Megaspeed "
            "(NYT, Oct 2025): kit supplied by Aivres, an affiliate of Entity-Listed Inspur",
        ),
        FlagKind(
            "F18-business-fit",
            "line of business does not fit accelerators",
            15,
            f"{SUPP3} (product does not fit the buyer); Janford Realtor (M.D. Fla. 2025)",
        ),
        FlagKind(
            "F19-commercial-oddities",
            "full prepayment or cash, support declined, odd routing",
            5,
            f"{SUPP3}: cash for expensive items, installation and maintenance declined, an abnormal route",
        ),
        FlagKind(
            "F20-cover-goods",
            "cover goods at compute value per kg",
            25,
            f"{CHPL}; cover descriptions in the diversion digest (hypothesis, no case found)",
        ),
        FlagKind(
            "F21-chiplet-sum",
            "dies and components adding up to controlled packages",
            20,
            "15 CFR 772.1 'total processing performance' and ECCN 3A090.a (TPP 4800); chiplet workaround",
        ),
    )
}
HARD_STOPS: dict[str, str] = {
    "H1-listed-party": (
        "15 CFR Part 744 Supp. No. 4 (Entity List), 31 CFR 501 App. A (SDN), Supp. No. 6 (UVL), Supp. No. 7 (MEU)"
    ),
    "H1-listed-address": ADDRESS_ONLY,
    "H2-d5-no-licence": (
        "15 CFR 742.6(a)(6)(iii) and 744.23: 3A090/4A090 items to Country Group D:5 or Macau, or to an entity "
        "headquartered there, need a licence"
    ),
    "H3-check-failed": f"{SUPP3}; 15 CFR 744 (end-use check could not verify the end user)",
}  # fmt: skip
ALL_CODES = (*HARD_STOPS, *FLAGS)


@dataclass
class Flag:
    code: str
    points: int
    shipments: list[str]
    why: str
    citation: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "points": self.points,
            "shipments": self.shipments,
            "why": self.why,
            "citation": self.citation,
        }


@dataclass
class Case:
    case: str
    level: str
    score: int
    shipments: list[str]
    parties: list[str]
    value_at_risk_usd: float
    flags: list[Flag]
    notes: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    key: str = ""
    """The stable key of the case (its smallest party), kept across scans."""
    evidence: str = ""
    """A hash of the flags and shipments: a re-scan with the same evidence keeps the analyst's decision."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "case": self.case,
            "level": self.level,
            "score": self.score,
            "shipments": self.shipments,
            "parties": self.parties,
            "value_at_risk_usd": self.value_at_risk_usd,
            "flags": [f.to_dict() for f in self.flags],
        }
        if self.notes:
            out["notes"] = self.notes
        if self.links:
            out["links"] = self.links
        out["key"] = self.key
        out["evidence"] = self.evidence
        return out


@dataclass
class Problem:
    """A row that could not be read, named by file, line and column."""

    file: str
    line: int
    column: str
    problem: str
    shipment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "problem": self.problem,
            "shipment": self.shipment,
        }

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.column}: {self.problem}"


@dataclass
class ScanResult:
    cases: list[Case]
    problems: list[Problem]
    notes: list[dict[str, Any]]
    """Scan-wide notes (insufficient data per shipment, unknown chip ids with suggestions, no list store)."""
    as_of: str
    shipments: int
    scores: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Each shipment's case (id) and the case's score (for review-budget measures)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "shipments": self.shipments,
            "cases": [c.to_dict() for c in self.cases],
            "problems": [p.to_dict() for p in self.problems],
            "notes": self.notes,
        }
