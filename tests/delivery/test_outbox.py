"""The transactional outbox: queued in a transaction, sent by the worker, retried."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from tests.delivery.conftest import Running, make_engine, smtp_transport, wait_until
from tests.support.smtp_sink import SmtpSink
from tidings.bootstrap import Runtime
from tidings.db.tables import consents, outbox
from tidings.domain.lists import OptIn
from tidings.services import lists, subscribers
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
