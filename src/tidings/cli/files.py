"""Reading the files commands take: a path, or ``-`` for standard input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from tidings.domain.errors import ValidationError


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path`` (``-``: standard input); ValidationError if unreadable."""
    try:
        if str(path) == "-":
            return typer.get_text_stream("stdin").read()
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"Cannot read {path}: {exc}") from None


def read_json(path: Path) -> Any:
    """The JSON document in ``path``; ValidationError naming the line if it is not JSON."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path} is not JSON: {exc.msg} (line {exc.lineno}, "
                              f"column {exc.colno}).") from None
