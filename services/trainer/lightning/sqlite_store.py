"""An Agent Lightning store whose collections live in one SQLite file: rollouts survive a trainer restart.

Agent Lightning 0.3 ships an in-memory store and a MongoDB one, both on ``CollectionBasedLightningStore``; this
backs the same collections with SQLite (standard library, one file, no server). Each collection is a table of
JSON documents keyed by its primary key; filters and sorting are evaluated with Agent Lightning's own helpers, so
queries mean exactly what they mean in memory. ``atomic`` is a SQLite transaction, and nesting joins the outer
one, so a caller can make several store calls all-or-nothing (``SqliteLightningStore.transaction``).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar

from agentlightning.store.base import LightningStoreCapabilities
from agentlightning.store.collection.base import (
    AtomicLabels,
    AtomicMode,
    Collection,
    DuplicatedPrimaryKeyError,
    KeyValue,
    LightningCollections,
    Queue,
    ensure_numeric,
    normalize_filter_options,
    resolve_sort_options,
)
from agentlightning.store.collection.memory import _get_sort_value, _item_matches_filters
from agentlightning.store.collection_based import CollectionBasedLightningStore
from agentlightning.types import Attempt, FilterOptions, PaginatedResult, ResourcesUpdate, Rollout, SortOptions, Span
from agentlightning.types import Worker as AglWorker
from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)

# Set while a task is inside a transaction: a nested ``atomic`` joins it instead of waiting for the lock.
_in_transaction: contextvars.ContextVar[bool] = contextvars.ContextVar("sqlite_store_in_transaction", default=False)


class SqliteCollection(Collection[T], Generic[T]):
    """A table of JSON documents: ``key`` (the primary key values as a JSON array) and ``head`` (the first primary
    key value, indexed, so "the spans of rollout r" reads only those rows)."""

    def __init__(self, db: sqlite3.Connection, name: str, item_type: type[T], primary_keys: Sequence[str]) -> None:
        super().__init__()
        self._db = db
        self._name = name
        self._item_type = item_type
        self._primary_keys = tuple(primary_keys)
        db.execute(f"CREATE TABLE IF NOT EXISTS {name} (key TEXT PRIMARY KEY, head TEXT NOT NULL, doc TEXT NOT NULL)")
        db.execute(f"CREATE INDEX IF NOT EXISTS {name}_head ON {name} (head)")

    @property
    def collection_name(self) -> str:
        return self._name

    def primary_keys(self) -> Sequence[str]:
        return self._primary_keys

    def item_type(self) -> type[T]:
        return self._item_type

    async def size(self) -> int:
        return self._db.execute(f"SELECT count(*) FROM {self._name}").fetchone()[0]

    def _key(self, item: T) -> tuple[str, str]:
        if not isinstance(item, self._item_type):
            raise TypeError(f"Expected item of type {self._item_type.__name__}, got {type(item).__name__}")
        values = [getattr(item, key) for key in self._primary_keys]
        return json.dumps(values), str(values[0])

    def _rows(self, head_value: Any) -> Iterable[T]:
        """The documents whose first primary key is ``head_value`` (all of them when it is None), in insert order."""
        if head_value is not None:
            rows = self._db.execute(f"SELECT doc FROM {self._name} WHERE head = ? ORDER BY rowid", (str(head_value),))
        else:
            rows = self._db.execute(f"SELECT doc FROM {self._name} ORDER BY rowid")
        return (self._item_type.model_validate_json(doc) for (doc,) in rows)

    def _matching(self, filter: FilterOptions | None) -> Iterable[T]:
        filters, must_filters, logic = normalize_filter_options(filter)
        # An exact first primary key that every match must have reads only its rows (the index on head), e.g. "the
        # attempt a of rollout r": without it every lookup reads the whole table, and recording a run costs more
        # with every run recorded before it.
        head = self._primary_keys[0]
        required = [must_filters or {}, filters or {}] if logic == "and" or len(filters or {}) <= 1 else [must_filters]
        head_value = next((ops[head]["exact"] for ops in required if ops and ops.get(head, {}).get("exact")), None)
        return (item for item in self._rows(head_value) if _item_matches_filters(item, filters, logic, must_filters))

    async def query(
        self,
        filter: FilterOptions | None = None,
        sort: SortOptions | None = None,
        limit: int = -1,
        offset: int = 0,
    ) -> PaginatedResult[T]:
        sort_by, order = resolve_sort_options(sort)
        matches = list(self._matching(filter))
        if sort_by:
            matches.sort(key=lambda item: _get_sort_value(item, sort_by), reverse=order == "desc")
        window = matches[offset:] if limit == -1 else matches[offset : offset + limit]
        return PaginatedResult(items=window, limit=limit, offset=offset, total=len(matches))

    async def get(self, filter: FilterOptions | None = None, sort: SortOptions | None = None) -> T | None:
        found = await self.query(filter, sort, limit=1)
        return found.items[0] if found.items else None

    async def insert(self, items: Sequence[T]) -> None:
        rows = [(*self._key(item), item.model_dump_json()) for item in items]
        if len({key for key, _, _ in rows}) < len(rows):
            raise DuplicatedPrimaryKeyError(f"Insert payload into {self._name} repeats a primary key")
        try:
            self._db.executemany(f"INSERT INTO {self._name} (key, head, doc) VALUES (?, ?, ?)", rows)
        except sqlite3.IntegrityError as error:
            raise DuplicatedPrimaryKeyError(f"Item already exists in {self._name}: {error}") from None

    async def update(self, items: Sequence[T], update_fields: Sequence[str] | None = None) -> Sequence[T]:
        return [self._write(item, update_fields, insert_missing=False) for item in items]

    async def upsert(self, items: Sequence[T], update_fields: Sequence[str] | None = None) -> Sequence[T]:
        return [self._write(item, update_fields, insert_missing=True) for item in items]

    def _write(self, item: T, update_fields: Sequence[str] | None, *, insert_missing: bool) -> T:
        key, head = self._key(item)
        row = self._db.execute(f"SELECT doc FROM {self._name} WHERE key = ?", (key,)).fetchone()
        if row is None:
            if not insert_missing:
                raise ValueError(f"Item does not exist in {self._name} with primary key(s) {key}")
            self._db.execute(
                f"INSERT INTO {self._name} (key, head, doc) VALUES (?, ?, ?)", (key, head, item.model_dump_json())
            )
            return item
        stored = item
        if update_fields is not None:
            existing = self._item_type.model_validate_json(row[0])
            stored = existing.model_copy(update={field: getattr(item, field) for field in update_fields})
        self._db.execute(f"UPDATE {self._name} SET doc = ? WHERE key = ?", (stored.model_dump_json(), key))
        return stored

    async def delete(self, items: Sequence[T]) -> None:
        for item in items:
            key, _ = self._key(item)
            if self._db.execute(f"DELETE FROM {self._name} WHERE key = ?", (key,)).rowcount == 0:
                raise ValueError(f"Item does not exist in {self._name} with primary key(s) {key}")


class SqliteQueue(Queue[str]):
    def __init__(self, db: sqlite3.Connection, name: str) -> None:
        super().__init__()
        self._db = db
        self._name = name
        db.execute(f"CREATE TABLE IF NOT EXISTS {name} (seq INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT NOT NULL)")

    @property
    def collection_name(self) -> str:
        return self._name

    def item_type(self) -> type[str]:
        return str

    async def has(self, item: str) -> bool:
        return self._db.execute(f"SELECT 1 FROM {self._name} WHERE item = ? LIMIT 1", (item,)).fetchone() is not None

    async def enqueue(self, items: Sequence[str]) -> Sequence[str]:
        self._db.executemany(f"INSERT INTO {self._name} (item) VALUES (?)", [(item,) for item in items])
        return items

    async def dequeue(self, limit: int = 1) -> Sequence[str]:
        rows = self._db.execute(f"SELECT seq, item FROM {self._name} ORDER BY seq LIMIT ?", (max(limit, 0),)).fetchall()
        self._db.executemany(f"DELETE FROM {self._name} WHERE seq = ?", [(seq,) for seq, _ in rows])
        return [item for _, item in rows]

    async def peek(self, limit: int = 1) -> Sequence[str]:
        rows = self._db.execute(f"SELECT item FROM {self._name} ORDER BY seq LIMIT ?", (max(limit, 0),))
        return [item for (item,) in rows]

    async def size(self) -> int:
        return self._db.execute(f"SELECT count(*) FROM {self._name}").fetchone()[0]


class SqliteKeyValue(KeyValue[str, int]):
    def __init__(self, db: sqlite3.Connection, name: str) -> None:
        super().__init__()
        self._db = db
        self._name = name
        db.execute(f"CREATE TABLE IF NOT EXISTS {name} (key TEXT PRIMARY KEY, value NOT NULL)")

    @property
    def collection_name(self) -> str:
        return self._name

    async def has(self, key: str) -> bool:
        return self._db.execute(f"SELECT 1 FROM {self._name} WHERE key = ?", (key,)).fetchone() is not None

    async def get(self, key: str, default: int | None = None) -> int | None:
        row = self._db.execute(f"SELECT value FROM {self._name} WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    async def set(self, key: str, value: int) -> None:
        self._db.execute(f"INSERT OR REPLACE INTO {self._name} (key, value) VALUES (?, ?)", (key, value))

    async def inc(self, key: str, amount: int) -> int:
        assert ensure_numeric(amount, description="amount")
        current = await self.get(key)
        value = amount if current is None else current + amount
        await self.set(key, value)
        return value

    async def chmax(self, key: str, value: int) -> int:
        assert ensure_numeric(value, description="value")
        current = await self.get(key)
        if current is None or value > current:
            await self.set(key, value)
            return value
        return current

    async def pop(self, key: str, default: int | None = None) -> int | None:
        value = await self.get(key, default)
        self._db.execute(f"DELETE FROM {self._name} WHERE key = ?", (key,))
        return value

    async def size(self) -> int:
        return self._db.execute(f"SELECT count(*) FROM {self._name}").fetchone()[0]


class SqliteLightningCollections(LightningCollections):
    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are begun and ended here, explicitly.
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA busy_timeout = 10000")
        self.db.execute("PRAGMA synchronous = FULL")  # a committed rollout survives a power cut, not only a crash
        self._lock = asyncio.Lock()
        self._rollouts = SqliteCollection(self.db, "rollouts", Rollout, ["rollout_id"])
        self._attempts = SqliteCollection(self.db, "attempts", Attempt, ["rollout_id", "attempt_id"])
        self._spans = SqliteCollection(self.db, "spans", Span, ["rollout_id", "attempt_id", "span_id"])
        self._resources = SqliteCollection(self.db, "resources", ResourcesUpdate, ["resources_id"])
        self._workers = SqliteCollection(self.db, "workers", AglWorker, ["worker_id"])
        self._rollout_queue = SqliteQueue(self.db, "rollout_queue")
        self._span_sequence_ids = SqliteKeyValue(self.db, "span_sequence_ids")

    @property
    def collection_name(self) -> str:
        return "sqlite"

    @property
    def rollouts(self) -> SqliteCollection[Rollout]:
        return self._rollouts

    @property
    def attempts(self) -> SqliteCollection[Attempt]:
        return self._attempts

    @property
    def spans(self) -> SqliteCollection[Span]:
        return self._spans

    @property
    def resources(self) -> SqliteCollection[ResourcesUpdate]:
        return self._resources

    @property
    def workers(self) -> SqliteCollection[AglWorker]:
        return self._workers

    @property
    def rollout_queue(self) -> SqliteQueue:
        return self._rollout_queue

    @property
    def span_sequence_ids(self) -> SqliteKeyValue:
        return self._span_sequence_ids

    @asynccontextmanager
    async def atomic(
        self,
        *,
        mode: AtomicMode = "rw",
        snapshot: bool = False,
        commit: bool = False,
        labels: Sequence[AtomicLabels] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[SqliteLightningCollections]:
        if _in_transaction.get() or (mode == "r" and not snapshot):
            yield self
            return
        async with self._lock:
            token = _in_transaction.set(True)
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            else:
                self.db.execute("COMMIT")
            finally:
                _in_transaction.reset(token)

    def close(self) -> None:
        self.db.close()


class SqliteLightningStore(CollectionBasedLightningStore[SqliteLightningCollections]):
    """Agent Lightning's store API over ``SqliteLightningCollections``; one process owns the file."""

    def __init__(self, path: Path) -> None:
        super().__init__(collections=SqliteLightningCollections(path))

    @property
    def capabilities(self) -> LightningStoreCapabilities:
        return LightningStoreCapabilities(thread_safe=False, async_safe=True, zero_copy=False, otlp_traces=False)

    def transaction(self) -> AbstractAsyncContextManager[SqliteLightningCollections]:
        """Every store call inside joins one SQLite transaction: all of them are kept, or none."""
        return self.collections.atomic(mode="rw", commit=True)

    async def close(self) -> None:
        self.collections.close()
