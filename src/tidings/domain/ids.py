"""Public random identifiers, given to every subscriber, list and campaign.

Integer keys stay internal (joins, keyset pagination); what leaves Tidings in
URLs, APIs and exports is this opaque, unguessable id.
"""

from __future__ import annotations

import base64
import os
import re

_UID = re.compile(r"[A-Za-z0-9_-]{16}\Z")


def new_uid() -> str:
    """A 16-character URL-safe random id (about 96 bits) that never starts with "-"."""
    return new_uids(1)[0]


def new_uids(count: int) -> list[str]:
    """``count`` ids as :func:`new_uid` makes them, from one read of random bytes."""
    encoded = base64.urlsafe_b64encode(os.urandom(12 * count)).decode("ascii")
    return [_never_an_option(encoded[start:start + 16]) for start in range(0, 16 * count, 16)]


def _never_an_option(uid: str) -> str:
    # An id starting with "-" would read as an option on a command line
    # (`tidings campaigns status -2xq...`).
    return "_" + uid[1:] if uid[0] == "-" else uid


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
