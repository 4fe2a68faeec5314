"""API keys: bearer credentials for the REST API, one role each.

A key is ``tdg_<prefix>_<secret>``; only its SHA-256 is stored (the key carries
256 bits of randomness, so a fast hash is enough), and the prefix is kept in clear
so people can tell their keys apart.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from tidings.domain.roles import Role

_KEY = re.compile(r"tdg_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{43})\Z")


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    uid: str
    name: str
    role: Role
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def label(self) -> str:
        return f"api_key:{self.prefix}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def new_key() -> tuple[str, str]:
    """A fresh key and its prefix."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    prefix = "".join(secrets.choice(alphabet) for _ in range(8))
    return f"tdg_{prefix}_{secrets.token_urlsafe(32)}", prefix


def well_formed(key: str) -> bool:
    return bool(_KEY.match(key))


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("ascii", "replace")).hexdigest()
