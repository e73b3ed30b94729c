"""Training-data hygiene: PII scrubbing, synthetic labelled data, audit and difficulty rebalancing."""
