"""The request head reader: header fields as the protocol reads them, malformed heads refused."""

from __future__ import annotations

import io

import pytest

from seenby.reference_server.http_head import MAX_HEADERS, MAX_LINE, HeadError, read_headers


def _read(block: bytes) -> list[tuple[str, str]]:
    return read_headers(io.BytesIO(block)).items()


def test_fields_are_found_whatever_their_case_and_repeats_are_kept_in_order() -> None:
    headers = read_headers(
        io.BytesIO(b"Host: x\r\ncontent-length:  12 \r\nX-A: 1\r\nx-a: 2\r\n\r\n{ignored body}")
    )
    assert headers.get("Content-Length") == "12"
    assert headers.get_all("X-a") == ["1", "2"]
    assert headers.get_all("Authorization") is None
    assert headers.get("Expect", "") == ""
    assert headers.items() == [("Host", "x"), ("content-length", "12"), ("X-A", "1"), ("x-a", "2")]


def test_the_block_ends_at_the_empty_line_and_leaves_the_body_unread() -> None:
    stream = io.BytesIO(b"A: 1\n\nbody")
    assert read_headers(stream).items() == [("A", "1")]
    assert stream.read() == b"body"


def test_a_folded_line_continues_the_previous_value() -> None:
    # RFC 9112 §5.2: a recipient may replace the fold with a space.
    assert _read(b"X-Long: one\r\n  two\r\n\tthree\r\nB: 2\r\n\r\n") == [
        ("X-Long", "one two three"),
        ("B", "2"),
    ]


@pytest.mark.parametrize(
    "block",
    [
        b"no colon\r\n\r\n",
        b"Name : value\r\n\r\n",
        b": no name\r\n\r\n",
        b"Bad\x01Name: v\r\n\r\n",
        b" starts folded\r\n\r\n",
        b"X: " + b"a" * MAX_LINE + b"\r\n\r\n",
        b"X: 1\r\n" * (MAX_HEADERS + 1) + b"\r\n",
    ],
    ids=["no colon", "space before colon", "empty name", "control byte", "leading fold",
         "line too long", "too many fields"],
)  # fmt: skip
def test_a_malformed_head_is_refused(block: bytes) -> None:
    with pytest.raises(HeadError):
        read_headers(io.BytesIO(block))


def test_exactly_the_limits_are_accepted() -> None:
    assert len(_read(b"X: 1\r\n" * MAX_HEADERS + b"\r\n")) == MAX_HEADERS
    line = b"X: " + b"a" * (MAX_LINE - 5) + b"\r\n"
    assert len(line) == MAX_LINE
    assert _read(line + b"\r\n")[0][1] == "a" * (MAX_LINE - 5)
