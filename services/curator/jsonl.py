"""JSONL files in and out: input read line by line in binary so no file is ever loaded whole."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from services.curator.core.records import MalformedRecord, decode_record


class InputError(ValueError):
    """The input path itself is unusable (missing, empty folder, output inside input)."""


@dataclass(frozen=True)
class Rejected:
    """A line that is not a record: where it is and why, never its content.

    A malformed line may hold personal data the scrubber never got to see as a record (a cut-off line, a stray
    log line), so neither the rejects file nor the console repeats it; its size helps find it in the input.
    """

    file: str
    line: int
    error: str
    size_bytes: int

    def describe(self) -> str:
        return f"{self.file}:{self.line}: {self.error}"


def jsonl_files(source: Path) -> list[Path]:
    """The file itself, or every *.jsonl file under a folder in a stable (sorted) order."""
    if source.is_file():
        return [source]
    if source.is_dir():
        files = sorted(p for p in source.rglob("*.jsonl") if p.is_file())
        if not files:
            raise InputError(f"{source}: folder holds no .jsonl files")
        return files
    raise InputError(f"{source}: no such file or folder")


def numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        yield from enumerate(handle, start=1)


def reject(path: Path | str, number: int, raw: bytes, reason: str) -> Rejected:
    return Rejected(str(path), number, reason, len(raw.rstrip(b"\r\n")))


def read_records(source: Path) -> Iterator[dict[str, Any] | Rejected]:
    """Every record of every file in order; blank lines are skipped, bad lines come back as Rejected."""
    for path in jsonl_files(source):
        for number, raw in numbered_lines(path):
            if not raw.strip():
                continue
            try:
                yield decode_record(raw)
            except MalformedRecord as error:
                yield reject(path, number, raw, str(error))


def write_jsonl(target: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write records one per line through a .part file renamed at the end; returns how many were written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    encoder = msgspec.json.Encoder()
    written = 0
    with part.open("wb") as handle:
        for record in records:
            handle.write(encoder.encode(record) + b"\n")
            written += 1
    part.replace(target)
    return written
