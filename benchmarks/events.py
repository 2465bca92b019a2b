"""v4 events: decoding and single requests, fpjs_async against `json.loads`, raw httpx, the SDK.

In one run on one machine, side by side:

- decoding an event and a search page of 100 events into objects: `json.loads` alone,
  fpjs_async's `decode_body` (`json`, as installed by default), fpjs_async with `orjson`
  (the `speedups` extra), and the official v4 SDK (`fingerprint-server-sdk`,
  `Event.from_json` / `EventSearch.from_json`: `json.loads` plus its pydantic models);
- sequential `get_event` and 100-event `search_events` against one loopback server
  process: fpjs_async (`Session(api_key, base_url=...)`), raw `httpx` + `json.loads`, and
  the official SDK.

The bodies are the schema's own example event (`get_event_200.json`, beside the repository
in `../shared/spec/v4`), the page's events each with an event ID and a timestamp of its own.
The server is `_server.py`'s connection answering `GET /v4/events/{event_id}` and
`GET /v4/events` from those bodies, in a process of its own.

It prints Markdown tables of medians and the ratios the project targets. Run it with
`nox -s bench -- events`, or `python benchmarks/events.py` in an environment with the
package installed (the SDK and orjson are optional: their columns then say so).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import gc
import json
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
from _server import API_KEY, _compact, _Connection, _response, server_process
from request import (
    _cpu_model,
    _medians,
    _ms,
    _quotient,
    _ratio,
    _time_async,
    _time_sync,
    _verdict,
    _version,
)

import fpjs_async
from fpjs_async import _converter
from fpjs_async.events import Event, EventSearch

try:
    from fingerprint_server_sdk import Configuration, FingerprintApi
    from fingerprint_server_sdk.models.event import Event as SdkEvent
    from fingerprint_server_sdk.models.event_search import EventSearch as SdkEventSearch
except ImportError:
    FingerprintApi = None

EXAMPLE = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "spec"
    / "v4"
    / "paths"
    / "examples"
    / "events"
    / "get_event_200.json"
)
#: The events of the search page (the API's largest `limit`).
PAGE_EVENTS = 100
VISITOR_ID = "Ibk1527CUFmcnjLwIs4A9"

JSON = "json.loads"
HTTPX = "httpx + json.loads"
OURS = "fpjs_async"
OURS_ORJSON = "fpjs_async + orjson"
SDK = "official SDK"

#: The rows of both tables: (label, what is decoded or requested).
ROWS = [("get_event (1 event)", "event"), (f"search_events ({PAGE_EVENTS} events)", "page")]

# fpjs_async parses with orjson whenever it is importable; the "default install" columns
# turn that off, so that both are measured in the same process.
_ORJSON_DECODE = _converter._fast_decode


def _use_orjson(enabled: bool) -> None:
    _converter._fast_decode = _ORJSON_DECODE if enabled else None


# --- the bodies and their server --------------------------------------------------------


class Bodies:
    """The example event, and search pages of its copies, encoded once.

    Args:
        event: The example event, as the API's JSON object.
    """

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = _compact(event)
        copies = []
        for index in range(PAGE_EVENTS):
            # Newest first, a second apart, as a search answers.
            timestamp = event["timestamp"] - index * 1000
            varied = copy.deepcopy(event)
            varied["event_id"] = f"{timestamp}.Ev{index:04d}"
            varied["timestamp"] = timestamp
            copies.append(_compact(varied))
        self._copies = copies
        self._pages: dict[int, bytes] = {}

    @classmethod
    def example(cls) -> Bodies:
        """The bodies made of the schema's example event; exits when it is not there."""
        if not EXAMPLE.is_file():
            raise SystemExit(f"the example event is not there: {EXAMPLE}")
        return cls(json.loads(EXAMPLE.read_bytes()))

    def page(self, events: int = PAGE_EVENTS) -> bytes:
        """A search page of `events` events (1 to `PAGE_EVENTS`), with a next page."""
        body = self._pages.get(events)
        if body is None:
            body = b'{"events":[' + b",".join(self._copies[:events]) + b'],"pagination_key":"pk"}'
            self._pages[events] = body
        return body


class _EventsConnection(_Connection):
    """`_server`'s connection, answering the two v4 reads from `Bodies`."""

    def __init__(self, bodies: Bodies) -> None:
        # The v3 pages are not served here: only `_answer` reads them, and it is replaced.
        super().__init__(pages=None, default_visits=0, latency=0.0)  # type: ignore[arg-type]
        self._bodies = bodies

    def _answer(self, head: bytes) -> tuple[bytes, bool]:
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        close = any(line.lower().replace(" ", "") == "connection:close" for line in header_lines)
        method, target, _ = request_line.split(" ")
        url = urlsplit(target)
        if method == "GET" and url.path == "/v4/events":
            limit = parse_qs(url.query).get("limit", [""])[0]
            events = int(limit) if limit.isdigit() else 10
            body = self._bodies.page(min(max(events, 1), PAGE_EVENTS))
        elif method == "GET" and unquote(url.path).startswith("/v4/events/"):
            body = self._bodies.event
        else:
            return _response("404 Not Found", b'{"error":{"code":"failed"}}', close=close), close
        return _response("200 OK", body, close=close), close


async def _serve() -> None:
    bodies = Bodies.example()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _EventsConnection(bodies), host="127.0.0.1", port=0, backlog=4096
    )
    print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def events_server() -> Iterator[str]:
    """Run the v4 server in a subprocess for the duration of the block; yields its base URL."""
    with server_process([sys.executable, __file__, "--serve"]) as base_url:
        yield base_url


# --- measurements -------------------------------------------------------------------------


def _decode_ours(body: bytes, model: type[Any], *, orjson: bool) -> Callable[[], object]:
    def decode() -> object:
        _use_orjson(orjson)
        return _converter.decode_body(body, model)

    return decode


async def measure_decoding(bodies: Bodies) -> dict[tuple[str, str], float | None]:
    """Median seconds to decode the event and the page, per implementation."""
    medians: dict[tuple[str, str], float | None] = {}
    for _, row in ROWS:
        body = bodies.event if row == "event" else bodies.page()
        ours_model = Event if row == "event" else EventSearch
        sdk_model = (
            None if FingerprintApi is None else SdkEvent if row == "event" else SdkEventSearch
        )
        candidates = {
            JSON: lambda body=body: json.loads(body),
            OURS: _decode_ours(body, ours_model, orjson=False),
            OURS_ORJSON: _decode_ours(body, ours_model, orjson=True) if _ORJSON_DECODE else None,
            # `from_json` takes a str; `json.loads` inside it reads the bytes alike.
            SDK: (lambda body=body, m=sdk_model: m.from_json(body)) if sdk_model else None,
        }
        for name, median in (await _medians(candidates, _time_sync)).items():
            medians[name, row] = median
    _use_orjson(True)
    return medians


async def measure_requests(base_url: str) -> dict[tuple[str, str], float | None]:
    """Median seconds of one sequential `get_event` and 100-event `search_events`."""
    medians: dict[tuple[str, str], float | None] = {}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    event_id = "1708102555327.NLOjmg"
    sdk = None
    if FingerprintApi is not None:
        sdk = FingerprintApi(Configuration(api_key=API_KEY, host=f"{base_url}/v4"))
    async with (
        fpjs_async.Session(API_KEY, base_url=base_url) as session,
        httpx.AsyncClient() as client,
    ):

        async def raw_get_event() -> object:
            response = await client.get(f"{base_url}/v4/events/{event_id}", headers=headers)
            response.raise_for_status()
            return json.loads(response.content)

        async def raw_search() -> object:
            params = {"visitor_id": VISITOR_ID, "limit": str(PAGE_EVENTS)}
            response = await client.get(f"{base_url}/v4/events", params=params, headers=headers)
            response.raise_for_status()
            return json.loads(response.content)

        def ours(call: Callable[[], Awaitable[object]], orjson: bool) -> Callable[[], Any]:
            async def timed() -> object:
                _use_orjson(orjson)
                return await call()

            return timed

        def get_event() -> Awaitable[object]:
            return session.get_event(event_id)

        def search_events() -> Awaitable[object]:
            return session.search_events(visitor_id=VISITOR_ID, limit=PAGE_EVENTS)

        # Blocking calls: nothing else runs on this loop meanwhile.
        async def sdk_get_event() -> object:
            assert sdk is not None
            return sdk.get_event(event_id)

        async def sdk_search() -> object:
            assert sdk is not None
            return sdk.search_events(limit=PAGE_EVENTS, visitor_id=VISITOR_ID)

        calls = {
            "event": (raw_get_event, get_event, sdk_get_event),
            "page": (raw_search, search_events, sdk_search),
        }
        for _, row in ROWS:
            raw, call, official = calls[row]
            candidates = {
                HTTPX: raw,
                OURS: ours(call, False),
                OURS_ORJSON: ours(call, True) if _ORJSON_DECODE else None,
                SDK: official if sdk is not None else None,
            }
            for name, median in (await _medians(candidates, _time_async)).items():
                medians[name, row] = median
    _use_orjson(True)
    return medians


# --- the report ---------------------------------------------------------------------------


def _table(
    title: str,
    medians: dict[tuple[str, str], float | None],
    columns: list[str],
    ratios: list[tuple[str, str, str]],
) -> str:
    head = ["", *(f"{name} (ms)" for name in columns), *(label for label, _, _ in ratios)]
    lines = [
        f"### {title}",
        "",
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * (len(head) - 1),
    ]
    for label, row in ROWS:
        cells = [label, *(_ms(medians[name, row]) for name in columns)]
        cells += (_ratio(medians[a, row], medians[b, row]) for _, a, b in ratios)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    """Run every measurement and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", action="store_true", help="only serve, print the base URL")
    if parser.parse_args().serve:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve())
        return
    started = time.perf_counter()
    bodies = Bodies.example()
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{_cpu_model()}, {os.cpu_count()} CPUs; fpjs_async {fpjs_async.__version__}, "
        f"httpx {_version('httpx')}, orjson {_version('orjson')}, "
        f"official SDK {_version('fingerprint-server-sdk')}. Bodies: an event "
        f"{len(bodies.event):,} B, a page of {PAGE_EVENTS} {len(bodies.page()):,} B."
    )
    print()
    gc.collect()
    decoding = asyncio.run(measure_decoding(bodies))
    with events_server() as base_url:
        requests = asyncio.run(measure_requests(base_url))
    print(
        _table(
            "Decoding a body into objects (median ms)",
            decoding,
            [JSON, OURS, OURS_ORJSON, SDK],
            [
                ("fpjs_async / json.loads", OURS, JSON),
                ("+ orjson / json.loads", OURS_ORJSON, JSON),
                ("SDK / fpjs_async", SDK, OURS),
            ],
        )
    )
    print()
    print(
        _table(
            "One request on loopback, sequential (median ms)",
            requests,
            [HTTPX, OURS, OURS_ORJSON, SDK],
            [
                ("fpjs_async / httpx", OURS, HTTPX),
                ("+ orjson / httpx", OURS_ORJSON, HTTPX),
                ("SDK / fpjs_async", SDK, OURS),
            ],
        )
    )
    print()
    print("Targets (fpjs_async as installed by default, without orjson):")
    print(
        f"- decoding {PAGE_EVENTS} events, fpjs_async / json.loads: "
        + _verdict(_quotient(decoding[OURS, "page"], decoding[JSON, "page"]), 2, at_most=True)
    )
    print(
        f"- decoding {PAGE_EVENTS} events, official SDK / fpjs_async: "
        + _verdict(_quotient(decoding[SDK, "page"], decoding[OURS, "page"]), 1.5, at_most=False)
    )
    print(
        "- get_event, fpjs_async / httpx + json.loads: "
        + _verdict(_quotient(requests[OURS, "event"], requests[HTTPX, "event"]), 1.2, at_most=True)
    )
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
