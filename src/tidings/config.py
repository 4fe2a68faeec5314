"""Bootstrap settings: read once from ``TIDINGS_*`` variables and an optional TOML file.

Only this module reads the environment. Every setting is declared once in
:data:`SETTINGS` with its type, default and help text; ``docs/configuration.md``
documents each of them (a test fails when one is missing). Runtime settings that
editors change in the admin UI (publisher name, postal address, rate limits, ...)
live in the database instead, see :mod:`tidings.services.runtime_settings`.

Precedence, highest first: environment variable, ``tidings.toml`` (or the file
named by ``TIDINGS_CONFIG``), default.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from tidings.domain.errors import ConfigurationError

ENV_PREFIX = "TIDINGS_"


@dataclass(frozen=True, slots=True)
class Setting:
    """The declaration of one bootstrap setting."""

    name: str
    help: str
    default: Callable[[Mapping[str, Any]], Any] | Any = None

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


def _default_database_url(values: Mapping[str, Any]) -> str:
    return f"sqlite:///{Path(values['data_dir']) / 'tidings.db'}"


SETTINGS: tuple[Setting, ...] = (
    Setting("config", "Path of an optional TOML file with these settings (keys in lower case, "
            "without the prefix). Default: `tidings.toml` in the working directory, if present.",
            None),
    Setting("data_dir", "Directory for the SQLite database, the generated secret key and the "
            "capture outbox.", "data"),
    Setting("database_url", "SQLAlchemy URL of the database: `sqlite:///path/to/file.db` or "
            "`postgresql+psycopg://user:password@host/dbname`. Default: `sqlite:///<data_dir>/"
            "tidings.db`.", _default_database_url),
    Setting("secret_key", "Key that signs tokens, sessions and links. When unset, a random key is "
            "generated on first run and kept in `<data_dir>/secret_key`.", None),
    Setting("base_url", "Public address of this Tidings (used in links inside emails and "
            "pages), e.g. `https://news.example.org`.", "http://127.0.0.1:8000"),
    Setting("host", "Address `tidings serve` listens on.", "127.0.0.1"),
    Setting("port", "Port `tidings serve` listens on.", 8000),
    Setting("smtp_url", "Outgoing mail relays, separated by spaces or commas: `smtp://user:pass@"
            "host:587` (STARTTLS), `smtps://host:465` (implicit TLS) or `smtp+plain://host:25` "
            "(no TLS, for a local MTA). Query parameters per relay: `pool` (connections), "
            "`rate` (per second), `per_minute`, `per_hour`. Empty: messages go to the capture "
            "outbox.", ""),
    Setting("outbox_dir", "Directory of the capture outbox (one `.eml` file per message) used "
            "when no SMTP relay is set. Default: `<data_dir>/outbox`.", None),
    Setting("global_rate", "Global cap on outgoing messages per second across all relays; 0 "
            "means no cap.", 0.0),
    Setting("stall_timeout", "Seconds a running campaign may go without any message answered "
            "while it has messages waiting for a relay (all relays refusing connections or "
            "answering 4xx) before the worker pauses it, saying why.", 900.0),
    Setting("inline_worker", "Whether `tidings serve` runs the delivery worker in its own "
            "process (`true`) or leaves it to `tidings worker` (`false`).", True),
    Setting("cors_origins", "Origins (space or comma separated) allowed to post the embeddable "
            "signup form as JSON, e.g. `https://www.example.org`.", ""),
    Setting("log_level", "Logging level: `debug`, `info`, `warning` or `error`.", "info"),
)


class Settings(BaseModel):
    """The parsed, frozen bootstrap settings. Build it with :func:`load`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    config: Path | None = None
    data_dir: Path
    database_url: str
    secret_key: str
    base_url: str
    host: str
    port: int
    smtp_url: str
    outbox_dir: Path
    global_rate: float
    stall_timeout: float
    inline_worker: bool
    cors_origins: tuple[str, ...]
    log_level: str

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if not (scheme.startswith("sqlite") or scheme.startswith("postgresql")):
            raise ValueError("must start with sqlite:// or postgresql+psycopg://")
        if scheme in ("postgresql", "postgres"):
            return "postgresql+psycopg" + value[len(scheme):]
        return value

    @field_validator("stall_timeout")
    @classmethod
    def _check_stall_timeout(cls, value: float) -> float:
        if not value > 0:
            raise ValueError("must be a number of seconds above 0")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.lower() not in ("debug", "info", "warning", "error"):
            raise ValueError("must be debug, info, warning or error")
        return value.lower()

    @field_validator("secret_key")
    @classmethod
    def _check_secret_key(cls, value: str) -> str:
        if len(value) < 16:
            raise ValueError("must be at least 16 characters long")
        return value

    @property
    def smtp_urls(self) -> tuple[str, ...]:
        return tuple(u for u in self.smtp_url.replace(",", " ").split() if u)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def mail_domain(self) -> str:
        """The host name of :attr:`base_url`, used for Message-IDs and List-Ids."""
        return urlsplit(self.base_url).hostname or "localhost"


def _split(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return tuple(v for v in str(value or "").replace(",", " ").split() if v)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from exc
    known = {s.name for s in SETTINGS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigurationError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    return data


def _secret_key(data_dir: Path) -> str:
    """Return the key kept under ``data_dir``, creating it (mode 0600) on first use."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def load(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Parse the settings once: environment over TOML file over defaults.

    ``overrides`` (used by tests and the CLI) win over everything.
    Raises :class:`ConfigurationError` with a readable message on bad values.
    """
    env = os.environ if environ is None else environ
    unknown_env = sorted(
        k for k in env
        if k.startswith(ENV_PREFIX) and k[len(ENV_PREFIX):].lower() not in
        {s.name for s in SETTINGS} and not k.startswith(ENV_PREFIX + "TEST")
        and k not in _NON_SETTING_VARS
    )
    if unknown_env:
        raise ConfigurationError(f"unknown setting(s) {', '.join(unknown_env)}")

    config_path = overrides.get("config") or env.get(ENV_PREFIX + "CONFIG")
    file_values: dict[str, Any] = {}
    if config_path:
        file_values = _read_toml(Path(config_path))
    elif Path("tidings.toml").is_file():
        config_path = "tidings.toml"
        file_values = _read_toml(Path(config_path))

    values: dict[str, Any] = {"config": Path(config_path) if config_path else None}
    for setting in SETTINGS[1:]:
        if setting.name in overrides:
            value = overrides[setting.name]
        elif setting.env in env:
            value = env[setting.env]
        elif setting.name in file_values:
            value = file_values[setting.name]
        else:
            value = setting.default(values) if callable(setting.default) else setting.default
        values[setting.name] = value

    data_dir = Path(values["data_dir"])
    values["data_dir"] = data_dir
    if values["outbox_dir"] in (None, ""):
        values["outbox_dir"] = data_dir / "outbox"
    if not values["secret_key"]:
        values["secret_key"] = _secret_key(data_dir)
    values["cors_origins"] = _split(values["cors_origins"])
    if isinstance(values["inline_worker"], str):
        values["inline_worker"] = values["inline_worker"].strip().lower() in (
            "1", "true", "yes", "on")
    try:
        return Settings(**values)
    except ValidationError as exc:
        errors = exc.errors()
        if errors:
            first = errors[0]
            name = str(first["loc"][0]) if first.get("loc") else "?"
            raise ConfigurationError(
                f"{ENV_PREFIX}{name.upper()}: {first['msg'].removeprefix('Value error, ')}"
            ) from None
        raise ConfigurationError(str(exc)) from None


# Variables with the prefix that configure the test suite and CI, not Tidings itself.
_NON_SETTING_VARS = frozenset({"TIDINGS_REQUIRE_SERVICES"})
