"""The suppression list: keyed hashes of addresses that must never be mailed or re-added.

Erasing a reader, a hard bounce or a complaint leaves only ``HMAC(key, address)``
here, so a later import or signup of the same address is refused without the
address itself being kept. The key is generated once per installation and kept
in the settings table (it survives a change of ``TIDINGS_SECRET_KEY``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from sqlalchemy import Connection, select

from tidings.db import suppressions as db_suppressions
from tidings.db.database import Database
from tidings.db.settings import put
from tidings.db.tables import settings
from tidings.domain.emails import casefold_key
from tidings.domain.timezones import utcnow

_KEY_SETTING = "internal.suppression_key"


def key(conn: Connection) -> bytes:
    """The installation's suppression key, created on first use."""
    value = conn.execute(select(settings.c.value).where(settings.c.key == _KEY_SETTING)).scalar()
    if value is None:
        value = secrets.token_hex(32)
        put(conn, _KEY_SETTING, value, utcnow())
    return bytes.fromhex(str(value))


def digest(suppression_key: bytes, email: str) -> str:
    return hmac.new(suppression_key, casefold_key(email).encode("utf-8"),
                    hashlib.sha256).hexdigest()


def suppress(conn: Connection, email: str, reason: str) -> None:
    db_suppressions.add(conn, digest(key(conn), email), reason, utcnow())


def unsuppress(conn: Connection, email: str) -> None:
    db_suppressions.remove(conn, digest(key(conn), email))


def suppressed(conn: Connection, emails: Iterable[str]) -> set[str]:
    """The subset of ``emails`` (as given) that is suppressed."""
    k = key(conn)
    by_digest = {digest(k, e): e for e in emails}
    return {by_digest[d] for d in db_suppressions.present(conn, by_digest)}


def is_suppressed(db: Database, email: str) -> bool:
    with db.write() as conn:
        return bool(suppressed(conn, [email]))
