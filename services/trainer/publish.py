"""Sending a learned policy to the planners: PolicyUpdated on the compacted policy topic, one version above the
newest policy already there (planners ignore anything not newer than what they run)."""

from __future__ import annotations

import msgspec

from schemas.codec import decode_event
from schemas.events import PolicyUpdated, new_event_id
from schemas.policy import Policy
from streams.broker import make_broker
from streams.catalogue import POLICY, Catalogue
from streams.outbox import EventPublisher
from streams.reading import read_latest_values, topic_partitions
from streams.settings import KafkaSettings


async def latest_policy(bootstrap: str, catalogue: Catalogue) -> Policy | None:
    partitions = await topic_partitions(bootstrap, catalogue.name(POLICY))
    values = await read_latest_values(bootstrap, partitions)
    updates = [decode_event(value) for latest in values.values() for value in latest.values()]
    policies = [update.policy for update in updates if isinstance(update, PolicyUpdated)]
    return max(policies, key=lambda policy: policy.version, default=None)


async def publish_policy(
    bootstrap: str,
    catalogue: Catalogue,
    kafka: KafkaSettings,
    policy: Policy,
    *,
    reason: str,
    mean_reward: float | None,
    source: str = "trainer",
) -> PolicyUpdated:
    current = await latest_policy(bootstrap, catalogue)
    version = max(policy.version, (current.version + 1) if current is not None else 1)
    update = PolicyUpdated(
        # The training run that learned the policy stands in for the run id every event carries.
        run_id=f"training-{new_event_id()[-12:]}",  # the random end of the id: its start is a timestamp
        policy=msgspec.structs.replace(policy, version=version),
        reason=reason,
        mean_reward=mean_reward,
        source=source,
    )
    broker = make_broker(kafka, bootstrap, client_id=source)
    async with broker:
        await EventPublisher(broker, catalogue, source=source).publish(update)
    return update


async def publish_prompt(
    bootstrap: str,
    catalogue: Catalogue,
    kafka: KafkaSettings,
    prompt_template: str | None,
    *,
    starting: Policy,
    reason: str,
    mean_reward: float | None,
) -> PolicyUpdated:
    """A learned planning prompt (None: the planners' configured one) with the knobs the planners run now: those of
    the newest policy on the topic, else ``starting``; a prompt search must not undo what a knob search learned."""
    current = await latest_policy(bootstrap, catalogue) or starting
    policy = msgspec.structs.replace(current, prompt_template=prompt_template)
    return await publish_policy(bootstrap, catalogue, kafka, policy, reason=reason, mean_reward=mean_reward)
