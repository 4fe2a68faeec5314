"""Public random identifiers, given to every subscriber, list and campaign.

Integer keys stay internal (joins, keyset pagination); what leaves Tidings in
URLs, APIs and exports is this opaque, unguessable id.
"""

from __future__ import annotations

import re
import secrets

_UID = re.compile(r"[A-Za-z0-9_-]{16}\Z")


def new_uid() -> str:
    """A 16-character URL-safe random id (96 bits)."""
    return secrets.token_urlsafe(12)


def looks_like_uid(value: str) -> bool:
    return bool(_UID.match(value))


def as_internal_id(value: str) -> int | None:
    """``value`` as an integer key when it is one (ASCII digits that fit 63 bits)."""
    if value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def plausible_ref(value: str) -> bool:
    """Whether ``value`` could name anything (a slug, id or address) at all: no control
    characters (PostgreSQL refuses NUL), at most 320 characters."""
    return 0 < len(value) <= 320 and not any(ord(c) < 32 or c == "\x7f" for c in value)
