"""Fixtures of the emulator's tests: an empty emulator, a client over it, handmade visits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from fpjs_async._converter import format_datetime
from fpjs_async.testing import FakeServerAPI

KEY = "secret-test-key"
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
