import json
from pathlib import Path

import msgspec
import pytest

from services.curator.bootstrap import build_scrubber
from services.curator.core.scrub import RecordScrubber
from services.curator.core.spans import PiiType
from services.curator.jsonl import InputError
from services.curator.scrub_files import scrub_paths
from services.curator.settings import CuratorSettings

SETTINGS = CuratorSettings()


def chat(content: str, **extra) -> str:
    return json.dumps({"messages": [{"role": "user", "content": content}], **extra})


def test_each_string_value_scrubbed_not_the_serialised_line_when_content_has_escapes(detector):
    scrubber = RecordScrubber(detector.scrub, ["messages[].content"])
    raw = chat('He said "call 201-555-0123"\nthen\tleft', id="4111111111111111").encode()
    line, replaced = scrubber.scrub_line(raw)
    record = json.loads(line)
    assert record["messages"][0]["content"] == 'He said "call [PHONE]"\nthen\tleft'
    assert record["id"] == "4111111111111111"  # not a configured field
    assert replaced == {PiiType.PHONE: 1}


def test_other_fields_scrubbed_when_configured(detector):
    scrubber = RecordScrubber(detector.scrub, ["messages[].content", "meta.note"])
    line, _ = scrubber.scrub_line(chat("hi", meta={"note": "mail a@b.io"}).encode())
    assert json.loads(line)["meta"]["note"] == "mail [EMAIL]"


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_file_scrubbed_in_order_and_bad_lines_rejected_with_line_numbers_when_input_is_mixed(tmp_path):
    source = write(
        tmp_path / "in.jsonl",
        [
            chat("one 201-555-0123"),
            "not json",
            "",
            chat("two a@b.io"),
            "[1]",
            chat("three 8.8.8.8"),
        ],
    )
    summary = scrub_paths(source, tmp_path / "out.jsonl", SETTINGS, build_scrubber)
    assert [r["messages"][0]["content"] for r in read(tmp_path / "out.jsonl")] == [
        "one [PHONE]",
        "two [EMAIL]",
        "three [IP]",
    ]
    rejects = read(tmp_path / "out.jsonl.rejects.jsonl")
    assert [(r["line"], r["size_bytes"]) for r in rejects] == [(2, 8), (5, 3)]
    assert all(r["file"] == str(source) for r in rejects)
    assert (summary.lines, summary.records, summary.rejected, summary.blank) == (6, 3, 2, 1)
    assert summary.first_rejects[0].startswith(f"{source}:2: not valid JSON")
    assert summary.replaced == {PiiType.PHONE: 1, PiiType.EMAIL: 1, PiiType.IP: 1}


def test_folder_structure_mirrored_when_input_is_a_folder(tmp_path):
    write(tmp_path / "in" / "a.jsonl", [chat("x 201-555-0123")])
    write(tmp_path / "in" / "nested" / "b.jsonl", [chat("y"), chat("z")])
    (tmp_path / "in" / "empty.jsonl").write_text("")
    summary = scrub_paths(tmp_path / "in", tmp_path / "out", SETTINGS, build_scrubber)
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*"))
    assert written == ["a.jsonl", "empty.jsonl", "nested", "nested/b.jsonl"]
    assert read(tmp_path / "out" / "nested" / "b.jsonl")[1]["messages"][0]["content"] == "z"
    assert summary.rejects_path is None and summary.files == 3


@pytest.mark.parametrize("target", ["in", "in/out"])
def test_output_refused_when_it_would_land_in_the_input_folder(tmp_path, target):
    write(tmp_path / "in" / "a.jsonl", [chat("x")])
    with pytest.raises(InputError, match="must not be the input folder"):
        scrub_paths(tmp_path / "in", tmp_path / target, SETTINGS, build_scrubber)


def test_missing_input_reported_when_path_does_not_exist(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        scrub_paths(tmp_path / "nope.jsonl", tmp_path / "out.jsonl", SETTINGS, build_scrubber)


def test_worker_processes_give_the_same_output_when_input_is_split_in_chunks(tmp_path):
    lines = [chat(f"record {i} call 020 7946 {i:04d} or mail u{i}@example.org") for i in range(400)]
    source = write(tmp_path / "in.jsonl", [*lines[:200], "{broken", *lines[200:]])
    single = scrub_paths(source, tmp_path / "one.jsonl", SETTINGS, build_scrubber)
    parallel_settings = msgspec.structs.replace(SETTINGS, workers=2, parallel_min_mb=0, chunk_mb=0.005)
    parallel = scrub_paths(source, tmp_path / "two.jsonl", parallel_settings, build_scrubber)
    assert parallel.workers == 2
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()
    assert (parallel.records, parallel.rejected, parallel.replaced) == (
        single.records,
        single.rejected,
        single.replaced,
    )
    assert read(tmp_path / "two.jsonl.rejects.jsonl")[0]["line"] == 201


def test_rejects_file_holds_no_personal_data_when_a_malformed_line_carries_some(tmp_path):
    source = write(tmp_path / "in.jsonl", ['{"messages": [{"content": "call 201-555-0123", jane@example.com'])
    summary = scrub_paths(source, tmp_path / "out.jsonl", SETTINGS, build_scrubber)
    stored = (tmp_path / "out.jsonl.rejects.jsonl").read_text()
    assert summary.rejected == 1 and '"line":1' in stored
    assert "201-555-0123" not in stored and "jane@example.com" not in stored
    assert all("201-555" not in line and "jane@" not in line for line in summary.first_rejects)
