"""What the web recipes share: a visit as JSON for a browser, and API errors as HTTP replies."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import fpjs_async

#: Seconds a client is told to wait when the API did not say how long.
DEFAULT_RETRY_AFTER = 5


def session_from_environment() -> fpjs_async.Session:
    """The application's session: the key from `FPJS_API_KEY`, the region from `FPJS_REGION`."""
    return fpjs_async.Session(
        os.environ["FPJS_API_KEY"], region=os.environ.get("FPJS_REGION", "us")
    )


def visit_json(visit: fpjs_async.Visit) -> dict[str, Any]:
    """The fields of a visit that a web client needs, as JSON-ready values."""
    browser = visit.browser_details
    return {
        "request_id": visit.request_id,
        "time": None if visit.time is None else visit.time.isoformat(),
        "url": visit.url,
        "ip": visit.ip,
        "incognito": visit.incognito,
        "linked_id": visit.linked_id,
        "browser": None if browser is None else browser.browser_name,
        "os": None if browser is None else browser.os,
    }


@dataclass(frozen=True)
class ErrorReply:
    """The HTTP answer our application gives when the Server API call failed."""

    status: int
    detail: str
    headers: dict[str, str] = field(default_factory=dict)


def error_reply(error: fpjs_async.FingerprintError) -> ErrorReply:
    """Map an error of the Server API to an answer for our own clients.

    A 403 is our configuration's fault (key or region), a 429 our traffic's: neither is the
    client's, so they become 502 and 503. The API's own message is not passed on.
    """
    if isinstance(error, fpjs_async.NotFoundError):
        return ErrorReply(404, "unknown visitor")
    if isinstance(error, fpjs_async.AuthenticationError):
        return ErrorReply(502, "the visitor-history service refused our credentials")
    if isinstance(error, fpjs_async.RateLimitError):
        wait = DEFAULT_RETRY_AFTER if error.retry_after is None else math.ceil(error.retry_after)
        return ErrorReply(
            503, "the visitor-history service is busy", {"Retry-After": str(max(wait, 1))}
        )
    return ErrorReply(502, "the visitor-history service failed")
