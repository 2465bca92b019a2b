"""FastAPI: one `Session` for the whole application, handed to the endpoints by a dependency.

Run it from docs/examples with `FPJS_API_KEY=... uvicorn fastapi_app:app`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AwareDatetime
from web_common import error_reply, session_from_environment, visit_json

import fpjs_async

logger = logging.getLogger(__name__)

#: Opens the application's session: `fpjs_async.Session(...)` itself, or a test's emulator.
SessionFactory = Callable[[], AbstractAsyncContextManager[fpjs_async.Session]]


def fingerprint_session(request: Request) -> fpjs_async.Session:
    """The dependency that hands the application's session to an endpoint."""
    session: fpjs_async.Session = request.state.fingerprint
    return session


Fingerprint = Annotated[fpjs_async.Session, Depends(fingerprint_session)]
router = APIRouter()


@router.get("/visitors/{visitor_id}/visits")
async def recent_visits(
    visitor_id: str,
    fingerprint: Fingerprint,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    linked_id: str | None = None,
) -> dict[str, Any]:
    """The visitor's latest visits: one request to the Server API."""
    history = await fingerprint.get_visits(visitor_id, limit=limit, linked_id=linked_id)
    return {
        "visitor_id": history.visitor_id,
        "visits": [visit_json(visit) for visit in history.visits],
        "has_more": history.has_more,
    }


@router.get("/visitors/{visitor_id}/history.ndjson")
async def history_ndjson(
    visitor_id: str,
    fingerprint: Fingerprint,
    since: AwareDatetime | None = None,
    max_visits: Annotated[int | None, Query(ge=1)] = None,
) -> StreamingResponse:
    """The visitor's whole history (or since a moment), one JSON object per line."""
    visits = fingerprint.iter_visits(visitor_id, limit=500, since=since, max_visits=max_visits)
    # The first page is fetched before the response starts, so that its error (an unknown
    # visitor, a refused key) becomes an HTTP status. Later, only the stream can say it.
    first = await anext(visits, None)
    lines = _ndjson_lines(visitor_id, first, visits)
    return StreamingResponse(lines, media_type="application/x-ndjson")


async def _ndjson_lines(
    visitor_id: str,
    first: fpjs_async.Visit | None,
    visits: AsyncGenerator[fpjs_async.Visit, None],
) -> AsyncIterator[str]:
    # aclosing: when the client goes away mid-stream, the walk stops here and now.
    async with aclosing(visits):
        if first is None:
            return
        yield json.dumps(visit_json(first)) + "\n"
        try:
            async for visit in visits:
                yield json.dumps(visit_json(visit)) + "\n"
        except fpjs_async.FingerprintError as error:
            logger.warning("history stream of %s failed: %s", visitor_id, error)
            yield json.dumps({"error": error_reply(error).detail}) + "\n"


def create_app(open_session: SessionFactory = session_from_environment) -> FastAPI:
    """The application; `open_session` is called once, at startup.

    Args:
        open_session: Returns the session to use (an async context manager closed at
            shutdown). By default a `fpjs_async.Session` configured from the environment.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        # One session for every request: its connections and rate limits are shared.
        async with open_session() as session:
            yield {"fingerprint": session}

    app = FastAPI(title="Visitor histories", lifespan=lifespan)
    app.include_router(router)

    @app.exception_handler(fpjs_async.FingerprintError)
    async def fingerprint_error(
        request: Request, error: fpjs_async.FingerprintError
    ) -> JSONResponse:
        logger.warning("Server API call for %s failed: %s", request.url.path, error)
        reply = error_reply(error)
        return JSONResponse({"detail": reply.detail}, reply.status, headers=reply.headers)

    return app


app = create_app()
