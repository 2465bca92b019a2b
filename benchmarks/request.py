"""Decoding and single requests: fpjs_async against `json.loads`, raw httpx, hand-written
aiohttp and the official SDK.

In one run on one machine, side by side:

- decoding a body of 1, 100 and 500 visits into objects: `json.loads` alone, fpjs_async
  (`json`, as installed by default), fpjs_async with `orjson` (the `speedups` extra), and
  the official SDK's deserializer (`json.loads` plus its models);
- sequential `get_visits` of such pages against one loopback server process
  (`_server.py`): fpjs_async, raw `httpx` + `json.loads`, hand-written `aiohttp` +
  `json.loads`, and the official SDK (`fingerprint-pro-server-api-sdk`, when installed);
- a small `get_visits` (1 visit) and `get_event` through each of the session's transports
  (`Session(transport=...)`) against hand-written aiohttp, and the built-in transport under
  trio too.

It prints Markdown tables of medians and the ratios the project targets. Run it with
`nox -s bench -- request`, or `python benchmarks/request.py` in an environment with the
package installed (the SDK, aiohttp, trio and orjson are optional: their rows then say so).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import platform
import statistics
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import metadata
from typing import Any

import httpx
from _server import API_KEY, Pages, loopback_server

import fpjs_async
from fpjs_async import _converter
from fpjs_async._transport import auto_transport

try:
    import aiohttp
except ImportError:
    aiohttp = None

try:
    import trio
except ImportError:
    trio = None

try:
    with warnings.catch_warnings():  # it announces that API v3 is deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        from fingerprint_pro_server_api_sdk import Configuration, FingerprintApi
        from fingerprint_pro_server_api_sdk.api_client import ApiClientDeserializer
except ImportError:
    FingerprintApi = None

PAGE_SIZES = (1, 100, 500)
VISITOR_ID = "Ibk1527CUFmcnjLwIs4A9"
#: Seconds of timed calls per implementation and page size.
BUDGET = 0.8
#: Bounds on the calls timed per implementation and page size.
MIN_CALLS, MAX_CALLS = 7, 1500
#: The implementations take turns this many times, so that a change in the machine's load
#: (it is shared) weighs on all of them alike.
ROUNDS = 25

JSON = "json.loads"
HTTPX = "httpx + json.loads"
AIOHTTP = "aiohttp + json.loads"
OURS = "fpjs_async"
OURS_ORJSON = "fpjs_async + orjson"
SDK = "official SDK"
NOT_INSTALLED = "not installed"
EVENT_ID = "1708102555327.NLOjmg"
#: The session's transports, each a column of the transport table.
TRANSPORTS = ("builtin", "aiohttp", "httpcore")
BUILTIN_TRIO = "builtin, under trio"
#: The rows of the transport table: (label, what is requested).
SMALL_ROWS = [("get_visits (1 visit)", "visits"), ("get_event", "event")]

# fpjs_async parses with orjson whenever it is importable; the "default install" rows turn
# that off, so that both are measured in the same process.
_ORJSON_DECODE = _converter._fast_decode


def _use_orjson(enabled: bool) -> None:
    _converter._fast_decode = _ORJSON_DECODE if enabled else None


def _calls(seconds_per_call: float) -> int:
    return max(MIN_CALLS, min(MAX_CALLS, round(BUDGET / max(seconds_per_call, 1e-9))))


async def _time_sync(function: Callable[[], object], calls: int) -> list[float]:
    # A coroutine so that both kinds of timer take turns in `_medians`; nothing is awaited.
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples


async def _time_async(function: Callable[[], Awaitable[object]], calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await function()
        samples.append(time.perf_counter() - started)
    return samples


Timer = Callable[[Any, int], Awaitable[list[float]]]


async def _medians(candidates: dict[str, Any], timer: Timer) -> dict[str, float | None]:
    """The median seconds of a call of each candidate (`None` for one that is missing).

    The candidates take turns `ROUNDS` times, each timed for about `BUDGET` seconds in all.
    """
    present = {name: function for name, function in candidates.items() if function is not None}
    calls = {name: _calls(min(await timer(function, 3))) for name, function in present.items()}
    samples: dict[str, list[float]] = {name: [] for name in present}
    for _ in range(ROUNDS):
        for name, function in present.items():
            samples[name] += await timer(function, -(-calls[name] // ROUNDS))
    return {
        name: statistics.median(samples[name]) if name in samples else None for name in candidates
    }


def _sdk_deserialize(body: bytes) -> object:
    return ApiClientDeserializer.deserialize(json.loads(body), "VisitorsGetResponse")


def _decode_ours(body: bytes, *, orjson: bool) -> Callable[[], object]:
    def decode() -> object:
        _use_orjson(orjson)
        return _converter.decode_history(body)

    return decode


async def measure_decoding(pages: Pages) -> dict[tuple[str, int], float | None]:
    """Median seconds to decode each page size, per implementation (`None`: not installed)."""
    medians: dict[tuple[str, int], float | None] = {}
    for size in PAGE_SIZES:
        body = pages.body(VISITOR_ID, size)
        candidates = {
            JSON: lambda body=body: json.loads(body),
            OURS: _decode_ours(body, orjson=False),
            OURS_ORJSON: _decode_ours(body, orjson=True) if _ORJSON_DECODE else None,
            SDK: (lambda body=body: _sdk_deserialize(body)) if FingerprintApi else None,
        }
        for name, median in (await _medians(candidates, _time_sync)).items():
            medians[name, size] = median
    _use_orjson(True)
    return medians


async def measure_requests(base_url: str) -> dict[tuple[str, int], float | None]:
    """Median seconds of one sequential `get_visits` per page size and implementation."""
    medians: dict[tuple[str, int], float | None] = {}
    headers = {"Auth-Token": API_KEY}
    url = f"{base_url}/visitors/{VISITOR_ID}"
    sdk = None
    if FingerprintApi is not None:
        configuration = Configuration(api_key=API_KEY)
        configuration.host = base_url
        sdk = FingerprintApi(configuration)
    async with (
        fpjs_async.Session(API_KEY, base_url=base_url) as session,
        httpx.AsyncClient() as client,
        _aiohttp_session() as hand_written,
    ):
        for size in PAGE_SIZES:

            async def raw_httpx(size: int = size) -> object:
                response = await client.get(url, params={"limit": str(size)}, headers=headers)
                response.raise_for_status()
                return json.loads(response.content)

            def ours(orjson: bool, size: int = size) -> Callable[[], Awaitable[object]]:
                async def get_visits() -> object:
                    _use_orjson(orjson)
                    return await session.get_visits(VISITOR_ID, limit=size)

                return get_visits

            async def official_sdk(size: int = size) -> object:
                # A blocking call: nothing else runs on this loop meanwhile.
                assert sdk is not None
                return sdk.get_visits(VISITOR_ID, limit=size)

            candidates = {
                HTTPX: raw_httpx,
                AIOHTTP: _hand_written(hand_written, url, {"limit": str(size)}, headers),
                OURS: ours(False),
                OURS_ORJSON: ours(True) if _ORJSON_DECODE else None,
                SDK: official_sdk if sdk is not None else None,
            }
            for name, median in (await _medians(candidates, _time_async)).items():
                medians[name, size] = median
    _use_orjson(True)
    return medians


@contextlib.asynccontextmanager
async def _aiohttp_session() -> AsyncIterator[Any]:
    """An `aiohttp.ClientSession` as an application would make one (`None` without aiohttp)."""
    if aiohttp is None:
        yield None
        return
    async with aiohttp.ClientSession() as session:
        yield session


def _hand_written(
    session: Any, url: str, params: dict[str, str], headers: dict[str, str]
) -> Callable[[], Awaitable[object]] | None:
    """One request as an application would write it with aiohttp: the body parsed with
    `json.loads`, an error status raised."""
    if session is None:
        return None

    async def get() -> object:
        async with session.get(url, params=params, headers=headers) as response:
            response.raise_for_status()
            return json.loads(await response.read())

    return get


def _small_call(session: fpjs_async.Session, row: str) -> Callable[[], Awaitable[object]]:
    if row == "visits":
        return lambda: session.get_visits(VISITOR_ID, limit=1)
    return lambda: session.get_event(EVENT_ID)


async def measure_transports(base_url: str) -> dict[tuple[str, str], float | None]:
    """Median seconds of a small `get_visits` and a `get_event` through each transport,
    against hand-written aiohttp (decoded with `json`, as installed by default)."""
    _use_orjson(False)
    medians: dict[tuple[str, str], float | None] = {}
    async with contextlib.AsyncExitStack() as stack:
        hand_written = await stack.enter_async_context(_aiohttp_session())
        sessions = {OURS: fpjs_async.Session(API_KEY, base_url=base_url)}
        for transport in TRANSPORTS:
            if transport != "aiohttp" or aiohttp is not None:
                sessions[transport] = fpjs_async.Session(
                    API_KEY, base_url=base_url, transport=transport
                )
        for session in sessions.values():
            await stack.enter_async_context(session)
        for _, row in SMALL_ROWS:
            if row == "visits":
                peer = _hand_written(
                    hand_written,
                    f"{base_url}/visitors/{VISITOR_ID}",
                    {"limit": "1"},
                    {"Auth-Token": API_KEY},
                )
            else:
                peer = _hand_written(
                    hand_written,
                    f"{base_url}/v4/events/{EVENT_ID}",
                    {},
                    {"Authorization": f"Bearer {API_KEY}"},
                )
            candidates: dict[str, Any] = {AIOHTTP: peer}
            candidates.update({name: _small_call(s, row) for name, s in sessions.items()})
            candidates.setdefault("aiohttp", None)
            for name, median in (await _medians(candidates, _time_async)).items():
                medians[name, row] = median
    _use_orjson(True)
    return medians


def measure_builtin_on_trio(base_url: str) -> dict[str, float | None]:
    """Median seconds of the small calls through the built-in transport under trio, and of
    hand-written aiohttp under asyncio, the two taking turns `ROUNDS` times."""
    if trio is None or aiohttp is None:
        return {row: None for _, row in SMALL_ROWS}
    _use_orjson(False)
    samples: dict[tuple[str, str], list[float]] = {}

    async def peer_round(row: str, calls: int) -> list[float]:
        async with _aiohttp_session() as hand_written:
            if row == "visits":
                url, params = f"{base_url}/visitors/{VISITOR_ID}", {"limit": "1"}
                headers = {"Auth-Token": API_KEY}
            else:
                url, params = f"{base_url}/v4/events/{EVENT_ID}", {}
                headers = {"Authorization": f"Bearer {API_KEY}"}
            get = _hand_written(hand_written, url, params, headers)
            assert get is not None
            await _time_async(get, 3)  # a warm connection, as in the other tables
            return await _time_async(get, calls)

    async def trio_round(row: str, calls: int) -> list[float]:
        async with fpjs_async.Session(API_KEY, base_url=base_url, transport="builtin") as s:
            call = _small_call(s, row)
            await _time_async(call, 3)
            return await _time_async(call, calls)

    for _, row in SMALL_ROWS:
        calls = _calls(min(asyncio.run(peer_round(row, 3))))
        per_round = -(-calls // ROUNDS) + 1
        for _ in range(ROUNDS):
            samples.setdefault((AIOHTTP, row), []).extend(asyncio.run(peer_round(row, per_round)))
            samples.setdefault((BUILTIN_TRIO, row), []).extend(trio.run(trio_round, row, per_round))
    _use_orjson(True)
    medians = {key: statistics.median(values) for key, values in samples.items()}
    return {
        row: _quotient(medians[BUILTIN_TRIO, row], medians[AIOHTTP, row]) for _, row in SMALL_ROWS
    }


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return NOT_INSTALLED
    return f"{seconds * 1000:.3f}" if seconds < 0.001 else f"{seconds * 1000:.2f}"


def _quotient(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None:
        return None
    return numerator / denominator


def _ratio(numerator: float | None, denominator: float | None) -> str:
    quotient = _quotient(numerator, denominator)
    return "n/a" if quotient is None else f"{quotient:.2f}"


def _table(
    title: str,
    medians: dict[tuple[str, int], float | None],
    columns: list[str],
    ratios: list[tuple[str, str, str]],
) -> str:
    head = ["visits", *(f"{name} (ms)" for name in columns), *(label for label, _, _ in ratios)]
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for size in PAGE_SIZES:
        cells = [str(size), *(_ms(medians[name, size]) for name in columns)]
        cells += (_ratio(medians[a, size], medians[b, size]) for _, a, b in ratios)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _verdict(value: float | None, target: float, *, at_most: bool) -> str:
    if value is None:
        return "n/a (not installed)"
    met = value <= target if at_most else value >= target
    bound = "≤" if at_most else "≥"
    return f"{value:.2f} (target {bound} {target:g}: {'met' if met else 'NOT met'})"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _transport_table(
    medians: dict[tuple[str, str], float | None], trio_ratios: dict[str, float | None]
) -> str:
    columns = [AIOHTTP, OURS, *TRANSPORTS]
    names = {OURS: f"default ({auto_transport(http2=False)})"}
    head = [
        "",
        *(f"{names.get(name, name)} (ms)" for name in columns),
        *(f"{names.get(name, name)} / aiohttp" for name in columns[1:]),
        f"{BUILTIN_TRIO} / aiohttp",
    ]
    lines = [
        "### A small request through each transport, sequential (median ms)",
        "",
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * (len(head) - 1),
    ]
    for label, row in SMALL_ROWS:
        cells = [label, *(_ms(medians[name, row]) for name in columns)]
        cells += (_ratio(medians[name, row], medians[AIOHTTP, row]) for name in columns[1:])
        trio_ratio = trio_ratios[row]
        cells.append("n/a" if trio_ratio is None else f"{trio_ratio:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    """Run every measurement and print the tables."""
    started = time.perf_counter()
    pages = Pages.synthetic()
    sizes = ", ".join(f"{size}: {len(pages.body(VISITOR_ID, size)):,} B" for size in PAGE_SIZES)
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{_cpu_model()}, {os.cpu_count()} CPUs; fpjs_async {fpjs_async.__version__}, "
        f"httpx {_version('httpx')}, aiohttp {_version('aiohttp')}, cattrs {_version('cattrs')}, "
        f"orjson {_version('orjson')}, official SDK {_version('fingerprint-pro-server-api-sdk')}. "
        f"Page bodies: {sizes}; the event: {len(pages.event):,} B. The default transport "
        f"under asyncio: {auto_transport(http2=False)}."
    )
    print()
    gc.collect()
    decoding = asyncio.run(measure_decoding(pages))
    with loopback_server() as base_url:
        requests = asyncio.run(measure_requests(base_url))
        transports = asyncio.run(measure_transports(base_url))
        trio_ratios = measure_builtin_on_trio(base_url)
    columns = [JSON, OURS, OURS_ORJSON, SDK]
    print(
        _table(
            "Decoding a body into objects (median ms)",
            decoding,
            columns,
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
            "One get_visits on loopback, sequential (median ms)",
            requests,
            [HTTPX, AIOHTTP, OURS, OURS_ORJSON, SDK],
            [
                ("fpjs_async / httpx", OURS, HTTPX),
                ("fpjs_async / aiohttp", OURS, AIOHTTP),
                ("+ orjson / httpx", OURS_ORJSON, HTTPX),
                ("SDK / fpjs_async", SDK, OURS),
            ],
        )
    )
    print()
    print(_transport_table(transports, trio_ratios))
    print()
    print("Targets (fpjs_async as installed by default, without orjson):")
    print(
        "- decoding 500 visits, fpjs_async / json.loads: "
        + _verdict(_quotient(decoding[OURS, 500], decoding[JSON, 500]), 2, at_most=True)
    )
    print(
        "- get_visits of 500 visits, official SDK / fpjs_async: "
        + _verdict(_quotient(requests[SDK, 500], requests[OURS, 500]), 10, at_most=False)
    )
    print(
        "- get_visits of 1 visit, fpjs_async / httpx + json.loads: "
        + _verdict(_quotient(requests[OURS, 1], requests[HTTPX, 1]), 1.3, at_most=True)
    )
    for label, row in SMALL_ROWS:
        print(
            f"- {label}, fpjs_async (default transport) / aiohttp + json.loads: "
            + _verdict(
                _quotient(transports[OURS, row], transports[AIOHTTP, row]), 1.2, at_most=True
            )
        )
        print(
            f"- {label}, built-in transport / aiohttp + json.loads: "
            + _verdict(
                _quotient(transports["builtin", row], transports[AIOHTTP, row]), 1.6, at_most=True
            )
            + "; under trio: "
            + _verdict(trio_ratios[row], 1.6, at_most=True)
        )
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
