"""The LightningStore the trainer writes to, and finished runs written into it as finished rollouts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import agentlightning as agl

from services.trainer.core.traces import RunTrace, TraceSpan
from services.trainer.lightning.spans import core_span, span_fields
from services.trainer.settings import StoreConfig


def make_store(config: StoreConfig) -> agl.LightningStore:
    match config.backend:
        case "memory":
            return agl.InMemoryLightningStore()


class RolloutLog:
    """Each finished run becomes one rollout with one attempt: its spans, its reward, then status succeeded
    (the rollout ran to the end; whether the run went well is what the reward says)."""

    def __init__(self, store: agl.LightningStore) -> None:
        self.store = store

    async def record(self, trace: RunTrace) -> tuple[str, str]:
        """The rollout and attempt ids the run was recorded under."""
        attempted = await self.store.start_rollout(
            input=trace.task, mode="train", metadata={"run_id": trace.run_id, **trace.metadata}
        )
        rollout_id, attempt_id = attempted.rollout_id, attempted.attempt.attempt_id
        await self._add(rollout_id, attempt_id, span_fields(trace))
        await self.store.update_attempt(rollout_id, attempt_id, status="succeeded")
        return rollout_id, attempt_id

    async def add_turn(self, rollout_id: str, attempt_id: str, span: TraceSpan) -> None:
        """A turn that arrived after its run was recorded."""
        await self._add(rollout_id, attempt_id, [core_span(span)])

    async def _add(self, rollout_id: str, attempt_id: str, fields: Sequence[agl.SpanCoreFields]) -> None:
        sequence_ids = await self.store.get_many_span_sequence_ids([(rollout_id, attempt_id)] * len(fields))
        await self.store.add_many_spans(
            [
                agl.Span.from_core_fields(core, rollout_id=rollout_id, attempt_id=attempt_id, sequence_id=sequence_id)
                for core, sequence_id in zip(fields, sequence_ids, strict=True)
            ]
        )


async def final_reward(store: agl.LightningStore, rollout_id: str) -> float | None:
    return agl.find_final_reward(await store.query_spans(rollout_id, "latest"))


async def export_jsonl(store: agl.LightningStore, path: Path) -> int:
    """Every rollout with its spans, one JSON object per line (for offline training elsewhere); returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rollouts = await store.query_rollouts()
    with path.open("w") as out:
        for rollout in rollouts:
            spans = await store.query_spans(rollout.rollout_id)
            line = {
                "rollout": rollout.model_dump(mode="json"),
                "spans": [span.model_dump(mode="json") for span in spans],
            }
            out.write(json.dumps(line) + "\n")
    return len(rollouts)
