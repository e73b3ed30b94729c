# Developer recipes. The README's two commands need nothing but Python, Java and Maven; these are shortcuts.

# Run the main job: plans as parallel DAGs over Kafka, end to end.
demo:
    uv run genesis demo

# The whole test suite (starts a real Kafka broker when none is configured).
test:
    uv run pytest

# Fast tests only: pure cores and FastStream wiring, no broker.
test-unit:
    uv run pytest tests/unit tests/wiring

# Tests that need a real broker.
test-kafka:
    uv run pytest tests/integration tests/e2e

# What CI runs on a clean clone.
ci:
    bash .ci/run

kafka-up:
    uv run genesis kafka up

kafka-down:
    uv run genesis kafka down

# Benchmarks: they print figures (not timed tests). See docs/*.md for what each measures.
bench-gap:
    uv run python -m tests.benchmarks.gap.bench_gap

bench-scrub:
    uv run python -m tests.benchmarks.curator.bench_scrub

bench-warehouse:
    uv run python -m tests.benchmarks.warehouse.bench_warehouse

bench-warehouse-service:
    uv run python -m tests.benchmarks.warehouse.bench_service
