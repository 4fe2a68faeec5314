"""Mailing lists: what readers subscribe to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tidings.domain.errors import ValidationError


class Visibility(StrEnum):
    PUBLIC = "public"    # offered on signup forms and the preference centre
    PRIVATE = "private"  # managed by editors and imports only; never accepted from a public form


class OptIn(StrEnum):
    SINGLE = "single"  # subscribed at once
    DOUBLE = "double"  # subscribed after the reader confirms by email


_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?\Z")


def check_slug(slug: str) -> str:
    """Return ``slug`` if it is a valid list slug, else raise :class:`ValidationError`."""
    if not _SLUG.match(slug):
        raise ValidationError(
            "A slug is 1-64 lower-case letters, digits and inner hyphens.", field="slug")
    return slug


def check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError("The name is empty.", field="name")
    if len(name) > 200 or any(ord(c) < 32 for c in name):
        raise ValidationError("The name is too long or contains control characters.",
                              field="name")
    return name


@dataclass(frozen=True, slots=True)
class MailingList:
    id: int
    uid: str
    slug: str
    name: str
    description: str
    visibility: Visibility
    optin: OptIn
    created_at: datetime
    updated_at: datetime
