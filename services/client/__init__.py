"""The producer/consumer API: submit a plan or a query, await its result, or stream every result."""

from services.client.api import GenesisClient, RunOutcome, outcome_as_dict

__all__ = ["GenesisClient", "RunOutcome", "outcome_as_dict"]
