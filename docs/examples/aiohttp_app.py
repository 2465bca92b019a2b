"""aiohttp: the application's `Session` lives in a cleanup context, opened at startup.

Run it from docs/examples with `FPJS_API_KEY=... python aiohttp_app.py`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from aiohttp import web
from web_common import error_reply, session_from_environment, visit_json

import fpjs_async

logger = logging.getLogger(__name__)

#: Opens the application's session: `fpjs_async.Session(...)` itself, or a test's emulator.
SessionFactory = Callable[[], AbstractAsyncContextManager[fpjs_async.Session]]
FINGERPRINT = web.AppKey("fingerprint", fpjs_async.Session)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def recent_visits(request: web.Request) -> web.Response:
    """The visitor's latest visits: one request to the Server API."""
    fingerprint = request.app[FINGERPRINT]
    try:
        limit = int(request.query.get("limit", "20"))
    except ValueError:
        raise web.HTTPBadRequest(text="limit must be an integer") from None
    if not 1 <= limit <= 500:
        raise web.HTTPBadRequest(text="limit must be from 1 to 500")
    history = await fingerprint.get_visits(request.match_info["visitor_id"], limit=limit)
    return web.json_response(
        {
            "visitor_id": history.visitor_id,
            "visits": [visit_json(visit) for visit in history.visits],
            "has_more": history.has_more,
        }
    )


@web.middleware
async def fingerprint_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answers a failed Server API call as `error_reply` says."""
    try:
        return await handler(request)
    except fpjs_async.FingerprintError as error:
        logger.warning("Server API call for %s failed: %s", request.path, error)
        reply = error_reply(error)
        return web.json_response(
            {"detail": reply.detail}, status=reply.status, headers=reply.headers
        )


def create_app(open_session: SessionFactory = session_from_environment) -> web.Application:
    """The application; `open_session` is called once, at startup.

    Args:
        open_session: Returns the session to use (an async context manager closed at
            cleanup). By default a `fpjs_async.Session` configured from the environment.
    """

    async def fingerprint_session(app: web.Application) -> AsyncIterator[None]:
        # Before the yield: startup. After it: cleanup, once the server stopped serving.
        async with open_session() as session:
            app[FINGERPRINT] = session
            yield

    app = web.Application(middlewares=[fingerprint_errors])
    app.cleanup_ctx.append(fingerprint_session)
    app.router.add_get("/visitors/{visitor_id}/visits", recent_visits)
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=8080)
