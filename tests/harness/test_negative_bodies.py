"""seenby.harness.wire.negative: broken bodies generated from the request schemas are each one
change away from a valid body, each rejected by the contract, and levelled as the contract says."""

from __future__ import annotations

from typing import Any

import pytest

from seenby.contract.vocabulary import SAFE_INTEGER_MAX, Level
from seenby.harness.wire.negative import BODY, BrokenRequest, broken_requests
from seenby.harness.wire.validation import validator

VALID: dict[str, dict[str, Any]] = {
    "sendMessage": {
        "groupID": "g-1",
        "elem": {"elemType": "custom", "data": "{}", "desc": "d"},
        "needReadReceipt": True,
    },
    "getHistoryMessageList": {"userID": "bob", "count": 1, "lastMsgID": "m-1"},
    "getConversationList": {},
    "sendMessageReadReceipts": {"msgIDs": ["m-1"]},
    "getMessageReadReceipts": {"msgIDs": ["m-1"]},
    "getGroupMessageReadMemberList": {"msgID": "m-1", "filter": 0, "nextSeq": 0, "count": 1},
    "markC2CMessageAsRead": {"userID": "bob"},
}


def _by_fault(method: str) -> dict[tuple[str, str], BrokenRequest]:
    return {(each.field, each.fault): each for each in broken_requests(method, VALID[method])}


@pytest.mark.parametrize("method", sorted(VALID))
def test_every_broken_body_is_rejected_by_the_schema_and_differs_once(method: str) -> None:
    judge = validator(f"requests/{method}.json")
    broken = broken_requests(method, VALID[method])
    assert broken, method
    assert all(not judge.is_valid(each.body) for each in broken)
    bodies = [repr(each.body) for each in broken]
    assert len(set(bodies)) == len(bodies), "a body is generated twice"
    assert {each.field for each in broken} >= {BODY} | set(VALID[method])


def test_the_branch_a_value_takes_is_followed_into_its_fields() -> None:
    faults = set(_by_fault("sendMessage"))
    assert {("elem.data", "missing"), ("elem.data", "null"), ("elem.desc", "a number")} <= faults
    assert ("needReadReceipt", "a string") in faults


def test_array_items_and_ranges_are_broken_too() -> None:
    faults = _by_fault("sendMessageReadReceipts")
    assert faults[("msgIDs", "with fewer items than its minimum")].body == {"msgIDs": []}
    assert faults[("msgIDs[0]", "a number")].body == {"msgIDs": [12345]}


def test_limits_only_the_protocol_sets_are_strict_and_huge_integers_malformed() -> None:
    history = _by_fault("getHistoryMessageList")
    assert history[("count", "above its maximum")].level is Level.STRICT
    assert history[("count", "a boolean")].level is Level.CORE
    pages = _by_fault("getGroupMessageReadMemberList")
    assert pages[("count", "above its maximum")].level is Level.CORE
    beyond = pages[("nextSeq", "above its maximum")]
    assert beyond.malformed and beyond.body["nextSeq"] == SAFE_INTEGER_MAX.value + 1
    assert not pages[("count", "null")].malformed


def test_a_valid_body_that_is_not_valid_is_refused_at_once() -> None:
    with pytest.raises(AssertionError, match="not valid"):
        broken_requests("getConversationList", {"x": 1})
