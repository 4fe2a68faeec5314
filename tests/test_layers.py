"""Imports follow the layering of docs/architecture.md: data flows one way.

Every module under ``src/tidings`` is parsed with :mod:`ast` (nothing is imported, so
imports inside functions and under ``TYPE_CHECKING`` count too) and each import of
another part of Tidings is checked against :data:`MAY_IMPORT`. The departures that
are deliberate are in :data:`ALLOWED`, each with its reason, and described in
docs/architecture.md.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "tidings"

# Which layers each layer may import (its own always). ``tidings`` itself only holds
# ``__version__``, which anything may read.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "domain": frozenset(),
    "config": frozenset(),
    "db": frozenset({"domain"}),
    "mail": frozenset({"domain"}),
    "services": frozenset({"domain", "db", "mail"}),
    "delivery": frozenset({"domain", "db", "mail", "services"}),
    "inbound": frozenset({"domain", "services"}),
    "web": frozenset({"domain", "services", "mail"}),
    "cli": frozenset({"domain", "services", "config", "bootstrap"}),
    # The composition roots: they build the real parts, so they may use them all.
    "bootstrap": frozenset({"domain", "config", "db", "mail", "services", "delivery",
                            "inbound", "web"}),
    "asgi": frozenset({"config", "bootstrap", "web"}),
    "__main__": frozenset({"cli"}),
}

# The parts of web/ that must not import each other (they may use web/'s own modules).
WEB_PARTS = frozenset({"public", "admin", "api", "mailchimp"})

# Deliberate departures: (importing layer, imported module or package) -> why.
_HANDLE = ("Services take the Database handle; callers may name it (types, opening it), "
           "never a query module.")
_PROCESS = ("A command that starts a process (serve, worker, campaigns send --wait, "
            "inbound serve/process) is that process's entry point and runs its engine.")
ALLOWED: dict[tuple[str, str], str] = {
    ("config", "tidings.domain.errors"): "Bad settings raise ConfigurationError from the one "
                                         "error tree, mapped to an exit code like the rest.",
    ("delivery", "tidings.bootstrap"): "delivery.setup builds the engine from the Runtime: the "
                                       "delivery half of bootstrap, loaded only by processes "
                                       "that send.",
    ("delivery", "tidings.config"): "delivery.setup reads the relays and rates from Settings.",
    ("inbound", "tidings.db.database"): _HANDLE,
    ("inbound", "tidings.mail.tokens"): "Bounces and mailto unsubscribes come back to the "
                                        "VERP addresses mail.tokens signed; the same signer "
                                        "reads them.",
    ("web", "tidings.db.database"): _HANDLE,
    ("web", "tidings.bootstrap"): "The app holds the Runtime bootstrap built (database, "
                                  "signer, settings) and hands its parts to services.",
    ("cli", "tidings.db.database"): _HANDLE,
    ("cli", "tidings.db.migrate"): "tidings db upgrade/status migrate before any service "
                                   "can run.",
    ("cli", "tidings.delivery"): _PROCESS,
    ("cli", "tidings.inbound"): _PROCESS,
    ("cli", "tidings.web.app"): "tidings serve runs the app and its inline worker on one "
                                "Runtime; create_app is web's one entry point.",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import of ours in the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # ``from tidings.db import lists`` imports the module tidings.db.lists.
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "tidings" or target.startswith("tidings."):
                yield node.lineno, target


def layer(module: str) -> str:
    """The part of Tidings a module belongs to; ``tidings`` for the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in MAY_IMPORT else "tidings"


def web_part(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "web" and parts[2] in WEB_PARTS \
        else None


def allowed(source: str, target: str) -> bool:
    """Whether an allow-list entry covers ``target`` (the module or a package above it)."""
    return any(src == source and (target == prefix or target.startswith(prefix + "."))
               for src, prefix in ALLOWED)


def violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        source = layer(name)
        for line, target in imports(path):
            dest = layer(target)
            where = f"{path.relative_to(SRC.parent)}:{line}"
            if dest in ("tidings", source):
                part, other = web_part(name), web_part(target)
                if part and other and part != other:
                    found.append(f"{where}: web/{part} imports {target}")
                continue
            if dest in MAY_IMPORT[source] or allowed(source, target):
                continue
            found.append(f"{where}: {source} imports {target}")
    return found


def test_every_import_follows_the_layers() -> None:
    assert violations() == []


def test_every_layer_is_known() -> None:
    layers = {p.relative_to(PACKAGE).parts[0].removesuffix(".py")
              for p in PACKAGE.rglob("*.py")} - {"__init__"}
    assert layers == set(MAY_IMPORT)


def test_every_allowed_departure_is_used() -> None:
    """An entry of the allow-list that no import needs any more must go."""
    used = set()
    for path in PACKAGE.rglob("*.py"):
        source = layer(module_name(path))
        for _line, target in imports(path):
            if layer(target) in MAY_IMPORT[source] | {source, "tidings"}:
                continue
            used |= {(src, prefix) for src, prefix in ALLOWED
                     if src == source and (target == prefix or target.startswith(prefix + "."))}
    assert set(ALLOWED) - used == set()


@pytest.mark.parametrize(("source", "code", "expected"), [
    ("domain/x.py", "from tidings.db import lists", "domain imports tidings.db.lists"),
    ("db/x.py", "from tidings import services", "db imports tidings.services"),
    ("services/x.py", "import tidings.web.app", "services imports tidings.web.app"),
    ("services/x.py", "from ..cli import app", "services imports tidings.cli.app"),
    ("web/admin/x.py", "from tidings.web.public import common",
     "web/admin imports tidings.web.public.common"),
    ("web/admin/x.py", "from ..public import common",
     "web/admin imports tidings.web.public.common"),
    ("cli/x.py", "def f():\n    from tidings.web.admin import common",
     "cli imports tidings.web.admin.common"),
    ("web/x.py", "from tidings import cli", "web imports tidings.cli"),
])
def test_a_wrong_import_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 source: str, code: str, expected: str) -> None:
    root = tmp_path / "src"
    target = root / "tidings" / source
    target.parent.mkdir(parents=True)
    target.write_text(code + "\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "SRC", root)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", root / "tidings")
    assert [v.split(": ", 1)[1] for v in violations()] == [expected]
