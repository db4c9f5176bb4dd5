"""The layer rules of STYLE.md 7.4 hold: checked here so a violation fails the suite."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL_AND_CORE = ["idp/oauth", "idp/authn", "idp/consent", "idp/audit", "idp/ids", "idp/store"]
REQUEST_GLOBALS = {"request", "session", "g"}


def _flask_global_imports(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in {"flask", "flask.globals"}:
            found += [a.name for a in node.names if a.name in REQUEST_GLOBALS]
        if isinstance(node, ast.Attribute) and node.attr in REQUEST_GLOBALS:
            if isinstance(node.value, ast.Name) and node.value.id == "flask":
                found.append(f"flask.{node.attr}")
    return found


@pytest.mark.parametrize("package", PROTOCOL_AND_CORE)
def test_protocol_and_core_never_read_flask_request_globals(package):
    offenders = {
        str(path.relative_to(ROOT)): names
        for path in sorted((ROOT / package).rglob("*.py"))
        if (names := _flask_global_imports(path))
    }
    assert offenders == {}


def test_import_layers_hold():
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert command, "import-linter is a test dependency (pip install -e '.[test]')"
    result = subprocess.run(
        [command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:]
