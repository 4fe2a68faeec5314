"""Reading subscriber CSV files: streamed, row by row, every bad row reported, none lost.

The file is read as bytes and decoded as UTF-8 (a BOM is skipped) with
``surrogateescape``, so an undecodable byte spoils only its own line. Each
physical line is checked before the ``csv`` module (C) sees it: too long,
undecodable or containing NUL. A record (which may span lines when a quoted field
holds a line break) is reported under the number of its first line, with the
first problem found on any of its lines.

The header row decides what each column means (:func:`layout`); the formats of
Tidings' own export, listmonk and Mailchimp are recognised, see
``docs/importing.md``. Good rows come out as plain tuples (:data:`Row`), cheap to
build for a million of them; bad ones go to the ``on_problem`` callback.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import BinaryIO, Final

from tidings.domain import emails
from tidings.domain.errors import InvalidEmail, ValidationError
from tidings.domain.subscribers import MAX_ATTRIBUTES_BYTES, SubscriberStatus, check_name
from tidings.domain.subscriptions import SubscriptionStatus

MAX_LINE: Final = 256 * 1024  # characters; a longer physical line is reported, not read whole

#: ``(line, email, name or None, attributes JSON or None, subscriber status or None,
#: {list slug: subscription status} or None)``; None means "not given in this row".
Row = tuple[int, str, str | None, str | None, str | None, dict[str, str] | None]

# Header names are compared lower-cased with runs of spaces, "_" and "-" as one space.
_EMAIL = frozenset({"email", "email address", "e mail", "e mail address", "mail"})
_NAME = frozenset({"name", "full name", "fullname", "display name"})
_FIRST = frozenset({"first name", "firstname", "fname", "given name"})
_LAST = frozenset({"last name", "lastname", "lname", "surname", "family name"})
# Mailchimp's audience export: its own bookkeeping, derived geolocation and
# unsubscribe/cleaning records. Dropped; the opt-in and confirmation times and IPs
# (OPTIN_TIME, OPTIN_IP, CONFIRM_TIME, CONFIRM_IP) are evidence of consent and kept
# as attributes, as is every merge field and TAGS.
_MAILCHIMP_DROPPED = frozenset({
    "member rating", "latitude", "longitude", "gmtoff", "dstoff", "timezone", "cc",
    "region", "last changed", "leid", "euid", "notes", "unsub time",
    "unsub campaign title", "unsub campaign id", "unsub reason", "unsub reason other",
    "clean time", "clean campaign title", "clean campaign id",
})
_MAILCHIMP_MARKERS = frozenset({"leid", "euid", "member rating"})
# listmonk's export: uuid,email,name,attributes,status,created_at,updated_at.
_LISTMONK_DROPPED = frozenset({"uuid", "created at", "updated at"})
# Cells a spreadsheet would run as a formula; Tidings' export prefixes them with "'".
FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r", "'")

_SEPARATORS = re.compile(r"[\s_-]+")
_SUBSCRIPTION_STATUSES = frozenset(str(s) for s in SubscriptionStatus)
_SUBSCRIBER_STATUSES = frozenset(str(s) for s in SubscriberStatus)


@dataclass(frozen=True, slots=True)
class Problem:
    """A row that was not imported: its first line, why, and its address cell."""

    line: int
    reason: str
    value: str = ""


@dataclass(slots=True)
class Layout:
    """What each column of the file means."""

    format: str                      # tidings, listmonk, mailchimp or generic
    width: int
    email: int
    name: int | None = None
    first_name: int | None = None
    last_name: int | None = None
    attributes: int | None = None    # a JSON object per row (listmonk, Tidings)
    status: int | None = None        # enabled | blocklisted
    subscriptions: int | None = None  # {"slug": "confirmed", ...} (Tidings' export)
    extras: list[tuple[int, str]] = field(default_factory=list)  # column -> attribute key
    dropped: list[str] = field(default_factory=list)

    @property
    def unescapes(self) -> bool:
        """Tidings' export prefixes formula-looking cells with "'"; import removes it."""
        return self.format == "tidings"


def _normal(header: str) -> str:
    return _SEPARATORS.sub(" ", header.strip().lower())


def layout(header: list[str]) -> Layout:
    """Map a header row to a :class:`Layout`; raise :class:`ValidationError` if unusable."""
    names = [_normal(h) for h in header]
    present = set(names)
    if "subscriptions" in present:
        kind = "tidings"
    elif "email address" in present and present & _MAILCHIMP_MARKERS:
        kind = "mailchimp"
    elif "uuid" in present and "attributes" in present:
        kind = "listmonk"
    else:
        kind = "generic"
    email = next((i for i, n in enumerate(names) if n in _EMAIL), None)
    if email is None:
        raise ValidationError(
            "The header has no email column (one named email or Email Address).",
            field="file")
    found = Layout(format=kind, width=len(header), email=email)
    seen: dict[str, int] = {}
    for index, (raw, name) in enumerate(zip(header, names, strict=True)):
        if index == email:
            continue
        if name in seen:
            raise ValidationError(f"The header names the column {raw.strip()!r} twice.",
                                  field="file")
        seen[name] = index
        if not name:
            found.dropped.append(f"column {index + 1} (no header)")
        elif name in _EMAIL:
            raise ValidationError("The header has more than one email column.", field="file")
        elif name in _NAME and found.name is None:
            found.name = index
        elif name in _FIRST and found.first_name is None:
            found.first_name = index
        elif name in _LAST and found.last_name is None:
            found.last_name = index
        elif name == "attributes":
            found.attributes = index
        elif name == "status":
            found.status = index
        elif name == "subscriptions":
            found.subscriptions = index
        elif (kind == "mailchimp" and name in _MAILCHIMP_DROPPED) or (
                kind == "listmonk" and name in _LISTMONK_DROPPED):
            found.dropped.append(raw.strip())
        else:
            found.extras.append((index, raw.strip()))
    return found


class _CountingReader(io.RawIOBase):
    """A raw stream over ``source`` that counts the bytes read (for progress)."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._source.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


class _Lines:
    """Physical lines for the ``csv`` module, checked one by one.

    ``count`` is the number of lines handed out; ``problems`` holds
    ``(line, reason)`` for lines that must spoil the record they belong to.
    """

    def __init__(self, text: io.TextIOWrapper) -> None:
        self._text = text
        self.count = 0
        self.problems: deque[tuple[int, str]] = deque()
        self._first = text.readline(MAX_LINE)  # read ahead to choose the delimiter

    @property
    def delimiter(self) -> str:
        """Comma, unless the first line has none but semicolons (as spreadsheets in
        many languages save CSV) or tabs."""
        if "," not in self._first:
            for candidate in (";", "\t"):
                if candidate in self._first:
                    return candidate
        return ","

    def __iter__(self) -> Iterator[str]:
        readline = self._text.readline
        problems = self.problems
        line, self._first = self._first, ""
        while True:
            if not line:
                return
            self.count += 1
            if len(line) == MAX_LINE and line[-1] not in "\r\n":
                problems.append((self.count, f"A line is longer than {MAX_LINE} characters."))
                while True:  # skip the rest of it without holding it
                    rest = readline(MAX_LINE)
                    if not rest or rest[-1] in "\r\n":
                        break
                line = "\n"
            elif "\x00" in line:
                problems.append((self.count, "Contains a NUL byte."))
            elif not line.isascii():
                try:
                    line.encode("utf-8")
                except UnicodeEncodeError:
                    problems.append((self.count, "Contains bytes that are not UTF-8."))
            yield line
            line = readline(MAX_LINE)


class CsvRows:
    """One pass over a CSV file: :meth:`rows` yields good rows, reports bad ones.

    ``bytes_read`` follows the underlying stream, for progress.
    """

    def __init__(self, stream: BinaryIO, on_problem: Callable[[Problem], None], *,
                 list_slugs: frozenset[str] | None = None) -> None:
        self._raw = _CountingReader(stream)
        buffered = io.BufferedReader(self._raw, buffer_size=256 * 1024)
        self._text = io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="surrogateescape",
                                      newline="")
        self._lines = _Lines(self._text)
        self._reader = csv.reader(self._lines, delimiter=self._lines.delimiter, strict=False)
        self._report = on_problem
        # The lists a subscriptions cell may name; None: the column is not used.
        self._slugs = list_slugs or frozenset()
        self._end = 0  # the last line of the previous record
        self.rows_read = 0  # data rows, good and bad (empty lines not counted)
        self.layout = self._read_header()
        if list_slugs is None and self.layout.subscriptions is not None:
            self.layout.subscriptions = None
            self.layout.dropped.append("subscriptions")

    @property
    def bytes_read(self) -> int:
        return self._raw.count

    @property
    def lines_read(self) -> int:
        return self._lines.count

    def _next_record(self) -> tuple[int, list[str] | None, str | None]:
        """``(first line, fields or None at the end, problem or None)``."""
        start = self._end + 1
        try:
            fields = next(self._reader)
        except StopIteration:
            return start, None, None
        except csv.Error as exc:
            self._end = self._lines.count
            return start, [], _csv_reason(str(exc))
        self._end = end = self._lines.count
        problems = self._lines.problems
        if problems and problems[0][0] <= end:
            reason = problems[0][1]
            while problems and problems[0][0] <= end:
                problems.popleft()
            return start, fields, reason
        return start, fields, None

    def _read_header(self) -> Layout:
        while True:
            start, fields, problem = self._next_record()
            if fields is None:
                raise ValidationError("The file is empty: it needs a header row.", field="file")
            if problem is not None:
                raise ValidationError(f"The header row (line {start}): {problem}", field="file")
            if any(f.strip() for f in fields):
                return layout(fields)

    def _report_row(self, problem: Problem) -> None:
        self.rows_read += 1
        self._report(problem)

    def rows(self) -> Iterator[Row]:
        """The good rows, in file order; bad ones go to ``on_problem``."""
        shape = self.layout
        report = self._report_row
        width, at_email, at_name = shape.width, shape.email, shape.name
        at_first, at_last = shape.first_name, shape.last_name
        at_attrs, at_status, at_subs = shape.attributes, shape.status, shape.subscriptions
        extras = [(i, key, encode_basestring(key) + ":") for i, key in shape.extras]
        unescape = shape.unescapes
        name_column = at_name if not unescape else None  # the common case, inlined below
        normalize, check = emails.normalize, check_name
        limit = MAX_ATTRIBUTES_BYTES
        # _next_record, inlined: this loop runs once per row of million-row files.
        reader, lines = self._reader, self._lines
        problems = lines.problems
        while True:
            line = self._end + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self._end = lines.count
                report(Problem(line, self._spans(line, _csv_reason(str(exc)))))
                continue
            self._end = end = lines.count
            if problems and problems[0][0] <= end:
                reason = problems[0][1]
                while problems and problems[0][0] <= end:
                    problems.popleft()
                report(Problem(line, self._spans(line, reason), _cell(fields, at_email)))
                continue
            if len(fields) != width:
                if not any(fields) or not any(f.strip() for f in fields):
                    continue  # an empty line, or a spreadsheet's empty row
                report(Problem(line, self._spans(
                    line, f"Has {len(fields)} columns where the header has {width}."),
                    _cell(fields, at_email)))
                continue
            raw = fields[at_email]
            if unescape and raw[:1] == "'":
                raw = raw[1:]
            try:
                email = normalize(raw)
            except InvalidEmail as exc:
                if not any(f.strip() for f in fields):
                    continue
                report(Problem(line, self._spans(line, _email_reason(raw, exc)), raw))
                continue
            try:
                if name_column is not None:
                    name = check(fields[name_column]) or None
                else:
                    name = _name(fields, at_name, at_first, at_last, unescape)
                attributes = _attributes(fields, at_attrs, extras, limit)
                status = _status(fields[at_status]) if at_status is not None else None
                subs = (_subscriptions(fields[at_subs], self._slugs)
                        if at_subs is not None else None)
            except ValidationError as exc:
                report(Problem(line, self._spans(line, exc.message), raw))
                continue
            self.rows_read += 1
            yield (line, email, name, attributes, status, subs)

    def _spans(self, line: int, reason: str) -> str:
        if self._end > line:
            return f"{reason} The record spans lines {line}-{self._end} (an unclosed quote?)."
        return reason


def _csv_reason(message: str) -> str:
    if "field larger than field limit" in message:
        return f"A field is longer than {csv.field_size_limit()} characters."
    return f"Not valid CSV: {message}."


def _email_reason(raw: str, exc: InvalidEmail) -> str:
    if not raw.strip():
        return "No email address."
    return f"Invalid email address: {exc.message}"


def _cell(fields: list[str], index: int) -> str:
    return fields[index] if index < len(fields) else ""


def _name(fields: list[str], at_name: int | None, at_first: int | None,
          at_last: int | None, unescape: bool) -> str | None:
    if at_name is not None:
        raw = fields[at_name]
        if unescape and raw[:1] == "'":
            raw = raw[1:]
    elif at_first is not None or at_last is not None:
        parts = [fields[i].strip() for i in (at_first, at_last) if i is not None]
        raw = " ".join(p for p in parts if p)
    else:
        return None
    return check_name(raw) or None


def _attributes(fields: list[str], at_attrs: int | None,
                extras: list[tuple[int, str, str]], limit: int) -> str | None:
    """The row's attributes as JSON text: the JSON cell, then one string per other column.

    Empty cells give no attribute. Column values are built into JSON directly
    (keys are encoded once per file), which is several times faster than json.dumps.
    """
    if at_attrs is not None and fields[at_attrs].strip():
        encoded = _json_attributes(fields[at_attrs],
                                   [(key, fields[i]) for i, key, _ in extras if fields[i]])
    elif extras:
        parts = [prefix + encode_basestring(fields[i]) for i, _, prefix in extras if fields[i]]
        if not parts:
            return None
        encoded = "{" + ",".join(parts) + "}"
    else:
        return None
    if len(encoded) > limit // 4 and len(encoded.encode("utf-8")) > limit:
        raise ValidationError(f"The attributes are larger than {limit // 1024} KiB.")
    return encoded


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _json_attributes(cell: str, columns: list[tuple[str, str]] | None) -> str:
    try:
        value = json.loads(cell, parse_constant=_reject_constant)
    except ValueError:
        raise ValidationError("The attributes cell is not valid JSON.") from None
    if not isinstance(value, dict):
        raise ValidationError("The attributes cell is not a JSON object.")
    if columns:
        value.update(columns)
    encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    # PostgreSQL's jsonb refuses \u0000 and lone surrogates; neither is text anyway.
    if "\\u0000" in encoded:
        raise ValidationError("The attributes contain a NUL character.")
    try:
        encoded.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("The attributes contain an unpaired surrogate.") from None
    return encoded


def _status(cell: str) -> str | None:
    value = cell.strip().lower()
    if not value:
        return None
    if value not in _SUBSCRIBER_STATUSES:
        raise ValidationError(f"The status {cell.strip()[:40]!r} is not enabled or blocklisted.")
    return value


def _subscriptions(cell: str, slugs: frozenset[str]) -> dict[str, str] | None:
    if not cell.strip():
        return None
    try:
        value = json.loads(cell)
    except ValueError:
        raise ValidationError("The subscriptions cell is not valid JSON.") from None
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and v in _SUBSCRIPTION_STATUSES for k, v in value.items()):
        raise ValidationError('The subscriptions cell is not like {"list": "confirmed"}.')
    unknown = [slug for slug in value if slug not in slugs]
    if unknown:
        raise ValidationError(f"No list {unknown[0][:64]!r}: create it, then import again.")
    return value


def printable(value: str, limit: int = 200) -> str:
    """A cell made safe to show in a report: escaped controls and bad bytes, no formula."""
    value = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    value = _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"),
                             value[:limit])
    return "'" + value if value.startswith(FORMULA_START) else value


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
