"""Parquet snapshots for analysts: `<dir>/<table>/day=YYYY-MM-DD/*.parquet`.

DuckDB lets one process hold a database file for writing, so analysts read these files while the writer runs.

- **A snapshot costs what changed.** The append-only tables get one part per day with the rows appended since the
  last snapshot, and parts merge in tiers (core/tiers.py); ``runs``, whose rows are updated in place, has its
  touched days rewritten whole (a run is one row: a day of them is small).
- **A reader sees a whole day as of one snapshot, never a mixture.** ``day=D`` is a symbolic link to an immutable
  generation folder ``.generations/<generation>/day=D/``. A change builds the next generation beside it (unchanged
  files hard-linked, new ones written) and swaps the link in one rename. Superseded generations are deleted once
  ``grace_s`` has passed. ``snapshot_files`` lists the generation folders themselves, so a query that listed
  them can read them for that long whatever is swapped meanwhile; a plain glob through the links also works, but
  a file it listed may be merged away before it is opened (the query fails, and the next one succeeds).
- All files of one snapshot are exported in one read transaction, so they show one moment of the warehouse.
- The first snapshot after start-up writes every (table, day) once, as one base part each, and retires what an
  earlier process left (its generations, the one-file-per-day layout before parts, days no longer stored).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from services.warehouse.core.tables import EVENT_TABLES, UPSERTED
from services.warehouse.core.tiers import BASE_LEVEL, Part, add_part
from services.warehouse.sql import literal

SNAPSHOT_TABLES = tuple(spec.name for spec in EVENT_TABLES)
REWRITTEN_FILE = "data.parquet"  # the one file of a day of an upserted table (runs)
FANOUT = 8
GRACE_S = 60.0
GENERATIONS = ".generations"


def snapshot_files(root: Path, table: str) -> list[Path]:
    """The table's Parquet files as of the newest snapshot of each day, in the generation folders themselves
    (``.../day=D/`` stays the last folder, for hive partitioning)."""
    folder = root / table
    files: list[Path] = []
    for day in sorted(folder.glob("day=*")) if folder.is_dir() else ():
        generation = folder / os.readlink(day) if day.is_symlink() else day  # not resolved: the path stays under root
        files += sorted(generation.glob("*.parquet"))
    return files


@dataclass(frozen=True)
class _Generation:
    folder: Path  # <table>/.generations/<generation>/day=D
    parts: tuple[Part, ...]  # empty for an upserted table: its one file is REWRITTEN_FILE


@dataclass(frozen=True)
class _Staged:
    table: str
    day: date
    generation: _Generation
    written: int  # files written for it (the rest are hard-linked from the generation before)


class Snapshots:
    """The snapshot folder of one writer process, and what it has exported so far."""

    def __init__(
        self, root: Path, *, fanout: int = FANOUT, grace_s: float = GRACE_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._root = root
        self._fanout = fanout
        self._grace_s = grace_s
        self._clock = clock
        self._prefix = uuid.uuid4().hex[:8]  # generations of this process never collide with a predecessor's
        self._counter = 0
        self._current: dict[tuple[str, date], _Generation] = {}
        self._exported_upto: dict[str, int] = {}  # per append-only table, the last row id exported
        self._retired: list[tuple[float, Path]] = []
        self._started = False

    @property
    def started(self) -> bool:
        """Whether the first (full) snapshot is written."""
        return self._started

    def write(self, connection: duckdb.DuckDBPyConnection, touched: Mapping[str, set[date]] | None = None) -> int:
        """Export what changed since the last snapshot (everything, the first time): rows appended to the append-only
        tables, and the ``touched`` days of the upserted ones. Returns the number of files written. On failure
        nothing is published and the next call exports the same changes again."""
        staged: list[_Staged] = []
        ends: dict[str, int] = {}
        connection.begin()
        try:
            for table in SNAPSHOT_TABLES:
                if table in UPSERTED:
                    days = _all_days(connection, table) if not self._started else sorted((touched or {}).get(table, ()))
                    for day in days:
                        staged.append(self._stage_rewrite(connection, table, day))
                else:
                    ends[table] = _last_row_id(connection, table)
                    self._stage_appended(connection, table, ends[table], staged)
        except BaseException:
            for each in staged:
                shutil.rmtree(each.generation.folder.parent, ignore_errors=True)
            raise
        finally:
            connection.commit()  # a read-only transaction: nothing to keep or undo
        written = sum(self._publish(each) for each in staged)
        self._exported_upto.update(ends)
        if not self._started:
            self._retire_leftovers()
            self._started = True
        self._delete_due()
        return written

    def _stage_appended(
        self, connection: duckdb.DuckDBPyConnection, table: str, end: int, staged: list[_Staged]
    ) -> None:
        """A new generation for each day with rows appended since the last snapshot, added to ``staged`` as soon as
        its folder exists (so that a failure removes it)."""
        after = self._exported_upto.get(table, -1)
        if end <= after:
            return
        rows = f"rowid > {after} AND rowid <= {end}"
        days = [row[0] for row in connection.execute(f"SELECT DISTINCT day FROM {table} WHERE {rows}").fetchall()]
        for day in sorted(days):
            now = self._current.get((table, day)) if self._started else None
            if now is None:
                parts: tuple[Part, ...] = (Part(-1, end, BASE_LEVEL if not self._started else 0),)
            elif (start := max(after, now.parts[-1].upto)) < end:  # a day published before a failed publish is ahead
                parts = add_part(now.parts, Part(start, end, 0), fanout=self._fanout)
            else:
                continue
            kept = now.parts if now is not None else ()
            fresh = [part for part in parts if part not in kept]
            folder = self._new_folder(table, day)
            staged.append(_Staged(table, day, _Generation(folder, parts), len(fresh)))  # removed if what follows fails
            if now is not None:  # the parts that did not change: hard links to the generation before
                for part in parts:
                    if part in kept:
                        _link(now.folder / part.name, folder / part.name)
            for part in fresh:
                _copy(connection, table, day, f"rowid > {part.after} AND rowid <= {part.upto}", folder / part.name)

    def _stage_rewrite(self, connection: duckdb.DuckDBPyConnection, table: str, day: date) -> _Staged:
        folder = self._new_folder(table, day)
        staged = _Staged(table, day, _Generation(folder, ()), written=1)
        try:
            _copy(connection, table, day, "true", folder / REWRITTEN_FILE)
        except BaseException:
            shutil.rmtree(folder.parent, ignore_errors=True)
            raise
        return staged

    def _new_folder(self, table: str, day: date) -> Path:
        self._counter += 1
        folder = self._root / table / GENERATIONS / f"{self._prefix}-{self._counter:08d}" / f"day={day.isoformat()}"
        folder.mkdir(parents=True)
        return folder

    def _publish(self, staged: _Staged) -> int:
        """Point ``day=D`` at the staged generation in one rename; the one it replaces is retired."""
        link = self._root / staged.table / f"day={staged.day.isoformat()}"
        if link.is_dir() and not link.is_symlink():  # a day in the layout before parts
            self._move_aside(link)
        temporary = link.parent / f".{link.name}.{self._prefix}.link"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(staged.generation.folder.relative_to(link.parent), target_is_directory=True)
        os.replace(temporary, link)
        previous = self._current.get((staged.table, staged.day))
        self._current[(staged.table, staged.day)] = staged.generation
        if previous is not None:
            self._retire(previous.folder.parent)
        return staged.written

    def _retire_leftovers(self) -> None:
        """After the first snapshot: what an earlier process left is retired (deleted after the grace period)."""
        current = {generation.folder.parent for generation in self._current.values()}
        held = {(self._root / table, f"day={day.isoformat()}") for table, day in self._current}
        for table in SNAPSHOT_TABLES:
            folder = self._root / table
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if entry.name.startswith("day=") and (entry.parent, entry.name) not in held:
                    if entry.is_symlink():
                        entry.unlink()  # a day this warehouse no longer holds
                    else:
                        self._move_aside(entry)  # the layout before parts, for a day no longer held
                elif entry.name == GENERATIONS:
                    for generation in entry.iterdir():
                        if generation not in current:
                            self._retire(generation)
                elif entry.name.endswith(".link"):
                    entry.unlink(missing_ok=True)

    def _move_aside(self, day: Path) -> None:
        """A day's real folder (the layout before parts) out of the readers' glob, retired."""
        aside = day.parent / GENERATIONS / f"before-parts-{uuid.uuid4().hex[:8]}"
        aside.mkdir(parents=True)
        day.rename(aside / day.name)
        self._retire(aside)

    def _retire(self, folder: Path) -> None:
        self._retired.append((self._clock() + self._grace_s, folder))

    def _delete_due(self) -> None:
        now = self._clock()
        due = [folder for at, folder in self._retired if at <= now]
        self._retired = [(at, folder) for at, folder in self._retired if at > now]
        for folder in due:
            shutil.rmtree(folder, ignore_errors=True)


def _last_row_id(connection: duckdb.DuckDBPyConnection, table: str) -> int:
    row = connection.execute(f"SELECT max(rowid) FROM {table}").fetchone()
    return -1 if row is None or row[0] is None else int(row[0])


def _all_days(connection: duckdb.DuckDBPyConnection, table: str) -> list[date]:
    return sorted(row[0] for row in connection.execute(f"SELECT DISTINCT day FROM {table}").fetchall())


def _copy(connection: duckdb.DuckDBPyConnection, table: str, day: date, rows: str, target: Path) -> None:
    # COPY takes no parameters; the day is a date's ISO form and the row filter ours.
    connection.execute(
        f"COPY (SELECT * EXCLUDE (day) FROM {table} WHERE day = DATE '{day.isoformat()}' AND {rows}) "
        f"TO {literal(target)} (FORMAT parquet)"
    )


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        with contextlib.suppress(shutil.SameFileError):
            shutil.copyfile(source, target)
