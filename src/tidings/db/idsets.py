"""A set of ids as one bound parameter, so that a statement's SQL text never changes.

``column IN (:a, :b, ...)`` renders a different statement for every number of ids,
and each one is prepared and cached by the driver (SQLite's statement cache keeps
128 per connection, psycopg prepares the frequent ones on the server): a worker
recording a few hundred outcomes at a time piled up tens of megabytes of prepared
statements with thousands of parameters. :func:`among` binds the ids as one value
instead: a JSON array read by ``json_each`` on SQLite, an array with ``= ANY`` on
PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.selectable import TableValuedAlias


def among(dialect: str, column: ColumnElement[Any], ids: Iterable[int]) -> ColumnElement[bool]:
    """``column`` is one of ``ids``, with one bound parameter whatever their number."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(column.type)))
    return column.in_(select(rows(dialect, ids).c.value))


def rows(dialect: str, ids: Iterable[int]) -> TableValuedAlias:
    """``ids`` as a table of one column, ``value``, from one bound parameter.

    Inserting a batch of ledger rows with ``INSERT ... SELECT`` from it costs one
    cached statement; a multi-row ``VALUES`` of a thousand rows was compiled anew by
    SQLAlchemy for every batch (a tenth of a second each).
    """
    if dialect == "postgresql":
        return func.unnest(bindparam(None, list(ids), type_=ARRAY(BigInteger))) \
            .table_valued("value").render_derived()
    return func.json_each(bindparam(None, json.dumps(list(ids)), type_=String)) \
        .table_valued("value")
