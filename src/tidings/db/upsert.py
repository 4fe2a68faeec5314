"""INSERT ... ON CONFLICT for both dialects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def upsert(conn: Connection, table: Table, values: dict[str, Any] | list[dict[str, Any]],
           *, index: Sequence[Any], update: Sequence[str] = ()) -> Insert:
    """An insert that updates ``update`` columns (or does nothing) on conflict with ``index``."""
    module: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = module.insert(table).values(values)
    if update:
        return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
            index_elements=list(index),
            set_={name: stmt.excluded[name] for name in update})
    return stmt.on_conflict_do_nothing(index_elements=list(index))  # type: ignore[no-any-return]
