"""Importing subscribers from CSV: one streamed pass, one transaction for the changes.

:func:`run` is the use case the command line, the admin UI and the API share: it
takes a binary stream and :class:`ImportOptions`, calls ``progress`` as it reads,
writes every skipped row with its line number and reason to ``report``, and
returns an :class:`ImportResult`. Background runs with progress kept in the
``imports`` table are in :mod:`tidings.services.import_jobs`.

How it works (see ``docs/importing.md`` for what users see):

1. :class:`~tidings.services.csv_rows.CsvRows` decodes and validates row by row;
   bad rows go straight to the report.
2. Good rows are staged (PostgreSQL ``COPY``, SQLite ``executemany``) without
   touching the real tables; memory stays flat whatever the file size.
3. :meth:`~tidings.db.bulk.Staging.merge` applies everything in ONE transaction:
   in-file duplicates (compared ignoring case, the first occurrence wins) and
   suppressed addresses are set aside and reported, then subscribers, their
   subscriptions and one consent record per changed subscriber are written.
   A failure or crash before the commit leaves the database untouched, so
   running the same import again is always safe; after the commit, running it
   again changes nothing more (existing subscribers are matched, not duplicated).
"""

from __future__ import annotations

import csv
import heapq
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import islice
from typing import IO, Any, BinaryIO, Final, TextIO

from tidings.db import bulk
from tidings.db import lists as db_lists
from tidings.db import suppressions as db_suppressions
from tidings.db.database import Database
from tidings.domain.errors import ValidationError
from tidings.domain.ids import new_uids
from tidings.domain.subscriptions import SubscriptionStatus
from tidings.domain.timezones import utcnow
from tidings.services import suppressions
from tidings.services.csv_rows import CsvRows, Problem, printable
from tidings.services.lists import find as find_list

BATCH: Final = 5000
SAMPLE: Final = 20
REPORT_HEADER: Final = ("line", "email", "reason")


class ImportMode(StrEnum):
    SUBSCRIBE = "subscribe"      # add subscribers and subscribe them to the lists
    UNSUBSCRIBE = "unsubscribe"  # end existing subscriptions to the lists
    BLOCKLIST = "blocklist"      # mark subscribers blocklisted (never mailed)


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """What to do with the rows.

    ``lists`` are slugs or ids. ``status`` is the status new subscriptions get
    (``unconfirmed`` or ``confirmed``: you vouch that you hold the readers'
    confirmed consent). ``update_existing`` lets the file overwrite the name,
    attributes and status of subscribers who exist, and move their
    subscriptions (see ``docs/importing.md`` for the exact rules).
    """

    lists: tuple[str, ...] = ()
    mode: ImportMode = ImportMode.SUBSCRIBE
    status: SubscriptionStatus = SubscriptionStatus.UNCONFIRMED
    update_existing: bool = False
    actor: str | None = None
    user_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"lists": list(self.lists), "mode": str(self.mode), "status": str(self.status),
                "update_existing": self.update_existing}

    @classmethod
    def from_json(cls, value: dict[str, Any], *, actor: str | None = None,
                  user_id: int | None = None) -> ImportOptions:
        return cls(lists=tuple(value.get("lists", ())),
                   mode=ImportMode(value.get("mode", "subscribe")),
                   status=SubscriptionStatus(value.get("status", "unconfirmed")),
                   update_existing=bool(value.get("update_existing", False)),
                   actor=actor, user_id=user_id)


@dataclass(frozen=True, slots=True)
class Progress:
    """Where an import is: ``phase`` is ``reading``, ``merging`` or ``done``."""

    phase: str
    bytes_read: int
    rows_read: int
    skipped: int


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: int                 # new subscribers
    updated: int                  # rows that matched an existing subscriber
    skipped: int                  # rows not imported; each is in the report
    subscriptions: int            # subscriptions created or changed
    consents: int                 # consent records written
    format: str                   # tidings, listmonk, mailchimp or generic
    dropped_columns: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = field(default=())  # the first few skipped rows

    @property
    def rows(self) -> int:
        """Data rows read (empty lines not counted): each was imported, updated or skipped."""
        return self.imported + self.updated + self.skipped


def run(db: Database, stream: BinaryIO, options: ImportOptions, *,
        progress: Callable[[Progress], None] | None = None, report: TextIO | None = None,
        filename: str | None = None) -> ImportResult:
    """Import subscribers from CSV bytes; see the module docstring.

    Raises :class:`ValidationError` (unusable header, contradictory options) or
    :class:`NotFound` (a list) before anything is written.
    """
    _check(options)
    with db.read() as conn:
        targets = [find_list(conn, ref) for ref in options.lists]
        list_ids = tuple(dict.fromkeys(t.id for t in targets))
        by_slug = {m.slug: m.id for m in db_lists.all_lists(conn)}
        check_suppressed = db_suppressions.exist(conn)
    key = None
    if check_suppressed:
        with db.write() as conn:
            key = suppressions.key(conn)

    with _ProblemLog() as log:
        # Rows name their own lists (Tidings' export) only when no list is given.
        own_lists = options.mode is ImportMode.SUBSCRIBE and not list_ids
        reader = CsvRows(stream, log.add,
                         list_slugs=frozenset(by_slug) if own_lists else None)
        per_row = own_lists and reader.layout.subscriptions is not None
        if options.mode is not ImportMode.BLOCKLIST and not list_ids and not per_row:
            raise ValidationError("Name the list(s) to import into (--list).", field="lists")

        def tell(phase: str) -> None:
            if progress is not None:
                progress(Progress(phase, reader.bytes_read, reader.rows_read, log.count))

        with bulk.staging(db) as stage:
            with stage.loading():
                for batch in _batches(reader.rows()):
                    staged, subs = _stage(batch, key, by_slug if per_row else None)
                    stage.add_rows(staged)
                    if subs:
                        stage.add_targets(subs)
                    tell("reading")
            tell("merging")
            counts = stage.merge(bulk.MergePlan(
                mode=str(options.mode), now=utcnow(), list_ids=list_ids,
                target=str(options.status), per_row_targets=per_row,
                update_existing=options.update_existing, check_suppressed=key is not None,
                consent_action=_CONSENT_ACTION[options.mode] if not per_row else "change",
                user_id=options.user_id, actor=options.actor,
                event_data={"filename": filename, "options": options.as_json()}))
            sample = _write_report(log, stage.skipped(), report)
        skipped = log.count + counts.skipped
        tell("done")
    return ImportResult(
        imported=counts.imported, updated=counts.updated, skipped=skipped,
        subscriptions=counts.subscriptions,
        consents=counts.consents, format=reader.layout.format,
        dropped_columns=tuple(reader.layout.dropped), problems=tuple(sample))


_CONSENT_ACTION = {ImportMode.SUBSCRIBE: "subscribe", ImportMode.UNSUBSCRIBE: "unsubscribe",
                   ImportMode.BLOCKLIST: "blocklist"}


def _check(options: ImportOptions) -> None:
    if options.status not in (SubscriptionStatus.UNCONFIRMED, SubscriptionStatus.CONFIRMED):
        raise ValidationError("An import subscribes as unconfirmed or confirmed.",
                              field="status")
    if options.mode is ImportMode.BLOCKLIST and options.lists:
        raise ValidationError("Blocklisting applies to every list; do not name lists.",
                              field="lists")


def _batches(rows: Iterator[Any]) -> Iterator[list[Any]]:
    return iter(lambda: list(islice(rows, BATCH)), [])


def _stage(batch: list[Any], key: bytes | None, by_slug: dict[str, int] | None,
           ) -> tuple[list[bulk.StagedRow], list[bulk.StagedTarget]]:
    """Staging tuples for a batch of rows, with new uids (one urandom call per batch)."""
    uids = new_uids(len(batch))
    staged: list[bulk.StagedRow] = []
    targets: list[bulk.StagedTarget] = []
    for n, (line, email, name, attributes, status, subs) in enumerate(batch):
        if by_slug is not None and subs:
            targets.extend((line, by_slug[slug], state) for slug, state in subs.items())
        digest = suppressions.digest(key, email) if key is not None else None
        staged.append((line, email, name, attributes, status,
                       uids[n], digest))
    return staged, targets


class _ProblemLog:
    """Rows skipped while reading, kept on disk past 1 MiB (they come in line order)."""

    def __init__(self) -> None:
        self.count = 0
        self._file: IO[str] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed in __exit__
            max_size=1024 * 1024, mode="w+", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file)

    def add(self, problem: Problem) -> None:
        self.count += 1
        self._writer.writerow((problem.line, printable(problem.value), problem.reason))

    def __iter__(self) -> Iterator[Problem]:
        self._file.seek(0)
        for line, value, reason in csv.reader(self._file):
            yield Problem(int(line), reason, value)

    def __enter__(self) -> _ProblemLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


_MERGE_REASONS = {
    "duplicate": "Duplicate of line {detail} (addresses are compared ignoring case).",
    "suppressed": "The address was erased or suppressed; it is never imported again.",
    "unknown": "No subscriber has this address.",
}


def _write_report(log: _ProblemLog, merged: Iterator[tuple[int, str, str, int | None]],
                  report: TextIO | None) -> list[Problem]:
    """Write every skipped row, in line order, to ``report``; return the first few."""
    later = (Problem(line, _MERGE_REASONS[code].format(detail=detail), printable(email))
             for line, email, code, detail in merged)
    writer = csv.writer(report) if report is not None else None
    if writer is not None:
        writer.writerow(REPORT_HEADER)
    sample: list[Problem] = []
    for problem in heapq.merge(log, later, key=lambda p: p.line):
        if len(sample) < SAMPLE:
            sample.append(problem)
        if writer is None:
            if len(sample) >= SAMPLE:
                break
            continue
        writer.writerow((problem.line, problem.value, problem.reason))
    return sample
