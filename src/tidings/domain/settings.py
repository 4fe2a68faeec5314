"""Runtime settings: what operators and editors change in the admin UI.

Declared once here (name, type, default, help); stored in the ``settings`` table;
read and validated through :mod:`tidings.services.runtime_settings`. Bootstrap
settings (database, secret, bind address) are in :mod:`tidings.config` instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tidings.domain.errors import ValidationError


@dataclass(frozen=True, slots=True)
class RuntimeSetting:
    name: str
    kind: type
    default: Any
    help: str
    check: Callable[[Any], Any] | None = None
    secret: bool = False  # never shown back by the UI or the API (private keys)


def _no_control(value: str) -> str:
    if any(ord(c) < 32 and c not in "\n" for c in value):
        raise ValidationError("Control characters are not allowed.")
    return value


def _one_line(value: str) -> str:
    if any(ord(c) < 32 for c in value):
        raise ValidationError("Line breaks and control characters are not allowed.")
    return value.strip()


def _color(value: str) -> str:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise ValidationError("A colour is written #rrggbb.")
    return value.lower()


def _sender_id(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9]{5,15}", value):
        raise ValidationError("The Feedback-ID sender id is 5-15 letters and digits.")
    return value


_DKIM_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")
_DKIM_SELECTOR = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                            r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
_DKIM_ALGORITHMS = ("rsa-sha256", "ed25519-sha256")


def _dkim_keys(value: list[Any]) -> list[dict[str, str]]:
    """The shape of each key; ``mail.dkim.keys_from_setting`` also loads the key itself."""
    keys = []
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {"domain", "selector", "algorithm",
                                                         "private_key"}:
            raise ValidationError("Each DKIM key is {domain, selector, algorithm, private_key}.")
        domain = str(entry["domain"]).strip().lower().rstrip(".")
        selector = str(entry["selector"]).strip()
        algorithm = str(entry["algorithm"]).strip()
        private_key = str(entry["private_key"]).strip()
        if not _DKIM_DOMAIN.fullmatch(domain):
            raise ValidationError(f"{domain!r} is not a domain name.")
        if not _DKIM_SELECTOR.fullmatch(selector):
            raise ValidationError(f"{selector!r} is not a DKIM selector.")
        if algorithm not in _DKIM_ALGORITHMS:
            raise ValidationError("The DKIM algorithm is rsa-sha256 or ed25519-sha256.")
        if algorithm == "rsa-sha256" and "PRIVATE KEY-----" not in private_key:
            raise ValidationError("An rsa-sha256 key is a PEM private key.")
        if not private_key or any(ord(c) < 32 and c not in "\n\r" for c in private_key):
            raise ValidationError("The DKIM private key is empty or contains control characters.")
        keys.append({"domain": domain, "selector": selector, "algorithm": algorithm,
                     "private_key": private_key})
    return keys


def _minutes(value: int) -> int:
    if not 1 <= value <= 7 * 24 * 60:
        raise ValidationError("Must be between 1 minute and 7 days (10080).")
    return value


def _positive(value: int | float) -> int | float:
    if value != value or value in (float("inf"), float("-inf")):
        raise ValidationError("Must be a finite number.")
    if value < 0:
        raise ValidationError("Must not be negative.")
    return value


DEFAULT_CONSENT_TEXT = (
    "You can unsubscribe at any time by clicking the link in the footer of our emails. "
    "{publisher} keeps your address and this consent on its own Tidings server and "
    "sends its newsletters from there; your information is not transferred to a "
    "third-party marketing platform."
)

REGISTRY: tuple[RuntimeSetting, ...] = (
    RuntimeSetting("publisher.name", str, "Tidings", "The publisher's name, shown on pages "
                   "and in every email footer.", _one_line),
    RuntimeSetting("publisher.postal_address", str, "", "The publisher's postal address, "
                   "required in every campaign footer (CAN-SPAM, CASL).", _no_control),
    RuntimeSetting("publisher.website_url", str, "", "The publisher's website.", _one_line),
    RuntimeSetting("publisher.privacy_url", str, "", "The privacy policy linked from forms.",
                   _one_line),
    RuntimeSetting("publisher.logo_url", str, "", "Logo shown in the email layout and pages.",
                   _one_line),
    RuntimeSetting("publisher.color_primary", str, "#1d4ed8", "Accent colour.", _color),
    RuntimeSetting("publisher.color_background", str, "#f4f4f5", "Background colour of "
                   "emails and pages.", _color),
    RuntimeSetting("mail.from_name", str, "", "Default sender name (defaults to the "
                   "publisher's name).", _one_line),
    RuntimeSetting("mail.from_email", str, "", "Default sender address (defaults to "
                   "newsletter@<host of TIDINGS_BASE_URL>).", _one_line),
    RuntimeSetting("mail.reply_to", str, "", "Default Reply-To address.", _one_line),
    RuntimeSetting("mail.feedback_sender_id", str, "tidings", "The SenderId part of the "
                   "Feedback-ID header (5-15 letters and digits).", _sender_id),
    RuntimeSetting("dkim.keys", list, (), "DKIM signing keys: a list of {domain, selector, "
                   "algorithm (rsa-sha256 or ed25519-sha256), private_key}.", _dkim_keys,
                   secret=True),
    RuntimeSetting("consent.text", str, DEFAULT_CONSENT_TEXT, "The consent text shown under "
                   "signup forms; {publisher} is replaced by the publisher's name.",
                   _no_control),
    RuntimeSetting("signup.confirmations_per_day", int, 3, "Confirmation emails sent to one "
                   "address per 24 hours at most.", _positive),
    RuntimeSetting("signup.min_fill_seconds", float, 2.0, "Forms submitted faster than this "
                   "after rendering are treated as bots.", _positive),
    RuntimeSetting("signup.altcha", bool, False, "Require an ALTCHA proof-of-work on public "
                   "signup forms."),
    RuntimeSetting("signup.purge_unconfirmed_days", int, 30, "Subscriptions still "
                   "unconfirmed this many days after the signup are removed, and a reader "
                   "left with none who never confirmed anything is deleted with their "
                   "data; 0 keeps them forever.", _positive),
    RuntimeSetting("campaigns.late_grace_minutes", int, 60, "A scheduled campaign whose "
                   "time passed longer ago than this (the server was down) is held for a "
                   "decision instead of starting late.", _minutes),
    RuntimeSetting("signup.ip_limit", int, 20, "Signup requests accepted from one IP address "
                   "(an IPv6 /64) per hour, per server process; 0 turns the limit off.", _positive),
    RuntimeSetting("signup.address_limit", int, 5, "Signup requests accepted for one email "
                   "address per hour, per server process; 0 turns the limit off.", _positive),
    RuntimeSetting("bounce.soft_threshold", int, 5, "Soft bounces within the window after "
                   "which a subscriber is blocklisted.", _positive),
    RuntimeSetting("bounce.soft_window_days", int, 7, "The window, in days, in which soft "
                   "bounces are counted.", _positive),
    RuntimeSetting("bounce.complaint_pause_rate", float, 0.003, "A running campaign pauses "
                   "when complaints reach this share of its sent messages (and at least 3); "
                   "Gmail's ceiling is 0.3%.", _positive),
    RuntimeSetting("setup.completed", bool, False, "Whether the first-run setup has been done."),
)

BY_NAME = {s.name: s for s in REGISTRY}


def validate(name: str, value: Any) -> Any:
    """Return ``value`` converted and checked for setting ``name``."""
    setting = BY_NAME.get(name)
    if setting is None:
        raise ValidationError(f"Unknown setting {name!r}.", field=name)
    if setting.kind is str and isinstance(value, str):
        value = value.replace("\r\n", "\n")  # browsers send a textarea's lines with CRLF
    if setting.kind is bool and isinstance(value, str):
        value = value.strip().lower() in ("1", "true", "yes", "on")
    try:
        value = setting.kind(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be of type {setting.kind.__name__}.",
                              field=name) from None
    if setting.check is not None:
        try:
            value = setting.check(value)
        except ValidationError as exc:
            raise ValidationError(f"{name}: {exc.message}", field=name) from None
    return value
