"""Hand-written API bodies and shared helpers for the core unit tests.

The bodies follow the shapes the Server API documents; the values are made up.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx

#: A key distinctive enough that finding it in any text means it leaked.
API_KEY = "sk_TEST_9f3b2c1d8e7a6b5c4d3e2f1a"

US = "https://api.fpjs.io"
EU = "https://eu.api.fpjs.io"
AP = "https://ap.api.fpjs.io"

VISITOR_ID = "Ibk1527CUFmcnjLwIs4A9"

FULL_VISIT: dict[str, Any] = {
    "requestId": "1708102555327.NLOjmg",
    "timestamp": 1708102555327,
    "time": "2024-02-16T16:55:55.327Z",
    "incognito": False,
    "linkedId": "order-7",
    "url": "https://shop.example/checkout",
    "ip": "203.0.113.7",
    "ipLocation": {
        "accuracyRadius": 20,
        "latitude": 48.8566,
        "longitude": 2.3522,
        "postalCode": "75001",
        "timezone": "Europe/Paris",
        "city": {"name": "Paris"},
        "country": {"code": "FR", "name": "France"},
        "continent": {"code": "EU", "name": "Europe"},
        "subdivisions": [{"isoCode": "IDF", "name": "Ile-de-France"}],
    },
    "browserDetails": {
        "browserName": "Firefox",
        "browserMajorVersion": "122",
        "browserFullVersion": "122.0.1",
        "os": "Linux",
        "osVersion": "6.1",
        "device": "Other",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:122.0) Gecko/20100101 Firefox/122.0",
        "botProbability": 0.25,
    },
    "tag": {"cart": {"items": [1, 2], "total": 19.5}, "channel": "web"},
    "confidence": {"score": 0.97, "revision": "v1.1", "comment": "steady"},
    "visitorFound": True,
    "firstSeenAt": {"global": "2023-01-02T03:04:05Z", "subscription": "2023-05-06T07:08:09.5Z"},
    "lastSeenAt": {"global": "2024-02-16T16:50:00.43Z", "subscription": None},
    "components": {"fonts": {"value": ["Arial", "Noto"], "duration": 12}},
}

MINIMAL_VISIT: dict[str, Any] = {"requestId": "1708100000000.AbCdEf", "timestamp": 1708100000000}


def visit(**fields: Any) -> dict[str, Any]:
    """A deep copy of the full visit with `fields` replaced."""
    body = copy.deepcopy(FULL_VISIT)
    body.update(fields)
    return body


def history(*visits: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A `GET /visitors/:id` body holding `visits` (one full visit by default)."""
    chosen = list(visits) if visits else [visit()]
    return {"visitorId": VISITOR_ID, "visits": chosen, **fields}


def encode(body: Any) -> bytes:
    """A body as the bytes a server sends."""
    return json.dumps(body).encode()


def ok(body: Any = None, **headers: str) -> httpx.Response:
    """A 200 response with `body` (a default history when `None`)."""
    return httpx.Response(200, json=history() if body is None else body, headers=headers)


def responder(responses: list[httpx.Response]) -> Callable[[httpx.Request], httpx.Response]:
    """Answer each request with the next response, failing loudly past the last."""
    queue = list(responses)

    def answer(request: httpx.Request) -> httpx.Response:
        assert queue, f"unexpected extra request {request.url}"
        return queue.pop(0)

    return answer


HTML_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception reachable through `__cause__` and `__context__`."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def texts_of(exc: BaseException) -> Iterator[str]:
    """The str, repr and args of every exception in the chain of `exc`."""
    for item in exception_chain(exc):
        yield str(item)
        yield repr(item)
        yield repr(item.args)


#: A v4 event with its required fields only.
MINIMAL_EVENT: dict[str, Any] = {"event_id": "1708102555327.NLOjmg", "timestamp": 1708102555327}


def event_search(*events: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A `GET /v4/events` body holding `events` (the minimal event by default)."""
    return {"events": list(events) if events else [MINIMAL_EVENT], **fields}


def counts(stats: Any) -> tuple[int, int, int]:
    """`(requests, retries, rate_limited)` of a `SessionStats` (its timings vary by run)."""
    return (stats.requests, stats.retries, stats.rate_limited)
