"""Wall-clock times in named time zones, turned into UTC instants correctly across DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tidings.domain.errors import ValidationError


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC: the one clock of Tidings."""
    return datetime.now(UTC)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/Oslo``), or :class:`ValidationError`."""
    if not isinstance(name, str) or not name or len(name) > 64 or ".." in name \
            or name.startswith("/"):
        raise ValidationError(f"Unknown time zone {name!r}.", field="timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"Unknown time zone {name!r}.", field="timezone") from None


def to_utc(local: datetime, timezone: str) -> datetime:
    """The UTC instant of wall-clock ``local`` in ``timezone`` (aware values converted).

    Refuses a local time skipped by a daylight-saving change; of a repeated one, takes
    the first occurrence.
    """
    tz = zone(timezone)
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    instant = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local:
        raise ValidationError(f"{local:%Y-%m-%d %H:%M} does not exist in {timezone}: the "
                              "clocks skip it (daylight-saving time starts).", field="at")
    return instant
