"""The transactional outbox: queued in a transaction, sent by the worker, retried."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from tests.delivery.conftest import Running, make_engine, smtp_transport, wait_until
from tests.support.smtp_sink import SmtpSink
from tidings.bootstrap import Runtime
from tidings.db.tables import bounces, consents, events, outbox
from tidings.db.tables import subscribers as subscriber_rows
from tidings.domain.lists import OptIn
from tidings.domain.subscribers import SubscriberStatus
from tidings.services import lists, runtime_settings, signups, subscribers, suppressions
from tidings.services import outbox as service


def queue_confirmation(runtime: Runtime, email: str) -> int:
    reader = subscribers.add(runtime.db, email=email, lists=["news"])
    with runtime.db.write() as conn:
        consent_id, list_ids = conn.execute(select(consents.c.id, consents.c.list_ids).where(
            consents.c.subscriber_id == reader.id)).one()
        return service.enqueue(conn, kind="confirmation", to_email=email,
                               subscriber_id=reader.id,
                               payload={"consent_id": consent_id, "list_ids": list_ids})


def rows(runtime: Runtime) -> dict[int, dict[str, object]]:
    with runtime.db.read() as conn:
        return {r.id: dict(r._mapping) for r in conn.execute(select(outbox))}


def test_confirmations_are_sent_promptly_and_retried(
        runtime: Runtime, sink: SmtpSink, run_worker: Callable[..., Running]) -> None:
    lists.create(runtime.db, slug="news", name="Morning News", optin=OptIn.DOUBLE)
    sink.script("slow@example.com", "451 4.7.1 Greylisted, try again")
    sink.script("gone@example.com", "550 5.1.1 No such user", stage="rcpt")
    ids = {email: queue_confirmation(runtime, email)
           for email in ("ann@example.com", "slow@example.com", "gone@example.com")}
    run_worker(make_engine(runtime, smtp_transport(sink.url)), outbox=True)
    wait_until(lambda: {r["status"] for r in rows(runtime).values()} == {"sent", "failed"},
               what="every message settled")
    found = rows(runtime)
    assert found[ids["ann@example.com"]]["status"] == "sent"
    slow = found[ids["slow@example.com"]]
    assert (slow["status"], slow["attempts"]) == ("sent", 2)
    gone = found[ids["gone@example.com"]]
    assert gone["status"] == "failed" and "5.1.1" in str(gone["last_error"])
    assert gone["attempts"] == 1
    received = {m.rcpt_tos[0]: m.message for m in sink.messages}
    assert set(received) == {"ann@example.com", "slow@example.com"}
    assert "Morning News" in received["ann@example.com"].get_body(
        ("plain",)).get_content()  # type: ignore[union-attr]
    assert "/confirm/" in received["ann@example.com"].as_string()


def test_a_message_that_cannot_be_built_fails_with_the_reason(
        runtime: Runtime, sink: SmtpSink, run_worker: Callable[..., Running]) -> None:
    lists.create(runtime.db, slug="news", name="News", optin=OptIn.SINGLE)
    gone = lists.create(runtime.db, slug="gone", name="Gone", optin=OptIn.SINGLE)
    reader = subscribers.add(runtime.db, email="ann@example.com", lists=["news"])
    with runtime.db.write() as conn:
        queued = service.enqueue(conn, kind="welcome", to_email=reader.email,
                                 subscriber_id=reader.id, payload={"list_id": gone.id})
        fine = service.enqueue(conn, kind="welcome", to_email=reader.email,
                               subscriber_id=reader.id, payload={"list_id": gone.id - 1})
    lists.delete(runtime.db, "gone")
    run_worker(make_engine(runtime, smtp_transport(sink.url)), outbox=True)
    wait_until(lambda: rows(runtime)[queued]["status"] != "pending"
               and rows(runtime)[fine]["status"] != "pending", what="both settled")
    failed = rows(runtime)[queued]
    assert failed["status"] == "failed" and "Cannot build" in str(failed["last_error"])
    assert rows(runtime)[fine]["status"] == "sent"
    assert [m.message["Subject"] for m in sink.messages] == ["Welcome to News"]


def sign_up(runtime: Runtime, *emails: str) -> None:
    """Readers signing up through the public path: each is sent a confirmation."""
    lists.create(runtime.db, slug="news", name="News", optin=OptIn.DOUBLE)
    for email in emails:
        signups.signup(runtime.db, signups.Signup(email=email, lists=["news"]))


def bounce_rows(runtime: Runtime) -> list[tuple[str, str, str, str, int | None]]:
    """(address, kind, source, status, campaign) of every recorded bounce."""
    with runtime.db.read() as conn:
        return [(r.email, r.kind, r.source, r.status_code, r.campaign_id)
                for r in conn.execute(
                    select(subscriber_rows.c.email, bounces)
                    .join(subscriber_rows, subscriber_rows.c.id == bounces.c.subscriber_id)
                    .order_by(bounces.c.id))]


def settled(runtime: Runtime) -> Callable[[], bool]:
    return lambda: all(r["status"] != "pending" for r in rows(runtime).values())


def test_a_confirmation_refused_as_unknown_is_a_hard_bounce(
        runtime: Runtime, sink: SmtpSink, run_worker: Callable[..., Running]) -> None:
    sign_up(runtime, "ann@example.com", "gone@example.com")
    sink.script("gone@example.com", "550 5.1.1 <gone@example.com>: Recipient address "
                                    "rejected: User unknown", stage="rcpt")
    run_worker(make_engine(runtime, smtp_transport(sink.url)), outbox=True)
    wait_until(settled(runtime), what="both confirmations settled")
    # As for a campaign's refusal: recorded as a hard bounce from SMTP, the reader
    # blocklisted and the address suppressed; here no campaign is named.
    assert bounce_rows(runtime) == [("gone@example.com", "hard", "smtp", "5.1.1", None)]
    assert subscribers.get(runtime.db, "gone@example.com").status \
        is SubscriberStatus.BLOCKLISTED
    assert suppressions.is_suppressed(runtime.db, "gone@example.com")
    assert subscribers.get(runtime.db, "ann@example.com").status is SubscriberStatus.ENABLED
    assert not suppressions.is_suppressed(runtime.db, "ann@example.com")
    statuses = {r["to_email"]: r["status"] for r in rows(runtime).values()}
    assert statuses == {"ann@example.com": "sent", "gone@example.com": "failed"}
    # A suppressed address cannot sign up again: nothing more is queued for it.
    signups.signup(runtime.db, signups.Signup(email="gone@example.com", lists=["news"]))
    assert len(rows(runtime)) == 2


def test_only_a_permanent_refusal_counts_and_never_a_policy_one(
        runtime: Runtime, sink: SmtpSink, run_worker: Callable[..., Running]) -> None:
    runtime_settings.update(runtime.db, {"bounce.soft_threshold": 2})
    sign_up(runtime, "slow@example.com", "full@example.com", "policy@example.com")
    sink.script("slow@example.com", "451 4.2.0 Try again later")
    sink.script("full@example.com", "552 5.2.2 Mailbox full")
    sink.script("policy@example.com", "550 5.7.1 Message rejected by local policy",
                stage="rcpt")
    run_worker(make_engine(runtime, smtp_transport(sink.url)), outbox=True)
    wait_until(settled(runtime), what="every confirmation settled")
    found = {r["to_email"]: (r["status"], r["attempts"]) for r in rows(runtime).values()}
    assert found == {"slow@example.com": ("sent", 2), "full@example.com": ("failed", 1),
                     "policy@example.com": ("failed", 1)}
    # The 4xx was retried and is no bounce; the full mailbox is one soft bounce, below
    # the threshold; the policy refusal is the sender's problem, raised for the operator.
    assert bounce_rows(runtime) == [
        ("full@example.com", "soft", "smtp", "5.2.2", None),
        ("policy@example.com", "sender_config", "smtp", "5.7.1", None)]
    for email in ("slow@example.com", "full@example.com", "policy@example.com"):
        assert subscribers.get(runtime.db, email).status is SubscriberStatus.ENABLED
        assert not suppressions.is_suppressed(runtime.db, email)
    with runtime.db.read() as conn:
        raised = conn.execute(select(events.c.data).where(
            events.c.kind == "delivery.sender_config")).scalars().all()
    assert [data["status"] for data in raised] == ["5.7.1"]
