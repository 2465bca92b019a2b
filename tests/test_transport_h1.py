"""The built-in connections' HTTP/1.1 response parser: framing, reuse, and what it refuses.

Well-formed responses are read exactly as h11 (the parser under httpx) reads them, whatever
the bytes' split into reads; anything else is a `RemoteProtocolError`, never another error.
"""

from __future__ import annotations

import h11
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpjs_async._h1 import MAX_HEAD, Response, ResponseParser

EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse(*reads: bytes, eof: bool = False) -> Response | None:
    """The response read from `reads` (then the end of the stream, with `eof`)."""
    parser = ResponseParser()
    response = None
    for data in reads:
        parser.feed(data)
        response = parser.next_response()
        if response is not None:
            return response
    if eof:
        parser.feed_eof()
        response = parser.next_response()
    return response


def refused(*reads: bytes, eof: bool = False) -> str:
    """The message of the `RemoteProtocolError` the reads end in."""
    with pytest.raises(httpx.RemoteProtocolError) as caught:
        parse(*reads, eof=eof)
    return str(caught.value)


OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def test_a_response_with_a_length() -> None:
    response = parse(OK)
    assert response == Response(
        200, (("content-type", "application/json"), ("content-length", "2")), b"{}", True
    )
    assert response.headers.get("Content-Type") == "application/json"
    assert response.headers.get("retry-after") is None


def test_byte_by_byte_reads_give_the_same_response() -> None:
    assert parse(*(OK[i : i + 1] for i in range(len(OK)))) == parse(OK)


def test_repeated_headers_are_joined() -> None:
    response = parse(b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n")
    assert response is not None
    assert response.headers.get("X-A") == "1, 2"


def test_a_chunked_response_with_extensions_and_trailers() -> None:
    response = parse(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'3;name=value\r\n{"a\r\n4\r\n": 1\r\nA\r\n, "b": 22}\r\n0\r\nX-Trailer: t\r\n\r\n'
    )
    assert response is not None
    assert response.body == b'{"a": 1, "b": 22}'
    assert response.reusable


def test_interim_responses_are_skipped() -> None:
    response = parse(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n" + OK
    )
    assert response is not None
    assert (response.status, response.body) == (200, b"{}")


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_whatever_the_length_says(status: int) -> None:
    response = parse(f"HTTP/1.1 {status} X\r\nContent-Length: 5\r\n\r\n".encode())
    assert response is not None
    assert (response.body, response.reusable) == (b"", True)


def test_a_body_without_length_runs_to_the_end_of_the_connection() -> None:
    assert parse(b"HTTP/1.1 200 OK\r\n\r\n{", b"}") is None
    response = parse(b"HTTP/1.1 200 OK\r\n\r\n{", b"}", eof=True)
    assert response is not None
    assert (response.body, response.reusable) == (b"{}", False)


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 2\r\n\r\n",
    ],
)
def test_connections_that_end_with_the_response(head: bytes) -> None:
    response = parse(head + b"{}")
    assert response is not None
    assert (response.body, response.reusable) == (b"{}", False)


def test_bytes_after_the_response_make_the_connection_unusable() -> None:
    response = parse(OK + b"HTTP/1.1 200 OK\r\n")
    assert response is not None
    assert (response.body, response.reusable) == (b"{}", False)


def test_the_parser_reads_the_next_response_after_a_reset() -> None:
    parser = ResponseParser()
    for _ in range(3):
        assert parser.idle_clean
        parser.feed(OK)
        assert parser.next_response() == parse(OK)
        parser.reset()


def test_obsolete_line_folding_is_unfolded() -> None:
    response = parse(
        b"HTTP/1.1 200 OK\r\nX-Long: one\r\n two\r\n\tthree\r\nContent-Length: 0\r\n\r\n"
    )
    assert response is not None
    assert response.headers.get("x-long") == "one two three"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\nProtocol mismatch.\r\n\r\n", "not an HTTP/1.1 status line"),
        (b"HTTP/2 200\r\n\r\n", "not an HTTP/1.1 status line"),
        (b"HTTP/1.1 20 OK\r\n\r\n", "not an HTTP/1.1 status line"),
        (b"HTTP/1.1 099 Odd\r\n\r\n", "not an HTTP/1.1 status line"),
        (b"HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n", "invalid header line"),
        (b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n", "invalid header line"),
        (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "invalid header line"),
        (b"HTTP/1.1 200 OK\r\n folded first\r\n\r\n", "starts with a continuation line"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
            "both Transfer-Encoding and Content-Length",
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported Transfer-Encoding"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "unsupported Transfer-Encoding",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\n", "invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", "invalid"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n", "invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0x2\r\n\r\n", "invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n", "invalid Content-Length"),
        (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "no upgrade was asked for"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "invalid chunk size line",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}}\r\n",
            "a chunk is longer than its size says",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 2000,
            "a chunk line is too long",
        ),
    ],
)
def test_what_could_be_read_two_ways_is_refused(data: bytes, message: str) -> None:
    assert message in refused(data)


def test_an_endless_head_is_refused() -> None:
    lines = b"X-Padding: " + b"a" * 51 + b"\r\n"
    message = refused(b"HTTP/1.1 200 OK\r\n", *([lines] * (MAX_HEAD // len(lines) + 1)))
    assert "longer than" in message


def test_an_endless_trailer_section_is_refused() -> None:
    start = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
    lines = b"X-Padding: " + b"a" * 51 + b"\r\n"
    assert "longer than" in refused(start, *([lines] * (MAX_HEAD // len(lines) + 1)))


@pytest.mark.parametrize(
    ("reads", "message"),
    [
        ((), "Server disconnected without sending a response."),
        ((b"HTTP/1.1 200 OK\r\n",), "without sending a complete response"),
        ((OK[:-1],), "received 1 bytes, expected 2"),
        (
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",),
            "incomplete chunked read",
        ),
    ],
)
def test_a_connection_that_ends_too_soon(reads: tuple[bytes, ...], message: str) -> None:
    assert message in refused(*reads, eof=True)


def test_long_lines_are_not_quoted() -> None:
    # A server echoing the request would have the key in it: an error quoting a cut part of
    # a line could leave a part of the key out of reach of redaction.
    long_line = b"GET /visitors/v?token=" + b"k" * 300 + b" HTTP/1.1"
    message = refused(long_line + b"\r\n\r\n")
    assert "k" * 20 not in message
    assert f"({len(long_line)} bytes)" in message
    short_line = b"GET /visitors/v?token=secret HTTP/1.1"
    assert repr(short_line) in refused(short_line + b"\r\n\r\n")


# --- against h11 -------------------------------------------------------------------------

TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=12)
#: Header values, spaces and tabs inside them included (not around: those are not the value).
VALUE = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.just("\t"), max_size=20
).map(lambda value: value.strip(" \t"))
RESERVED = {"content-length", "transfer-encoding", "connection"}


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A well-formed response, and whether it is framed by the end of the connection."""
    version = draw(st.sampled_from(["1.1", "1.0"]))
    status = draw(st.sampled_from([200, 201, 203, 400, 403, 404, 429, 500, 503]))
    headers = draw(
        st.lists(st.tuples(TOKEN.filter(lambda name: name not in RESERVED), VALUE), max_size=5)
    )
    body = draw(st.binary(max_size=300))
    framing = draw(
        st.sampled_from(["length", "chunked", "eof"] if version == "1.1" else ["length", "eof"])
    )
    if draw(st.booleans()):
        headers.append(("Connection", "close"))
    head = f"HTTP/{version} {status} Whatever\r\n"
    if draw(st.booleans()):
        head = f"HTTP/1.1 100 Continue\r\n\r\n{head}"
    if framing == "length":
        headers.append(("Content-Length", str(len(body))))
    elif framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True) if b > a]
        body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    return head.encode("ascii") + body, framing == "eof"


def h11_reading(data: bytes, *, eof: bool) -> Response:
    """The response as h11 reads it, after a GET."""
    connection = h11.Connection(h11.CLIENT)
    connection.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    connection.send(h11.EndOfMessage())
    connection.receive_data(data)
    if eof:
        connection.receive_data(b"")
    status, headers, body = 0, (), b""
    while True:
        event = connection.next_event()
        if isinstance(event, h11.Response):
            status = event.status_code
            headers = tuple((k.decode(), v.decode()) for k, v in event.headers)
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            break
    # A response framed by the end of the connection leaves no connection to reuse.
    done = connection.our_state is h11.DONE and connection.their_state is h11.DONE
    reusable = done and not eof
    return Response(status, headers, body, reusable)  # type: ignore[arg-type]


@EXAMPLES
@given(response=responses(), splits=st.lists(st.integers(1, 40), max_size=30))
def test_well_formed_responses_are_read_as_h11_reads_them(
    response: tuple[bytes, bool], splits: list[int]
) -> None:
    data, until_eof = response
    reads, start = [], 0
    for size in splits:
        reads.append(data[start : start + size])
        start += size
    reads.append(data[start:])
    ours = parse(*reads, eof=until_eof)
    assert ours == h11_reading(data, eof=until_eof)


@EXAMPLES
@given(data=st.binary(max_size=400), eof=st.booleans())
def test_any_bytes_are_a_response_more_to_read_or_a_protocol_error(data: bytes, eof: bool) -> None:
    try:
        result = parse(b"HTTP/1.1 200 OK\r\n" + data, eof=eof)
    except httpx.RemoteProtocolError:
        return
    assert result is None or isinstance(result, Response)
