"""Diversion and smuggling detection (issue 15): shipments and parties in, cases out.

``run_scan`` reads shipments (CSV, JSON lines or Parquet) and parties, runs the red flags on DuckDB (default) or
PySpark through Ibis, links parties into networks and returns cases ordered by priority, each flag with its points,
the shipments it rests on, a sentence of why and a citation. ``generate`` writes synthetic shipments with planted
schemes and ground truth; ``CaseQueue`` keeps cases and analysts' decisions in the ledger's database.
"""

from tiergate.diversion.generate import DECOYS, SCHEMES, generate
from tiergate.diversion.model import FLAGS, HARD_STOPS, Case, Flag, Problem, ScanResult
from tiergate.diversion.scan import run_scan

__all__ = ["DECOYS", "FLAGS", "HARD_STOPS", "SCHEMES", "Case", "Flag", "Problem", "ScanResult", "generate", "run_scan"]
