"""Contract fuzzing from the contract: Schemathesis drives the bundled server from
``contract/openapi.json`` [E-1, E-2, E-3].

Every operation of the document gets schema-valid and schema-invalid requests (bodies and the
``since`` query), and every answer goes through Schemathesis's built-in checks: among them a
documented status, ``application/json``, a body valid against the operation's response schema
(the envelope with the method's data, or a refusal code the status is paired with), never a 5xx,
a schema-invalid request refused, a call without its credential refused. Whenever the answer is a
refusal, the server's state must be exactly as before.

A schema-valid body names users, groups and messages at random, and the protocol refuses unknown
ones (6017, 10004, 10010): so about half of the schema-valid bodies get the populated server's
real IDs (``with_known_ids``), and their success answers are checked against the data schemas
too; and Schemathesis's ``positive_data_acceptance`` check is left out, since a refusal of
valid-looking data is often the contract, not a fault.

CI runs a derandomized, bounded profile (``CONTRACT_FUZZ_EXAMPLES`` per operation and mode);
``SEENBY_FULL=1`` runs the larger one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import BaseSchema, Case, GenerationMode, HookContext

from seenby.contract import OPENAPI_PATH

from .fuzz_world import FuzzWorld, fingerprint, populated_server
from .sizes import CONTRACT_FUZZ_EXAMPLES
from .wire import Wire

KNOWN: list[FuzzWorld] = []
"""The populated world of this module's server, once ``contract_world`` has started it."""


@pytest.fixture(scope="module")
def contract_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzWorld]:
    with populated_server(tmp_path_factory.mktemp("contract-fuzz")) as world:
        KNOWN.append(world)
        try:
            yield world
        finally:
            KNOWN.remove(world)


@pytest.fixture(scope="module")
def admin(contract_world: FuzzWorld) -> Iterator[Wire]:
    with closing(Wire(contract_world.url)) as wire:
        yield wire


@pytest.fixture(scope="module")
def initial_settings(contract_world: FuzzWorld, admin: Wire) -> dict[str, Any]:
    settings: dict[str, Any] = admin.must("admin/getSettings", {}, contract_world.admin_key)
    return settings


def load_contract(mode: GenerationMode) -> BaseSchema:
    """The OpenAPI document generating ``mode`` cases, with the bounded settings. (Loaded at
    import and aimed at the server per call: ``schemathesis.pytest.from_fixture`` reads a pytest
    attribute pytest 9.2 no longer has.)"""
    loaded = schemathesis.openapi.from_path(OPENAPI_PATH)
    loaded.config.checks.update(excluded_check_names=["positive_data_acceptance"])
    loaded.config.generation.update(
        modes=[mode], max_examples=CONTRACT_FUZZ_EXAMPLES, deterministic=True
    )
    return loaded


valid = load_contract(GenerationMode.POSITIVE)
invalid = load_contract(GenerationMode.NEGATIVE)


def named(body: dict[str, Any], world: FuzzWorld) -> dict[str, Any]:
    """``body`` with each ID field naming what exists: bob as peer, the group, alice's own
    messages (bob's group message for ``lastMsgID`` in the group), carol as the member moved."""
    ids: dict[str, Any] = {
        "receiver": world.bob,
        "userID": world.bob,
        "ownerID": world.alice,
        "groupID": world.group_id,
        "msgID": world.own_group_msg_id,
        "lastMsgID": world.group_msg_id if "groupID" in body else world.c2c_msg_id,
        "msgIDs": [world.c2c_msg_id],
        "memberIDs": [world.bob],
        "userIDs": [world.carol],
    }
    return {key: ids.get(key, value) for key, value in body.items()}


@valid.hook("flatmap_body")
def with_known_ids(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
    """Half of the schema-valid bodies as generated, half naming the server's real IDs."""
    if not isinstance(body, dict) or not KNOWN:
        return st.just(body)
    return st.sampled_from([body, named(body, KNOWN[0])])


def credential(case: Case, world: FuzzWorld) -> dict[str, str]:
    """The admin key for an admin method, alice's token for the rest."""
    secret = world.admin_key if case.operation.path.startswith("/v1/admin/") else world.alice_token
    return {"Authorization": f"Bearer {secret}"}


@schemathesis.pytest.parametrize(valid=valid, invalid=invalid)
@settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_answer_conforms_and_a_refusal_changes_nothing(
    case: Case, contract_world: FuzzWorld, admin: Wire, initial_settings: dict[str, Any]
) -> None:
    before = fingerprint(contract_world.db)
    response = case.call(
        base_url=contract_world.url, headers=credential(case, contract_world), timeout=10
    )
    case.validate_response(response, headers=credential(case, contract_world))
    if case.operation.path == "/v1/admin/setSettings" and response.status_code == 200:
        # A generated standard edition would refuse every later receipt call with 7013.
        admin.must("admin/setSettings", initial_settings, contract_world.admin_key)
    if 400 <= response.status_code < 500:
        assert fingerprint(contract_world.db) == before, (
            f"{case.method} {case.path} answered {response.status_code} but changed state: "
            f"{case.body!r}"
        )
