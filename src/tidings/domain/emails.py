"""Email address normalisation and validation.

The rules are email-validator's (RFC 5321/5322 syntax, internationalised domains,
no quoted local parts, no domain literals, no special-use domains), with two
additions: control characters (CR, LF, NUL, ...) are rejected outright, and a
fast path accepts the common plain-ASCII shape without calling the library.
The fast path only ever accepts addresses the library would accept with the same
normalised form; a property test keeps it honest.

``normalize`` returns the form we store: the local part as typed, the domain
lower-cased (internationalised domains in Unicode). Uniqueness is on
``casefold_key``: the lower-cased form.
"""

from __future__ import annotations

import re
from typing import Final

from email_validator import EmailNotValidError, validate_email

from tidings.domain.errors import InvalidEmail

MAX_LENGTH: Final = 254

_ATEXT = r"A-Za-z0-9_!#$%&'*+\-/=?^`{|}~"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_FAST = re.compile(
    rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*@((?:{_LABEL}\.)+([A-Za-z]{{2,63}}))\Z"
)
_SPECIAL_TLDS: Final = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0080-\u009f\u2028\u2029]")


def normalize(raw: str) -> str:
    """Return the normalised address or raise :class:`InvalidEmail` saying why."""
    if not isinstance(raw, str):
        raise InvalidEmail("The email address must be text.")
    candidate = raw.strip(" \t")
    # The fast path's pattern admits no control character, so it may go first.
    fast = _fast_normalize(candidate)
    if fast is not None:
        return fast
    if not candidate:
        raise InvalidEmail("The email address is empty.")
    if _CONTROL.search(candidate):
        raise InvalidEmail("The email address contains a control character (such as a line break).")
    if len(candidate) > MAX_LENGTH * 4:
        raise InvalidEmail("The email address is too long.")
    try:
        result = validate_email(candidate, check_deliverability=False, strict=True)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
    return str(result.normalized)


def _fast_normalize(candidate: str) -> str | None:
    """The common case: dot-atom ASCII local part, LDH domain, alphabetic TLD."""
    if len(candidate) > MAX_LENGTH:
        return None
    match = _FAST.match(candidate)
    if match is None:
        return None
    domain = match.group(1)
    at = match.start(1) - 1
    if at > 64 or len(domain) > 253 or match.group(2).lower() in _SPECIAL_TLDS:
        return None
    # Labels with "--" in positions 3-4 are IDNA-reserved (xn--...): let the library decide.
    if "--" in domain and any(label[2:4] == "--" for label in domain.split(".")):
        return None
    return candidate[:at] + "@" + domain.lower()


def is_valid(raw: str) -> bool:
    """True when :func:`normalize` would accept ``raw``."""
    try:
        normalize(raw)
    except InvalidEmail:
        return False
    return True


def casefold_key(address: str) -> str:
    """The key addresses are unique on: the lower-cased normalised address."""
    return address.lower()


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]
