"""The reference documentation is complete: every setting and command is described."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from tidings.cli.app import app
from tidings.config import SETTINGS
from tidings.domain.settings import REGISTRY

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_bootstrap_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in text]
    assert missing == []


def test_every_runtime_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [s.name for s in REGISTRY
               if not s.name.startswith("setup.") and f"`{s.name}`" not in text]
    assert missing == []


def _commands(group: Any, prefix: str) -> list[str]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if hasattr(command, "commands"):
            found.extend(_commands(command, path))
        else:
            found.append(path)
    return found


def test_every_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    documented = set(re.findall(r"^#+ `(tidings[^`]*)`", text, flags=re.M))
    commands = set(_commands(typer.main.get_command(app), "tidings"))
    assert sorted(commands - documented) == []
