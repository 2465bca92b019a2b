"""HTTP/1.1 responses read from the bytes of a connection, without I/O (RFC 9112).

The session's built-in connections send one request at a time and read its response here.
A general-purpose parser (h11) costs about as much CPU time per request as the rest of a
small request together; this one reads only what a client of the API needs (the status,
the headers, the framed body) and refuses whatever could be read two ways, so that no
response is ever framed differently from how the server meant it:

- a head longer than `MAX_HEAD`, a malformed status line or header line, whitespace
  before a header's colon, a control character in a value;
- both `Transfer-Encoding` and `Content-Length`, a `Transfer-Encoding` other than
  `chunked`, `Content-Length`s that disagree or are not digits, a malformed chunk;
- a `101 Switching Protocols` (no upgrade is ever asked for).

Interim (1xx) responses are skipped, obsolete line folding is unfolded, a body without
length runs to the end of the connection. A connection may carry the next request only when
the response was HTTP/1.1, complete, not `Connection: close`, and nothing followed it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import httpx

__all__ = ["MAX_HEAD", "Headers", "Response", "ResponseParser"]

#: The longest response head (or chunk trailer) accepted, as httpcore accepts.
MAX_HEAD = 100 * 1024
#: The longest chunk-size line accepted.
_MAX_CHUNK_LINE = 1024

_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9]{2})(?: [^\x00-\x08\x0a-\x1f\x7f]*)?")
_FIELD = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?")

#: The longest line of a response quoted whole in an error (a longer one is not quoted, as a
#: cut could leave a part of a secret the server echoed behind, out of reach of redaction).
_QUOTED_LINE = 200

# The parser's states.
_HEAD, _LENGTH, _CHUNK_SIZE_LINE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_EOF, _DONE = range(8)


class Headers(tuple[tuple[str, str], ...]):
    """The headers of a response, names lowercased, in the order received."""

    __slots__ = ()

    def get(self, name: str, /) -> str | None:
        """The value of `name` (any case); repeated headers joined by `, `, as httpx does."""
        name = name.lower()
        values = [value for key, value in self if key == name]
        return ", ".join(values) if values else None


class Response(NamedTuple):
    """A response read in full.

    Attributes:
        status: The status code.
        headers: The headers.
        body: The body as framed on the wire (any `Content-Encoding` still applied).
        reusable: Whether the connection may carry another request.
    """

    status: int
    headers: Headers
    body: bytes
    reusable: bool


def _protocol_error(message: str) -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError(message)


def _quoted(line: bytes) -> str:
    return repr(line) if len(line) <= _QUOTED_LINE else f"({len(line)} bytes)"


class ResponseParser:
    """Reads the response to each request sent on one connection.

    Feed it what the connection receives (`feed`, `feed_eof`) and ask for the response
    (`next_response`) until there is one; `reset()` before the next request.
    """

    __slots__ = (
        "_body",
        "_eof",
        "_framing_length",
        "_headers",
        "_keep_alive",
        "_pos",
        "_remaining",
        "_scan",
        "_state",
        "_status",
        "_trailer_start",
        "buffer",
    )

    def __init__(self) -> None:
        #: What was received and not yet read.
        self.buffer = bytearray()
        self._eof = False
        self.reset()

    def reset(self) -> None:
        """Get ready for the response to the next request."""
        self._state = _HEAD
        self._pos = 0  # where the unread part of `buffer` starts
        self._scan = 0  # where to look for the end of the head next
        self._status = 0
        self._headers = Headers()
        self._keep_alive = False
        self._body: list[bytes] = []
        self._remaining = 0
        self._framing_length = 0
        self._trailer_start = 0

    @property
    def idle_clean(self) -> bool:
        """Whether nothing arrived since the last response: no byte, no end of stream."""
        return not self.buffer and not self._eof

    def feed(self, data: bytes) -> None:
        """Add bytes received from the server."""
        self.buffer += data

    def feed_eof(self) -> None:
        """Note that the server closed its side of the connection."""
        self._eof = True

    def next_response(self) -> Response | None:
        """The response once it is complete; `None` while more bytes are needed.

        Raises:
            httpx.RemoteProtocolError: The bytes are not a response this parser reads, or
                the connection ended before the response did.
        """
        while True:
            state = self._state
            if state == _HEAD:
                progressed = self._read_head()
            elif state == _LENGTH:
                if self._read_length():
                    return self._finish()
                progressed = False
            elif state == _CHUNK_SIZE_LINE:
                progressed = self._read_chunk_size()
            elif state == _CHUNK_DATA:
                progressed = self._read_chunk_data()
            elif state == _CHUNK_END:
                progressed = self._read_chunk_end()
            elif state == _TRAILERS:
                progressed = self._read_trailer()
            elif state == _UNTIL_EOF:
                self._take(len(self.buffer) - self._pos)
                return self._finish() if self._eof else None
            else:  # _DONE
                return self._finish()
            if not progressed:
                self._raise_if_ended()
                return None

    # --- the head --------------------------------------------------------------------------

    def _read_head(self) -> bool:
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n", self._scan)
        if end < 0:
            if len(buffer) - self._pos > MAX_HEAD:
                raise _protocol_error(f"the response head is longer than {MAX_HEAD} bytes")
            self._scan = max(self._pos, len(buffer) - 3)
            return False
        if end - self._pos > MAX_HEAD:
            raise _protocol_error(f"the response head is longer than {MAX_HEAD} bytes")
        status_line, *lines = bytes(buffer[self._pos : end]).split(b"\r\n")
        self._pos = self._scan = end + 4
        match = _STATUS_LINE.fullmatch(status_line)
        if match is None:
            raise _protocol_error(f"not an HTTP/1.1 status line: {_quoted(status_line)}")
        status = int(match[2])
        headers = _parse_fields(lines)
        if status < 200:
            if status == 101:
                raise _protocol_error("101 Switching Protocols, but no upgrade was asked for")
            return True  # an interim response: the final one follows
        self._status = status
        self._headers = headers
        connection = (headers.get("connection") or "").lower()
        self._keep_alive = match[1] == b"1" and "close" not in _tokens(connection)
        self._frame(status, headers)
        return True

    def _frame(self, status: int, headers: Headers) -> None:
        """Choose how the body is delimited (RFC 9112, section 6.3)."""
        transfer_encoding = headers.get("transfer-encoding")
        content_length = headers.get("content-length")
        if status in (204, 304):
            self._remaining = 0
            self._state = _LENGTH
        elif transfer_encoding is not None:
            if content_length is not None:
                raise _protocol_error("both Transfer-Encoding and Content-Length")
            if _tokens(transfer_encoding.lower()) != ["chunked"]:
                quoted = _quoted(transfer_encoding.encode("latin-1"))
                raise _protocol_error(f"unsupported Transfer-Encoding: {quoted}")
            self._state = _CHUNK_SIZE_LINE
        elif content_length is not None:
            # Repeated or listed lengths are accepted when they agree (RFC 9110, 8.6).
            lengths = set(_tokens(content_length))
            length = lengths.pop() if len(lengths) == 1 else ""
            if not (length.isascii() and length.isdigit()):
                quoted = _quoted(content_length.encode("latin-1"))
                raise _protocol_error(f"invalid Content-Length: {quoted}")
            self._remaining = self._framing_length = int(length)
            self._state = _LENGTH
        else:
            self._keep_alive = False
            self._state = _UNTIL_EOF

    # --- the body --------------------------------------------------------------------------

    def _take(self, count: int) -> None:
        """Move `count` bytes from the buffer to the body."""
        if count:
            self._body.append(bytes(self.buffer[self._pos : self._pos + count]))
            self._pos += count
            if self._pos == len(self.buffer):
                # All read: a long body does not stay in the buffer as well.
                self.buffer.clear()
                self._pos = 0

    def _read_length(self) -> bool:
        count = min(self._remaining, len(self.buffer) - self._pos)
        self._take(count)
        self._remaining -= count
        return self._remaining == 0

    def _line(self, limit: int) -> bytes | None:
        """The next CRLF-terminated line, without its CRLF; `None` until it is complete."""
        end = self.buffer.find(b"\r\n", self._pos)
        if end < 0:
            if len(self.buffer) - self._pos > limit:
                raise _protocol_error("a chunk line is too long")
            return None
        line = bytes(self.buffer[self._pos : end])
        self._pos = end + 2
        return line

    def _read_chunk_size(self) -> bool:
        line = self._line(_MAX_CHUNK_LINE)
        if line is None:
            return False
        match = _CHUNK_SIZE.fullmatch(line)
        if match is None:
            raise _protocol_error(f"invalid chunk size line: {_quoted(line)}")
        self._remaining = int(match[1], 16)
        if self._remaining:
            self._state = _CHUNK_DATA
        else:
            self._state = _TRAILERS
            self._trailer_start = self._pos
        return True

    def _read_chunk_data(self) -> bool:
        if not self._read_length():
            return False
        self._state = _CHUNK_END
        return True

    def _read_chunk_end(self) -> bool:
        if len(self.buffer) - self._pos < 2:
            return False
        if self.buffer[self._pos : self._pos + 2] != b"\r\n":
            raise _protocol_error("a chunk is longer than its size says")
        self._pos += 2
        self._state = _CHUNK_SIZE_LINE
        return True

    def _read_trailer(self) -> bool:
        """Read one line of the trailer section; the state changes after its last line."""
        line = self._line(MAX_HEAD)
        if line is None:
            return False
        if self._pos - self._trailer_start > MAX_HEAD:
            raise _protocol_error(f"the chunk trailers are longer than {MAX_HEAD} bytes")
        if line:
            _parse_fields([line])  # checked, not kept: nothing reads trailers
        else:
            self._state = _DONE
        return True

    # --- the end ---------------------------------------------------------------------------

    def _raise_if_ended(self) -> None:
        """More bytes are needed: raise if the connection ended before they came."""
        if not self._eof:
            return
        if self._state == _HEAD:
            if self._pos == 0 and not self.buffer:
                raise _protocol_error("Server disconnected without sending a response.")
            raise _protocol_error("peer closed connection without sending a complete response")
        if self._state == _LENGTH:
            received = self._framing_length - self._remaining
            raise _protocol_error(
                "peer closed connection without sending complete message body: "
                f"received {received} bytes, expected {self._framing_length}"
            )
        raise _protocol_error(
            "peer closed connection without sending complete message body: incomplete chunked read"
        )

    def _finish(self) -> Response:
        del self.buffer[: self._pos]
        # Bytes after the response were not asked for: the connection is not trusted again.
        reusable = self._keep_alive and not self.buffer and not self._eof
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        response = Response(self._status, self._headers, body, reusable)
        self.reset()
        return response


def _tokens(value: str) -> list[str]:
    """The items of a comma-separated header value, stripped, empty ones dropped."""
    return [token for token in (part.strip(" \t") for part in value.split(",")) if token]


def _parse_fields(lines: list[bytes]) -> Headers:
    fields: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            # Obsolete line folding: the line continues the previous value (RFC 9112, 5.2).
            if not fields:
                raise _protocol_error("the response head starts with a continuation line")
            folded = line.strip(b" \t")
            if not _FIELD.fullmatch(b"x:" + folded):
                raise _protocol_error(f"invalid header line: {_quoted(line)}")
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {folded.decode('latin-1')}".strip())
            continue
        match = _FIELD.fullmatch(line)
        if match is None:
            raise _protocol_error(f"invalid header line: {_quoted(line)}")
        fields.append((match[1].decode("ascii").lower(), match[2].decode("latin-1")))
    return Headers(fields)
