"""The MIME body of a message, pre-encoded once and completed per reader.

A body is ``multipart/alternative``: ``text/plain`` first, ``text/html`` last, both
UTF-8 and quoted-printable, lines ending in CRLF. :class:`BodyTemplate` splits the
two parts at their slots (see :mod:`tidings.mail.templates`): the static text
between slots is encoded once, every slot starts and ends on a line boundary (a
quoted-printable soft line break, invisible to readers), so per reader only the
short slot values are encoded and the pieces joined.

Because every piece is whole lines, the DKIM ``relaxed`` body canonical form of each
static piece is computed once too, and the body hash of a reader's message only
hashes what follows the first slot (from a copy of the hash of what precedes it).
"""

from __future__ import annotations

import binascii
import hashlib
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tidings.mail.slots import SLOT

_WSP_RUN = re.compile(rb"[ \t]+")
_WSP_EOL = re.compile(rb" \r\n")


def new_boundary(seed: str | None = None) -> str:
    """A boundary that cannot occur in quoted-printable text (``=_`` is never QP).

    With ``seed`` it is the same every time (a campaign keeps its boundary when it
    is compiled again in another process).
    """
    if seed is None:
        return "=_tidings_" + secrets.token_hex(12)
    return "=_tidings_" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:24]


_MAX_QP_LINE = 76
# Printable ASCII, no "=", not starting with "." and not ending with a space.
_PLAIN_LINE = re.compile(r"[!-,\-/-<>-~]([ -<>-~]{0,70}[!-<>-~])?\Z")


def qp(text: str) -> bytes:
    """``text`` as quoted-printable lines with CRLF, ending on a line boundary.

    No line starts with ``.`` (it is written ``=2E``), so a message made of these
    lines is SMTP ``DATA`` content as it is: the sender never scans it for dots to
    stuff (RFC 5321 §4.5.2), which cost as much as rendering the message.
    """
    if not text:
        return b""
    if _PLAIN_LINE.match(text):  # a short link or name: nothing to encode
        return text.encode("ascii") + b"=\r\n"
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    encoded = binascii.b2a_qp(data).replace(b"\n", b"\r\n")
    if not encoded.endswith(b"\r\n"):
        encoded += b"=\r\n"
    if encoded[:1] == b".":
        encoded = b"=2E" + encoded[1:]
    if b"\r\n." in encoded:
        encoded = encoded.replace(b"\r\n.", b"\r\n=2E")
    if len(encoded) > _MAX_QP_LINE and max(map(len, encoded.split(b"\r\n"))) > _MAX_QP_LINE:
        encoded = _rewrap(encoded)
    return encoded


def _rewrap(encoded: bytes) -> bytes:
    """Soft-break lines longer than 76 characters (binascii lets a few reach 77)."""
    lines = []
    for line in encoded.split(b"\r\n"):
        while len(line) > _MAX_QP_LINE:
            cut = _MAX_QP_LINE - 1
            while line[cut - 1:cut] == b"=" or line[cut - 2:cut - 1] == b"=":
                cut -= 1  # never inside an =XX escape
            lines.append(line[:cut] + b"=")
            line = line[cut:]
            if line[:1] == b".":
                line = b"=2E" + line[1:]
        lines.append(line)
    return b"\r\n".join(lines)


def decode_qp(data: bytes) -> str:
    return binascii.a2b_qp(data.replace(b"\r\n", b"\n")).decode("utf-8")


def relaxed_body(data: bytes) -> bytes:
    """DKIM relaxed body canonicalisation of whole lines (RFC 6376 §3.4.4)."""
    if b" " not in data and b"\t" not in data:
        return data
    return _WSP_EOL.sub(b"\r\n", _WSP_RUN.sub(b" ", data))


def _part_header(subtype: str) -> bytes:
    return (f"Content-Type: text/{subtype}; charset=\"utf-8\"\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode("ascii")


Piece = bytes | int
"""Static encoded bytes, or a slot reference: ``2 * index`` (text) or ``2 * index + 1`` (HTML)."""


@dataclass(frozen=True, slots=True)
class Filled:
    """One reader's body: the bytes, and the DKIM body hash when asked for."""

    data: bytes
    body_hash: bytes | None


class BodyTemplate:
    """A ``multipart/alternative`` body with per-reader slots in its two parts."""

    __slots__ = ("_canon", "_positions", "_prefix", "_prefix_hash", "_refs", "boundary", "html",
                 "pieces", "text")

    def __init__(self, boundary: str, text: str, html: str) -> None:
        self.boundary = boundary
        self.text = text
        self.html = html
        pieces: list[Piece] = []

        def add_static(data: bytes) -> None:
            if pieces and isinstance(pieces[-1], bytes):
                pieces[-1] += data
            elif data:
                pieces.append(data)

        def add_part(subtype: str, source: str, escaped: int) -> None:
            add_static(f"--{boundary}\r\n".encode("ascii") + _part_header(subtype))
            for i, chunk in enumerate(SLOT.split(source)):
                if i % 2:
                    pieces.append(2 * int(chunk) + escaped)
                else:
                    add_static(qp(chunk))

        add_part("plain", text, 0)
        add_static(b"\r\n")
        add_part("html", html, 1)
        add_static(f"\r\n--{boundary}--\r\n".encode("ascii"))
        self.pieces: tuple[Piece, ...] = tuple(pieces)
        self._refs = tuple(sorted({p for p in pieces if isinstance(p, int)}))
        self._positions = tuple((i, p) for i, p in enumerate(pieces) if isinstance(p, int))
        self._canon = tuple(relaxed_body(p) if isinstance(p, bytes) else p for p in pieces)
        prefix = 0
        while prefix < len(pieces) and isinstance(pieces[prefix], bytes):
            prefix += 1
        self._prefix = prefix
        digest = hashlib.sha256()
        for piece in self._canon[:prefix]:
            assert isinstance(piece, bytes)
            digest.update(piece)
        self._prefix_hash = digest

    @property
    def text_slots(self) -> tuple[int, ...]:
        """Slots in the text part, as indexes into the campaign's slot table."""
        return tuple(sorted({ref >> 1 for ref in self._refs if not ref & 1}))

    @property
    def html_slots(self) -> tuple[int, ...]:
        """Slots in the HTML part, as indexes into the campaign's slot table."""
        return tuple(sorted({ref >> 1 for ref in self._refs if ref & 1}))

    def fill(self, text_values: Mapping[int, str], html_values: Mapping[int, str], *,
             body_hash: bool) -> Filled:
        """The body for one reader, from the slot values of the two parts."""
        encoded: dict[int, bytes] = {}
        by_value: dict[str, bytes] = {}
        for ref in self._refs:
            value = html_values[ref >> 1] if ref & 1 else text_values[ref >> 1]
            done = by_value.get(value)
            if done is None:
                done = by_value[value] = qp(value)
            encoded[ref] = done
        parts: list[Any] = list(self.pieces)
        for position, ref in self._positions:
            parts[position] = encoded[ref]
        data = b"".join(parts)
        digest: bytes | None = None
        if body_hash:
            hasher = self._prefix_hash.copy()
            for piece in self._canon[self._prefix:]:
                hasher.update(piece if isinstance(piece, bytes) else relaxed_body(encoded[piece]))
            digest = hasher.digest()
        return Filled(data, digest)

    def decoded(self, text_values: Mapping[int, str],
                html_values: Mapping[int, str]) -> tuple[str, str]:
        """The text and HTML as a reader's program decodes them from :meth:`fill`'s bytes.

        Line ends are CRLF, as on the wire (and as Python's ``email`` returns them).
        """
        def join(source: str, values: Mapping[int, str]) -> str:
            joined = SLOT.sub(lambda m: values[int(m.group(1))], source)
            return joined.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
        return join(self.text, text_values), join(self.html, html_values)


def join_slots(source: str, value: Callable[[int], str]) -> str:
    """``source`` with every slot marker replaced by ``value(index)``."""
    return SLOT.sub(lambda m: value(int(m.group(1))), source)
