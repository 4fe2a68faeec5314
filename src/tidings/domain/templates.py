"""Layout templates: the HTML frame a campaign's content is placed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tidings.domain.errors import ValidationError


@dataclass(frozen=True, slots=True)
class Template:
    id: int
    uid: str
    name: str
    body: str
    is_default: bool
    created_at: datetime
    updated_at: datetime


def check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError("The template name is empty.", field="name")
    if len(name) > 200 or any(ord(c) < 32 for c in name):
        raise ValidationError("The template name is too long or contains control characters.",
                              field="name")
    return name
