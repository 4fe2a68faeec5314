"""Reading the capture outbox: the ``.eml`` files Tidings writes when no relay is set.

Messages are named by their path relative to the outbox directory. Every name is
checked component by component and the resolved path must stay inside the outbox,
so no name can reach another file (``..``, absolute paths, symlinks out).
"""

from __future__ import annotations

import email
import email.policy
import heapq
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from tidings.domain.errors import NotFound, PayloadTooLarge, ValidationError

_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]{0,200}\Z")
MAX_DEPTH = 3
MAX_MESSAGE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    size: int
    modified: datetime


@dataclass(frozen=True, slots=True)
class Message:
    name: str
    size: int
    headers: list[tuple[str, str]]
    text: str | None
    html: str | None
    raw: bytes


def _walk(root: Path, depth: int = 0) -> list[os.DirEntry[str]]:
    found = []
    try:
        with os.scandir(root) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False) and depth < MAX_DEPTH:
                    found.extend(_walk(Path(entry.path), depth + 1))
                elif entry.is_file(follow_symlinks=False) and entry.name.endswith(".eml"):
                    found.append(entry)
    except FileNotFoundError:
        return []
    return found


def newest(outbox_dir: Path, *, limit: int = 100, recipient: str = "") -> tuple[list[Entry], int]:
    """The ``limit`` newest messages (optionally only files naming ``recipient``),
    and how many there are in all."""
    root = outbox_dir.resolve()
    entries = _walk(root)
    if recipient:
        needle = recipient.lower()
        entries = [e for e in entries if needle in e.name.lower()]
    stats = ((e, e.stat(follow_symlinks=False)) for e in entries)
    top = heapq.nlargest(limit, stats, key=lambda pair: (pair[1].st_mtime_ns, pair[0].name))
    return [Entry(name=Path(e.path).relative_to(root).as_posix(), size=st.st_size,
                  modified=datetime.fromtimestamp(st.st_mtime, UTC)) for e, st in top], \
        len(entries)


def resolve(outbox_dir: Path, name: str) -> Path:
    """The file named ``name`` inside the outbox; :class:`NotFound` for anything else."""
    parts = name.split("/")
    if not name.endswith(".eml") or len(parts) > MAX_DEPTH + 1 or \
            not all(_PART.match(p) and p not in (".", "..") for p in parts):
        raise NotFound("No such message.")
    root = outbox_dir.resolve()
    path = root.joinpath(*parts)
    try:
        real = path.resolve(strict=True)
    except (FileNotFoundError, RuntimeError):
        raise NotFound("No such message.") from None
    if not real.is_relative_to(root) or not real.is_file():
        raise NotFound("No such message.")
    return real


def read(outbox_dir: Path, name: str) -> Message:
    path = resolve(outbox_dir, name)
    size = path.stat().st_size
    if size > MAX_MESSAGE_BYTES:
        raise PayloadTooLarge("This message is too large to show here.")
    raw = path.read_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(parsed, EmailMessage):
        raise ValidationError("Not an email message.")
    return Message(name=name, size=size,
                   headers=[(k, str(v)) for k, v in parsed.items()],
                   text=_body(parsed, "plain"), html=_body(parsed, "html"), raw=raw)


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None
