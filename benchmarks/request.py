"""Decoding and single requests: fpjs_async against `json.loads`, raw httpx and the official SDK.

In one run on one machine, side by side:

- decoding a body of 1, 100 and 500 visits into objects: `json.loads` alone, fpjs_async
  (`json`, as installed by default), fpjs_async with `orjson` (the `speedups` extra), and
  the official SDK's deserializer (`json.loads` plus its models);
- sequential `get_visits` of such pages against one loopback server process
  (`_server.py`): fpjs_async, raw `httpx` + `json.loads`, and the official SDK
  (`fingerprint-pro-server-api-sdk`, when installed).

It prints Markdown tables of medians and the ratios the project targets. Run it with
`nox -s bench -- request`, or `python benchmarks/request.py` in an environment with the
package installed (the SDK and orjson are optional: their rows then say so).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import platform
import statistics
import time
import warnings
from collections.abc import Awaitable, Callable
from importlib import metadata
from typing import Any

import httpx
from _server import API_KEY, Pages, loopback_server

import fpjs_async
from fpjs_async import _converter

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
OURS = "fpjs_async"
OURS_ORJSON = "fpjs_async + orjson"
SDK = "official SDK"
NOT_INSTALLED = "not installed"

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
                OURS: ours(False),
                OURS_ORJSON: ours(True) if _ORJSON_DECODE else None,
                SDK: official_sdk if sdk is not None else None,
            }
            for name, median in (await _medians(candidates, _time_async)).items():
                medians[name, size] = median
    _use_orjson(True)
    return medians


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


def main() -> None:
    """Run every measurement and print the tables."""
    started = time.perf_counter()
    pages = Pages.synthetic()
    sizes = ", ".join(f"{size}: {len(pages.body(VISITOR_ID, size)):,} B" for size in PAGE_SIZES)
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{_cpu_model()}, {os.cpu_count()} CPUs; fpjs_async {fpjs_async.__version__}, "
        f"httpx {_version('httpx')}, cattrs {_version('cattrs')}, orjson {_version('orjson')}, "
        f"official SDK {_version('fingerprint-pro-server-api-sdk')}. Page bodies: {sizes}."
    )
    print()
    gc.collect()
    decoding = asyncio.run(measure_decoding(pages))
    with loopback_server() as base_url:
        requests = asyncio.run(measure_requests(base_url))
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
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
