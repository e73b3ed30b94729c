"""The trace warehouse: every event in DuckDB exactly once, with Parquet snapshots for analysts (docs/WAREHOUSE.md)."""
