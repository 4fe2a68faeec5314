"""Every third-party module the application imports is a declared runtime dependency.

Test tools are installed beside the application when the suite runs, so an import that
only works because a test extra happens to be present would pass every other test and
break `make run` on a fresh machine.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "tidings"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = set()
    for requirement in project["dependencies"]:
        names.add(_normalise(re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]))
    return names


def _imported_top_levels() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                found.setdefault(module.split(".")[0], path)
    return found


def test_every_imported_package_is_a_runtime_dependency() -> None:
    declared = _runtime_distributions()
    providers = packages_distributions()
    missing = []
    for top, path in sorted(_imported_top_levels().items()):
        if top == "tidings" or top in sys.stdlib_module_names:
            continue
        distributions = {_normalise(d) for d in providers.get(top, [])}
        if not distributions & declared:
            missing.append(f"{top} (imported by {path.relative_to(ROOT)}; "
                           f"provided by {sorted(distributions) or 'nothing installed'})")
    assert not missing, "not in [project] dependencies: " + "; ".join(missing)
