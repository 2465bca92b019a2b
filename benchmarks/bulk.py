"""Bulk fetching: visitor histories at 10, 50 and 200 at once, against one loopback server.

Side by side, in one run, against the same server process (`_server.py`, which waits a fixed
latency before each answer):

- `Session.fetch_many` with `concurrency` and `max_concurrency` both at the row's value, on
  the session's default transport;
- hand-written aiohttp (when installed): `asyncio.gather` of every request over one
  `aiohttp.ClientSession` allowed that many connections, an `asyncio.Semaphore` keeping that
  many in flight, each body parsed with `json.loads`;
- naive httpx: `asyncio.gather` of every request over one `httpx.AsyncClient` allowed that
  many connections;
- the official SDK (`fingerprint-pro-server-api-sdk`, when installed): `get_visits` with
  `async_req=True` over a thread pool and a connection pool of that size.

A second table compares the session's transports (`Session(transport=...)`) with
hand-written aiohttp on the rows the project targets: 2,000 visitors at concurrency 200 and
20 ms, and 400 at concurrency 50 and 50 ms.

Each figure is the best of `--repeats` runs (noise only ever adds time; naive httpx, many
times slower, runs once) and is compared with the latency bound,
`ceil(visitors / concurrency) x latency`: what a client with no cost of its own would take.
Every contender decodes each page it gets (JSON, and models where it has them). Each run
starts cold: a new client, new connections.

    python benchmarks/bulk.py [--repeats 3] [--visitors 400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
import warnings
from collections.abc import Callable
from multiprocessing.pool import ThreadPool
from typing import Any

import httpx
from _server import API_KEY, loopback_server

import fpjs_async
from fpjs_async._transport import auto_transport

CONCURRENCIES = (10, 50, 200)
LATENCIES_MS = (20, 50)
#: The targets: at 50 ms and concurrency 50, fetch_many within 1.5x the latency bound.
TARGET_ROW = (50, 50)
TARGET_RATIO = 1.5
NAIVE = "naive httpx"
AIOHTTP = "hand-written aiohttp"
FETCH_MANY = "fetch_many"
#: The rows of the transport table: (visitors, latency in ms, concurrency, the most
#: `fetch_many` on the default transport may take, as a multiple of hand-written aiohttp).
TRANSPORT_ROWS = ((2000, 20, 200, 1.3), (400, 50, 50, 1.0))
TRANSPORTS = ("builtin", "aiohttp", "httpcore")
#: The most the built-in transport may take, as a multiple of hand-written aiohttp.
BUILTIN_TARGET = 2.0

try:
    with warnings.catch_warnings():  # it announces that API v3 is deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        import fingerprint_pro_server_api_sdk as sdk
except ImportError:  # only the bench session installs it
    sdk = None

try:
    import aiohttp
except ImportError:
    aiohttp = None


def visitor_ids(count: int) -> list[str]:
    return [f"visitor{number:06d}" for number in range(count)]


async def with_fetch_many(
    base_url: str, ids: list[str], concurrency: int, transport: str = "auto"
) -> float:
    async with fpjs_async.Session(
        API_KEY, base_url=base_url, max_concurrency=concurrency, transport=transport
    ) as session:
        started = time.perf_counter()
        async with session.fetch_many(ids, concurrency=concurrency) as results:
            async for result in results:
                if result.error is not None:
                    raise result.error
        return time.perf_counter() - started


async def with_aiohttp(base_url: str, ids: list[str], concurrency: int) -> float:
    assert aiohttp is not None
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as client:
        in_flight = asyncio.Semaphore(concurrency)

        async def one(visitor_id: str) -> Any:
            async with (
                in_flight,
                client.get(
                    f"{base_url}/visitors/{visitor_id}", headers={"Auth-Token": API_KEY}
                ) as response,
            ):
                response.raise_for_status()
                return json.loads(await response.read())

        started = time.perf_counter()
        await asyncio.gather(*(one(visitor_id) for visitor_id in ids))
        return time.perf_counter() - started


async def with_naive_httpx(base_url: str, ids: list[str], concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(visitor_id: str) -> Any:
            response = await client.get(
                f"{base_url}/visitors/{visitor_id}", headers={"Auth-Token": API_KEY}
            )
            response.raise_for_status()
            return response.json()

        started = time.perf_counter()
        await asyncio.gather(*(one(visitor_id) for visitor_id in ids))
        return time.perf_counter() - started


def with_official_sdk(base_url: str, ids: list[str], concurrency: int) -> float:
    assert sdk is not None
    configuration = sdk.Configuration(api_key=API_KEY)
    configuration.host = base_url
    configuration.connection_pool_maxsize = concurrency
    with ThreadPool(concurrency) as threads:
        api = sdk.FingerprintApi(configuration, pool=threads)
        started = time.perf_counter()
        pending = [api.get_visits(visitor_id, async_req=True) for visitor_id in ids]
        for result in pending:
            result.get()
        return time.perf_counter() - started


Run = Callable[[str, list[str], int], float]


def contenders() -> dict[str, Run]:
    runs: dict[str, Run] = {FETCH_MANY: lambda *args: asyncio.run(with_fetch_many(*args))}
    if aiohttp is not None:
        runs[AIOHTTP] = lambda *args: asyncio.run(with_aiohttp(*args))
    runs[NAIVE] = lambda *args: asyncio.run(with_naive_httpx(*args))
    if sdk is not None:
        runs["official SDK"] = with_official_sdk
    return runs


def transport_contenders() -> dict[str, Run]:
    runs: dict[str, Run] = {}
    if aiohttp is not None:
        runs[AIOHTTP] = lambda *args: asyncio.run(with_aiohttp(*args))
    runs[FETCH_MANY] = lambda *args: asyncio.run(with_fetch_many(*args))
    for transport in TRANSPORTS:
        if transport != "aiohttp" or aiohttp is not None:
            runs[transport] = lambda *args, transport=transport: asyncio.run(
                with_fetch_many(*args, transport=transport)
            )
    return runs


def _bound(visitors: int, latency_ms: int, concurrency: int) -> float:
    return math.ceil(visitors / concurrency) * latency_ms / 1000


def measure_grid(visitors: int, repeats: int) -> dict[tuple[int, int, str], float]:
    """The best seconds of each contender on every row of the grid."""
    ids = visitor_ids(visitors)
    runs = contenders()
    best: dict[tuple[int, int, str], float] = {}
    for latency_ms in LATENCIES_MS:
        with loopback_server(page_visits=1, latency_ms=latency_ms) as base_url:
            for repeat in range(repeats):
                # Interleaved, so that a noisy moment does not hit one contender only.
                for concurrency in CONCURRENCIES:
                    for name, run in runs.items():
                        if name == NAIVE and repeat > 0:
                            continue
                        seconds = run(base_url, ids, concurrency)
                        key = (latency_ms, concurrency, name)
                        best[key] = min(best.get(key, math.inf), seconds)
    return best


def measure_transports(repeats: int) -> dict[tuple[int, str], float]:
    """The best seconds of each transport, and of hand-written aiohttp, on the target rows."""
    runs = transport_contenders()
    best: dict[tuple[int, str], float] = {}
    for row, (visitors, latency_ms, concurrency, _) in enumerate(TRANSPORT_ROWS):
        ids = visitor_ids(visitors)
        with loopback_server(page_visits=1, latency_ms=latency_ms) as base_url:
            for _ in range(repeats):
                for name, run in runs.items():
                    seconds = run(base_url, ids, concurrency)
                    best[row, name] = min(best.get((row, name), math.inf), seconds)
    return best


def _cell(seconds: float, bound: float) -> str:
    return f"{seconds:.2f} s ({seconds / bound:.1f}x)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visitors", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    print(f"The default transport under asyncio: {auto_transport(http2=False)}.")
    best = measure_grid(options.visitors, options.repeats)
    by_transport = measure_transports(options.repeats)

    names = list(contenders())
    print(f"\n{options.visitors} visitors, one page of one visit each; best of {options.repeats}")
    print("| latency | concurrency | latency bound | " + " | ".join(names) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in names) + " |")
    for latency_ms in LATENCIES_MS:
        for concurrency in CONCURRENCIES:
            bound = _bound(options.visitors, latency_ms, concurrency)
            cells = [_cell(best[latency_ms, concurrency, name], bound) for name in names]
            print(
                f"| {latency_ms} ms | {concurrency} | {bound:.2f} s | " + " | ".join(cells) + " |"
            )

    latency_ms, concurrency = TARGET_ROW
    bound = _bound(options.visitors, latency_ms, concurrency)
    ratio = best[latency_ms, concurrency, FETCH_MANY] / bound
    print(
        f"\nfetch_many at {latency_ms} ms, concurrency {concurrency}: {ratio:.2f}x the bound "
        f"(target <= {TARGET_RATIO}x): {'met' if ratio <= TARGET_RATIO else 'NOT met'}"
    )
    if sdk is not None:
        sdk_seconds = best[latency_ms, concurrency, "official SDK"]
        faster = best[latency_ms, concurrency, FETCH_MANY] < sdk_seconds
        print(f"faster than the official SDK there: {'yes' if faster else 'NO'}")
    slowest_margin = min(
        best[latency_ms, concurrency, NAIVE] / best[latency_ms, concurrency, FETCH_MANY]
        for latency_ms in LATENCIES_MS
        for concurrency in CONCURRENCIES
    )
    print(f"naive httpx / fetch_many, smallest over the rows: {slowest_margin:.1f}x")

    names = list(transport_contenders())
    print(f"\nBy transport: fetch_many on each, best of {options.repeats}")
    print("| visitors | latency | concurrency | latency bound | " + " | ".join(names) + " |")
    print("| --- | --- | --- | --- | " + " | ".join("---" for _ in names) + " |")
    for row, (visitors, latency_ms, concurrency, _) in enumerate(TRANSPORT_ROWS):
        bound = _bound(visitors, latency_ms, concurrency)
        cells = [_cell(by_transport[row, name], bound) for name in names]
        print(
            f"| {visitors} | {latency_ms} ms | {concurrency} | {bound:.2f} s | "
            + " | ".join(cells)
            + " |"
        )
    if AIOHTTP not in names:
        print("(aiohttp is not installed: no targets against it)")
        return
    for row, (visitors, latency_ms, concurrency, target) in enumerate(TRANSPORT_ROWS):
        peer = by_transport[row, AIOHTTP]
        where = f"{visitors} visitors at {latency_ms} ms, concurrency {concurrency}"
        for name, most in ((FETCH_MANY, target), ("builtin", BUILTIN_TARGET)):
            ratio = by_transport[row, name] / peer
            label = "the default transport" if name == FETCH_MANY else "the built-in transport"
            print(
                f"{where}, {label} / hand-written aiohttp: {ratio:.2f} "
                f"(target <= {most}): {'met' if ratio <= most else 'NOT met'}"
            )


if __name__ == "__main__":
    main()
