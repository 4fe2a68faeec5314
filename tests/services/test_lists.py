from __future__ import annotations

import pytest

from tidings.bootstrap import Runtime
from tidings.domain.errors import Conflict, NotFound, ValidationError
from tidings.domain.lists import OptIn, Visibility
from tidings.services import lists, subscribers


def test_create_find_update_delete(runtime: Runtime) -> None:
    db = runtime.db
    created = lists.create(db, slug="daily", name="The Daily", description="Every morning",
                           optin=OptIn.SINGLE)
    assert lists.get(db, "daily") == created
    assert lists.get(db, created.uid) == created
    assert lists.get(db, str(created.id)) == created
    changed = lists.update(db, "daily", name="The Daily Brief", visibility=Visibility.PRIVATE)
    assert (changed.name, changed.visibility) == ("The Daily Brief", Visibility.PRIVATE)
    subscribers.add(db, email="ann@example.com", lists=["daily"])
    assert lists.counts(db) == {created.id: {"confirmed": 1}}
    lists.delete(db, "daily")
    with pytest.raises(NotFound):
        lists.get(db, "daily")
    assert subscribers.get(db, "ann@example.com").email == "ann@example.com"


def test_duplicate_slug_is_a_conflict_and_changes_nothing(runtime: Runtime) -> None:
    lists.create(runtime.db, slug="weekly", name="Weekly")
    with pytest.raises(Conflict):
        lists.create(runtime.db, slug="weekly", name="Other")
    assert [m.name for m in lists.all_lists(runtime.db)] == ["Weekly"]


@pytest.mark.parametrize(("slug", "name"), [("Bad Slug", "x"), ("-x", "x"), ("ok", ""),
                                             ("ok", "line\nbreak")])
def test_invalid_input_is_refused(runtime: Runtime, slug: str, name: str) -> None:
    with pytest.raises(ValidationError):
        lists.create(runtime.db, slug=slug, name=name)
    assert lists.all_lists(runtime.db) == []
