"""RSS-to-email: a publisher's feed, when its digest goes out, and its items.

A feed has a schedule, daily or weekly (on a weekday), at a wall-clock time in a named
time zone. :func:`next_run` finds the next such moment as a UTC instant; a time that a
daylight-saving change skips runs at the corresponding moment after the jump (02:30
becomes 03:30), a time that happens twice runs at its first occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from tidings.domain.errors import ValidationError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_ITEMS = 50          # items in one digest, newest first
_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])\Z")


class Frequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


@dataclass(frozen=True, slots=True)
class Feed:
    id: int
    uid: str
    name: str
    url: str
    frequency: Frequency
    weekday: int | None
    send_time: str
    timezone: str
    list_ids: tuple[int, ...]
    template_id: int | None
    subject: str
    auto_send: bool
    enabled: bool
    created_at: datetime
    updated_at: datetime
    last_run_at: datetime | None = None
    next_run_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """One entry of a feed as a digest shows it."""

    guid: str
    title: str
    link: str
    excerpt: str = ""
    image: str = ""
    published: datetime | None = None


def check_send_time(value: str) -> str:
    if not isinstance(value, str) or not _TIME.match(value.strip()):
        raise ValidationError("The time of day is written HH:MM (24-hour clock).",
                              field="send_time")
    return value.strip()


def check_weekday(frequency: Frequency, weekday: int | str | None) -> int | None:
    """The weekday (0 = Monday) of a weekly feed, None for a daily one."""
    if frequency is Frequency.DAILY:
        return None
    if isinstance(weekday, str):
        name = weekday.strip().lower()
        matches = [i for i, day in enumerate(WEEKDAYS) if day.startswith(name[:3])] \
            if len(name) >= 3 else []
        if len(matches) != 1:
            raise ValidationError(f"Unknown weekday {weekday!r}.", field="weekday")
        return matches[0]
    if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
        raise ValidationError("A weekly digest needs a weekday (monday ... sunday).",
                              field="weekday")
    return weekday


def next_run(after: datetime, frequency: Frequency, weekday: int | None, send_time: str,
             tz: ZoneInfo) -> datetime:
    """The first scheduled moment strictly after ``after`` (aware), in UTC."""
    hour, minute = (int(part) for part in send_time.split(":"))
    local_day = after.astimezone(tz).date()
    for offset in range(9):
        day = local_day + timedelta(days=offset)
        if frequency is Frequency.WEEKLY and day.weekday() != weekday:
            continue
        # fold=0: a skipped time takes the offset before the jump (so it lands after
        # it), a repeated time its first occurrence.
        candidate = datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)
        if candidate > after:
            return candidate
    raise AssertionError("a week always has the weekday")  # pragma: no cover
