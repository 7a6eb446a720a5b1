"""Fixtures of the monitoring tests: one generated data set per session (small, seeded), its DuckDB scan,
and one local Spark session for the whole run (Spark takes ~10 s to start)."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest

from tiergate.monitor import ScanResult, generate, run_scan
from tiergate.monitor.generate import Generated

RECORDS = 3000
SEED = 7


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return generate(tmp_path_factory.mktemp("monitor-data"), RECORDS, seed=SEED)


@pytest.fixture(scope="session")
def scan(dataset: Generated, book: Any) -> ScanResult:
    return run_scan(dataset.usage, dataset.customers, book=book)


def _java_ok() -> bool:
    java = shutil.which("java")
    if java is None:
        return False
    try:
        return subprocess.run([java, "-version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.fixture(scope="session")
def spark() -> Any:
    if not _java_ok():
        pytest.skip("the Spark engine needs Java (17 or later), and no working `java` is on PATH")
    from tiergate.monitor.scan import spark_session

    session = spark_session()
    yield session
    session.stop()
