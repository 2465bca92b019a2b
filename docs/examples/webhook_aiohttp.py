"""aiohttp: a webhook receiver, and a login that opens the sealed result of the browser.

Run it from docs/examples with
`FPJS_WEBHOOK_SECRET=... FPJS_DECRYPTION_KEYS=... python webhook_aiohttp.py`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from webhook_common import (
    EventHandler,
    WebhookSettings,
    judge,
    log_event,
    settings_from_environment,
)

from fpjs_async import ResponseDecodeError
from fpjs_async.events import Event
from fpjs_async.sealed import UnsealError, unseal_event
from fpjs_async.webhooks import SIGNATURE_HEADER, WebhookSignatureError, verify_event

logger = logging.getLogger(__name__)


class BackgroundEvents:
    """Hands each delivered event to the handler in a task of its own.

    The tasks are kept (asyncio holds only weak references to them) and awaited at cleanup,
    so that no event is dropped when the server stops.
    """

    def __init__(self, handle_event: EventHandler) -> None:
        self._handle_event = handle_event
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, event: Event) -> None:
        """Start handling `event`; returns at once."""
        task = asyncio.create_task(self._handle_event(event))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("handling a webhook event failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for the events being handled."""
        await asyncio.gather(*self._tasks, return_exceptions=True)


SETTINGS = web.AppKey("webhook_settings", WebhookSettings)
BACKGROUND = web.AppKey("background_events", BackgroundEvents)


def _refuse(status: int, detail: str) -> web.Response:
    return web.json_response({"detail": detail}, status=status)


async def fingerprint_webhook(request: web.Request) -> web.Response:
    """Receives an event from Fingerprint: 401 unless it is signed with our secret."""
    body = await request.read()  # the raw bytes: the signature covers exactly these
    header = request.headers.get(SIGNATURE_HEADER)
    try:
        event = verify_event(header, body, request.app[SETTINGS].secret)
    except WebhookSignatureError as error:
        logger.warning("refused a webhook: %s", error)
        return _refuse(401, "invalid signature")
    except ResponseDecodeError as error:
        logger.error("a signed webhook holds no event: %s", error)
        return _refuse(400, "not an event")
    # Answer at once and handle the event after: Fingerprint waits for the answer.
    request.app[BACKGROUND].submit(event)
    return web.json_response({"event_id": event.event_id})


async def login(request: web.Request) -> web.Response:
    """Lets a visitor in by the event sealed for us: 400 if it does not open, 403 if refused."""
    try:
        form = await request.json()
    except ValueError:
        return _refuse(400, "the body is not JSON")
    sealed_result = form.get("sealed_result") if isinstance(form, dict) else None
    if not isinstance(sealed_result, str):
        return _refuse(400, "sealed_result must be a string")
    try:
        event = unseal_event(sealed_result, request.app[SETTINGS].decryption_keys)
    except UnsealError as error:
        logger.warning("refused a sealed result: %s", error)
        return _refuse(400, "invalid sealed result")
    verdict = judge(event)
    if not verdict.allowed:
        return _refuse(403, verdict.reason)
    visitor_id = None if event.identification is None else event.identification.visitor_id
    return web.json_response({"event_id": event.event_id, "visitor_id": visitor_id})


def create_app(
    load_settings: Callable[[], WebhookSettings] = settings_from_environment,
    handle_event: EventHandler = log_event,
) -> web.Application:
    """The application; `load_settings` is called once, at startup.

    Args:
        load_settings: Returns the secrets; by default read from the environment.
        handle_event: Called with each event a webhook delivers, after the answer.
    """

    async def context(app: web.Application) -> AsyncIterator[None]:
        app[SETTINGS] = load_settings()
        app[BACKGROUND] = background = BackgroundEvents(handle_event)
        yield
        await background.drain()

    app = web.Application()
    app.cleanup_ctx.append(context)
    app.router.add_post("/webhooks/fingerprint", fingerprint_webhook)
    app.router.add_post("/login", login)
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=8080)
