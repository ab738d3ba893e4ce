"""JSON Schemas (Draft 2020-12) of every payload and event: the data types of the contract.

The ``*.json`` files next to this module are the single source of truth for field types;
``docs/protocol.md`` names them, the reference server's tests and the harness validate against
them. This module only says where they are; validation lives in ``seenby.harness.wire.validation``.
"""

from pathlib import Path

SCHEMA_DIR: Path = Path(__file__).resolve().parent
"""The folder holding the schema files (``envelope.json``, ``message.json``, ...)."""

SCHEMA_BASE_URI = "https://seenby.dev/schemas/v1/"
"""The prefix of every schema's ``$id``; ``SCHEMA_BASE_URI + "message.json"`` names one."""
