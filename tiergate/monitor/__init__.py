"""Compute monitoring of cloud customers (issue 5): usage records and customers in, alerts out.

``run_scan`` reads usage (Parquet or CSV) and customers, runs the Ibis analytics on DuckDB (default) or
PySpark, and returns alerts ``{kind, subject_id, subject_type, flop, threshold, projected_crossing,
reasons}`` with the bad input rows; thresholds, caps and the rest come from the rule packs' ``monitoring``
section. ``generate`` writes synthetic data with planted cases; ``load_registry`` is the cluster registry.
"""

from tiergate.monitor.clusters import Registry, load_registry
from tiergate.monitor.generate import PLANTED, generate
from tiergate.monitor.model import Alert, Problem, ScanResult
from tiergate.monitor.scan import run_scan

__all__ = ["PLANTED", "Alert", "Problem", "Registry", "ScanResult", "generate", "load_registry", "run_scan"]
