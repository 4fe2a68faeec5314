"""A small asyncio SMTP client for the hot path, with PIPELINING (RFC 2920).

``smtplib`` and ``aiosmtplib`` wait for every reply before the next command. This
client writes ``MAIL``, ``RCPT`` and ``DATA`` in one go when the relay offers
PIPELINING, and :mod:`tidings.delivery.pool` also writes the next message's
envelope right behind the previous message's content (RFC 2920 allows message
content first in a group), so a message costs one round trip.

Only the connection set-up (greeting, EHLO, STARTTLS, AUTH) is lock-step. TLS
is verified (certificate and host name) and ``smtp://`` fails closed when the
relay does not offer STARTTLS.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import ssl
from dataclasses import dataclass

from tidings.delivery.relays import Relay
from tidings.domain.errors import ConfigurationError

CONNECT_TIMEOUT = 30.0
REPLY_TIMEOUT = 120.0   # RFC 5321 §4.5.3.2 asks for minutes; a stuck relay must not hang us
_LINE_LIMIT = 64 * 1024
_KNOWN_REPLIES = 32


@dataclass(frozen=True, slots=True)
class Reply:
    """An SMTP reply: its code and text (continuation lines joined by newlines)."""

    code: int
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 400

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500

    @property
    def permanent(self) -> bool:
        return self.code >= 500

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


LOST = Reply(451, "4.4.2 Connection to the relay was lost")


class SmtpError(Exception):
    """The session cannot go on (connection lost, unreadable reply, refused set-up)."""

    def __init__(self, message: str, reply: Reply | None = None) -> None:
        super().__init__(message)
        self.reply = reply


class TlsUnavailable(ConfigurationError):
    """The relay does not offer STARTTLS, which ``smtp://`` requires."""


END = b".\r\n"


def stuffed(data: bytes) -> bytes:
    """The message as DATA content before the final ``.``: dot-stuffed, CRLF-ended.

    Messages must have CRLF line ends, as ``tidings.mail`` writes them (checking
    every line of every message would cost a pass over it); one written with bare
    LFs only is converted. The common case returns ``data`` itself, uncopied.
    """
    if b"\r\n" not in data:
        data = data.replace(b"\n", b"\r\n")
    if b"\n." in data:
        data = data.replace(b"\n.", b"\n..")
    if data[:1] == b".":
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def content(data: bytes) -> bytes:
    """The whole DATA content, final dot included."""
    return stuffed(data) + END


_UNSAFE = re.compile(r"[\r\n<>\x00]|[^ ] +[^ ]")  # a space inside, not around


def _address(address: str) -> str:
    if _UNSAFE.search(address):
        raise ValueError(f"unsafe address in the envelope: {address!r}")
    return address


class Connection:
    """One SMTP session. Open it with :meth:`open`; close it with :meth:`close`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 relay: Relay) -> None:
        self.reader = reader
        self.writer = writer
        self.relay = relay
        self.extensions: dict[str, str] = {}
        self.closed = False
        # Relays repeat the same few single-line replies ("250 2.1.0 Ok"): parse each once.
        self._known: dict[bytes, Reply] = {}

    @property
    def pipelining(self) -> bool:
        return "PIPELINING" in self.extensions

    @classmethod
    async def open(cls, relay: Relay, helo: str, *,
                   ssl_context: ssl.SSLContext | None = None,
                   timeout: float = CONNECT_TIMEOUT) -> Connection:
        """Connect, greet, EHLO, STARTTLS (required for ``smtp://``) and AUTH."""
        context = ssl_context or relay.ssl_context()
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                relay.host, relay.port, limit=_LINE_LIMIT,
                ssl=context if relay.implicit_tls else None,
                server_hostname=relay.host if relay.implicit_tls else None)
            conn = cls(reader, writer, relay)
            try:
                await conn._handshake(helo, context)
            except BaseException:
                await conn.close()
                raise
        return conn

    async def _handshake(self, helo: str, context: ssl.SSLContext | None) -> None:
        greeting = await self.read_reply()
        if greeting.code != 220:
            raise SmtpError(f"{self.relay.name} greeted with {greeting}", greeting)
        await self._ehlo(helo)
        if self.relay.starttls:
            if "STARTTLS" not in self.extensions:
                await self.quit()
                raise TlsUnavailable(f"{self.relay.name} does not offer STARTTLS; smtp:// "
                                     "requires it (use smtp+plain:// only for a local MTA)")
            reply = await self.command("STARTTLS")
            if reply.code != 220:
                raise SmtpError(f"{self.relay.name} refused STARTTLS: {reply}", reply)
            assert context is not None
            await self.writer.start_tls(context, server_hostname=self.relay.host)
            await self._ehlo(helo)  # RFC 3207: forget what was learnt before TLS
        if self.relay.username is not None:
            await self._auth()

    async def _ehlo(self, helo: str) -> None:
        reply = await self.command(f"EHLO {helo}")
        if reply.code != 250:
            raise SmtpError(f"{self.relay.name} refused EHLO: {reply}", reply)
        self.extensions = {}
        for line in reply.text.splitlines()[1:]:
            keyword, _, params = line.strip().partition(" ")
            self.extensions[keyword.upper()] = params

    async def _auth(self) -> None:
        user, password = self.relay.username or "", self.relay.password or ""
        mechanisms = set(self.extensions.get("AUTH", "").upper().split())
        if "PLAIN" in mechanisms:
            token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
            reply = await self.command(f"AUTH PLAIN {token}")
        elif "LOGIN" in mechanisms:
            reply = await self.command("AUTH LOGIN")
            for secret in (user, password):
                if reply.code != 334:
                    break
                reply = await self.command(base64.b64encode(secret.encode()).decode())
        else:
            raise SmtpError(f"{self.relay.name} offers no AUTH PLAIN or LOGIN, but the relay "
                            "URL has credentials")
        if reply.code != 235:
            raise SmtpError(f"{self.relay.name} refused the credentials: {reply}", reply)

    async def read_reply(self) -> Reply:
        lines: list[str] = []
        while True:
            try:
                line = await self.reader.readline()
            except (ConnectionError, asyncio.LimitOverrunError, ValueError) as exc:
                raise SmtpError(f"{self.relay.name}: {exc}") from exc
            known = self._known.get(line)
            if known is not None and not lines:
                return known
            if not line:
                raise SmtpError(f"{self.relay.name} closed the connection")
            if len(line) < 4 or not line[:3].isdigit():
                raise SmtpError(f"{self.relay.name} sent a malformed reply {line[:80]!r}")
            lines.append(line[4:].rstrip(b"\r\n").decode("utf-8", "replace"))
            if line[3:4] != b"-":
                reply = Reply(int(line[:3]), "\n".join(lines))
                if len(lines) == 1 and len(self._known) < _KNOWN_REPLIES:
                    self._known[line] = reply
                return reply

    async def read_replies(self, count: int) -> list[Reply]:
        """The next ``count`` replies (the answers to a pipelined group)."""
        return [await self.read_reply() for _ in range(count)]

    async def command(self, line: str) -> Reply:
        self.writer.write(line.encode("utf-8") + b"\r\n")
        await self.writer.drain()
        return await self.read_reply()

    def envelope(self, sender: str, recipient: str, data: bytes) -> bytes:
        """``MAIL``, ``RCPT`` and ``DATA`` for one message to one recipient."""
        params = ""
        if not data.isascii() and "8BITMIME" in self.extensions:
            params = " BODY=8BITMIME"
        if not (sender.isascii() and recipient.isascii()) and "SMTPUTF8" in self.extensions:
            params += " SMTPUTF8"
        return (f"MAIL FROM:<{_address(sender)}>{params}\r\nRCPT TO:<{_address(recipient)}>"
                "\r\nDATA\r\n").encode()

    async def send(self, sender: str, recipient: str, data: bytes, *,
                   ready: bool = False) -> Reply:
        """Send one message (its envelope pipelined if offered); return the decisive reply.

        ``ready``: ``data`` needs no dot-stuffing (see :class:`~tidings.delivery.transport.Job`).

        A refused ``MAIL`` or ``RCPT`` is returned as is (the transaction is reset);
        a lost connection raises :class:`SmtpError`.
        """
        envelope = self.envelope(sender, recipient, data)
        if self.pipelining:
            self.writer.write(envelope)
            replies = await self.read_replies(3)
        else:
            replies = []
            for line in envelope.split(b"\r\n")[:3]:
                self.writer.write(line + b"\r\n")
                replies.append(await self.read_reply())
                if not replies[-1].ok:
                    break
        refused = next((r for r in replies if not r.ok), None)
        if replies[-1].code == 354:
            body = data if ready else stuffed(data)
            self.writer.writelines([body, END] if refused is None else [END])
            final = await self.read_reply()
            return refused or final
        self.writer.write(b"RSET\r\n")
        await self.read_reply()
        return refused or replies[-1]

    def write(self, *chunks: bytes) -> None:
        self.writer.writelines(chunks)

    async def drain(self) -> None:
        try:
            await self.writer.drain()
        except ConnectionError as exc:
            raise SmtpError(f"{self.relay.name}: {exc}") from exc

    async def quit(self) -> None:
        if self.closed:
            return
        try:
            async with asyncio.timeout(5):
                await self.command("QUIT")
        except (SmtpError, OSError, TimeoutError):
            pass
        await self.close()

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                async with asyncio.timeout(2):
                    await self.writer.wait_closed()
