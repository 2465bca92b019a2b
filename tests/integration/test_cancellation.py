"""Calls cancelled at random points, hundreds of times, leave the session as good as new.

A slow loopback server (a few ms a request, some 503s and 429s so that retries and the shared
cooldown are cancelled too) is hit by `get_visits`, `iter_visits` and `fetch_many` calls
cancelled after seeded random delays, with more calls than the session's `max_concurrency` so
that waiters on its limit are cancelled as well. Afterwards the same session must still run
`max_concurrency` requests at once (a connection pool that lost a slot to a cancellation,
as in encode/httpcore#1093, cannot), the server must see no more connections open than the
pool holds, and nothing may warn: no `ResourceWarning`, no coroutine never awaited, no error
logged by the event loop.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import random
import warnings
from collections.abc import Iterator

import anyio
import httpx
import pytest

from fpjs_async import RetryPolicy, Session

from ._wire import Connection, WireRequest, WireServer, http_response
from .conftest import SECRET, StartServer

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.usefixtures("wire_transport")]

MAX_CONCURRENCY = 4
LATENCY = 0.003
#: Retries with waits short enough to be cancelled in the middle of them.
RETRY = RetryPolicy(max_retries=3, backoff_base=0.002, jitter=False)
HANG_GUARD = 60.0
NEWEST = 1_000_000
#: Rounds of calls cancelled together, in the iter_visits and fetch_many storms.
ROUNDS = 120


def cancel_after(rng: random.Random, round_: int, longest: float) -> float:
    """When to cancel a round: at random up to `longest`, except every eighth round, which
    gets long enough for its calls to get answers even on a slow, loaded machine."""
    return 0.5 if round_ % 8 == 7 else rng.uniform(0, longest)


class SlowAPI:
    """A script answering after `LATENCY`: pages with a cursor, a 503 or a 429 now and then.

    With `gate` set, answers wait until that many requests have been in flight at once, so
    a test can tell whether the client still manages to send that many at once.
    """

    def __init__(self) -> None:
        self.answered = 0
        self.gate = 0

    def page(self, request: WireRequest) -> bytes:
        before = int(dict(request.params()).get("before", NEWEST))
        visits = [{"requestId": f"{before - n}.r", "timestamp": before - n} for n in (1, 2)]
        body = f'{{"visitorId": "v", "visits": {visits}, "lastTimestamp": {before - 2}}}'
        return http_response(200, body.replace("'", '"').encode())

    async def __call__(self, conn: Connection) -> None:
        while (request := await conn.request()) is not None:
            if self.gate:
                await conn.server.until_peak_inflight(self.gate, timeout=5.0)
            else:
                await anyio.sleep(LATENCY)
            self.answered += 1
            if self.gate:
                await conn.answer(self.page(request))
            elif self.answered % 11 == 0:
                await conn.answer(http_response(503, b'{"error": "busy"}'))
            elif self.answered % 29 == 0:
                headers = {"Retry-After": "0.004"}
                await conn.answer(http_response(429, b'{"error": "slow down"}', headers=headers))
            else:
                await conn.answer(self.page(request))


@contextlib.contextmanager
def no_warnings(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails on any warning, or any error an event loop logs, up to a final GC of the body's
    garbage (where unclosed sockets and coroutines never awaited make themselves known)."""
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        yield
        gc.collect()
    assert [str(warning.message) for warning in caught] == []
    loop_errors = [r.getMessage() for r in caplog.records if r.name in ("asyncio", "trio")]
    assert loop_errors == []


#: Polls in a row that must find the server settled.
SETTLED_POLLS = 5


async def settle(server: WireServer) -> None:
    """Wait until the server has seen the cancelled calls end: nothing in flight, and no
    more connections open than the session may hold. The server's thread may still read a
    request a cancelled call wrote just before closing its connection: the state must hold
    for a few polls in a row."""
    settled = 0
    with anyio.move_on_after(5.0):
        # Polled: the counters belong to the server's thread, which no event here can see.
        while settled < SETTLED_POLLS:
            quiet = not server.inflight and server.open_connections <= MAX_CONCURRENCY
            settled = settled + 1 if quiet else 0
            await anyio.sleep(0.01)


async def assert_full_concurrency(server: WireServer, api: SlowAPI, session: Session) -> None:
    """The session still gets `MAX_CONCURRENCY` requests in flight at once, and all succeed."""
    await settle(server)
    server.reset_peaks()
    api.gate = MAX_CONCURRENCY
    answered = 0

    async def one(index: int) -> None:
        nonlocal answered
        await session.get_visits(f"after-{index}")
        answered += 1

    with anyio.fail_after(HANG_GUARD):
        async with anyio.create_task_group() as group:
            for index in range(MAX_CONCURRENCY * 3):
                group.start_soon(one, index)
    assert answered == MAX_CONCURRENCY * 3
    assert server.peak_inflight == MAX_CONCURRENCY
    assert server.peak_serving_connections <= MAX_CONCURRENCY


def new_session(server: WireServer, http_client: httpx.AsyncClient | None = None) -> Session:
    return Session(
        SECRET,
        base_url=server.url,
        max_concurrency=MAX_CONCURRENCY,
        retry=RETRY,
        timeout=10,
        http_client=http_client,
    )


async def test_get_visits_cancelled_hundreds_of_times_on_asyncio(
    serve: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    with no_warnings(caplog):
        await get_visits_storm(serve, rounds=120)


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_get_visits_cancelled_hundreds_of_times_on_trio(
    serve: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    with no_warnings(caplog):
        await get_visits_storm(serve, rounds=60)


async def test_get_visits_through_an_injected_client_cancelled_hundreds_of_times(
    serve: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    # As many connections as the session sends requests at once: none waits in httpcore's
    # pool, where a cancelled wait can lose a connection slot for good (encode/httpcore#1093).
    limits = httpx.Limits(max_connections=MAX_CONCURRENCY)
    with no_warnings(caplog):
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:
            await get_visits_storm(serve, rounds=60, http_client=client)


async def get_visits_storm(
    serve: StartServer, *, rounds: int, http_client: httpx.AsyncClient | None = None
) -> None:
    """Rounds of twice `MAX_CONCURRENCY` concurrent calls, cancelled after a random delay."""
    api = SlowAPI()
    server = serve(api)
    rng = random.Random(rounds)
    calls = completed = 0

    async def call(visitor_id: str) -> None:
        nonlocal completed
        await session.get_visits(visitor_id)
        completed += 1

    async with new_session(server, http_client) as session:
        for round_ in range(rounds):
            with anyio.move_on_after(cancel_after(rng, round_, 0.015)):
                async with anyio.create_task_group() as group:
                    for index in range(MAX_CONCURRENCY * 2):
                        group.start_soon(call, f"v{round_}-{index}")
                        calls += 1
        # Hundreds of calls cancelled on the way: a quarter of them, however fast the client.
        assert calls - completed >= 2 * rounds
        assert completed > 0
        await assert_full_concurrency(server, api, session)


async def test_iter_visits_cancelled_hundreds_of_times(
    serve: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    api = SlowAPI()
    server = serve(api)
    rng = random.Random(10)
    walks = visits_seen = 0

    async def walk(visitor_id: str) -> None:
        nonlocal visits_seen
        async with contextlib.aclosing(session.iter_visits(visitor_id, limit=2)) as visits:
            async for _ in visits:
                visits_seen += 1
        raise AssertionError("the history ended")  # it never does: only a cancel stops it

    with no_warnings(caplog):
        async with new_session(server) as session:
            for round_ in range(ROUNDS):
                with anyio.move_on_after(cancel_after(rng, round_, 0.03)):
                    async with anyio.create_task_group() as group:
                        for index in range(MAX_CONCURRENCY + 2):
                            group.start_soon(walk, f"v{round_}-{index}")
                            walks += 1
            # Every walk was cancelled, between pages or inside a request.
            assert walks == ROUNDS * (MAX_CONCURRENCY + 2)
            assert visits_seen > 0
            await assert_full_concurrency(server, api, session)


async def test_fetch_many_cancelled_hundreds_of_times(
    serve: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    api = SlowAPI()
    server = serve(api)
    rng = random.Random(11)
    visitors = results = 0
    with no_warnings(caplog):
        async with new_session(server) as session:
            for round_ in range(ROUNDS):
                ids = [f"v{round_}-{index}" for index in range(12)]
                visitors += len(ids)
                all_pages = rng.random() < 0.5
                fetch = session.fetch_many(
                    ids,
                    concurrency=MAX_CONCURRENCY + 2,
                    all_pages=all_pages,
                    max_pages=3 if all_pages else None,
                )
                with anyio.move_on_after(cancel_after(rng, round_, 0.03)):
                    async with fetch as stream:
                        async for _ in stream:
                            results += 1
            assert visitors - results >= 3 * ROUNDS  # hundreds of visitor fetches cancelled
            assert results > 0
            await assert_full_concurrency(server, api, session)
