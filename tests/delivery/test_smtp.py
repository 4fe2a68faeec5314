"""The SMTP client and pools against real servers on loopback."""

from __future__ import annotations

import asyncio
import email
import email.policy
from pathlib import Path

import pytest

from tests.delivery.conftest import smtp_transport
from tests.support import tls
from tests.support.pipelining_server import PipeliningServer
from tests.support.smtp_sink import SmtpSink
from tidings.delivery import relays
from tidings.delivery.capture import CaptureTransport
from tidings.delivery.smtp import Connection, TlsUnavailable, content
from tidings.delivery.transport import Ticket, Transport


def message(i: int, extra: str = "") -> bytes:
    return (f"From: news@example.org\r\nTo: r{i}@example.com\r\nSubject: n{i}\r\n\r\n"
            f"line one\r\n.dot line\r\n{extra}end\r\n").encode()


def send_all(transport: Transport, count: int, *, tickets: int = 1) -> list[int]:
    async def go() -> list[int]:
        await transport.start()
        try:
            made = []
            for t in range(tickets):
                ticket = Ticket()
                for i in range(t * count, (t + 1) * count):
                    ticket.add(f"bounces+{i}@news.example.org", f"r{i}@example.com",
                               message(i), i)
                transport.submit(ticket)
                made.append(ticket)
            codes = []
            for ticket in made:
                codes += [job.reply.code for job in await ticket.wait() if job.reply]
            return codes
        finally:
            await transport.close()
    return asyncio.run(go())


@pytest.mark.parametrize("pipelining", [False, True])
def test_connections_are_reused_for_many_messages(pipelining: bool) -> None:
    with SmtpSink(pipelining=pipelining) as sink:
        codes = send_all(smtp_transport(sink.url + "?pool=2"), 60)
        assert codes == [250] * 60
        assert len(sink.messages) == 60
        assert 1 <= sink.sessions <= 2
        assert sink.ehlo_names[0] == "news.example.org"
        first = sink.messages[0]
        assert first.rcpt_tos == ["r0@example.com"] and first.mail_from.startswith("bounces+")
        assert b"\r\n.dot line\r\n" in first.data  # dot-stuffing undone by the server


def test_pipelining_writes_envelopes_before_replies_arrive() -> None:
    with PipeliningServer() as server:
        codes = send_all(smtp_transport(server.url + "?pool=1"), 30)
    assert codes == [250] * 30
    assert server.stalls == 0 and server.connections == 1
    assert len(server.messages) == 30
    # Each message but the last had the next envelope queued right behind its dot.
    assert server.envelopes_before_reply == 29
    assert server.messages[5][1] == "r5@example.com"


def test_starttls_is_required_and_fails_closed_without_it() -> None:
    with SmtpSink() as sink:
        relay = relays.parse(f"smtp://127.0.0.1:{sink.port}")
        with pytest.raises(TlsUnavailable):
            asyncio.run(Connection.open(relay, "news.example.org"))
        assert sink.commands == []  # no MAIL ever reached it


def test_starttls_with_a_verified_certificate_and_auth(tmp_path: Path) -> None:
    certs = tls.make(tmp_path)
    with SmtpSink(tls_context=certs.server_context(), credentials=("ann", "s3cret")) as sink:
        url = f"smtp://ann:s3cret@127.0.0.1:{sink.port}?pool=1&cafile={certs.ca_file}"
        assert send_all(smtp_transport(url), 3) == [250] * 3
        assert len(sink.messages) == 3


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # it is TLS
def test_implicit_tls_with_auth(tmp_path: Path) -> None:
    certs = tls.make(tmp_path)
    with SmtpSink(implicit_tls=certs.server_context(), credentials=("ann", "s3cret")) as sink:
        url = f"smtps://ann:s3cret@127.0.0.1:{sink.port}?pool=1&cafile={certs.ca_file}"
        assert send_all(smtp_transport(url), 2) == [250, 250]
        assert len(sink.messages) == 2


def test_an_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    certs = tls.make(tmp_path)
    with SmtpSink(tls_context=certs.server_context()) as sink:
        relay = relays.parse(f"smtp://127.0.0.1:{sink.port}")  # system CAs only
        with pytest.raises(OSError):
            asyncio.run(Connection.open(relay, "news.example.org"))
        assert sink.commands == []


def test_wrong_credentials_never_send(tmp_path: Path) -> None:
    certs = tls.make(tmp_path)
    with SmtpSink(tls_context=certs.server_context(), credentials=("ann", "s3cret")) as sink:
        relay = relays.parse(f"smtp://ann:wrong@127.0.0.1:{sink.port}?cafile={certs.ca_file}")
        with pytest.raises(Exception, match="refused the credentials"):
            asyncio.run(Connection.open(relay, "news.example.org"))
        assert sink.commands == []


@pytest.mark.parametrize("pipelining", [False, True])
def test_refusals_are_reported_per_message_and_the_session_goes_on(pipelining: bool) -> None:
    with SmtpSink(pipelining=pipelining) as sink:
        sink.script("r1@example.com", "550 5.1.1 No such user", stage="rcpt")
        sink.script("r2@example.com", "451 4.3.0 Try later")
        sink.script("r3@example.com", "552 5.3.4 Too big")
        codes = send_all(smtp_transport(sink.url + "?pool=1"), 6)
        assert codes == [250, 550, 451, 552, 250, 250]
        assert sorted(m.rcpt_tos[0] for m in sink.messages) == [
            "r0@example.com", "r4@example.com", "r5@example.com"]
        assert sink.sessions == 1


def test_content_is_crlf_and_dot_stuffed() -> None:
    assert content(b".a\r\nb\r\n.c") == b"..a\r\nb\r\n..c\r\n.\r\n"
    assert content(b"a\n.b\n") == b"a\r\n..b\r\n.\r\n"
    assert content(b"x\r\n") == b"x\r\n.\r\n"


def test_capture_writes_whole_parseable_files_that_sort_by_time(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    codes = send_all(CaptureTransport(outbox), 5, tickets=2)
    assert codes == [250] * 10
    files = sorted(outbox.iterdir())
    assert len(files) == 10 and all(f.suffix == ".eml" for f in files)
    parsed = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
              for f in files]
    assert [p["Subject"] for p in parsed] == [f"n{i}" for i in range(10)]
    assert parsed[3]["Delivered-To"] == "r3@example.com"
    assert parsed[3]["Return-Path"] == "<bounces+3@news.example.org>"


def test_urgent_tickets_go_before_queued_campaign_mail() -> None:
    async def go(transport: Transport) -> None:
        await transport.start()
        bulk, urgent = Ticket(), Ticket(urgent=True)
        for i in range(20):
            bulk.add("bounces@news.example.org", f"r{i}@example.com", message(i), i)
        urgent.add("bounces@news.example.org", "confirm@example.com", message(99), 99)
        transport.submit(bulk)
        transport.submit(urgent)
        await bulk.wait()
        await urgent.wait()
        await transport.close()

    with SmtpSink() as sink:
        asyncio.run(go(smtp_transport(sink.url + "?pool=1")))
        assert sink.messages[0].rcpt_tos == ["confirm@example.com"]
        assert len(sink.messages) == 21
