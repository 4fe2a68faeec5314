"""The one error tree of Tidings.

Every layer raises these; ``web/`` maps them to HTTP statuses and RFC 7807 problem
bodies, ``cli/`` maps them to exit code 1 with a one-line message. The class
docstring is the default message; pass a more precise one when you have it.

::

    TidingsError
    ├── ConfigurationError          bad settings or environment          (500 / exit 1)
    ├── ValidationError             input that breaks a rule             422
    │   ├── InvalidEmail            an address that cannot be accepted   422
    │   └── FeedUnavailable         a feed URL that cannot be fetched    422
    ├── NotFound                    no such list, subscriber, campaign   404
    ├── Conflict                    it exists already / clashes          409
    │   ├── InvalidTransition       a state machine forbids the move     409
    │   └── Suppressed              the address was erased or blocked    409
    ├── Unauthenticated             no or bad credentials                401
    ├── PermissionDenied            the role does not allow it           403
    ├── RateLimited                 slow down                            429
    ├── TokenInvalid                forged, altered or unknown token     400
    │   └── TokenExpired            a genuine token past its lifetime    410
    ├── PayloadTooLarge             a body or file above the limit       413
    └── DeliveryError               an SMTP or transport failure
        ├── TemporaryFailure        4xx / dropped connection: retry
        └── PermanentFailure        5xx: record and never retry
"""

from __future__ import annotations

from typing import Any


class TidingsError(Exception):
    """Something went wrong in Tidings."""

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or (self.__doc__ or type(self).__name__).strip().splitlines()[0]
        self.details = details
        super().__init__(self.message)


class ConfigurationError(TidingsError):
    """The configuration is invalid."""


class ValidationError(TidingsError):
    """The input is invalid."""

    def __init__(
        self, message: str | None = None, *, field: str | None = None, **details: Any
    ) -> None:
        super().__init__(message, **details)
        self.field = field


class InvalidEmail(ValidationError):
    """The email address is invalid."""

    def __init__(self, message: str | None = None, *, field: str | None = "email",
                 **details: Any) -> None:
        super().__init__(message, field=field, **details)


class FeedUnavailable(ValidationError):
    """The feed could not be fetched or read."""

    def __init__(self, message: str | None = None, *, field: str | None = "url",
                 **details: Any) -> None:
        super().__init__(message, field=field, **details)


class NotFound(TidingsError):
    """Not found."""


class Conflict(TidingsError):
    """That conflicts with what exists."""


class InvalidTransition(Conflict):
    """That change of state is not allowed."""


class Suppressed(Conflict):
    """The address is on the suppression list."""


class Unauthenticated(TidingsError):
    """Authentication is required."""


class PermissionDenied(TidingsError):
    """You are not allowed to do that."""


class RateLimited(TidingsError):
    """Too many requests; try again later."""

    def __init__(self, message: str | None = None, *, retry_after: float = 60.0,
                 **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class TokenInvalid(TidingsError):
    """The link is invalid."""


class TokenExpired(TokenInvalid):
    """The link has expired."""


class PayloadTooLarge(TidingsError):
    """The request is too large."""


class DeliveryError(TidingsError):
    """The message could not be delivered."""

    def __init__(self, message: str | None = None, *, code: int | None = None,
                 **details: Any) -> None:
        super().__init__(message, **details)
        self.code = code


class TemporaryFailure(DeliveryError):
    """The relay refused the message for now."""


class PermanentFailure(DeliveryError):
    """The relay refused the message for good."""
