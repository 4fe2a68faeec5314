from __future__ import annotations

import pytest

from tidings.bootstrap import Runtime
from tidings.domain.campaigns import BodyFormat, CampaignStatus
from tidings.domain.errors import NotFound, ValidationError
from tidings.services import campaigns, lists


def test_create_a_draft_for_lists(runtime: Runtime) -> None:
    lists.create(runtime.db, slug="daily", name="Daily")
    lists.create(runtime.db, slug="weekly", name="Weekly")
    draft = campaigns.create(runtime.db, name="Issue 1", subject="Hello {{ subscriber.name }}",
                             body="# Hi", lists=["daily", "weekly", "daily"])
    assert draft.status is CampaignStatus.DRAFT
    assert draft.body_format is BodyFormat.MARKDOWN
    assert len(draft.list_ids) == 2
    assert campaigns.get(runtime.db, draft.uid) == draft
    assert [c.uid for c in campaigns.recent(runtime.db)] == [draft.uid]


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"subject": "Hi\r\nBcc: x@example.org"}, ValidationError),
    ({"subject": "   "}, ValidationError),
    ({"lists": []}, ValidationError),
    ({"lists": ["missing"]}, NotFound),
    ({"body": "x" * (5 * 1024 * 1024 + 1)}, ValidationError),
])
def test_invalid_drafts_are_refused(runtime: Runtime, kwargs: dict[str, object],
                                    error: type[Exception]) -> None:
    lists.create(runtime.db, slug="daily", name="Daily")
    args: dict[str, object] = {"name": "n", "subject": "s", "body": "b", "lists": ["daily"]}
    with pytest.raises(error):
        campaigns.create(runtime.db, **{**args, **kwargs})  # type: ignore[arg-type]
    assert campaigns.recent(runtime.db) == []
