"""Write ``tiergate/screen/readings/hanja.txt.gz``: the Korean (Sino-Korean) reading of each Chinese character,
from the table of the ``hanja`` package (Sumin Byeon, WTFPL; https://github.com/suminb/hanja).

    pip download hanja==0.15.1 --no-deps -d /tmp/hanja && python bench/make_hanja_readings.py /tmp/hanja/hanja-*.whl

The package itself is not a dependency: it pins PyYAML and lists pytest and coveralls as run-time requirements.
Its table (one Hangul syllable per character, 27,497 characters) is read from the wheel and written as one line of
pairs (character, syllable), gzip-compressed. Rerun this script to take a newer table.
"""

from __future__ import annotations

import gzip
import sys
import zipfile
from pathlib import Path

import yaml

OUT = Path(__file__).resolve().parents[1] / "tiergate" / "screen" / "readings" / "hanja.txt.gz"


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python bench/make_hanja_readings.py PATH/hanja-VERSION-py3-none-any.whl")
    with zipfile.ZipFile(sys.argv[1]) as wheel:
        table = yaml.safe_load(wheel.read("hanja/table.yml").decode("utf-8"))
    pairs = sorted((k, v) for k, v in table.items() if len(k) == 1 and len(v) == 1 and "\uac00" <= v <= "\ud7a3")
    text = "".join(k + v for k, v in pairs)
    OUT.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    print(f"{len(pairs):,} characters -> {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
