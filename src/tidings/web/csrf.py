"""CSRF protection for server-rendered forms, stateless and reusable by every web part.

A CSRF token is tied to a *binding*: a string that only the legitimate page knows, such
as the signed token in a preference-centre URL or an admin session id. It carries its
issue time and an HMAC over (binding, time) under a key derived from the secret key, so
it needs no storage, cannot be moved to another binding, and expires.

Use it like this::

    from tidings.web import csrf

    token = csrf.issue(secret_key, binding)            # put in <input name="csrf">
    csrf.check(request, secret_key, binding, form.get("csrf"))   # on POST; raises

:func:`check` also refuses a request whose ``Origin`` (or, lacking it, ``Referer``)
names another host than the one the request was sent to, or is ``null`` (so pages with
such forms must not use ``Referrer-Policy: no-referrer``, under which browsers send
``Origin: null``; ``same-origin`` keeps URLs from leaking just as well). It raises
:class:`~tidings.domain.errors.PermissionDenied` (403), or
:class:`~tidings.domain.errors.TokenExpired` (410) for an expired token, so a page can
offer a reload. Do not put it on the RFC 8058 one-click unsubscribe endpoint, which by
definition comes without any context.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import struct
import time
from urllib.parse import urlsplit

from fastapi import Request

from tidings.domain.errors import PermissionDenied, TokenExpired

FIELD = "csrf"
MAX_AGE = 12 * 3600
_MAC_BYTES = 16


def _key(secret_key: str) -> bytes:
    return hmac.digest(secret_key.encode("utf-8"), b"tidings-csrf", "sha256")


def _mac(secret_key: str, binding: str, issued: int) -> bytes:
    message = struct.pack(">Q", issued) + binding.encode("utf-8")
    return hmac.digest(_key(secret_key), message, "sha256")[:_MAC_BYTES]


def issue(secret_key: str, binding: str, *, now: float | None = None) -> str:
    """A token for forms of the page identified by ``binding``."""
    issued = int(time.time() if now is None else now)
    raw = struct.pack(">Q", issued) + _mac(secret_key, binding, issued)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def verify(secret_key: str, binding: str, token: str | None, *, max_age: float = MAX_AGE,
           now: float | None = None) -> None:
    """Raise unless ``token`` was issued for ``binding`` within ``max_age`` seconds."""
    if not token or len(token) > 64 or not token.isascii():
        raise PermissionDenied("The form is missing its security token; reload the page.")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise PermissionDenied("The form's security token is invalid.") from None
    if len(raw) != 8 + _MAC_BYTES:
        raise PermissionDenied("The form's security token is invalid.")
    (issued,) = struct.unpack(">Q", raw[:8])
    if not hmac.compare_digest(raw[8:], _mac(secret_key, binding, issued)):
        raise PermissionDenied("The form's security token is invalid.")
    age = (time.time() if now is None else now) - issued
    if age > max_age or age < -300:
        raise TokenExpired("This page was open too long. Reload it and try again.")


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from a page on another host."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source is None
    host = request.headers.get("host", "")
    return urlsplit(source).netloc.lower() == host.lower()


def check(request: Request, secret_key: str, binding: str, token: str | None) -> None:
    """:func:`same_origin` and :func:`verify` together, for a form POST."""
    if not same_origin(request):
        raise PermissionDenied("This form was sent from another site.")
    verify(secret_key, binding, token)
