"""What editors prepare, delivered by the real engine to a real SMTP server on loopback.

The preview of a reader's message equals what the relay receives for that reader
(both parts and every header but Date and the MIME boundary); a
segment narrows who receives a campaign; a test send arrives marked [Test].
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from tests.delivery.conftest import Running, make_engine, smtp_transport, wait_until
from tests.support.smtp_sink import SmtpSink
from tidings.bootstrap import Runtime
from tidings.delivery.worker import Worker
from tidings.domain.campaigns import CampaignStatus
from tidings.domain.lists import OptIn
from tidings.services import archive, campaigns, lists, segments, sending, subscribers

BODY = """# Morning briefing

Good morning {{ subscriber.first_name | default("reader") }}, here is the news for
**{{ subscriber.attributes.city | default("everyone") }}**.

* One ünïcode line — with “quotes” and a [link](https://news.example.org/a?b=1&c=2).

{% if subscriber.attributes.pro %}
A paragraph only Pro readers see.
{% endif %}

[Manage your subscription]({{ preferences_url }})
"""


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


@pytest.fixture
def readers(runtime: Runtime) -> None:
    db = runtime.db
    lists.create(db, slug="news", name="Morning News", optin=OptIn.SINGLE)
    lists.create(db, slug="sport", name="Sport", optin=OptIn.SINGLE)
    for email, name, attributes, on in [
        ("ann@example.com", "Ann Lie", {"city": "Oslo", "pro": True}, ["news", "sport"]),
        ("bob@example.com", "Bob", {"city": "Bergen"}, ["news"]),
        ("cat@example.com", "Cat", {"city": "Oslo"}, ["sport"]),
        ("dan@example.com", "", {}, ["news"]),
    ]:
        subscribers.add(db, email=email, name=name, attributes=attributes, lists=on,
                        preconfirmed=True)


def _deliver(runtime: Runtime, sink: SmtpSink, uid: str, expected: int) -> None:
    engine = make_engine(runtime, smtp_transport(sink.url))
    worker = Running(Worker(engine, schedules=False, heartbeat=False))
    try:
        wait_until(lambda: campaigns.get(runtime.db, uid).status is CampaignStatus.FINISHED,
                   what="the campaign to finish")
        sink.wait_for(expected)
    finally:
        worker.stop()


def _parts(message: EmailMessage) -> tuple[str, str]:
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    return str(html.get_content()), str(text.get_content())


@pytest.mark.usefixtures("readers")
def test_the_preview_is_what_the_relay_receives(runtime: Runtime, sink: SmtpSink) -> None:
    db = runtime.db
    draft = campaigns.create(db, name="Briefing", lists=["news"], body=BODY,
                             subject="{{ subscriber.first_name }}, your "
                                     "{{ subscriber.attributes.city }} briefing")
    archive.publish(db, draft.uid)
    previews = {email: campaigns.preview(db, draft.uid, site=runtime.settings,
                                         tokens=runtime.tokens, subscriber=email)
                for email in ("ann@example.com", "bob@example.com", "dan@example.com")}
    sending.start(db, draft.uid)
    _deliver(runtime, sink, draft.uid, 3)
    for email, shown in previews.items():
        (received,) = sink.to(email)
        message = received.message
        html, text = _parts(message)
        assert html.replace("\r\n", "\n") == shown.html.replace("\r\n", "\n"), email
        assert text.replace("\r\n", "\n") == shown.text.replace("\r\n", "\n"), email
        for name, value in shown.headers:
            if name == "Content-Type":  # the MIME boundary is drawn for each compilation
                assert value.startswith(f"{message.get_content_type()};")
            elif name != "Date":
                assert [str(v) for v in message.get_all(name, [])] == [value], (email, name)
    assert "only Pro readers see" in previews["ann@example.com"].html
    assert "only Pro readers see" not in previews["bob@example.com"].html
    assert dict(previews["ann@example.com"].headers)["Subject"] == "Ann, your Oslo briefing"


@pytest.mark.usefixtures("readers")
def test_a_segment_narrows_the_audience_in_the_engine(runtime: Runtime,
                                                      sink: SmtpSink) -> None:
    db = runtime.db
    oslo = segments.create(db, name="Oslo", filter={"field": "attributes.city", "op": "eq",
                                                    "value": "Oslo"})
    both = campaigns.create(db, name="News in Oslo", subject="Oslo", body="Hi",
                            lists=["news"], segment_id=oslo.id)
    assert sending.start(db, both.uid).total == 1
    _deliver(runtime, sink, both.uid, 1)
    assert [m.rcpt_tos for m in sink.messages] == [["ann@example.com"]]

    everywhere = campaigns.create(db, name="All of Oslo", subject="Oslo", body="Hi",
                                  segment_id=oslo.id)
    assert sending.start(db, everywhere.uid).total == 2
    _deliver(runtime, sink, everywhere.uid, 3)
    assert sorted(m.rcpt_tos[0] for m in sink.messages[1:]) == ["ann@example.com",
                                                                 "cat@example.com"]
    done = campaigns.get(db, everywhere.uid)
    assert (done.sent, done.failed) == (2, 0)


@pytest.mark.usefixtures("readers")
def test_a_test_send_arrives_marked(runtime: Runtime, sink: SmtpSink) -> None:
    db = runtime.db
    draft = campaigns.create(db, name="Briefing", subject="Today in {{ subscriber.attributes."
                             "city | default('town') }}", body=BODY, lists=["news"])
    campaigns.send_test(db, draft.uid, ["ann@example.com", "editor@example.net"])
    engine = make_engine(runtime, smtp_transport(sink.url))
    worker = Running(Worker(engine, schedules=False, heartbeat=False))
    try:
        sink.wait_for(2)
    finally:
        worker.stop()
    ann = sink.to("ann@example.com")[0].message
    editor = sink.to("editor@example.net")[0].message
    assert str(ann["Subject"]) == "[Test] Today in Oslo"
    assert str(editor["Subject"]) == "[Test] Today in town"
    assert "Good morning Ann" in _parts(ann)[1]
    assert campaigns.get(db, draft.uid).status is CampaignStatus.DRAFT
