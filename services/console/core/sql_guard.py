"""The SQL box accepts one read-only query: a single SELECT (WITH ... SELECT included), nothing else.

This is the first of two fences; the second is DuckDB itself, whose connection for the box has external access
switched off once the snapshot views exist (services/console/warehouse.py), so even a SELECT cannot read or write
files. The statement check gives a clear message before DuckDB is asked at all.
"""

from __future__ import annotations

import duckdb


class RefusedQuery(ValueError):
    pass


def single_select(sql: str) -> str:
    """The query, if it is exactly one SELECT; RefusedQuery saying why not otherwise."""
    if not sql.strip():
        raise RefusedQuery("the query is empty")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise RefusedQuery(f"not valid SQL: {error}") from None
    if len(statements) != 1:
        raise RefusedQuery(f"one statement at a time, please (this is {len(statements)})")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise RefusedQuery(f"only SELECT (or WITH ... SELECT) queries run here, not {kind.name}: the box is read-only")
    return sql
