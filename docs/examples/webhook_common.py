"""What the webhook recipes share: their settings, and who a sealed result lets in."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from fpjs_async.events import Event
from fpjs_async.sealed import DecryptionKey

logger = logging.getLogger(__name__)

#: How old a sealed result may be. The browser forwards it as soon as it has it: an older one
#: was kept somewhere, and may be sent again and again.
MAX_AGE_MS = 2 * 60 * 1000

#: What the application does with each event a webhook delivers, once it has answered.
EventHandler = Callable[[Event], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class WebhookSettings:
    """The secrets of both recipes; `repr` leaves them out.

    Attributes:
        secret: The webhook's signing secret.
        decryption_keys: The keys of sealed results, newest first.
    """

    secret: str = field(repr=False)
    decryption_keys: tuple[DecryptionKey, ...]


def settings_from_environment() -> WebhookSettings:
    """`FPJS_WEBHOOK_SECRET`, and `FPJS_DECRYPTION_KEYS`: base64 keys, comma-separated.

    A key that is not base64 text of 32 bytes raises `ValueError` here, at startup, rather
    than at the first sealed result.
    """
    keys = os.environ["FPJS_DECRYPTION_KEYS"].split(",")
    return WebhookSettings(
        secret=os.environ["FPJS_WEBHOOK_SECRET"],
        decryption_keys=tuple(DecryptionKey(key.strip()) for key in keys if key.strip()),
    )


async def log_event(event: Event) -> None:
    """The default event handler: logs the event. Yours stores it, or starts a job."""
    visitor_id = None if event.identification is None else event.identification.visitor_id
    logger.info("webhook event %s of visitor %s", event.event_id, visitor_id)


@dataclass(frozen=True)
class Verdict:
    """Whether a sealed result lets its visitor in, and why not."""

    allowed: bool
    reason: str = ""


def judge(event: Event, *, now_ms: int | None = None) -> Verdict:
    """Who a sealed result lets in: not bad bots, and only with a fresh, unreplayed event.

    The seal proves that Fingerprint made the event, not that this visitor got it just now:
    old or replayed results are refused. (To use each event once, keep its `event_id`
    under a unique key in your database.)
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if event.bot == "bad":
        return Verdict(False, "automated browsers are not allowed")
    if event.replayed:
        return Verdict(False, "this identification was replayed")
    if now_ms - event.timestamp > MAX_AGE_MS:
        return Verdict(False, "the identification is too old")
    return Verdict(True)
