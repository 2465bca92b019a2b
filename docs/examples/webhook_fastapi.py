"""FastAPI: a webhook receiver, and a login that opens the sealed result of the browser.

Run it from docs/examples with
`FPJS_WEBHOOK_SECRET=... FPJS_DECRYPTION_KEYS=... uvicorn webhook_fastapi:app`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel
from webhook_common import (
    EventHandler,
    WebhookSettings,
    judge,
    log_event,
    settings_from_environment,
)

from fpjs_async import ResponseDecodeError
from fpjs_async.sealed import UnsealError, unseal_event
from fpjs_async.webhooks import SIGNATURE_HEADER, WebhookSignatureError, verify_event

logger = logging.getLogger(__name__)


def webhook_settings(request: Request) -> WebhookSettings:
    """The dependency that hands the application's secrets to an endpoint."""
    settings: WebhookSettings = request.state.webhook_settings
    return settings


Settings = Annotated[WebhookSettings, Depends(webhook_settings)]
router = APIRouter()


@router.post("/webhooks/fingerprint")
async def fingerprint_webhook(
    request: Request, settings: Settings, background: BackgroundTasks
) -> dict[str, str]:
    """Receives an event from Fingerprint: 401 unless it is signed with our secret."""
    # The raw bytes: the signature covers exactly these. A pydantic model parameter would
    # hand over parsed JSON, which no longer verifies.
    body = await request.body()
    header = request.headers.get(SIGNATURE_HEADER)
    try:
        event = verify_event(header, body, settings.secret)
    except WebhookSignatureError as error:
        logger.warning("refused a webhook: %s", error)
        raise HTTPException(401, "invalid signature") from None
    except ResponseDecodeError as error:
        logger.error("a signed webhook holds no event: %s", error)
        raise HTTPException(400, "not an event") from None
    # Answer at once and handle the event after: Fingerprint waits for the answer.
    handle_event: EventHandler = request.state.handle_event
    background.add_task(handle_event, event)
    return {"event_id": event.event_id}


class Login(BaseModel):
    """What the login page posts: the sealed result its JavaScript agent received."""

    sealed_result: str


@router.post("/login")
async def login(form: Login, settings: Settings) -> dict[str, Any]:
    """Lets a visitor in by the event sealed for us: 400 if it does not open, 403 if refused."""
    try:
        event = unseal_event(form.sealed_result, settings.decryption_keys)
    except UnsealError as error:
        logger.warning("refused a sealed result: %s", error)
        raise HTTPException(400, "invalid sealed result") from None
    verdict = judge(event)
    if not verdict.allowed:
        raise HTTPException(403, verdict.reason)
    visitor_id = None if event.identification is None else event.identification.visitor_id
    return {"event_id": event.event_id, "visitor_id": visitor_id}


def create_app(
    load_settings: Callable[[], WebhookSettings] = settings_from_environment,
    handle_event: EventHandler = log_event,
) -> FastAPI:
    """The application; `load_settings` is called once, at startup.

    Args:
        load_settings: Returns the secrets; by default read from the environment.
        handle_event: Called with each event a webhook delivers, after the answer.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield {"webhook_settings": load_settings(), "handle_event": handle_event}

    app = FastAPI(title="Fingerprint webhooks and sealed results", lifespan=lifespan)
    app.include_router(router)
    return app


app = create_app()
