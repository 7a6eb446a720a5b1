"""The decision core is pure: classify and decide import no module that touches files, the clock,
the network or a database (their inputs are passed in)."""

from __future__ import annotations

import ast
from pathlib import Path

import tiergate

CORE = [
    "classify/__init__.py",
    "classify/metrics.py",
    "classify/model.py",
    "decide/__init__.py",
    "decide/route.py",
    "decide/model.py",
    "decide/allied.py",
    "decide/reach.py",
    "decide/combined.py",
    "rules/ruleset.py",
    "rules/allied.py",
    "catalog/model.py",
    "catalog/metrics.py",
    "vault/model.py",
    "vault/policy.py",
]
PURE_VAULT = {"tiergate.vault.model", "tiergate.vault.policy"}
FORBIDDEN = {
    "os",
    "io",
    "pathlib",
    "yaml",
    "json",
    "orjson",
    "sqlite3",
    "sqlalchemy",
    "socket",
    "urllib",
    "http",
    "requests",
    "pyarrow",
    "time",
    "subprocess",
    "shutil",
    "tempfile",
    "random",
}


def test_core_modules_import_no_io() -> None:
    root = Path(tiergate.__file__).parent
    for name in CORE:
        tree = ast.parse((root / name).read_text())
        for node in ast.walk(tree):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            for module in modules:
                assert module.split(".")[0] not in FORBIDDEN, f"{name} imports {module}"
                if module.startswith("tiergate."):
                    assert module.split(".")[1] in {"classify", "decide", "rules", "catalog", "errors"} or (
                        module in PURE_VAULT
                    ), f"{name} imports {module}"
                    assert module not in {
                        "tiergate.rules.loader",
                        "tiergate.rules.source",
                        "tiergate.rules.book",
                        "tiergate.catalog.catalogue",
                    }, f"{name} imports {module}"
        source = (root / name).read_text()
        assert "date.today" not in source and "datetime.now" not in source, name


def _imports(path: Path) -> set[str]:
    """The tiergate modules a file imports, wherever in it (inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {module for module in found if module.startswith("tiergate")}


def test_layers_do_not_import_each_other_backwards() -> None:
    """The rules import no classification (the metrics they share live with the chip's figures, in catalog),
    and the dashboard's machinery (web.app) and its sign-in pages (web.session) do not import each other."""
    root = Path(tiergate.__file__).parent
    for path in (root / "rules").glob("*.py"):
        assert not any(m.startswith("tiergate.classify") for m in _imports(path)), path.name
    assert not any(m.startswith("tiergate.web.session") for m in _imports(root / "web" / "app.py"))
    assert "tiergate.web.app" in _imports(root / "web" / "session.py")
    assert not any(
        m == "tiergate.web" or m.startswith("tiergate.web.__init__") for m in _imports(root / "web" / "session.py")
    )
