"""Scrubbing throughput in one process: our detector against the seed's regexes, side by side.

Run: uv run python -m tests.benchmarks.curator.bench_scrub [--records N] [--seed S] [--repeat R]

Not a timed test: numbers depend on the machine. The corpus is the labelled generator's output, so every
record holds several PII values and look-alikes, far denser than real chat data. Three views:
  all text     every message content (system prompts, questions, answers)
  user turns   only the questions, where the PII and look-alikes sit: the worst case
  JSONL lines  whole lines: decode, scrub messages[].content, encode (the seed's scrub_file loop for it)
A warm-up on a different seed loads phonenumbers' metadata first; the timed detector starts with an empty
cache, so repeated numbers from the warm-up cannot flatter it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from services.curator.core.generator import generate_records
from services.curator.core.pii import PiiDetector
from services.curator.core.scrub import RecordScrubber
from services.curator.core.seed_baseline import seed_scrub_text

WARM_UP_SEED = 99


def seed_scrub_line(raw: bytes) -> bytes:
    """The body of the seed's scrub_file loop for one line."""
    example = json.loads(raw)
    for msg in example.get("messages", []):
        msg["content"] = seed_scrub_text(msg["content"])
    return (json.dumps(example) + "\n").encode()


def megabytes_per_second(make_work: Callable[[], Callable], items: list, size: int, repeat: int) -> float:
    """Median throughput; `make_work` builds a fresh scrubber per run so no run inherits a warm cache."""
    timings = []
    for _ in range(repeat):
        work = make_work()
        started = time.perf_counter()
        for item in items:
            work(item)
        timings.append(time.perf_counter() - started)
    return size / 1e6 / statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    warm_up = PiiDetector()
    for record in generate_records(1000, WARM_UP_SEED):
        for message in record["messages"]:
            warm_up.scrub(message["content"])
            seed_scrub_text(message["content"])

    records = list(generate_records(args.records, args.seed))
    views = {
        "all text": [m["content"] for r in records for m in r["messages"]],
        "user turns": [m["content"] for r in records for m in r["messages"] if m["role"] == "user"],
    }
    lines = [json.dumps(r).encode() + b"\n" for r in records]
    print(f"{args.records} generated records, seed {args.seed}, median of {args.repeat} runs, one process")
    print(f"{'corpus':<12} {'MB':>7} {'ours MB/s':>10} {'seed MB/s':>10}")
    for name, texts in views.items():
        size = sum(len(t.encode()) for t in texts)
        ours = megabytes_per_second(lambda: PiiDetector().scrub, texts, size, args.repeat)
        seed = megabytes_per_second(lambda: seed_scrub_text, texts, size, args.repeat)
        print(f"{name:<12} {size / 1e6:>7.2f} {ours:>10.2f} {seed:>10.2f}")
    size = sum(len(line) for line in lines)
    ours = megabytes_per_second(
        lambda: RecordScrubber(PiiDetector().scrub, ["messages[].content"]).scrub_line, lines, size, args.repeat
    )
    seed = megabytes_per_second(lambda: seed_scrub_line, lines, size, args.repeat)
    print(f"{'JSONL lines':<12} {size / 1e6:>7.2f} {ours:>10.2f} {seed:>10.2f}")


if __name__ == "__main__":
    main()
