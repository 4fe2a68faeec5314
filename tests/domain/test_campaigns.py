from __future__ import annotations

import itertools

import pytest

from tidings.domain import campaigns
from tidings.domain.campaigns import CampaignStatus as C
from tidings.domain.errors import InvalidTransition

ALLOWED = {
    (C.DRAFT, C.SCHEDULED), (C.DRAFT, C.RUNNING),
    (C.SCHEDULED, C.DRAFT), (C.SCHEDULED, C.RUNNING), (C.SCHEDULED, C.CANCELLED),
    (C.RUNNING, C.PAUSED), (C.RUNNING, C.FINISHED), (C.RUNNING, C.CANCELLED),
    (C.PAUSED, C.RUNNING), (C.PAUSED, C.CANCELLED),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(C, C)))
def test_every_transition_is_allowed_or_refused_as_designed(current: C, target: C) -> None:
    if (current, target) in ALLOWED:
        assert campaigns.transition(current, target) is target
    else:
        with pytest.raises(InvalidTransition):
            campaigns.transition(current, target)


def test_final_states_are_final() -> None:
    for state in campaigns.FINAL:
        assert not any(campaigns.can_transition(state, t) for t in C)
