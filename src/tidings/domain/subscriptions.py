"""The subscription state machine (one subscriber on one list).

::

    (none) ──subscribe+consent──► unconfirmed ──confirm──► confirmed
       │                              │                        │
       └─subscribe+consent (single)───┼────────────────────────┤
                                      └──unsubscribe──► unsubscribed ◄─┘
    unsubscribed ──subscribe+fresh consent──► unconfirmed / confirmed

Nothing returns a reader to a list without a new consent: an import, an API call
or an editor can record one (with its source), but "resubscribe" without consent
is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tidings.domain.errors import InvalidTransition
from tidings.domain.lists import OptIn


class SubscriptionStatus(StrEnum):
    UNCONFIRMED = "unconfirmed"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class SubscriptionEvent(StrEnum):
    SUBSCRIBE = "subscribe"
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"


def subscribe(current: SubscriptionStatus | None, optin: OptIn, *, consent: bool,
              preconfirmed: bool = False) -> SubscriptionStatus:
    """The state after a subscribe request.

    ``consent`` says whether a consent record accompanies the request;
    ``preconfirmed`` is for sources that vouch for the address themselves
    (an import or API call stating ``confirmed``).
    """
    if not consent:
        if current is SubscriptionStatus.UNSUBSCRIBED:
            raise InvalidTransition(
                "This reader unsubscribed; subscribing them again needs their fresh consent.")
        if current is None:
            raise InvalidTransition("A subscription needs a consent record.")
        return current
    if current is SubscriptionStatus.CONFIRMED:
        return current
    if optin is OptIn.SINGLE or preconfirmed:
        return SubscriptionStatus.CONFIRMED
    return SubscriptionStatus.UNCONFIRMED


def confirm(current: SubscriptionStatus | None) -> SubscriptionStatus:
    """The state after the reader confirms; only an unconfirmed subscription can be."""
    if current is SubscriptionStatus.CONFIRMED:
        return current
    if current is not SubscriptionStatus.UNCONFIRMED:
        raise InvalidTransition("There is no pending subscription to confirm.")
    return SubscriptionStatus.CONFIRMED


def unsubscribe(current: SubscriptionStatus | None) -> SubscriptionStatus:
    """The state after an unsubscribe; idempotent."""
    if current is None:
        raise InvalidTransition("There is no subscription to end.")
    return SubscriptionStatus.UNSUBSCRIBED


@dataclass(frozen=True, slots=True)
class Subscription:
    subscriber_id: int
    list_id: int
    status: SubscriptionStatus
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
