"""seenby's benchmarks of the reference server: `python -m bench` (see docs/performance.md)."""
