"""A real SMTP server on loopback (aiosmtpd) that records what it receives.

It can be told to answer chosen recipients with chosen replies, once or several
times in a row: ``sink.script("a@example.com", "451 4.3.0 Try later", "250 OK")``
answers the first delivery attempt for that address with 451 at DATA time and
accepts the second. Replies starting with 4 or 5 refuse; anything else accepts.

Options: ``pipelining=True`` advertises PIPELINING (aiosmtpd reads pipelined
commands in order), ``tls_context`` offers STARTTLS, ``implicit_tls`` speaks TLS
from the first byte (smtps), ``credentials`` (user,
password) requires AUTH. ``attempts`` keeps the time of every delivery attempt
per address, ``sessions`` counts connections.
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    helo: str | None
    mail_options: list[str] = field(default_factory=list)

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        with self.sink.lock:
            self.sink.ehlo_names.append(hostname)
            self.sink.session_ids.add(id(session))
        if self.sink.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        with self.sink.lock:
            self.sink.commands.append("MAIL")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        self.sink.attempted(address)
        reply = self.sink.next_reply(address, stage="rcpt")
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        for rcpt in envelope.rcpt_tos:
            reply = self.sink.next_reply(rcpt, stage="data")
            if reply is not None:
                with self.sink.lock:
                    self.sink.refused.append((rcpt, reply))
                return reply
        received = Received(
            mail_from=envelope.mail_from or "", rcpt_tos=list(envelope.rcpt_tos),
            data=bytes(envelope.original_content or envelope.content or b""),
            helo=session.host_name, mail_options=list(envelope.mail_options or []))
        with self.sink.lock:
            self.sink.messages.append(received)
            self.sink.cond.notify_all()
        return "250 2.0.0 Accepted"


class SmtpSink:
    """Start with :meth:`start`, stop with :meth:`stop`; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1", *, pipelining: bool = False,
                 tls_context: ssl.SSLContext | None = None,
                 implicit_tls: ssl.SSLContext | None = None,
                 credentials: tuple[str, str] | None = None) -> None:
        self.host = host
        self.port = _free_port(host)
        self.pipelining = pipelining
        self.messages: list[Received] = []
        self.refused: list[tuple[str, str]] = []
        self.ehlo_names: list[str] = []
        self.commands: list[str] = []
        self.session_ids: set[int] = set()
        self.attempts: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self._scripts: dict[tuple[str, str], deque[str]] = defaultdict(deque)
        options: dict[str, Any] = {}
        if tls_context is not None:
            options.update(tls_context=tls_context, require_starttls=True)
        if implicit_tls is not None:
            options.update(ssl_context=implicit_tls)
        if credentials is not None:
            options.update(auth_required=True, authenticator=_Authenticator(credentials),
                           auth_require_tls=tls_context is not None)
        self._controller = Controller(_Handler(self), hostname=host, port=self.port,
                                      decode_data=False, enable_SMTPUTF8=True,
                                      data_size_limit=64 * 1024 * 1024, **options)

    @property
    def sessions(self) -> int:
        """Connections that said EHLO (a STARTTLS session counts once)."""
        with self.lock:
            return len(self.session_ids)

    def attempted(self, address: str) -> None:
        with self.lock:
            self.attempts[address.lower()].append(time.monotonic())

    @property
    def url(self) -> str:
        return f"smtp+plain://{self.host}:{self.port}"

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def script(self, address: str, *replies: str, stage: str = "data") -> None:
        """Answer the next attempts for ``address`` with ``replies``, in order."""
        with self.lock:
            self._scripts[(address.lower(), stage)].extend(replies)

    def unscript(self) -> None:
        """Forget every scripted reply: accept everything from now on."""
        with self.lock:
            self._scripts.clear()

    def next_reply(self, address: str, *, stage: str) -> str | None:
        with self.lock:
            queue = self._scripts.get((address.lower(), stage))
            if not queue:
                return None
            reply = queue.popleft()
        return reply if reply[:1] in ("4", "5") else None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least ``count`` messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} messages, the sink has {len(self.messages)}")
                self.cond.wait(left)
            return list(self.messages)

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address.lower() in
                    (r.lower() for r in m.rcpt_tos)]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.refused.clear()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class _Authenticator:
    def __init__(self, credentials: tuple[str, str]) -> None:
        self.credentials = credentials

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(), auth_data.password.decode()) == self.credentials
        return AuthResult(success=ok, handled=False)


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
