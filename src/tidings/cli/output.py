"""Printing for commands: Rich on standard output, one-line errors on standard error."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def print_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str, ensure_ascii=False))
