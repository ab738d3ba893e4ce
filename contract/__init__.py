"""The seenby wire contract: its shared vocabulary and its machine-readable documents.

``vocabulary`` holds what both sides must agree on word for word (codes, statuses, event names,
limits), imported by the reference server and the harness; nothing else: behaviour lives in
``reference_server``, checking in ``harness``. ``openapi.json`` (every HTTP method) and
``asyncapi.json`` (the ``GET /v1/events`` push channel) describe the protocol for tools; both
reference the JSON Schemas of ``contract/schemas/`` instead of restating them.
"""

from pathlib import Path

CONTRACT_DIR: Path = Path(__file__).resolve().parent
"""The folder holding the contract documents."""

OPENAPI_PATH: Path = CONTRACT_DIR / "openapi.json"
"""The OpenAPI 3.1 document of every HTTP method."""

ASYNCAPI_PATH: Path = CONTRACT_DIR / "asyncapi.json"
"""The AsyncAPI 3.0 document of the push channel ``GET /v1/events``."""
