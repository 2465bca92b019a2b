"""fpjs_async: an asyncio client for the Fingerprint Server API (v4 events, v3 visitor history)."""

import attrs as _attrs

from fpjs_async._bulk import BulkResult, EventsResult
from fpjs_async._bulk_engine import BulkFetch, BulkProgress
from fpjs_async._config import Region
from fpjs_async._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    FingerprintError,
    NotFoundError,
    PaginationError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    TransportError,
    UnsealError,
    WebhookSignatureError,
)
from fpjs_async._events_query import EventFilters
from fpjs_async._limits import RateLimit
from fpjs_async._models import (
    BrowserDetails,
    City,
    Confidence,
    Continent,
    Country,
    FrozenMapping,
    IPLocation,
    SeenAt,
    Subdivision,
    Visit,
    VisitorHistory,
)
from fpjs_async._redis_limit import RedisRateLimit
from fpjs_async._retry import RetryPolicy
from fpjs_async._session import Session, SessionStats
from fpjs_async.events import Event, EventSearch

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "BrowserDetails",
    "BulkFetch",
    "BulkProgress",
    "BulkResult",
    "City",
    "Confidence",
    "ConflictError",
    "Continent",
    "Country",
    "Event",
    "EventFilters",
    "EventSearch",
    "EventsResult",
    "FingerprintError",
    "FrozenMapping",
    "IPLocation",
    "NotFoundError",
    "PaginationError",
    "RateLimit",
    "RateLimitError",
    "RedisRateLimit",
    "Region",
    "ResponseDecodeError",
    "RetryPolicy",
    "SeenAt",
    "ServerError",
    "Session",
    "SessionStats",
    "Subdivision",
    "TransportError",
    "UnsealError",
    "Visit",
    "VisitorHistory",
    "WebhookSignatureError",
]

__version__ = "0.1.0"

# Public names show their public path in reprs, tracebacks and docs (`fpjs_async.NotFoundError`,
# not `fpjs_async._errors.NotFoundError`), as httpx's do. Annotations are resolved first, in
# the module that can read them.
for _name in __all__:
    _public = globals()[_name]
    if _public.__module__.startswith("fpjs_async._"):
        if _attrs.has(_public):
            _attrs.resolve_types(_public)
        _public.__module__ = __name__
del _name, _public
