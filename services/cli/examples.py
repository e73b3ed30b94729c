"""One example per command, shown at the end of its --help; a test checks every command has one that parses."""

from __future__ import annotations

import inspect

import click

EXAMPLES: dict[str, str] = {
    "": "genesis up --executors 4 && genesis submit --plan plan.txt --wait",
    "demo": "genesis demo --executors 3 --in-flight 4",
    "up": "genesis up --executors 4",
    "down": "genesis down",
    "status": "genesis status --json",
    "submit": "genesis submit --plan plan.txt --wait --json",
    "cancel": "genesis cancel 0192f3a47b8c --reason 'no longer needed' --wait",
    "kafka up": "genesis kafka up",
    "kafka down": "genesis kafka down",
    "kafka status": "genesis kafka status",
    "kafka topics": "genesis kafka topics",
    "console": "genesis console --port 8080",
    # Groups: their most common command.
    "kafka": "genesis kafka up",
    "plan": "genesis plan show plan.txt",
    "runs": "genesis runs list",
    "warehouse": 'genesis warehouse sql "SELECT * FROM run_speedup"',
    "trainer": "genesis trainer run --json",
    "data": "genesis data generate data/ && genesis data scrub data/ clean/",
    "dlq": "genesis dlq list",
    "bench": "genesis bench gap --plans 16",
    "blobs": "genesis blobs gc --older-than 7d --dry-run",
    "blobs gc": "genesis blobs gc --older-than 7d",
    "llm": "genesis llm serve",
    "llm serve": "genesis llm serve --port 8088",
    "eval": "genesis eval qa --local --limit 30",
    "eval qa": "genesis eval qa --local --limit 30 --json",
    "eval report": "genesis eval report part1.jsonl part2.jsonl",
    "bench gap": "genesis bench gap --plans 16 --cv 0,1.0 --executors 2",
    "bench load": "genesis bench load --executors 1,2 --in-flight 400,4000",
    "docs": "genesis docs asyncapi",
    "plan show": "genesis plan show plan.txt --mermaid",
    "runs list": "genesis runs list --limit 5 --json",
    "runs show": "genesis runs show 0192f3a47b8c --gantt run.png",
    "warehouse sql": 'genesis warehouse sql "SELECT * FROM tool_latency" --json',
    "trainer run": "genesis trainer run --algorithm apo --rounds 1 --local --json",
    "trainer backfill": "genesis trainer backfill --out rollouts.jsonl",
    "data scrub": "genesis data scrub data/ clean/",
    "data generate": "genesis data generate data/ --count 1000 --seed 1",
    "data audit": "genesis data audit clean/ --json",
    "data rebalance": "genesis data rebalance clean/qa_agent_examples.jsonl out.jsonl --seed 1",
    "data evaluate": "genesis data evaluate --count 2000 --json",
    "dlq list": "genesis dlq list --json",
    "dlq show": "genesis dlq show 0",
    "dlq replay": "genesis dlq replay 0 3 --yes",
    "docs asyncapi": "genesis docs asyncapi docs/asyncapi.yaml",
    "docs k8s-topics": "genesis docs k8s-topics deploy/k8s/topics.yaml",
    "docs config": "genesis docs config",
}


def walk(command: click.Command, path: str = "") -> list[tuple[str, click.Command]]:
    """Every command under ``command`` with its path (``"runs list"``), the command itself first as ``""``."""
    found = [(path, command)]
    if commands := getattr(command, "commands", None):  # a group (typer brings its own copy of click's classes)
        for name, sub in sorted(commands.items()):
            if not sub.hidden:
                found += walk(sub, f"{path} {name}".strip())
    return found


def finish_help(root: click.Command) -> None:
    """Each command's example as its help's last line; docstring paragraphs re-flowed to the terminal's width
    (rich keeps a docstring's own line breaks, which look like cut text on any other width)."""
    for path, command in walk(root):
        if path in EXAMPLES:
            command.epilog = f"Example: {EXAMPLES[path]}"
        if command.help:
            paragraphs = inspect.cleandoc(command.help).split("\n\n")
            command.help = "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)
