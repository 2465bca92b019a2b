"""Fixtures of the emulator's tests: empty emulators, clients over them, handmade data."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import _events_data as events_data
import httpx
import pytest

from fpjs_async._datetimes import format_datetime
from fpjs_async.testing import FakeServerAPI

KEY = "secret-test-key"
NOW = events_data.NOW
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def fake() -> FakeServerAPI:
    """An emulator with no data, key `KEY`."""
    return FakeServerAPI(KEY)


@pytest.fixture
async def client(fake: FakeServerAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client over `fake.transport()`, sending the key in the header."""
    async with httpx.AsyncClient(
        transport=fake.transport(),
        base_url="https://api.fpjs.io",
        headers={"Auth-Token": fake.api_key},
    ) as client:
        yield client


def _make_visits(
    count: int, *, newest: int = 1_700_000_000_000, step: int = 1000, linked_id: str | None = None
) -> list[dict[str, Any]]:
    """`count` minimal API-shaped visits, newest first, `step` ms apart."""
    visits = []
    for i in range(count):
        timestamp = newest - i * step
        visit: dict[str, Any] = {
            "requestId": f"{timestamp}.Rq{i:04d}",
            "timestamp": timestamp,
            "time": format_datetime(EPOCH + timedelta(milliseconds=timestamp)),
            "url": "https://shop.example.com/",
        }
        if linked_id is not None:
            visit["linkedId"] = linked_id
        visits.append(visit)
    return visits


@pytest.fixture
def make_visits() -> Callable[..., list[dict[str, Any]]]:
    """`make_visits(count, newest=..., step=1000, linked_id=None)`: visits, newest first."""
    return _make_visits


@pytest.fixture
def pinned() -> FakeServerAPI:
    """An emulator with no data, key `KEY`, its clock pinned at `NOW`."""
    return FakeServerAPI(KEY, now=NOW)


@pytest.fixture
async def api(pinned: FakeServerAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client over `pinned.transport()`, sending the key as v4 does."""
    async with httpx.AsyncClient(
        transport=pinned.transport(),
        base_url="https://api.fpjs.io",
        headers={"Authorization": f"Bearer {pinned.api_key}"},
    ) as client:
        yield client


@pytest.fixture
def make_events() -> Callable[..., list[dict[str, Any]]]:
    """`make_events(count, visitor_id=..., newest=NOW - 1000, step=60_000, **fields)`."""
    return events_data.make_events
