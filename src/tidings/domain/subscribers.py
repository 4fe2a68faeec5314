"""Subscribers: one per address, with a name, JSON attributes and a status."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tidings.domain.errors import ValidationError

MAX_NAME_LENGTH = 200
MAX_ATTRIBUTES_BYTES = 64 * 1024
# C0 controls, DEL, C1 controls and the Unicode line/paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class SubscriberStatus(StrEnum):
    ENABLED = "enabled"
    BLOCKLISTED = "blocklisted"  # never mailed, whatever their subscriptions say


def check_name(name: str | None) -> str:
    """Return a clean display name; CR, LF and other control characters are refused."""
    if name is None:
        return ""
    if _CONTROL.search(name):
        raise ValidationError("The name contains control characters.", field="name")
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"The name is longer than {MAX_NAME_LENGTH} characters.",
                              field="name")
    return name


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: int
    uid: str
    email: str
    name: str
    status: SubscriberStatus
    created_at: datetime
    updated_at: datetime
    attributes: dict[str, Any] = field(default_factory=dict)
