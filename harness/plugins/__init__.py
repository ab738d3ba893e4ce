"""The pytest plugins ``seenby run`` loads: per-scenario results and known-deviation files."""
