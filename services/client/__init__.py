"""The producer/consumer API: submit a plan or a query, await its result, or stream every result."""

from services.client.api import GenesisClient, KafkaUnreachable, RunOutcome, outcome_as_dict

__all__ = ["GenesisClient", "KafkaUnreachable", "RunOutcome", "outcome_as_dict"]
