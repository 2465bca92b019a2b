"""Serving the recipes' web applications in-process, over the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

import fpjs_async
from fpjs_async.testing import FakeServerAPI

NO_RETRIES = fpjs_async.RetryPolicy(max_retries=0)

#: What the recipes' `create_app` takes: opens the application's session.
SessionFactory = Callable[[], AbstractAsyncContextManager[fpjs_async.Session]]


def opener(fake: FakeServerAPI, opened: list[fpjs_async.Session] | None = None) -> SessionFactory:
    """A `create_app` session factory over the emulator (no retries); notes each session."""

    @asynccontextmanager
    async def open_session() -> AsyncIterator[fpjs_async.Session]:
        async with fake.session(retry=NO_RETRIES) as session:
            if opened is not None:
                opened.append(session)
            yield session

    return open_session


@asynccontextmanager
async def serve_asgi(
    app: Any, base_url: str = "http://app.test"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the ASGI `app`, in-process, between its startup and its shutdown."""
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url=base_url
        ) as client,
    ):
        yield client
