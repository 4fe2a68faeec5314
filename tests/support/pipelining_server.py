"""A strict little SMTP server that proves a client pipelines (RFC 2920).

It holds its replies to ``MAIL`` and ``RCPT`` until the client's ``DATA`` has
arrived, so a client that waits for each reply before the next command stalls.
After a message's final dot it waits (up to ``patience`` seconds) for the next
``MAIL`` before answering the dot, and counts how often that ``MAIL`` was already
there: the next envelope written behind the previous content.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any


class PipeliningServer:
    def __init__(self, patience: float = 1.0) -> None:
        self.patience = patience
        self.messages: list[tuple[str, str, bytes]] = []
        self.envelopes_before_reply = 0
        self.stalls = 0
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])

    @property
    def url(self) -> str:
        return f"smtp+plain://127.0.0.1:{self.port}"

    def __enter__(self) -> PipeliningServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._session, "127.0.0.1", self.port), self._loop)
        self._server = future.result(5)
        return self

    def __exit__(self, *exc: Any) -> None:
        async def shutdown() -> None:
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _line(self, reader: asyncio.StreamReader, timeout: float | None = None) -> bytes:
        return await asyncio.wait_for(reader.readline(), timeout)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"220 strict ESMTP\r\n")
        try:
            await self._line(reader)  # EHLO
            writer.write(b"250-strict\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            line = await self._line(reader)
            while line and not line.upper().startswith(b"QUIT"):
                sender = line.decode().partition(":")[2].strip()[1:-1]
                rcpt_line = await self._line(reader, 5)
                data_line = await self._line(reader, 5)  # before any reply: stalls lock-step
                if not data_line.upper().startswith(b"DATA"):
                    self.stalls += 1
                    return
                writer.write(b"250 sender ok\r\n250 rcpt ok\r\n354 go on\r\n")
                body = bytearray()
                while (chunk := await self._line(reader, 5)) != b".\r\n":
                    body += chunk
                self.messages.append((sender, rcpt_line.decode().partition(":")[2].strip()
                                      [1:-1], bytes(body)))
                try:
                    line = await self._line(reader, self.patience)
                    if line.upper().startswith(b"MAIL"):
                        self.envelopes_before_reply += 1
                except TimeoutError:
                    line = b""
                writer.write(b"250 queued\r\n")
                await writer.drain()
                if not line:
                    line = await self._line(reader, 35)
            writer.write(b"221 bye\r\n")
        except (TimeoutError, ConnectionError):
            self.stalls += 1
        finally:
            writer.close()
