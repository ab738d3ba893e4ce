"""Contract fuzzing from the contract: Schemathesis drives the bundled server from
``contract/openapi.json`` [E-1, E-2, E-3].

Every operation of the document gets schema-valid and schema-invalid requests (bodies and the
``since`` query), and every answer goes through Schemathesis's built-in checks: among them a
documented status, ``application/json``, a body valid against the operation's response schema
(the envelope with the method's data, or a refusal code the status is paired with), never a 5xx,
a schema-invalid request refused, a call without its credential refused. Whenever the answer is a
refusal, the server's state must be exactly as before.

Schemathesis's ``positive_data_acceptance`` check is left out: a schema-valid body names users,
groups and messages at random, and the protocol refuses unknown ones (6017, 10004, 10010), so a
refusal of valid-looking data is the contract, not a fault.

CI runs a derandomized, bounded profile (``CONTRACT_FUZZ_EXAMPLES`` per operation);
``SEENBY_FULL=1`` runs the larger one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, GenerationMode
from schemathesis.specs.openapi.schemas import OpenApiSchema

from contract import OPENAPI_PATH

from .fuzz_world import FuzzWorld, fingerprint, populated_server
from .sizes import CONTRACT_FUZZ_EXAMPLES


@pytest.fixture(scope="module")
def contract_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzWorld]:
    with populated_server(tmp_path_factory.mktemp("contract-fuzz")) as world:
        yield world


def load_contract() -> OpenApiSchema:
    """The OpenAPI document with the bounded generation settings. (Loaded at import and aimed at
    the server per call: ``schemathesis.pytest.from_fixture`` reads a pytest attribute pytest 9.2
    no longer has.)"""
    loaded = schemathesis.openapi.from_path(OPENAPI_PATH)
    loaded.config.checks.update(excluded_check_names=["positive_data_acceptance"])
    loaded.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=CONTRACT_FUZZ_EXAMPLES,
        deterministic=True,
    )
    return loaded


schema = load_contract()


def credential(case: Case, world: FuzzWorld) -> dict[str, str]:
    """The admin key for an admin method, alice's token for the rest."""
    secret = world.admin_key if case.operation.path.startswith("/v1/admin/") else world.alice_token
    return {"Authorization": f"Bearer {secret}"}


@schema.parametrize()
@settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_answer_conforms_and_a_refusal_changes_nothing(
    case: Case, contract_world: FuzzWorld
) -> None:
    before = fingerprint(contract_world.db)
    response = case.call(
        base_url=contract_world.url, headers=credential(case, contract_world), timeout=10
    )
    case.validate_response(response, headers=credential(case, contract_world))
    if 400 <= response.status_code < 500:
        assert fingerprint(contract_world.db) == before, (
            f"{case.method} {case.path} answered {response.status_code} but changed state: "
            f"{case.body!r}"
        )
