"""Training-data audit: PII left per type, difficulty mix, duplicates, and the markdown report.

The report follows the seed's `reports/training_quality_audit_v2.md`: the quality checks the seed's
week-3 task asks for (no PII, a balanced difficulty mix, no duplicates), each marked pass or fail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.curator.core.records import DIFFICULTIES, fingerprint
from services.curator.core.spans import CORE_TYPES, PiiType, Span

MISSING = "missing"
TARGET_MIX = {"easy": 0.30, "medium": 0.45, "hard": 0.25}
MIX_TOLERANCE = 0.05


@dataclass
class AuditResult:
    records: int = 0
    malformed: int = 0
    pii: Counter[PiiType] = field(default_factory=Counter)
    records_with_pii: int = 0
    difficulty: Counter[str] = field(default_factory=Counter)
    agents: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0  # records whose conversation already appeared earlier
    duplicate_groups: int = 0  # distinct conversations that appear more than once

    def share(self, difficulty: str) -> float:
        return self.difficulty[difficulty] / self.records if self.records else 0.0

    def checks(self) -> list[tuple[str, bool, str]]:
        """(check, passed, what was measured) for the report's verdict table."""
        pii_total = sum(self.pii.values())
        mix = ", ".join(f"{d} {self.share(d):.0%}" for d in DIFFICULTIES)
        balanced = all(abs(self.share(d) - share) <= MIX_TOLERANCE for d, share in TARGET_MIX.items())
        return [
            ("no PII left", pii_total == 0, f"{pii_total} values in {self.records_with_pii} records"),
            ("difficulty within 5 points of 30/45/25", balanced, mix),
            ("no duplicate conversations", self.duplicates == 0, f"{self.duplicates} duplicates"),
            ("every line is a record", self.malformed == 0, f"{self.malformed} malformed lines"),
        ]

    def to_builtins(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "malformed": self.malformed,
            "pii": {kind.value: self.pii[kind] for kind in CORE_TYPES},
            "records_with_pii": self.records_with_pii,
            "difficulty": {d: self.difficulty[d] for d in (*DIFFICULTIES, MISSING)},
            "agents": dict(sorted(self.agents.items())),
            "duplicates": self.duplicates,
            "duplicate_groups": self.duplicate_groups,
            "checks": [{"check": name, "passed": ok, "measured": measured} for name, ok, measured in self.checks()],
        }


class Auditor:
    """Accumulates an audit one record at a time, so inputs of any size stream through."""

    def __init__(self, detect: Callable[[str], list[Span]]) -> None:
        self._detect = detect
        self._seen: dict[bytes, int] = {}
        self.result = AuditResult()

    def add(self, record: dict[str, Any]) -> None:
        result = self.result
        result.records += 1
        found: Counter[PiiType] = Counter()
        for message in record.get("messages") or ():
            found.update(span.kind for span in self._detect(message["content"]))
        result.pii.update(found)
        result.records_with_pii += bool(found)
        difficulty = record.get("difficulty")
        result.difficulty[difficulty if difficulty in DIFFICULTIES else MISSING] += 1
        result.agents[str(record.get("agent", "unknown"))] += 1
        key = fingerprint(record)
        copies = self._seen.get(key, 0)
        result.duplicates += copies > 0
        result.duplicate_groups += copies == 1
        self._seen[key] = copies + 1

    def add_malformed(self) -> None:
        self.result.malformed += 1


def render_markdown(result: AuditResult, source: str, generated_at: str, malformed_lines: list[str]) -> str:
    lines = [
        "# Training quality audit v2",
        "",
        f"Source: `{source}` · generated {generated_at} · {result.records} records",
        "",
        "## Verdict",
        "",
        "| Check | Result | Measured |",
        "|---|---|---|",
        *(f"| {name} | {'✅ pass' if ok else '❌ fail'} | {measured} |" for name, ok, measured in result.checks()),
        "",
        "## PII found (values)",
        "",
        "| Type | Values |",
        "|---|---:|",
        *(f"| {kind.value} | {result.pii[kind]} |" for kind in CORE_TYPES),
        f"| records with any PII | {result.records_with_pii} |",
        "",
        "## Difficulty",
        "",
        "| Difficulty | Records | Share | Target |",
        "|---|---:|---:|---:|",
        *(f"| {d} | {result.difficulty[d]} | {result.share(d):.1%} | {TARGET_MIX[d]:.0%} |" for d in DIFFICULTIES),
        f"| {MISSING} | {result.difficulty[MISSING]} | {result.share(MISSING):.1%} | 0% |",
        "",
        "## Duplicates",
        "",
        f"{result.duplicates} records repeat an earlier conversation ({result.duplicate_groups} distinct "
        "conversations appear more than once); compared on roles and contents, ignoring case and whitespace.",
        "",
        "## Agents",
        "",
        "| Agent | Records |",
        "|---|---:|",
        *(f"| {agent} | {count} |" for agent, count in sorted(result.agents.items())),
    ]
    if malformed_lines:
        lines += ["", "## Malformed lines", "", *(f"- {line}" for line in malformed_lines)]
    return "\n".join(lines) + "\n"
