"""The claim-check store is swept by age, touches only its own files, and keeps what a writer has just reused."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli.blobs_cli import parse_duration
from services.cli.main import app
from streams.blobs import BlobNotFound, LocalBlobStore

DAY_S = 86_400.0


def aged(store: LocalBlobStore, data: bytes, *, days: float, now: float) -> str:
    ref = store.put(data)
    path = store._path(ref)
    os.utime(path, (now - days * DAY_S, now - days * DAY_S))
    return ref


def test_blobs_older_than_the_cutoff_go_and_younger_stay_when_swept(tmp_path: Path) -> None:
    store, now = LocalBlobStore(tmp_path), time.time()
    old = aged(store, b'"old"', days=10, now=now)
    young = aged(store, b'"young"', days=1, now=now)
    foreign = tmp_path / "ab" / "notes.txt"
    foreign.parent.mkdir(exist_ok=True)
    foreign.write_text("not a blob")
    os.utime(foreign, (now - 30 * DAY_S, now - 30 * DAY_S))

    assert store.sweep(7 * DAY_S, now=now, dry_run=True).deleted == 1
    store.get(old)  # a dry run deletes nothing

    swept = store.sweep(7 * DAY_S, now=now)
    assert (swept.deleted, swept.kept, swept.freed_bytes) == (1, 1, len(b'"old"'))
    with pytest.raises(BlobNotFound):
        store.get(old)
    assert store.get(young) == b'"young"'
    assert foreign.exists()  # only the store's own files are ever touched


def test_a_blob_written_again_is_young_again_when_the_sweep_comes(tmp_path: Path) -> None:
    store, now = LocalBlobStore(tmp_path), time.time()
    ref = aged(store, b'"result"', days=10, now=now)
    assert store.put(b'"result"') == ref  # the same result stored by a re-run attempt
    assert store.sweep(7 * DAY_S, now=time.time()).deleted == 0
    assert store.get(ref) == b'"result"'


def test_a_part_left_by_a_writer_that_died_goes_when_old(tmp_path: Path) -> None:
    store, now = LocalBlobStore(tmp_path), time.time()
    store.put(b'"x"')
    folder = next(tmp_path.iterdir())
    part = folder / "tmpabc123"
    part.write_bytes(b"half")
    os.utime(part, (now - 2 * DAY_S, now - 2 * DAY_S))
    assert store.sweep(DAY_S, now=now).deleted == 1 and not part.exists()


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("12h", 43200), ("7d", 604800)])
def test_durations_read_as_seconds_when_written_with_a_unit(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_gc_says_what_it_deleted_when_pointed_at_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, now = LocalBlobStore(tmp_path), time.time()
    aged(store, b'"old"', days=10, now=now)
    monkeypatch.setenv("GENESIS_TOOLS_BLOB_STORE", str(tmp_path))
    done = CliRunner().invoke(app, ["blobs", "gc", "--older-than", "7d"])
    assert done.exit_code == 0 and "deleted 1 blobs" in done.output


@pytest.mark.parametrize(
    ("args", "store", "message"),
    [
        (["--older-than", "a week"], None, "is not a duration"),
        (["--older-than", "7d"], "s3://bucket/prefix", "lifecycle rule"),
    ],
)
def test_gc_refuses_in_one_line_when_it_cannot_sweep(
    args: list[str], store: str | None, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GENESIS_TOOLS_BLOB_STORE", store or str(tmp_path))
    done = CliRunner().invoke(app, ["blobs", "gc", *args])
    assert done.exit_code == 2 and message in done.output
