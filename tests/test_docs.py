"""The manual cannot rot: the documentation site builds strictly, every page the README links to exists, the
README never points outside the repository, and every example marked ``<!-- example: run -->`` runs.

A marked example is the ``console`` block right after the marker. Each ``$ `` line is run by bash in a scratch
folder (where ``tiergate/samples`` is the package's bundled samples, as in a clone), one after the other, and must
exit 0, or the code its trailing ``# exit N`` comment states. A ``$ `` line is taken as it is shown, so the
example a reader copies is the one that was tested."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MARKER = "<!-- example: run -->"
_BLOCK = re.compile(re.escape(MARKER) + r"\s*\n```console\n(.*?)\n```", re.S)
_EXIT = re.compile(r"\s+#\s*exit\s+(\d+)\b.*$")


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def _examples() -> list[tuple[str, int, list[str]]]:
    found = []
    for page in _pages():
        text = page.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            commands = [c[2:] for c in match.group(1).splitlines() if c.startswith("$ ")]
            found.append((page.relative_to(ROOT).as_posix(), line, commands))
    return found


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or shutil.which("mkdocs")
    if mkdocs is None:
        pytest.fail("mkdocs is not installed: pip install -e '.[dev]'")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "site" / "reference" / "http" / "index.html").exists()


def test_the_readme_is_a_manual_that_stays_inside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 400
    first_screen = readme.split("---", 1)[0]
    commands = [line for line in first_screen.splitlines() if line.startswith("python3 -m venv")]
    assert len(commands) == 2 and commands[0].endswith("tiergate demo") and "pytest" in commands[1]
    assert "../shared" not in readme and "shared/data" not in readme and "shared/reference" not in readme
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if not target.startswith(("http://", "https://")):
            assert (ROOT / target).exists(), f"README links to {target}, which is not in the repository"


def test_every_command_is_in_the_readme_command_table() -> None:
    from typer.main import get_command

    from tiergate.cli import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Commands", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in get_command(app).commands if f"`tiergate {name}" not in table]  # type: ignore[attr-defined]
    assert not missing, f"commands missing from the README's command table: {missing}"


def test_there_are_examples_to_run() -> None:
    assert len(_examples()) >= 3


def _example_id(value: object) -> str:
    return str(value) if isinstance(value, (str, int)) else ""


@pytest.mark.parametrize(("page", "line", "commands"), _examples(), ids=_example_id)
def test_a_documented_example_runs(page: str, line: int, commands: list[str], tmp_path: Path) -> None:
    (tmp_path / "tiergate").mkdir()
    (tmp_path / "tiergate" / "samples").symlink_to(ROOT / "tiergate" / "samples")
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "TIERGATE_DB": f"sqlite:///{tmp_path / 'tiergate-ledger.db'}",
        "COLUMNS": "100",
    }
    for command in commands:
        expected = 0
        found = _EXIT.search(command)
        if found:
            expected = int(found.group(1))
        result = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == expected, (
            f"{page}:{line}: `{command}` exited {result.returncode}, not {expected}\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
