from __future__ import annotations

import pytest

from tidings.domain import subscriptions as machine
from tidings.domain.errors import InvalidTransition
from tidings.domain.lists import OptIn
from tidings.domain.subscriptions import SubscriptionStatus as S


def test_double_optin_starts_unconfirmed_and_confirms() -> None:
    state = machine.subscribe(None, OptIn.DOUBLE, consent=True)
    assert state is S.UNCONFIRMED
    assert machine.confirm(state) is S.CONFIRMED


def test_single_optin_and_preconfirmed_sources_subscribe_at_once() -> None:
    assert machine.subscribe(None, OptIn.SINGLE, consent=True) is S.CONFIRMED
    assert machine.subscribe(None, OptIn.DOUBLE, consent=True, preconfirmed=True) is S.CONFIRMED


def test_no_subscription_without_consent() -> None:
    with pytest.raises(InvalidTransition):
        machine.subscribe(None, OptIn.SINGLE, consent=False)


def test_unsubscribed_needs_fresh_consent_to_return() -> None:
    with pytest.raises(InvalidTransition, match="fresh consent"):
        machine.subscribe(S.UNSUBSCRIBED, OptIn.SINGLE, consent=False)
    assert machine.subscribe(S.UNSUBSCRIBED, OptIn.DOUBLE, consent=True) is S.UNCONFIRMED
    assert machine.subscribe(S.UNSUBSCRIBED, OptIn.SINGLE, consent=True) is S.CONFIRMED


def test_confirmed_stays_confirmed_on_a_new_signup() -> None:
    assert machine.subscribe(S.CONFIRMED, OptIn.DOUBLE, consent=True) is S.CONFIRMED


@pytest.mark.parametrize("state", [None, S.UNSUBSCRIBED])
def test_only_pending_subscriptions_confirm(state: S | None) -> None:
    with pytest.raises(InvalidTransition):
        machine.confirm(state)


def test_unsubscribe_is_idempotent_and_needs_a_subscription() -> None:
    assert machine.unsubscribe(S.CONFIRMED) is S.UNSUBSCRIBED
    assert machine.unsubscribe(S.UNCONFIRMED) is S.UNSUBSCRIBED
    assert machine.unsubscribe(S.UNSUBSCRIBED) is S.UNSUBSCRIBED
    with pytest.raises(InvalidTransition):
        machine.unsubscribe(None)
