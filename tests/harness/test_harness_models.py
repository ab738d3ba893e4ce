"""seenby.harness.api.models: results built from wire dicts print, tabulate and render in
notebooks."""

from __future__ import annotations

from seenby.harness.api.models import (
    Capabilities,
    Event,
    Message,
    ReadMemberPage,
    Receipt,
    ResultList,
)

C2C_MESSAGE = {
    "msgID": "m-1",
    "sender": "alice-1",
    "receiver": "bob-1",
    "timestamp": 5,
    "elem": {"elemType": "text", "text": "<b>lunch?</b>"},
    "needReadReceipt": True,
    "onlineUserOnly": False,
    "isSelf": True,
    "isPeerRead": False,
}


def test_message_fields_are_snake_case_and_raw_is_kept_but_not_printed() -> None:
    message = Message.from_wire(C2C_MESSAGE)
    assert (message.msg_id, message.receiver, message.group_id) == ("m-1", "bob-1", None)
    assert message.need_read_receipt and message.is_self and not message.is_peer_read
    assert message.raw == C2C_MESSAGE
    assert "raw" not in repr(message) and "msg_id='m-1'" in repr(message)


def test_receipt_shapes_fill_their_own_fields() -> None:
    group = Receipt.from_wire({"msgID": "m", "groupID": "g", "readCount": 1, "unreadCount": 2})
    mark = Receipt.from_wire({"msgID": "", "userID": "bob", "isPeerRead": True, "timestamp": 9})
    assert (group.read_count, group.unread_count, group.user_id) == (1, 2, None)
    assert mark.is_conversation_mark and not group.is_conversation_mark
    assert (mark.user_id, mark.is_peer_read, mark.timestamp, mark.read_count) == (
        "bob",
        True,
        9,
        None,
    )


def test_result_list_gives_records_for_a_dataframe_and_an_escaped_html_table() -> None:
    rows = ResultList([Message.from_wire(C2C_MESSAGE), Message.from_wire(C2C_MESSAGE)])
    records = rows.to_records()
    assert len(records) == 2 and "raw" not in records[0]
    assert records[0]["msg_id"] == "m-1" and records[0]["elem"] == C2C_MESSAGE["elem"]
    table = rows._repr_html_()
    assert table.count("<tr>") == 3  # header + one row per message
    assert "<th>msg_id</th>" in table and "&lt;b&gt;lunch?" in table and "<b>lunch" not in table


def test_single_result_renders_as_a_one_row_table() -> None:
    assert Message.from_wire(C2C_MESSAGE)._repr_html_().count("<tr>") == 2


def test_member_page_keeps_its_cursor_and_tabulates_members() -> None:
    page = ReadMemberPage.from_wire(
        {
            "memberInfoList": [{"userID": "bob", "nickName": "Bob"}, {"userID": "carol"}],
            "nextSeq": 2,
            "isFinished": False,
        }
    )
    assert [member.user_id for member in page.members] == ["bob", "carol"]
    assert page.members[1].nick_name is None
    assert (page.next_seq, page.is_finished) == (2, False)
    assert "nextSeq 2" in page._repr_html_()
    assert page.to_record()["members"][0] == {
        "user_id": "bob",
        "nick_name": "Bob",
        "face_url": None,
    }


def test_capabilities_answer_feature_questions() -> None:
    capabilities = Capabilities.from_wire(
        {
            "protocol": "seenby/1",
            "implementation": {"name": "x", "version": "1"},
            "features": ["eventReplay"],
            "limits": {"receiptBatchMax": 30},
        }
    )
    assert capabilities.has("eventReplay") and not capabilities.has("adminSettings")
    assert capabilities.to_record()["features"] == ["eventReplay"]


def test_events_expose_their_message_or_receipts() -> None:
    new = Event.from_wire({"event": "onRecvNewMessage", "seq": 1, "data": C2C_MESSAGE})
    assert new.message == Message.from_wire(C2C_MESSAGE) and new.receipts == []
    assert new.summary() == "#1 onRecvNewMessage [m-1 from alice-1 (c2c)]"
    gap = Event.from_wire(
        {"event": "onReplayGap", "seq": 9, "data": {"since": 0, "firstAvailableSeq": 10}}
    )
    assert gap.message is None
    assert gap.summary() == "#9 onReplayGap [since=0, firstAvailableSeq=10]"
