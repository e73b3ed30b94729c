"""The warehouse's SQL, kept in .sql files beside this module: the schema, the views, the writer's statements
and the documented analyst queries. Named files hold blocks that start with `-- name: <name>`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent
_NAME = re.compile(r"^-- name: (?P<name>\w+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class NamedStatement:
    name: str
    description: str  # the comment lines under the name
    sql: str  # without the trailing semicolon


def literal(text: object) -> str:
    """``text`` as a SQL string literal, for the statements DuckDB takes no parameters in (COPY, SET, a view's
    file list): quoted, its quotes doubled."""
    return "'" + str(text).replace("'", "''") + "'"


@cache
def script(file: str) -> str:
    """A whole file, for DuckDB to run as one script (schema.sql, views.sql)."""
    return (SQL_DIR / file).read_text()


@cache
def named_statements(file: str) -> dict[str, NamedStatement]:
    text = script(file)
    marks = list(_NAME.finditer(text))
    statements = {}
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        body = text[mark.end() : following.start() if following else len(text)].strip()
        comments = [line for line in body.splitlines() if line.startswith("--")]
        code = "\n".join(line for line in body.splitlines() if not line.startswith("--")).strip().rstrip(";")
        description = " ".join(line.removeprefix("--").strip() for line in comments)
        statements[mark["name"]] = NamedStatement(mark["name"], description, code)
    return statements
