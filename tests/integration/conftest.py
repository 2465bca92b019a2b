"""Fixtures of the integration tests: loopback servers on real sockets, sessions pointed at them."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable, Iterator

import pytest

from fpjs_async import RetryPolicy, _transport

from ._wire import Script, WireServer

#: A secret shaped like a real Server API key; tests check it never leaks.
SECRET = "Sk7Qv2ZpL9xWm4TnR8bJ"

#: Two retries with short, deterministic waits: three attempts in all.
FAST_RETRY = RetryPolicy(max_retries=2, backoff_base=0.01, jitter=False)

StartServer = Callable[..., WireServer]


@pytest.fixture
def serve() -> Iterator[StartServer]:
    """Start `WireServer(script, ...)`s that are stopped when the test ends."""
    with contextlib.ExitStack() as stack:

        def start(script: Script, *, ssl_context: ssl.SSLContext | None = None) -> WireServer:
            return stack.enter_context(WireServer(script, ssl_context=ssl_context))

        yield start


#: The session's own ways of sending, each of which the tests of the wire run on.
TRANSPORTS = ["builtin", "aiohttp", "httpcore"]


@pytest.fixture(params=TRANSPORTS)
def wire_transport(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> str:
    """Run the test once per transport: every session it makes with `transport="auto"` (the
    command line's included) sends with that one. aiohttp runs under asyncio only."""
    name: str = request.param
    if name == "aiohttp" and anyio_backend != "asyncio":
        pytest.skip("aiohttp runs under asyncio only")
    monkeypatch.setattr(
        _transport, "auto_transport", lambda *, http2: "httpcore" if http2 else name
    )
    return name
