"""The live web console: runs as DAGs while they unfold, their timelines, the warehouse (docs/CONSOLE.md)."""
