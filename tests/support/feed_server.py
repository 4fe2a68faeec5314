"""A real HTTP server on loopback that serves feeds, good and hostile, for fetch tests."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

SEED = Path(__file__).with_name("data") / "kerry-putin.txt"  # the publisher's article
SEED_TITLE = "Kerry and Putin: a new willingness to reverse the setbacks?"


@dataclass
class Response:
    status: int = 200
    body: bytes | Callable[[], Iterator[bytes]] = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/rss+xml"),)


@dataclass
class Entry:
    title: str
    link: str
    description: str = ""
    image: str = ""
    guid: str = ""
    published: datetime | None = None


def seed_entry(base: str) -> Entry:
    """The publisher's article as one feed item."""
    paragraphs = [p for p in SEED.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    html = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return Entry(title=SEED_TITLE, link=f"{base}/2015/05/kerry-and-putin",
                 description=html, image=f"{base}/images/kerry-putin.jpg",
                 guid=f"{base}/?p=467", published=datetime(2015, 5, 18, 9, 0, tzinfo=UTC))


def rss(entries: Sequence[Entry], title: str = "The Daily Column") -> bytes:
    items = []
    for e in entries:
        parts = [f"<title>{escape(e.title)}</title>", f"<link>{escape(e.link)}</link>",
                 f"<guid>{escape(e.guid or e.link)}</guid>",
                 f"<description>{escape(e.description)}</description>"]
        if e.published:
            parts.append(f"<pubDate>{format_datetime(e.published)}</pubDate>")
        if e.image:
            parts.append(f'<media:thumbnail url="{escape(e.image)}"/>')
        items.append("<item>" + "".join(parts) + "</item>")
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
            f"<title>{escape(title)}</title><link>https://news.example.org/</link>"
            "<description>Columns</description>" + "".join(items)
            + "</channel></rss>").encode("utf-8")


def many(base: str, count: int, start: datetime | None = None) -> list[Entry]:
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    body = "<p>" + escape(SEED.read_text(encoding="utf-8")[:1500]) + "</p>"
    return [Entry(title=f"Article {i}: {SEED_TITLE}", link=f"{base}/articles/{i}",
                  description=body, image=f"{base}/images/{i}.jpg",
                  published=start + timedelta(hours=i)) for i in range(count)]


class FeedServer:
    """Serves ``routes`` (path → Response) on 127.0.0.1; use as a context manager."""

    def __init__(self) -> None:
        self.routes: dict[str, Response] = {}
        self.requests: list[tuple[str, str]] = []   # (path, Host header)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Host", "")))
                found = server.routes.get(self.path, Response(404, b"not found"))
                self.send_response(found.status)
                for name, value in found.headers:
                    self.send_header(name, value)
                body = found.body
                if isinstance(body, bytes):
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.end_headers()
                try:
                    for chunk in body():
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def url(self, path: str) -> str:
        return self.base + path


def drip(chunk: bytes, pause: float, count: int) -> Callable[[], Iterator[bytes]]:
    """A body sent a little at a time: ``count`` chunks, ``pause`` seconds apart."""
    def body() -> Iterator[bytes]:
        for _ in range(count):
            yield chunk
            time.sleep(pause)
    return body


def endless(chunk_size: int = 64 * 1024) -> Callable[[], Iterator[bytes]]:
    """A body that never ends (until the client goes away)."""
    def body() -> Iterator[bytes]:
        yield b'<?xml version="1.0"?><rss version="2.0"><channel><title>'
        while True:
            yield b"A" * chunk_size
    return body


def gzip_bomb(size: int) -> bytes:
    return gzip.compress(b'<?xml version="1.0"?><rss version="2.0"><channel><title>'
                         + b" " * size, compresslevel=9)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>http://example.com/</link></item></channel></rss>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>x</title>
<item><title>&xxe;</title><link>http://example.com/</link></item></channel></rss>"""
