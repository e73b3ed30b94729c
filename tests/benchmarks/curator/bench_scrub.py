"""Scrubbing throughput in one process: ours, the seed's regexes, DataFog and Presidio, side by side.

Run: uv run --extra bench --extra pii python -m tests.benchmarks.curator.bench_scrub [--records N] [--repeat R]

Not a timed test: numbers depend on the machine and its load, so every peer runs in the same process on the
same texts, one after the other, and the table is read across a row. Time is the process's CPU time
(`time.process_time`), so other work on a shared machine slows the figures less than wall time would, and
each figure is the fastest of `--repeat` runs (the run least disturbed by that work; every peer gets the same
number of runs). The load average is printed with the table. "ours (compiled)" is the mypyc build of the detector
(native/pii-compiled) that `genesis data scrub` uses when it is installed and current; "ours (pure)" is the same
source run by the interpreter. Corpora:
  messages     every message content of the generated chat data (system prompts, questions, answers)
  user turns   only its questions, where the PII and look-alikes sit
  independent  the independent labelled set: a PII value or look-alike every ~40 bytes (the densest)
  JSONL lines  whole lines: decode, scrub messages[].content, encode (the seed's scrub_file loop for it)
A warm-up on other records (of both sets) loads phonenumbers' metadata first; each timed run builds a fresh
detector, so the cache of a previous run cannot flatter it. DataFog runs with its Rust backend when `datafog-core` is
installed (the `bench` extra); Presidio (the `pii` extra) only on the first `--presidio-kb` of each corpus,
because it runs at a few tens of kB/s.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable

from services.curator import compiled, datafog_peer, presidio
from services.curator.core.generator import generate_records
from services.curator.core.independent import IndependentSet
from services.curator.core.pii import PiiDetector
from services.curator.core.scrub import RecordScrubber
from services.curator.core.seed_baseline import seed_scrub_text

WARM_UP_SEED = 99
Work = Callable[[str], object]


def seed_scrub_line(raw: bytes) -> bytes:
    """The body of the seed's scrub_file loop for one line."""
    example = json.loads(raw)
    for msg in example.get("messages", []):
        msg["content"] = seed_scrub_text(msg["content"])
    return (json.dumps(example) + "\n").encode()


def megabytes_per_second(make_work: Callable[[], Callable], items: list, repeat: int) -> float:
    """Throughput of the fastest run; `make_work` builds a fresh scrubber per run so no run inherits a warm
    cache."""
    size = sum(len(item) if isinstance(item, bytes) else len(item.encode()) for item in items)
    timings = []
    for _ in range(repeat):
        work = make_work()
        started = time.process_time()
        for item in items:
            work(item)
        timings.append(time.process_time() - started)
    return size / 1e6 / min(timings)


def _head(texts: list[str], kilobytes: int) -> list[str]:
    taken, size = [], 0
    for text in texts:
        if size >= kilobytes * 1000:
            break
        taken.append(text)
        size += len(text.encode())
    return taken


def ours() -> dict[str, type[PiiDetector]]:
    """Our detector as `genesis data scrub` runs it (mypyc-compiled when installed), and its pure-Python source."""
    if compiled.unavailable_reason() is None:
        return {"ours (compiled)": compiled.detector_class(), "ours (pure)": PiiDetector}
    return {"ours (pure)": PiiDetector}


def peers(presidio_kb: int) -> dict[str, tuple[Callable[[], Work], int | None]]:
    """name -> (factory of a fresh scrub function, kB cap or None)."""
    chosen: dict[str, tuple[Callable[[], Work], int | None]] = {
        name: (lambda detector=detector: detector().scrub, None) for name, detector in ours().items()
    }
    chosen["seed regexes"] = (lambda: seed_scrub_text, None)
    if datafog_peer.unavailable_reason() is None:
        chosen[f"datafog ({datafog_peer.backend()})"] = (lambda: datafog_peer.DataFogDetector().detect, None)
    if presidio.unavailable_reason() is None:
        analyzer = presidio.PresidioDetector(presidio.CORE_ENTITIES, score_threshold=0.0)
        chosen["presidio"] = (lambda: analyzer.detect, presidio_kb)
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--presidio-kb", type=int, default=100)
    args = parser.parse_args()

    other = [*generate_records(1000, WARM_UP_SEED), *IndependentSet(WARM_UP_SEED).records(1000)]
    for detector in ours().values():
        warm_up = detector()
        for record in other:
            for message in record["messages"]:
                warm_up.scrub(message["content"])

    records = list(generate_records(args.records, args.seed))
    corpora = {
        "messages": [m["content"] for r in records for m in r["messages"]],
        "user turns": [m["content"] for r in records for m in r["messages"] if m["role"] == "user"],
        "independent": [m["content"] for r in IndependentSet(args.seed).records(args.records) for m in r["messages"]],
    }
    chosen = peers(args.presidio_kb)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"{args.records} records per corpus, seed {args.seed}, fastest of {args.repeat} runs, one process; MB/s "
        f"(load average {load})"
    )
    if (reason := compiled.unavailable_reason()) is not None:
        print(f"compiled detector not used: {reason}")
    print(f"{'corpus':<12} {'MB':>6} " + " ".join(f"{name:>16}" for name in chosen))
    for corpus, texts in corpora.items():
        row = []
        for make_work, cap in chosen.values():
            sample = texts if cap is None else _head(texts, cap)
            row.append(megabytes_per_second(make_work, sample, 1 if cap else args.repeat))
        size = sum(len(t.encode()) for t in texts)
        print(f"{corpus:<12} {size / 1e6:>6.2f} " + " ".join(f"{value:>16.2f}" for value in row))
    lines = [json.dumps(r).encode() + b"\n" for r in records]
    row = [
        megabytes_per_second(
            lambda detector=detector: RecordScrubber(detector().scrub, ["messages[].content"]).scrub_line,
            lines,
            args.repeat,
        )
        for detector in ours().values()
    ]
    row.append(megabytes_per_second(lambda: seed_scrub_line, lines, args.repeat))
    size = sum(len(line) for line in lines)
    print(f"{'JSONL lines':<12} {size / 1e6:>6.2f} " + " ".join(f"{value:>16.2f}" for value in row))


if __name__ == "__main__":
    main()
