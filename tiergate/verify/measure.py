"""Round trips to landmark hosts, timed as TCP connects (a SYN out, a SYN-ACK back: one round trip).

Run on the chip's host: ``tiergate verify measure --landmarks FILE`` connects to each landmark's
``host:port`` several times and writes the round-trip CSV that ``verify locate`` reads. These are
unsigned: the landmark cannot tell who answered. Signed round trips need the challenge protocol
(``verify challenge`` / ``verify respond``) run by the landmark.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

from tiergate.errors import InputError
from tiergate.verify.service import csv_rows, sample_of

LANDMARK_COLUMNS = ("landmark", "lat", "lon", "host", "port")


@dataclass(frozen=True, slots=True)
class Target:
    landmark: str
    lat: float
    lon: float
    host: str
    port: int
    where: str


def read_landmarks(text: str, source: str) -> list[Target]:
    targets = []
    for where, row in csv_rows(text, source, LANDMARK_COLUMNS):
        place = sample_of({**row, "rtt_ms": "1"}, where)  # checks the name and coordinates
        if not row["host"]:
            raise InputError("host: empty", where=where)
        try:
            port = int(row["port"])
        except ValueError:
            raise InputError(f"port: {row['port']!r} is not a number", where=where) from None
        if not 0 < port < 65536:
            raise InputError(f"port: {port} is not a TCP port (1-65535)", where=where)
        targets.append(Target(place.landmark, place.lat, place.lon, row["host"], port, where))
    if not targets:
        raise InputError("no landmarks", where=source, hint=f"columns: {', '.join(LANDMARK_COLUMNS)}")
    return targets


def connect_ms(host: str, port: int, timeout: float) -> float:
    """The time one TCP connect takes, in milliseconds."""
    start = time.perf_counter()
    with socket.create_connection((host, port), timeout=timeout):
        elapsed = time.perf_counter() - start
    return elapsed * 1000.0


def measure(targets: list[Target], samples: int = 5, timeout: float = 2.0) -> Iterator[dict[str, object]]:
    """Rows ``landmark, lat, lon, rtt_ms`` (one per successful connect) and, for a landmark that never
    answered, a row with ``error`` instead of a round trip."""
    for target in targets:
        errors: list[str] = []
        answered = False
        for _ in range(samples):
            try:
                rtt = connect_ms(target.host, target.port, timeout)
            except OSError as error:
                errors.append(error.strerror or str(error) or type(error).__name__)
                continue
            answered = True
            yield {"landmark": target.landmark, "lat": target.lat, "lon": target.lon, "rtt_ms": round(rtt, 4)}
        if not answered:
            yield {
                "landmark": target.landmark,
                "error": f"{target.host}:{target.port}: {errors[-1] if errors else 'no answer'}",
            }
