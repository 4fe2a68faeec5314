"""Admin users: who signs in to the admin UI, with which role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tidings.domain.roles import Permission, Role, allows


@dataclass(frozen=True, slots=True)
class User:
    id: int
    uid: str
    email: str
    name: str
    role: Role
    is_active: bool
    totp_enabled: bool
    session_version: int
    created_at: datetime
    last_login_at: datetime | None = None

    @property
    def label(self) -> str:
        """How the audit trail names this user."""
        return f"user:{self.email}"

    def can(self, permission: Permission) -> bool:
        return self.is_active and allows(self.role, permission)
