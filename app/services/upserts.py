"""INSERT … ON CONFLICT statements that SQLAlchemy can cache.

The dialect-specific insert constructs (postgresql.insert, sqlite.insert) carry no cache key,
so every execution compiles them again: about a millisecond of Python per statement on the
hot path of a task completion. The same statements are written here once per shape as
textual SQL with typed parameters, which the compiled cache keeps. PostgreSQL and SQLite
(3.35 and later) share the syntax; other dialects get None and use their fallback.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import TextClause, bindparam, inspect, text

from ..extensions import db

_DIALECTS = ("postgresql", "sqlite")


def _dialect() -> Any:
    return db.session.get_bind().dialect


@lru_cache(maxsize=256)
def _insert_sql(
    dialect_name: str,
    model: Any,
    columns: tuple[str, ...],
    rows: int,
    key: tuple[str, ...],
    add: tuple[str, ...] | None,
    returning: bool,
) -> TextClause:
    """The statement of one shape; add=None: DO NOTHING, else DO UPDATE (add: summed)."""
    del dialect_name  # part of the cache key: quoting differs between dialects
    table = inspect(model).local_table
    # Only the table's own column names reach the SQL text (table.c[...] refuses others).
    params = [bindparam(f"{c}_{i}", type_=table.c[c].type) for i in range(rows) for c in columns]
    quote = _dialect().identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    values = ", ".join("(" + ", ".join(f":{c}_{i}" for c in columns) + ")" for i in range(rows))
    conflict = ", ".join(quote(c) for c in key)
    sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES {values} ON CONFLICT ({conflict}) "  # noqa: S608
    updates = [c for c in columns if c not in key]
    if add is not None and updates:
        sets = [
            f"{quote(c)} = {quote(table.name)}.{quote(c)} + excluded.{quote(c)}"
            if c in add
            else f"{quote(c)} = excluded.{quote(c)}"
            for c in updates
        ]
        sql += "DO UPDATE SET " + ", ".join(sets)
    else:
        sql += "DO NOTHING"
    if returning:
        sql += f" RETURNING {quote(inspect(model).primary_key[0].name)}"
    return text(sql).bindparams(*params)


def _bound(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {f"{c}_{i}": row.get(c) for i, row in enumerate(rows) for c in columns}


def insert_ignoring_duplicates(
    model: Any, rows: list[dict[str, Any]], key: list[str]
) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING; how many rows were new (None: dialect cannot)."""
    name = _dialect().name
    if name not in _DIALECTS:
        return None
    if not rows:
        return 0
    columns = tuple(rows[0])
    stmt = _insert_sql(name, model, columns, len(rows), tuple(key), None, True)
    return len(db.session.execute(stmt, _bound(columns, rows)).all())


def add_to_counters(
    model: Any, key: dict[str, Any], add: dict[str, Any], replace: dict[str, Any]
) -> bool:
    """Add to the counters of a row, creating it if needed: one statement, no race.

    False when the dialect has no ON CONFLICT (the caller must then do it another way).
    """
    name = _dialect().name
    if name not in _DIALECTS:
        return False
    row = {**key, **add, **replace}
    columns = tuple(row)
    stmt = _insert_sql(name, model, columns, 1, tuple(key), tuple(add), False)
    db.session.execute(stmt, _bound(columns, [row]))
    return True
