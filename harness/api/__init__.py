"""The user-facing API: targets (bundled, remote, the nodes of a cluster), user and admin clients,
their results, and helpers for concurrent calls."""
