"""Bulk subscriber writes: a staging area filled fast, then set-based merges.

An import streams its rows into staging tables that belong to one connection
(PostgreSQL: ``TEMP`` tables filled by ``COPY``; SQLite: a scratch database file
ATTACHed to the connection and filled by ``executemany``), outside any lock on the
real tables. :meth:`Staging.merge` then applies everything in ONE transaction with
a handful of set-based statements: duplicates and suppressed addresses are set
aside, new subscribers inserted, existing ones updated, subscriptions created or
moved. The consent records: one for the whole import, shared by the subscribers it
adds (``subscribers.import_consent_id``) and cited by their subscriptions, and one
per subscriber who existed already and whose subscriptions changed.
A failure anywhere rolls the whole merge back; staging disappears with the
connection, so a crash leaves the database as it was before the import.

The statements are assembled from constant fragments, staging table names and the
validated values of :class:`MergePlan` (enums and integers), never from file
content, which only ever travels as staged data (hence the ``noqa: S608``).
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.exc import DBAPIError

from tidings.db import consents, events
from tidings.db.database import SQLITE_PRAGMAS, Database
from tidings.db.types import UTCDateTime
from tidings.domain.errors import Conflict

#: ``(line, email, name, attributes JSON, status, new uid, digest)``;
#: name, attributes, status and digest may be None.
StagedRow = tuple[int, str, str | None, str | None, str | None, str, str | None]
#: ``(line, list id, subscription status)``: a row's own subscriptions (Tidings' export).
StagedTarget = tuple[int, int, str]

MODES = ("subscribe", "unsubscribe", "blocklist")
IMPORT_CACHE_KIB = -16384  # SQLite page cache of the importing connection (negative: KiB)
_TARGETS = ("unconfirmed", "confirmed", "unsubscribed")


@dataclass(frozen=True, slots=True)
class MergePlan:
    """What the merge does. ``list_ids`` and ``target`` apply to every row unless
    ``per_row_targets``, in which case the staged targets say it row by row."""

    mode: str
    now: datetime
    list_ids: tuple[int, ...] = ()
    target: str = "unconfirmed"
    per_row_targets: bool = False
    update_existing: bool = False
    check_suppressed: bool = False
    consent_action: str = "subscribe"
    user_id: int | None = None
    actor: str | None = None
    event_data: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # Inlined into SQL below, so they are checked here.
        if self.mode not in MODES or self.target not in _TARGETS:
            raise ValueError("unknown import mode or status")
        if not all(isinstance(i, int) for i in self.list_ids):
            raise ValueError("list ids are integers")


@dataclass(frozen=True, slots=True)
class MergeCounts:
    imported: int          # new subscribers
    updated: int           # rows that matched a subscriber who existed already
    skipped: int           # rows set aside by the merge (see :meth:`Staging.skipped`)
    subscriptions: int     # subscriptions created or changed
    consents: int          # consent records written


class Staging(ABC):
    """Staging tables on one connection; build with :func:`staging`."""

    def __init__(self, conn: Connection, names: dict[str, str]) -> None:
        self.conn = conn
        self.names = names

    # -- loading -------------------------------------------------------------------

    @abstractmethod
    def loading(self) -> AbstractContextManager[None]:
        """One transaction around ``add_rows`` / ``add_targets`` calls."""

    @abstractmethod
    def add_rows(self, rows: Sequence[StagedRow]) -> None:
        """Stage parsed rows (any number of calls, inside :meth:`loading`)."""

    @abstractmethod
    def add_targets(self, targets: Sequence[StagedTarget]) -> None:
        """Stage the subscriptions rows name themselves."""

    # -- merging -------------------------------------------------------------------

    def _sql(self, statement: str, **values: Any) -> Any:
        query = text(statement.format(**self.names))
        if "now" in values:
            query = query.bindparams(bindparam("now", type_=UTCDateTime()))
        return self.conn.execute(query, values)

    def _count(self, statement: str) -> int:
        return int(self._sql(statement).scalar_one())

    @contextmanager
    def _merge_transaction(self) -> Iterator[None]:
        with self.conn.begin():
            yield

    def merge(self, plan: MergePlan) -> MergeCounts:
        """Apply the staged rows to the real tables in one transaction."""
        with self._merge_transaction():
            self._set_aside(plan)
            total = self._count("SELECT COUNT(*) FROM {rows}")
            # Existing subscribers first: afterwards they are not told from the new ones.
            if plan.update_existing or plan.mode == "blocklist":
                self._update_subscribers(plan)
            imported = records = 0
            shared = self._shared_consent(plan) if plan.mode == "subscribe" else None
            if plan.mode != "unsubscribe":
                imported = self._insert_subscribers(plan, shared)
            if shared is not None:
                if imported:
                    records = 1
                else:
                    self._sql("DELETE FROM consents WHERE id = :id", id=shared)
                    shared = None
            changed = 0
            if plan.mode != "blocklist":
                self._stage_changes(plan, shared)
                changed = self._count("SELECT COUNT(*) FROM {changes}")
                if changed:
                    records += self._write_subscriptions(plan)
            skipped = self._count("SELECT COUNT(*) FROM {skipped}")
            counts = MergeCounts(imported=imported, updated=total - imported, skipped=skipped,
                                 subscriptions=changed, consents=records)
            events.record(self.conn, "subscribers.imported", plan.now, actor=plan.actor,
                          data={**(plan.event_data or {}), "imported": imported,
                                "updated": counts.updated, "subscriptions": changed})
        return counts

    def _set_aside(self, plan: MergePlan) -> None:
        """Move duplicates, suppressed and (unsubscribing) unknown addresses to skipped."""
        # Addresses are compared with the database's own lower(), as its unique index does
        # (SQLite's folds ASCII letters only).
        self._prepare_rows()
        self._sql(
            "INSERT INTO {skipped} (line, email, code, detail) "
            "SELECT r.line, r.email, 'duplicate', f.first FROM {rows} r JOIN "
            "(SELECT {key} AS key, MIN(line) AS first FROM {rows} "
            "GROUP BY {key} HAVING COUNT(*) > 1) f "
            "ON f.key = {r_key} WHERE r.line > f.first")
        if not plan.check_suppressed and self._count(
                "SELECT COUNT(*) FROM (SELECT 1 FROM suppressions LIMIT 1) s"):
            # Nothing was suppressed when the rows were staged (so no digests were
            # computed), but something is now: refuse rather than resurrect anyone.
            raise Conflict("An address was erased or suppressed while the import ran; "
                           "nothing was imported. Run it again.")
        if plan.check_suppressed:
            self._sql(
                "INSERT INTO {skipped} (line, email, code, detail) "
                "SELECT r.line, r.email, 'suppressed', NULL FROM {rows} r "
                "WHERE r.digest IN (SELECT hash FROM suppressions) "
                "AND r.line NOT IN (SELECT line FROM {skipped})")
        if plan.mode == "unsubscribe":
            self._sql(
                "INSERT INTO {skipped} (line, email, code, detail) "
                "SELECT r.line, r.email, 'unknown', NULL FROM {rows} r "
                "WHERE NOT EXISTS "
                "(SELECT 1 FROM subscribers s WHERE lower(s.email) = {r_key}) "
                "AND r.line NOT IN (SELECT line FROM {skipped})")
        self._sql("DELETE FROM {rows} WHERE line IN (SELECT line FROM {skipped})")

    @abstractmethod
    def _prepare_rows(self) -> None:
        """Index and analyse the staged rows, as this database's joins need."""

    def _shared_consent(self, plan: MergePlan) -> int:
        """The import's own consent record, which the subscribers it adds share."""
        list_ids = plan.list_ids
        if plan.per_row_targets:
            list_ids = tuple(int(i) for i in self._sql(
                "SELECT DISTINCT list_id FROM {targets} ORDER BY list_id").scalars())
        return consents.record(self.conn, subscriber_id=None, action=plan.consent_action,
                               source="import", list_ids=list_ids, now=plan.now,
                               user_id=plan.user_id)

    def _insert_subscribers(self, plan: MergePlan, shared: int | None) -> int:
        """Insert the addresses nobody has, citing the ``shared`` consent record; return
        how many (conflicts insert nothing).

        Rows go in in address order, and the staged random uids are handed out in
        their own sorted order, so that both unique indexes (lower(email), uid) are
        filled front to back instead of at random: a million random insertions into
        indexes larger than the cache are what makes big imports slow. The uids stay
        as random as ever; only their order follows the addresses within one import.
        """
        status = "'blocklisted'" if plan.mode == "blocklist" else "COALESCE(r.status, 'enabled')"
        return int(self._sql(
            "INSERT INTO subscribers (uid, email, name, attributes, status, "  # noqa: S608
            "import_consent_id, created_at, updated_at) "
            f"SELECT u.uid, r.email, COALESCE(r.name, ''), {{attrs_or_empty}}, {status}, "
            f"{_sql_int(shared)}, :now, :now "
            "FROM (SELECT *, row_number() OVER (ORDER BY {key}) AS n FROM {rows}) r "
            "JOIN (SELECT uid, row_number() OVER (ORDER BY uid) AS n FROM {rows}) u "
            "ON u.n = r.n WHERE true {in_order} "
            "ON CONFLICT (lower(email)) DO NOTHING", now=plan.now).rowcount)

    def _update_subscribers(self, plan: MergePlan) -> None:
        sets = ["updated_at = :now"]
        if plan.mode == "blocklist":
            sets.append("status = 'blocklisted'")
        elif plan.update_existing:
            sets.append("status = COALESCE(r.status, subscribers.status)")
        if plan.update_existing:
            sets.append("name = COALESCE(r.name, subscribers.name)")
            sets.append("attributes = {attrs_or_current}")
        self._sql(
            f"UPDATE subscribers SET {', '.join(sets)} FROM {{rows}} r "  # noqa: S608
            "WHERE lower(subscribers.email) = {r_key}",
            now=plan.now)

    def _stage_changes(self, plan: MergePlan, shared: int | None) -> None:
        """Every (subscriber, list) whose subscription the import creates or moves, with
        the ``shared`` consent record for the subscribers this import added."""
        if plan.per_row_targets:
            targets = ("JOIN {targets} t ON t.line = r.line "
                       "JOIN lists l ON l.id = t.list_id")
            target = "t.status"
        else:
            ids = ", ".join(str(i) for i in plan.list_ids) or "NULL"
            targets = f"JOIN lists l ON l.id IN ({ids})"
            target = f"'{plan.target}'"
        if plan.mode == "unsubscribe":
            new = "CASE WHEN cur.status IN ('unconfirmed', 'confirmed') THEN 'unsubscribed' END"
        else:
            update = (
                f"WHEN {target} = 'confirmed' AND cur.status <> 'confirmed' THEN 'confirmed' "
                f"WHEN {target} = 'unsubscribed' AND cur.status <> 'unsubscribed' "
                "THEN 'unsubscribed' ") if plan.update_existing else ""
            new = (f"CASE WHEN cur.status IS NULL THEN CASE WHEN {target} = 'unconfirmed' "
                   f"AND l.optin = 'single' THEN 'confirmed' ELSE {target} END {update}END")
        self._sql(
            "INSERT INTO {changes} (subscriber_id, list_id, status, consent_id) "  # noqa: S608
            "SELECT subscriber_id, list_id, status, consent_id FROM ("
            f"SELECT s.id AS subscriber_id, l.id AS list_id, {new} AS status, "
            f"CASE WHEN s.import_consent_id = {_sql_int(shared)} "
            "THEN s.import_consent_id END AS consent_id "
            f"FROM {{rows}} r JOIN subscribers s ON lower(s.email) = {{r_key}} {targets} "
            "LEFT JOIN subscriptions cur ON cur.subscriber_id = s.id AND cur.list_id = l.id "
            "{by_key}) x WHERE status IS NOT NULL")

    # A record of their own for the subscribers who existed (the shared one is cited
    # for the others).
    _CONSENTS = (
        "INSERT INTO consents (subscriber_id, action, source, list_ids, user_id, created_at) "
        "SELECT subscriber_id, :action, 'import', {list_agg}, {user_id}, :now "
        "FROM (SELECT * FROM {changes} WHERE consent_id IS NULL "
        "ORDER BY subscriber_id, list_id) c GROUP BY subscriber_id")
    _SUBSCRIPTIONS = (
        "INSERT INTO subscriptions (subscriber_id, list_id, status, consent_id, "
        "confirmed_at, unsubscribed_at, created_at, updated_at) "
        "SELECT c.subscriber_id, c.list_id, c.status, COALESCE(c.consent_id, k.id), "
        "CASE WHEN c.status = 'confirmed' THEN {now} END, "
        "CASE WHEN c.status = 'unsubscribed' THEN {now} END, :now, :now "
        "FROM {changes} c LEFT JOIN {new_consents} k ON k.subscriber_id = c.subscriber_id "
        "WHERE true ORDER BY c.subscriber_id, c.list_id "
        "ON CONFLICT (subscriber_id, list_id) DO UPDATE SET status = excluded.status, "
        "consent_id = excluded.consent_id, updated_at = excluded.updated_at, "
        "confirmed_at = CASE WHEN excluded.status = 'confirmed' THEN excluded.confirmed_at "
        "ELSE subscriptions.confirmed_at END, unsubscribed_at = excluded.unsubscribed_at")

    def _write_subscriptions(self, plan: MergePlan) -> int:
        """A consent record for each changed subscriber who existed, then the
        subscriptions citing theirs or the shared one; return the records written."""
        consents = int(self._sql(self._CONSENTS, action=plan.consent_action,
                                 user_id=plan.user_id, now=plan.now).rowcount)
        self._sql(self._SUBSCRIPTIONS.replace(
            "{new_consents} k ON k.subscriber_id = c.subscriber_id",
            "consents k ON c.consent_id IS NULL AND k.subscriber_id = c.subscriber_id "
            "AND k.created_at = :now AND k.source = 'import'"), now=plan.now)
        return consents

    # -- results -------------------------------------------------------------------

    def skipped(self) -> Iterator[tuple[int, str, str, int | None]]:
        """Rows the merge set aside, by line: ``(line, email, code, detail)``.

        ``code`` is ``duplicate`` (``detail`` is the line of the first occurrence),
        ``suppressed`` or ``unknown``.
        """
        with self.conn.begin():
            result = self.conn.execute(
                text("SELECT line, email, code, detail FROM {skipped} ORDER BY line"  # noqa: S608
                     .format(**self.names)).execution_options(stream_results=True,
                                                              yield_per=2000))
            for line, email, code, detail in result:
                yield int(line), str(email), str(code), detail


class _SQLiteStaging(Staging):
    def __init__(self, conn: Connection, raw: sqlite3.Connection) -> None:
        super().__init__(conn, {
            "rows": "import_stage.rows", "targets": "import_stage.targets",
            # lower(email) as a (virtual) column: SQLite 3.40 recomputes an indexed
            # expression from the table row, so that the index on it (key, line) would
            # not cover the duplicate search, which then read every staged row at random.
            "key": "key", "r_key": "r.key",
            "skipped": "import_stage.skipped", "changes": "import_stage.changes",
            "attrs_or_empty": "COALESCE(r.attributes, '{}')",
            "attrs_or_current": "COALESCE(r.attributes, subscribers.attributes)",
            "list_agg": "json_group_array(list_id)", "user_id": ":user_id", "now": ":now",
            # SQLite joins by looking up each row in the subscribers' indexes: in address
            # order (the staged key index) those lookups walk the indexes front to back.
            "by_key": "ORDER BY r.key",
            # The join already yields the numbered rows in order, from the materialised
            # window; an ORDER BY would sort every row, all columns, once more.
            "in_order": "",
        })
        self.raw = raw

    @contextmanager
    def loading(self) -> Iterator[None]:
        self.raw.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise
        self.raw.execute("COMMIT")

    def add_rows(self, rows: Sequence[StagedRow]) -> None:
        self.raw.executemany("INSERT INTO import_stage.rows VALUES (?, ?, ?, ?, ?, ?, ?)",
                             rows)

    def add_targets(self, targets: Sequence[StagedTarget]) -> None:
        self.raw.executemany("INSERT INTO import_stage.targets VALUES (?, ?, ?)", targets)

    def _prepare_rows(self) -> None:
        self._sql("CREATE INDEX import_stage.ix_rows_key ON rows (key, line)")
        self._sql("ANALYZE import_stage.rows")

    @contextmanager
    def _merge_transaction(self) -> Iterator[None]:
        self.conn.execution_options(sqlite_begin="IMMEDIATE")
        try:
            with self.conn.begin():
                yield
        finally:
            self.conn.execution_options(sqlite_begin="DEFERRED")


class _PostgresStaging(Staging):
    def __init__(self, conn: Connection, raw: Any) -> None:
        super().__init__(conn, {
            "rows": "import_rows", "key": "lower(email)", "r_key": "lower(r.email)",
            "targets": "import_targets", "skipped": "import_skipped",
            "changes": "import_changes",
            "attrs_or_empty": "COALESCE(CAST(r.attributes AS jsonb), '{}'::jsonb)",
            "attrs_or_current": "COALESCE(CAST(r.attributes AS jsonb), subscribers.attributes)",
            "list_agg": "jsonb_agg(list_id)", "user_id": "CAST(:user_id AS bigint)",
            "now": "CAST(:now AS timestamptz)", "by_key": "", "in_order": "ORDER BY r.n",
        })
        self.raw = raw

    @contextmanager
    def loading(self) -> Iterator[None]:
        with self.conn.begin():
            yield

    def add_rows(self, rows: Sequence[StagedRow]) -> None:
        # COPY's text format: tab-separated, \N for NULL, backslashes doubled. Emails,
        # names and attribute JSON hold no raw control characters (checked before).
        out = []
        for line, email, name, attributes, status, uid, digest in rows:
            out.append(
                f"{line}\t{email}\t"
                f"{_copy_text(name)}\t{_copy_text(attributes)}\t{status or _NULL}\t"
                f"{uid}\t{digest or _NULL}\n")
        with self.raw.cursor() as cur, cur.copy(
                "COPY import_rows (line, email, name, attributes, status, uid, digest) "
                "FROM STDIN") as copy:
            copy.write("".join(out))

    def add_targets(self, targets: Sequence[StagedTarget]) -> None:
        with self.raw.cursor() as cur, cur.copy(
                "COPY import_targets (line, list_id, status) FROM STDIN") as copy:
            copy.write("".join(f"{line}\t{list_id}\t{status}\n"
                               for line, list_id, status in targets))

    def _prepare_rows(self) -> None:
        # No index: PostgreSQL hashes the staged rows for every join (duplicates, the
        # subscribers' addresses), and building one took longer than the joins it served.
        self._sql("ANALYZE import_rows")
        self._sql("ANALYZE import_targets")

    def _write_subscriptions(self, plan: MergePlan) -> int:
        # One statement: the consent ids come back from RETURNING instead of a join
        # that would scan every consent record.
        self._sql("ANALYZE import_changes")
        self._sql(f"WITH new_consents AS ({self._CONSENTS} RETURNING id, subscriber_id) "
                  + self._SUBSCRIPTIONS.replace("{new_consents}", "new_consents"),
                  action=plan.consent_action, user_id=plan.user_id, now=plan.now)
        return self._count(
            "SELECT COUNT(DISTINCT subscriber_id) FROM {changes} WHERE consent_id IS NULL")


_NULL = "\\N"


def _sql_int(value: int | None) -> str:
    return "NULL" if value is None else str(int(value))


def _copy_text(value: str | None) -> str:
    if value is None:
        return _NULL
    return value.replace("\\", "\\\\") if "\\" in value else value


_PG_SESSION = ("work_mem = '64MB'", "jit = off")
_TABLES = (
    "CREATE {temp}TABLE {p}rows (line {rows_line}, email TEXT NOT NULL, "
    "name TEXT, attributes TEXT, status TEXT, uid TEXT NOT NULL, digest TEXT{key_column})",
    "CREATE {temp}TABLE {p}targets (line BIGINT NOT NULL, list_id BIGINT NOT NULL, "
    "status TEXT NOT NULL)",
    "CREATE {temp}TABLE {p}skipped (line BIGINT PRIMARY KEY, email TEXT NOT NULL, "
    "code TEXT NOT NULL, detail BIGINT)",
    "CREATE {temp}TABLE {p}changes (subscriber_id BIGINT NOT NULL, list_id BIGINT NOT NULL, "
    "status TEXT NOT NULL, consent_id BIGINT)",
)


@contextmanager
def staging(db: Database) -> Iterator[Staging]:
    """A connection with empty staging tables, removed when the block ends."""
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        if db.is_sqlite:
            assert isinstance(raw, sqlite3.Connection)
            with _attached(raw):
                for ddl in _TABLES:
                    # INTEGER PRIMARY KEY is SQLite's rowid: rows are stored in line order.
                    raw.execute(ddl.format(temp="", p="import_stage.",
                                           rows_line="INTEGER PRIMARY KEY",
                                           key_column=", key TEXT GENERATED ALWAYS AS "
                                           "(lower(email)) VIRTUAL"))
                yield _SQLiteStaging(conn, raw)
        else:
            with conn.begin():
                # Session settings for one bulk job: staging stays in the session's own
                # buffers (settable only before its first temporary table), sorts and
                # hashes of a million rows stay in memory, and no JIT compilation
                # (the planner's row estimates on fresh staging tables invite it).
                try:
                    with conn.begin_nested():
                        conn.exec_driver_sql("SET temp_buffers = '256MB'")
                except DBAPIError:
                    pass  # this session has used temporary tables already: keep its size
                for setting in _PG_SESSION:
                    conn.exec_driver_sql(f"SET {setting}")
                for ddl in _TABLES:
                    # No primary key on rows: COPY runs faster without an index to keep.
                    conn.exec_driver_sql(ddl.format(temp="TEMP ", p="import_",
                                                    rows_line="BIGINT NOT NULL",
                                                    key_column=""))
            try:
                yield _PostgresStaging(conn, raw)
            finally:
                if not conn.invalidated:
                    if conn.in_transaction():
                        conn.rollback()
                    with conn.begin():
                        conn.exec_driver_sql(
                            "DROP TABLE IF EXISTS import_rows, import_targets, import_skipped, "
                            "import_changes")
                        for setting in _PG_SESSION:
                            conn.exec_driver_sql(f"RESET {setting.split(' ')[0]}")


@contextmanager
def _attached(raw: sqlite3.Connection) -> Iterator[None]:
    """A scratch database file ATTACHed as ``import_stage``; deleted afterwards.

    A file, not ``temp_store=MEMORY``, so that a million staged rows stay on disk.
    """
    directory = tempfile.mkdtemp(prefix="tidings-import-")
    try:
        raw.execute("ATTACH DATABASE ? AS import_stage", (str(Path(directory) / "stage.db"),))
        try:
            raw.execute("PRAGMA import_stage.journal_mode=MEMORY")
            raw.execute("PRAGMA import_stage.synchronous=OFF")
            raw.execute("PRAGMA import_stage.cache_size=-8192")
            # Sorts (indexes, GROUP BY) of a million rows spill to files, and the page
            # cache (which also bounds the sorter) is smaller, so that memory stays flat.
            raw.execute("PRAGMA temp_store=FILE")
            raw.execute(f"PRAGMA main.cache_size={IMPORT_CACHE_KIB}")
            yield
        finally:
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            raw.execute("DETACH DATABASE import_stage")
            for pragma in SQLITE_PRAGMAS:
                if "temp_store" in pragma or "cache_size" in pragma:
                    raw.execute(pragma)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
