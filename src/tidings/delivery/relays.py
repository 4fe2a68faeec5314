"""Outgoing relays as configured in ``TIDINGS_SMTP_URL``.

One URL per relay, separated by spaces or commas::

    smtp://user:pass@smtp.example.org:587?pool=4&rate=50     STARTTLS, required
    smtps://user:pass@smtp.example.org:465                   implicit TLS
    smtp+plain://127.0.0.1:25                                no TLS (a local MTA)

Query parameters: ``pool`` (connections, default 4), ``rate`` (messages per second),
``per_minute``, ``per_hour`` (0 or absent: no limit), ``helo`` (the EHLO name;
default the host of ``TIDINGS_BASE_URL``), ``cafile`` (a PEM bundle of certificate
authorities to trust instead of the system's, for a relay with a private CA).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from tidings.domain.errors import ConfigurationError

DEFAULT_PORTS = {"smtp": 587, "smtps": 465, "smtp+plain": 25}
DEFAULT_POOL = 4
MAX_POOL = 64
_PARAMS = frozenset({"pool", "rate", "per_minute", "per_hour", "helo", "cafile"})


@dataclass(frozen=True, slots=True)
class Relay:
    """One SMTP relay: where, how securely, as whom, and how fast."""

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    pool: int = DEFAULT_POOL
    rate: float = 0.0
    per_minute: float = 0.0
    per_hour: float = 0.0
    helo: str | None = None
    cafile: Path | None = None

    @property
    def starttls(self) -> bool:
        return self.scheme == "smtp"

    @property
    def implicit_tls(self) -> bool:
        return self.scheme == "smtps"

    @property
    def name(self) -> str:
        """How logs and errors name the relay (never with the password)."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext | None:
        """A verifying TLS context (certificate and host name), or None for plain SMTP."""
        if not (self.starttls or self.implicit_tls):
            return None
        return ssl.create_default_context(cafile=str(self.cafile) if self.cafile else None)


def _number(name: str, raw: str, relay: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"TIDINGS_SMTP_URL: {name}={raw!r} of {relay} is not a "
                                 "number") from None
    if value < 0 or value != value or value == float("inf"):
        raise ConfigurationError(f"TIDINGS_SMTP_URL: {name} of {relay} must be 0 or more")
    return value


def parse(url: str) -> Relay:
    """Parse one relay URL; raise :class:`ConfigurationError` with a clear message."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ConfigurationError(
            f"TIDINGS_SMTP_URL: {scheme or url!r} is not smtp://, smtps:// or smtp+plain://")
    if not parts.hostname:
        raise ConfigurationError(f"TIDINGS_SMTP_URL: {url.split('@')[-1]!r} has no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise ConfigurationError(f"TIDINGS_SMTP_URL: the port of {parts.hostname} is "
                                 "invalid") from None
    shown = f"{scheme}://{parts.hostname}:{port}"
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - _PARAMS)
    if unknown:
        raise ConfigurationError(f"TIDINGS_SMTP_URL: unknown parameter(s) {', '.join(unknown)} "
                                 f"of {shown}")
    single = {k: v[-1] for k, v in query.items()}
    pool = _number("pool", single.get("pool", str(DEFAULT_POOL)), shown)
    if pool != int(pool) or not 1 <= pool <= MAX_POOL:
        raise ConfigurationError(f"TIDINGS_SMTP_URL: pool of {shown} must be a whole number "
                                 f"from 1 to {MAX_POOL}")
    if parts.username is not None and scheme == "smtp+plain" \
            and parts.hostname not in ("127.0.0.1", "::1", "localhost"):
        raise ConfigurationError(f"TIDINGS_SMTP_URL: {shown} would send a password without "
                                 "TLS; use smtp:// or smtps://")
    cafile = Path(single["cafile"]) if single.get("cafile") else None
    if cafile is not None and not cafile.is_file():
        raise ConfigurationError(f"TIDINGS_SMTP_URL: cafile {cafile} of {shown} is not a file")
    return Relay(
        scheme=scheme, host=parts.hostname, port=port,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        pool=int(pool), rate=_number("rate", single.get("rate", "0"), shown),
        per_minute=_number("per_minute", single.get("per_minute", "0"), shown),
        per_hour=_number("per_hour", single.get("per_hour", "0"), shown),
        helo=single.get("helo") or None, cafile=cafile,
    )


def parse_all(urls: tuple[str, ...]) -> list[Relay]:
    return [parse(u) for u in urls]
