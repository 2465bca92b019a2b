"""A minimal loopback HTTP/1.1 server of the benchmarks: `GET /visitors/<id>` from pre-built pages
and `GET /v4/events/<id>` from one pre-built event.

The benchmarks measure clients, so the server must cost as little as possible and never
share the client's event loop: it runs in a subprocess of its own, a bare asyncio
`Protocol` answering from visits encoded once at start. Connections are kept alive (HTTP/1.1,
`Content-Length`), and every request may wait a fixed latency first, as the real API would
over a network.

The pages are the emulator's synthetic data (`fpjs_async.testing.FakeServerAPI`): the
newest `limit` visits of one visitor, with the cursors the API sends when more remain, for
whatever visitor ID is asked. `limit` picks the page (1 to `MAX_VISITS`); without it the
server answers `page_visits` visits. The event is the v4 event of the newest of those
visits, answered for whatever event ID is asked.

Use it from a benchmark::

    with loopback_server(page_visits=1, latency_ms=20) as base_url:
        ...  # Session(api_key, base_url=base_url)

or on its own: `python benchmarks/_server.py --latency-ms 20` prints its base URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fpjs_async._converter import converter
from fpjs_async.testing import FakeServerAPI

#: The most visits a page holds (the API's largest `limit`).
MAX_VISITS = 500
#: The key any client of the server may send (it is not checked).
API_KEY = "benchmark-key"
#: The seed of the synthetic visitor.
SEED = 2024

_HEAD_END = b"\r\n\r\n"
# A request head longer than this is not one the benchmarks send: refuse it.
_MAX_HEAD = 16 * 1024


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class Pages:
    """The response bodies of every page size; only the visitor ID is spliced in per request.

    Args:
        visits: The history the pages show, newest first, as the API's JSON objects.
        more: Whether the visitor has older visits than these (the full page then carries
            cursors too).
    """

    def __init__(
        self, visits: list[dict[str, Any]], *, more: bool, event: dict[str, Any] | None = None
    ) -> None:
        self._visits = visits
        self._more = more
        #: The body of `GET /v4/events/<id>`.
        self.event = _compact(event or {})
        self._encoded = [_compact(visit) for visit in visits]
        # What follows the visitor ID in a page of N visits, made on first use.
        self._tails: dict[int, bytes] = {}

    @classmethod
    def synthetic(cls) -> Pages:
        """Pages of up to `MAX_VISITS` visits of one synthetic visitor of the emulator."""
        fake = FakeServerAPI()
        # One visit more than a page holds: every page is the newest visits of a longer
        # history, with the cursors to the rest, and no visit on it is the visitor's first
        # (which has no `lastSeenAt`, a field the official SDK requires).
        (visitor_id,) = fake.populate(visitors=1, visits_per_visitor=MAX_VISITS + 1, seed=SEED)
        visits = fake.visits_of(visitor_id)[:MAX_VISITS]
        event = fake.events_of(visitor_id)[0]
        return cls(
            [converter.unstructure(visit) for visit in visits],
            more=True,
            event=converter.unstructure(event),
        )

    @property
    def max_visits(self) -> int:
        """The largest page there is."""
        return len(self._visits)

    def body(self, visitor_id: str, visits: int) -> bytes:
        """The body of a page of `visits` visits (1 to `max_visits`) for `visitor_id`."""
        tail = self._tails.get(visits)
        if tail is None:
            tail = b',"visits":[' + b",".join(self._encoded[:visits]) + b"]"
            if self._more or visits < len(self._visits):
                # More events remain: the API sends its cursors.
                last = self._visits[visits - 1]
                tail += b',"lastTimestamp":%d,"paginationKey":%s' % (
                    last["timestamp"],
                    _compact(last["requestId"]),
                )
            tail = self._tails[visits] = tail + b"}"
        return b'{"visitorId":' + _compact(visitor_id) + tail


def _response(status: str, body: bytes, *, close: bool = False) -> bytes:
    connection = "Connection: close\r\n" if close else ""
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{connection}\r\n"
    )
    return head.encode("latin-1") + body


class _Connection(asyncio.Protocol):
    """One client connection: requests answered one after the other, in order."""

    def __init__(self, pages: Pages, default_visits: int, latency: float) -> None:
        self._pages = pages
        self._default_visits = default_visits
        self._latency = latency
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        # Waiting out the latency of a request: later requests stay buffered meanwhile.
        self._busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._next()

    def _next(self) -> None:
        if self._busy or self._transport is None:
            return
        end = self._buffer.find(_HEAD_END)
        if end < 0:
            if len(self._buffer) > _MAX_HEAD:
                self._send(_response("431 Request Header Fields Too Large", b"{}", close=True))
            return
        head, self._buffer = self._buffer[:end], self._buffer[end + len(_HEAD_END) :]
        answer = self._answer(head)
        if self._latency > 0:
            self._busy = True
            asyncio.get_running_loop().call_later(self._latency, self._send_later, answer)
        else:
            self._send(answer)

    def _send_later(self, answer: tuple[bytes, bool]) -> None:
        self._busy = False
        self._send(answer)

    def _send(self, answer: tuple[bytes, bool]) -> None:
        if self._transport is None:
            return
        response, close = answer
        self._transport.write(response)
        if close:
            self._transport.close()
            self._transport = None
            return
        if self._buffer:
            self._next()

    def _answer(self, head: bytes) -> tuple[bytes, bool]:
        """The response to a request head, and whether to close the connection after it."""
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        close = any(line.lower().replace(" ", "") == "connection:close" for line in header_lines)
        try:
            method, target, _ = request_line.split(" ")
        except ValueError:
            return _response("400 Bad Request", b'{"error":"bad request line"}', close=True), True
        url = urlsplit(target)
        if method == "GET" and url.path.startswith("/v4/events/"):
            return _response("200 OK", self._pages.event, close=close), close
        if method != "GET" or not url.path.startswith("/visitors/"):
            return _response("404 Not Found", b'{"error":"not found"}', close=close), close
        visitor_id = unquote(url.path[len("/visitors/") :])
        limit = parse_qs(url.query).get("limit", [""])[0]
        visits = int(limit) if limit.isdigit() else self._default_visits
        visits = min(max(visits, 1), self._pages.max_visits)
        body = self._pages.body(visitor_id, visits)
        return _response("200 OK", body, close=close), close


async def _serve(page_visits: int, latency_ms: float) -> None:
    pages = Pages.synthetic()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Connection(pages, page_visits, latency_ms / 1000),
        host="127.0.0.1",
        port=0,
        backlog=4096,
    )
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def loopback_server(*, page_visits: int = 1, latency_ms: float = 0.0) -> Iterator[str]:
    """Run the server in a subprocess for the duration of the block.

    Args:
        page_visits: The visits of a page when the request has no `limit` (1 to 500).
        latency_ms: How long the server waits before each answer.

    Yields:
        The server's base URL (`http://127.0.0.1:<port>`).
    """
    command = [
        sys.executable,
        __file__,
        "--page-visits",
        str(page_visits),
        "--latency-ms",
        str(latency_ms),
    ]
    with server_process(command) as base_url:
        yield base_url


@contextlib.contextmanager
def server_process(command: list[str]) -> Iterator[str]:
    """Run `command`, a server printing its base URL on its first line, for the block.

    Yields:
        The base URL the server printed. The process is stopped by its PID on exit.
    """
    with subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            base_url = process.stdout.readline().strip()
            if not base_url:
                raise RuntimeError(f"the benchmark server did not start: {command}")
            yield base_url
        finally:
            process.terminate()
            process.wait(timeout=10)


def main() -> None:
    """Serve until interrupted; the base URL is the first line printed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--page-visits", type=int, default=1, help="visits without a limit")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="wait before answering")
    options = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(options.page_visits, options.latency_ms))


if __name__ == "__main__":
    main()
