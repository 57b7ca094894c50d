"""The layout's rules, checked on every run (README: Architecture).

import-linter's contracts (`.importlinter`) say which package may import which; a second
check finds imports written inside functions, the usual way a cycle is hidden rather than
removed. The one place allowed is an app's `ready()`, Django's documented hook for wiring.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("opcc_portal", "groups", "attestations")


def test_every_import_contract_is_kept():
    # Its own process: import-linter reads the packages from the source tree, not from this
    # interpreter's already-imported modules.
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [lint, "--config", ROOT / ".importlinter", "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _imports_inside_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name != "ready":
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    found.append(f"{path.relative_to(ROOT)}:{inner.lineno} in {node.name}()")
    return found


@pytest.mark.parametrize("package", PRODUCT)
def test_no_module_imports_inside_a_function(package):
    files = [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    found = [hit for path in files for hit in _imports_inside_functions(path)]
    assert not found, "Imports inside functions (move them to the top of the module): " + ", ".join(found)
