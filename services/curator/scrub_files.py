"""genesis data scrub: stream JSONL files through the scrubber, in worker processes when the input is large.

Output mirrors the input: a file gives a file, a folder gives a folder with the same relative paths, each
file with its records in their original order. Lines that are not records go to a rejects file with their
file and line number; the summary accounts for every line read.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import msgspec

from services.curator.core.records import MalformedRecord
from services.curator.core.scrub import RecordScrubber
from services.curator.core.spans import PiiType
from services.curator.jsonl import InputError, Rejected, jsonl_files, numbered_lines, reject
from services.curator.settings import CuratorSettings

ScrubberFactory = Callable[[CuratorSettings], RecordScrubber]
_SHOWN_REJECTS = 20


@dataclass
class ChunkResult:
    lines: list[bytes] = field(default_factory=list)
    rejected: list[tuple[int, bytes, str]] = field(default_factory=list)
    replaced: Counter[PiiType] = field(default_factory=Counter)
    blank: int = 0
    size: int = 0


@dataclass
class ScrubSummary:
    files: int = 0
    lines: int = 0
    records: int = 0
    blank: int = 0
    rejected: int = 0
    first_rejects: list[str] = field(default_factory=list)
    replaced: Counter[PiiType] = field(default_factory=Counter)
    rejects_path: Path | None = None
    size: int = 0
    workers: int = 1


def scrub_chunk(scrubber: RecordScrubber, chunk: list[tuple[int, bytes]]) -> ChunkResult:
    result = ChunkResult()
    for number, raw in chunk:
        result.size += len(raw)
        if not raw.strip():
            result.blank += 1
            continue
        try:
            line, replaced = scrubber.scrub_line(raw)
        except MalformedRecord as error:
            result.rejected.append((number, raw, str(error)))
            continue
        result.lines.append(line)
        result.replaced.update(replaced)
    return result


def output_pairs(source: Path, target: Path) -> list[tuple[Path, Path]]:
    """(input file, output file) pairs; refuses to write into the input or over it."""
    files = jsonl_files(source)
    if source.is_file():
        destination = target / source.name if target.is_dir() else target
        if destination.resolve() == source.resolve():
            raise InputError(f"{target}: output would overwrite the input")
        return [(source, destination)]
    if target.resolve() == source.resolve() or source.resolve() in target.resolve().parents:
        raise InputError(f"{target}: output folder must not be the input folder or inside it")
    if target.exists() and not target.is_dir():
        raise InputError(f"{target}: input is a folder, so the output must be a folder too")
    return [(path, target / path.relative_to(source)) for path in files]


def default_rejects_path(target: Path) -> Path:
    return target.with_name(target.name + ".rejects.jsonl")


def scrub_paths(
    source: Path,
    target: Path,
    settings: CuratorSettings,
    make_scrubber: ScrubberFactory,
    rejects_path: Path | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> ScrubSummary:
    """Scrub `source` into `target`; `progress(bytes just done, total bytes)` follows the work."""
    pairs = output_pairs(source, target)
    total = sum(path.stat().st_size for path, _ in pairs)
    workers = settings.workers or os.cpu_count() or 1
    if total < settings.parallel_min_mb * 1e6:
        workers = 1
    summary = ScrubSummary(files=len(pairs), size=total, workers=workers)
    writer = _Writers(pairs, rejects_path or default_rejects_path(target), summary)
    chunks = _chunks(pairs, int(settings.chunk_mb * 1e6))
    try:
        for file_index, result in _scrubbed(chunks, settings, make_scrubber, workers):
            writer.write(file_index, result)
            progress(result.size, total)
        writer.finish_file()
    finally:
        writer.close()
    return summary


def _chunks(pairs: list[tuple[Path, Path]], chunk_bytes: int) -> Iterator[tuple[int, list[tuple[int, bytes]]]]:
    for file_index, (path, _) in enumerate(pairs):
        chunk: list[tuple[int, bytes]] = []
        size = 0
        for number, raw in numbered_lines(path):
            chunk.append((number, raw))
            size += len(raw)
            if size >= chunk_bytes:
                yield file_index, chunk
                chunk, size = [], 0
        # An empty chunk still reaches the writer, so an empty input file gives an empty output file.
        yield file_index, chunk


def _scrubbed(
    chunks: Iterator[tuple[int, list[tuple[int, bytes]]]],
    settings: CuratorSettings,
    make_scrubber: ScrubberFactory,
    workers: int,
) -> Iterator[tuple[int, ChunkResult]]:
    if workers == 1:
        scrubber = make_scrubber(settings)
        for file_index, chunk in chunks:
            yield file_index, scrub_chunk(scrubber, chunk)
        return
    # "spawn": forking a process that runs rich's refresh thread can deadlock the child.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(make_scrubber, settings)
    ) as pool:
        # At most two chunks per worker in flight: memory stays bounded however large the input is,
        # and results are taken in submission order, which keeps the records in their input order.
        pending: deque[tuple[int, Future[ChunkResult]]] = deque()
        for file_index, chunk in chunks:
            pending.append((file_index, pool.submit(_scrub_in_worker, chunk)))
            if len(pending) >= 2 * workers:
                index, future = pending.popleft()
                yield index, future.result()
        while pending:
            index, future = pending.popleft()
            yield index, future.result()


_worker_scrubber: RecordScrubber | None = None


def _start_worker(make_scrubber: ScrubberFactory, settings: CuratorSettings) -> None:
    global _worker_scrubber
    _worker_scrubber = make_scrubber(settings)


def _scrub_in_worker(chunk: list[tuple[int, bytes]]) -> ChunkResult:
    assert _worker_scrubber is not None, "worker started without its initializer"
    return scrub_chunk(_worker_scrubber, chunk)


class _Writers:
    """Writes each output file through a .part file renamed when complete, plus the rejects file."""

    def __init__(self, pairs: list[tuple[Path, Path]], rejects_path: Path, summary: ScrubSummary) -> None:
        self._pairs = pairs
        self._rejects_path = rejects_path
        self._summary = summary
        self._index = -1
        self._handle: BinaryIO | None = None
        self._rejects: BinaryIO | None = None

    def write(self, file_index: int, result: ChunkResult) -> None:
        if file_index != self._index:
            self.finish_file()
            self._index = file_index
            target = self._pairs[file_index][1]
            target.parent.mkdir(parents=True, exist_ok=True)
            self._handle = _part(target).open("wb")
        assert self._handle is not None
        self._handle.writelines(result.lines)
        summary = self._summary
        summary.records += len(result.lines)
        summary.blank += result.blank
        summary.lines += len(result.lines) + result.blank + len(result.rejected)
        summary.replaced.update(result.replaced)
        for number, raw, reason in result.rejected:
            self._reject(reject(self._pairs[file_index][0], number, raw, reason))

    def _reject(self, rejected: Rejected) -> None:
        if self._rejects is None:
            self._rejects_path.parent.mkdir(parents=True, exist_ok=True)
            self._rejects = self._rejects_path.open("wb")
            self._summary.rejects_path = self._rejects_path
        self._rejects.write(msgspec.json.encode(rejected) + b"\n")
        self._summary.rejected += 1
        if len(self._summary.first_rejects) < _SHOWN_REJECTS:
            self._summary.first_rejects.append(rejected.describe())

    def finish_file(self) -> None:
        if self._handle is not None:
            self._handle.close()
            target = self._pairs[self._index][1]
            _part(target).replace(target)
            self._handle = None

    def close(self) -> None:
        # Only complete files are renamed into place; after an error the .part file shows how far it got.
        if self._handle is not None:
            self._handle.close()
        if self._rejects is not None:
            self._rejects.close()


def _part(target: Path) -> Path:
    return target.with_name(target.name + ".part")
