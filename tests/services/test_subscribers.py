from __future__ import annotations

import pytest

from tidings.bootstrap import Runtime
from tidings.db import consents
from tidings.domain.errors import Conflict, InvalidEmail, NotFound, Suppressed, ValidationError
from tidings.domain.lists import OptIn
from tidings.domain.subscribers import SubscriberStatus
from tidings.domain.subscriptions import SubscriptionStatus
from tidings.services import lists, subscribers, suppressions


@pytest.fixture
def two_lists(runtime: Runtime) -> None:
    lists.create(runtime.db, slug="daily", name="Daily", optin=OptIn.DOUBLE)
    lists.create(runtime.db, slug="weekly", name="Weekly", optin=OptIn.SINGLE)


@pytest.mark.usefixtures("two_lists")
def test_add_subscribes_with_one_consent_record(runtime: Runtime) -> None:
    db = runtime.db
    added = subscribers.add(db, email="Ann@Example.com", name="Ann Ö", lists=["daily", "weekly"],
                            attributes={"city": "Zürich"}, source="api", ip="192.0.2.1",
                            consent_text="I agree.")
    profile = subscribers.profile(db, "ann@example.com")
    assert profile.subscriber == added
    statuses = {profile.lists[k].slug: v.status for k, v in profile.subscriptions.items()}
    assert statuses == {"daily": SubscriptionStatus.UNCONFIRMED,
                        "weekly": SubscriptionStatus.CONFIRMED}
    with db.read() as conn:
        records = consents.for_subscriber(conn, added.id)
    assert len(records) == 1
    assert records[0]["text"] == "I agree." and records[0]["ip"] == "192.0.2.1"
    assert records[0]["text_hash"] == consents.text_hash("I agree.")
    assert subscribers.count(db, list_ref="daily", status=SubscriptionStatus.UNCONFIRMED) == 1
    assert subscribers.count(db) == 1


@pytest.mark.usefixtures("two_lists")
def test_duplicate_address_in_another_case_is_a_conflict(runtime: Runtime) -> None:
    subscribers.add(runtime.db, email="ann@example.com")
    with pytest.raises(Conflict):
        subscribers.add(runtime.db, email="ANN@example.com", lists=["daily"])
    assert subscribers.count(runtime.db, list_ref="daily") == 0


@pytest.mark.usefixtures("two_lists")
@pytest.mark.parametrize(("kwargs", "error"), [
    ({"email": "ann@example.com\r\nBcc: x@example.org"}, InvalidEmail),
    ({"email": "ann@example.com", "name": "Ann\r\nBcc: x@example.org"}, ValidationError),
    ({"email": "ann@example.com", "lists": ["daily", "nope"]}, NotFound),
    ({"email": "ann@example.com", "attributes": {"x": "y" * 70000}}, ValidationError),
])
def test_bad_input_adds_nothing(runtime: Runtime, kwargs: dict[str, object],
                                error: type[Exception]) -> None:
    with pytest.raises(error):
        subscribers.add(runtime.db, **kwargs)  # type: ignore[arg-type]
    assert subscribers.count(runtime.db) == 0


def test_suppressed_addresses_cannot_be_added(runtime: Runtime) -> None:
    with runtime.db.write() as conn:
        suppressions.suppress(conn, "Gone@Example.com", "erased")
    with pytest.raises(Suppressed):
        subscribers.add(runtime.db, email="gone@example.com")
    assert suppressions.is_suppressed(runtime.db, "GONE@example.com")


def test_update_blocklist_and_delete(runtime: Runtime) -> None:
    subscribers.add(runtime.db, email="bob@example.com")
    changed = subscribers.update(runtime.db, "bob@example.com", name="Bob",
                                 status=SubscriberStatus.BLOCKLISTED)
    assert (changed.name, changed.status) == ("Bob", SubscriberStatus.BLOCKLISTED)
    subscribers.delete(runtime.db, "bob@example.com")
    with pytest.raises(NotFound):
        subscribers.get(runtime.db, "bob@example.com")
