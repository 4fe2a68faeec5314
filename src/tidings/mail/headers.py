"""Header values written by hand: safe, 7-bit, folded, and never more than one line.

Building headers without the ``email`` package is what makes per-recipient rendering
cheap, so this module carries the rules that package would otherwise enforce:

* every value passes through :func:`clean` first: CR, LF, NUL and every other control
  character become spaces, so no value can start a new header line;
* text that is not plain printable ASCII, or that merely *looks* like an RFC 2047
  encoded word (``=?...?=``), is written as encoded words (RFC 2047, ``Q``), so a
  decoder can never turn the literal text into a line break;
* lines are folded at 78 characters where a space allows, and never exceed 998;
* addresses are checked for the characters an addr-spec may not contain, and
  internationalised domains are written as A-labels (``xn--``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import format_datetime

import idna

from tidings.domain.errors import InvalidEmail

Header = tuple[str, str]
"""A header name and its value as written (folded with CRLF + space where needed)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x80-\x9f\u2028\u2029]+")
_PLAIN = re.compile(r"[\x20-\x7e]*\Z")
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]*\Z")
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_Q_BYTE = tuple(chr(b) if b in _Q_SAFE else "_" if b == 0x20 else f"={b:02X}" for b in range(256))
_WORD_PREFIX = "=?utf-8?q?"
_MAX_WORD = 75
_FOLD = 78
_SIMPLE_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\Z")
_ADDR_FORBIDDEN = re.compile(r"[\x00-\x20\x7f<>()\[\]\\,;:\"]")


def clean(value: str) -> str:
    """``value`` on one line: control characters and line breaks become single spaces."""
    if value.isprintable():
        return value.strip()
    return _CONTROL.sub(" ", value).strip()


def _needs_encoding(value: str) -> bool:
    return not _PLAIN.match(value) or "=?" in value


def _encoded_words(value: str, first_room: int) -> list[str]:
    """RFC 2047 ``Q`` words for ``value``, never splitting a character between words."""
    encoded = "".join(map(_Q_BYTE.__getitem__, value.encode("utf-8")))
    budget = _MAX_WORD - len(_WORD_PREFIX) - 2
    room = min(budget, max(first_room - len(_WORD_PREFIX) - 2, 12))
    words: list[str] = []
    start = 0
    while len(encoded) - start > room:
        cut = start + room
        # Back off to the start of an escape (=XX) that begins a character: not a
        # UTF-8 continuation byte (=8X, =9X, =AX, =BX).
        while cut > start and (encoded[cut - 1] == "=" or encoded[cut - 2] == "="
                               or (encoded[cut] == "=" and encoded[cut + 1] in "89AB")):
            cut -= 1
        words.append(_WORD_PREFIX + encoded[start:cut] + "?=")
        start, room = cut, budget
    words.append(_WORD_PREFIX + encoded[start:] + "?=")
    return words


def _fold_words(words: Sequence[str], start: int) -> str:
    """Join ``words`` with spaces, breaking lines (CRLF + space) before 78 columns."""
    lines: list[str] = []
    line = ""
    column = start
    for word in words:
        if not line:
            line = word
            column += len(word)
        elif column + 1 + len(word) > _FOLD:
            lines.append(line)
            line = word
            column = 1 + len(word)
        else:
            line += " " + word
            column += 1 + len(word)
    lines.append(line)
    return "\r\n ".join(lines)


def text(name: str, value: str) -> str:
    """An unstructured value (Subject): cleaned, encoded when needed, folded."""
    value = clean(value)
    start = len(name) + 2
    if not _needs_encoding(value):
        words = value.split(" ")
        if all(len(w) + 1 < 998 - start for w in words):
            if start + len(value) <= _FOLD:
                return value
            if "  " not in value:
                return _fold_words(words, start)
    # Encoded words carry spaces inside them ("_"), so folding between words is safe.
    return "\r\n ".join(_encoded_words(value, _FOLD - start))


def phrase(value: str) -> str:
    """A display name: an atom phrase, a quoted string, or encoded words."""
    value = clean(value)
    if not value:
        return ""
    if _needs_encoding(value):
        return "\r\n ".join(_encoded_words(value, _MAX_WORD))
    if _ATOM_PHRASE.match(value) and "  " not in value:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def addr_spec(address: str) -> str:
    """``address`` ready for a header or envelope: A-label domain, no forbidden characters.

    A non-ASCII local part is kept as UTF-8 (it needs SMTPUTF8, RFC 6531/6532).
    Raises :class:`InvalidEmail` for anything that could break the header.
    """
    if _SIMPLE_ADDRESS.match(address):
        return address
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or _ADDR_FORBIDDEN.search(domain) \
            or (_ADDR_FORBIDDEN.search(local) and not local.startswith('"')) \
            or _CONTROL.search(address):
        raise InvalidEmail(f"{address!r} cannot be written as an email address.")
    if not domain.isascii():
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise InvalidEmail(f"The domain of {address!r} is not valid.") from None
    return f"{local}@{domain}"


def address(name: str, email: str) -> str:
    """``Display Name <addr>`` (or the bare address when there is no name)."""
    spec = addr_spec(email)
    shown = phrase(name)
    return f"{shown} <{spec}>" if shown else spec


def date(timestamp: float | None = None) -> str:
    """An RFC 5322 date in UTC (``Sun, 29 Nov 2026 08:54:14 +0000``)."""
    moment = datetime.fromtimestamp(time.time() if timestamp is None else timestamp, UTC)
    return format_datetime(moment.replace(microsecond=0))


def serialize(headers: Iterable[Header]) -> bytes:
    """The header block: ``Name: value`` lines with CRLF, ending in the empty line."""
    return "".join(f"{name}: {value}\r\n" for name, value in headers).encode("utf-8") + b"\r\n"


def decode(value: str) -> str:
    """A header value as readers see it: unfolded, encoded words decoded."""
    return str(make_header(decode_header(value.replace("\r\n", ""))))
