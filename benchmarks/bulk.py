"""Bulk fetching: 400 visitor histories at 10, 50 and 200 at once, against one loopback server.

Side by side, in one run, against the same server process (`_server.py`, which waits a fixed
latency before each answer):

- `Session.fetch_many` with `concurrency` and `max_concurrency` both at the row's value;
- naive httpx: `asyncio.gather` of every request over one `httpx.AsyncClient` allowed that
  many connections;
- the official SDK (`fingerprint-pro-server-api-sdk`, when installed): `get_visits` with
  `async_req=True` over a thread pool and a connection pool of that size.

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
import math
import time
from collections.abc import Callable
from multiprocessing.pool import ThreadPool
from typing import Any

import httpx
from _server import API_KEY, loopback_server

import fpjs_async

CONCURRENCIES = (10, 50, 200)
LATENCIES_MS = (20, 50)
#: The targets: at 50 ms and concurrency 50, fetch_many within 1.5x the latency bound.
TARGET_ROW = (50, 50)
TARGET_RATIO = 1.5
NAIVE = "naive httpx"

try:
    import fingerprint_pro_server_api_sdk as sdk
except ImportError:  # only the bench session installs it
    sdk = None


def visitor_ids(count: int) -> list[str]:
    return [f"visitor{number:06d}" for number in range(count)]


async def with_fetch_many(base_url: str, ids: list[str], concurrency: int) -> float:
    async with fpjs_async.Session(
        API_KEY, base_url=base_url, max_concurrency=concurrency
    ) as session:
        started = time.perf_counter()
        async with session.fetch_many(ids, concurrency=concurrency) as results:
            async for result in results:
                if result.error is not None:
                    raise result.error
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


def contenders() -> dict[str, Callable[[str, list[str], int], float]]:
    runs: dict[str, Callable[[str, list[str], int], float]] = {
        "fetch_many": lambda *args: asyncio.run(with_fetch_many(*args)),
        NAIVE: lambda *args: asyncio.run(with_naive_httpx(*args)),
    }
    if sdk is not None:
        runs["official SDK"] = with_official_sdk
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visitors", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    ids = visitor_ids(options.visitors)
    runs = contenders()
    best: dict[tuple[int, int, str], float] = {}
    for latency_ms in LATENCIES_MS:
        with loopback_server(page_visits=1, latency_ms=latency_ms) as base_url:
            for repeat in range(options.repeats):
                # Interleaved, so that a noisy moment does not hit one contender only.
                for concurrency in CONCURRENCIES:
                    for name, run in runs.items():
                        if name == NAIVE and repeat > 0:
                            continue
                        seconds = run(base_url, ids, concurrency)
                        key = (latency_ms, concurrency, name)
                        best[key] = min(best.get(key, math.inf), seconds)

    names = list(runs)
    print(f"\n{options.visitors} visitors, one page of one visit each; best of {options.repeats}")
    print("| latency | concurrency | latency bound | " + " | ".join(names) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in names) + " |")
    for latency_ms in LATENCIES_MS:
        for concurrency in CONCURRENCIES:
            bound = math.ceil(options.visitors / concurrency) * latency_ms / 1000
            cells = []
            for name in names:
                seconds = best[latency_ms, concurrency, name]
                cells.append(f"{seconds:.2f} s ({seconds / bound:.1f}x)")
            print(
                f"| {latency_ms} ms | {concurrency} | {bound:.2f} s | " + " | ".join(cells) + " |"
            )

    latency_ms, concurrency = TARGET_ROW
    bound = math.ceil(options.visitors / concurrency) * latency_ms / 1000
    ratio = best[latency_ms, concurrency, "fetch_many"] / bound
    print(
        f"\nfetch_many at {latency_ms} ms, concurrency {concurrency}: {ratio:.2f}x the bound "
        f"(target <= {TARGET_RATIO}x): {'met' if ratio <= TARGET_RATIO else 'NOT met'}"
    )
    if sdk is not None:
        sdk_seconds = best[latency_ms, concurrency, "official SDK"]
        faster = best[latency_ms, concurrency, "fetch_many"] < sdk_seconds
        print(f"faster than the official SDK there: {'yes' if faster else 'NO'}")
    slowest_margin = min(
        best[latency_ms, concurrency, NAIVE] / best[latency_ms, concurrency, "fetch_many"]
        for latency_ms in LATENCIES_MS
        for concurrency in CONCURRENCIES
    )
    print(f"naive httpx / fetch_many, smallest over the rows: {slowest_margin:.1f}x")


if __name__ == "__main__":
    main()
