"""Shared test configuration: async tests run on asyncio through anyio's pytest plugin."""

from __future__ import annotations

import importlib
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
import trio
from _bodies import API_KEY
from _clocks import ManualClock
from _shared import V4_EXAMPLES, require

import fpjs_async._transport
from fpjs_async import RetryPolicy, Session, _retry

#: The recipes' modules, published with the docs.
EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


@pytest.fixture
def anyio_backend() -> str:
    """Async tests marked `anyio` run on asyncio unless a test asks for trio."""
    return "asyncio"


@pytest.fixture
async def session() -> AsyncIterator[Session]:
    """A session with the test key and no retries, for the tests that mock HTTP with respx."""
    async with Session(API_KEY, retry=RetryPolicy(max_retries=0)) as fp:
        yield fp


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """The library's clock stands still unless the test moves it; sleeps are recorded."""
    return ManualClock().install(monkeypatch)


@pytest.fixture
def virtual_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's clock is trio's (the tests using it run `on_virtual_time`)."""
    monkeypatch.setattr(_retry, "clock", trio.current_time)


@pytest.fixture(scope="module")
def examples() -> Iterator[Callable[[str], ModuleType]]:
    """Imports a recipe module of docs/examples by name."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield importlib.import_module
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture(autouse=True)
def _auto_transport_is_httpcore(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside tests/integration, "auto" sessions send through httpcore, which respx sees.

    The other transports are tested on real sockets, in tests/integration.
    """
    if "integration" not in request.path.parts:
        monkeypatch.setattr(fpjs_async._transport, "auto_transport", lambda *, http2: "httpcore")


@pytest.fixture(scope="session")
def example_body() -> bytes:
    """The schema's example webhook body, as the bytes Fingerprint would POST."""
    return require(V4_EXAMPLES / "webhook" / "webhook_event.json").read_bytes()
