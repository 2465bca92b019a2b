"""pytest fixtures backed by the emulator: `fake_api` and `fake_session`.

Registered through the `pytest11` entry point. Importing this module only defines the
fixtures: no hooks, no options, nothing else changes in a test run.

The fixtures are synchronous, so they work the same under anyio's pytest plugin,
pytest-asyncio and trio. `fake_session` needs no event loop to close: the in-process
transport holds no sockets, so closing it never waits.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import pytest

from fpjs_async._session import Session
from fpjs_async.testing._asgi import in_process_client
from fpjs_async.testing._fake import FakeServerAPI

#: The key of the `fake_api` emulator (and of `fake_session`).
FAKE_API_KEY = "test-key"
#: What `fake_api` holds: `populate(**FAKE_API_DATA)`.
FAKE_API_DATA: Mapping[str, Any] = MappingProxyType(
    {"visitors": 10, "visits_per_visitor": (1, 300), "seed": 0}
)


@pytest.fixture
def fake_api() -> FakeServerAPI:
    """A `FakeServerAPI` with key `"test-key"` and 10 synthetic visitors (seed 0).

    Each visit is a v3 visit and a v4 event. The data is the same in every test but for
    its absolute times (the histories end when the fixture is made, on the real clock);
    `fake_api.visitor_ids` lists the visitors. Each test gets a new emulator, so faults
    and recorded requests never leak between tests.
    """
    fake = FakeServerAPI(FAKE_API_KEY)
    fake.populate(**FAKE_API_DATA)
    return fake


def _finish(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that completes without suspending, outside any event loop."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("closing the in-process session unexpectedly needed an event loop")


@pytest.fixture
def fake_session(fake_api: FakeServerAPI) -> Iterator[Session]:
    """A `fpjs_async.Session` wired in-process to `fake_api`; closed after the test."""
    client = in_process_client(fake_api.app)
    session = Session(fake_api.api_key, http_client=client)
    try:
        yield session
    finally:
        _finish(session.aclose())
        _finish(client.aclose())
