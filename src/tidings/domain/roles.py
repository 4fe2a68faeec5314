"""Roles of admin users and API keys, and what each may do."""

from __future__ import annotations

from enum import StrEnum

from tidings.domain.errors import PermissionDenied


class Role(StrEnum):
    ADMIN = "admin"    # everything, including users, keys and settings
    EDITOR = "editor"  # lists, subscribers, templates, segments; write and send campaigns
    VIEWER = "viewer"  # read only


class Permission(StrEnum):
    READ = "read"
    WRITE = "write"        # lists, subscribers, templates, segments, campaign drafts
    SEND = "send"          # start, schedule, pause, resume, cancel campaigns
    ADMINISTER = "admin"   # users, API keys, runtime settings


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.EDITOR: frozenset({Permission.READ, Permission.WRITE, Permission.SEND}),
    Role.VIEWER: frozenset({Permission.READ}),
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in _GRANTS[role]


def require(role: Role, permission: Permission) -> None:
    """Raise :class:`PermissionDenied` unless ``role`` grants ``permission``."""
    if not allows(role, permission):
        raise PermissionDenied(f"The {role} role does not allow {permission}.")
