"""fpjs_async: an asyncio client for the FingerprintJS Pro Server API visitor history."""

from fpjs_async._bulk import BulkFetch, BulkProgress, BulkResult
from fpjs_async._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    FingerprintError,
    NotFoundError,
    PaginationError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    TransportError,
)
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
from fpjs_async._retry import RetryPolicy
from fpjs_async._session import Region, Session, SessionStats

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
    "Continent",
    "Country",
    "FingerprintError",
    "FrozenMapping",
    "IPLocation",
    "NotFoundError",
    "PaginationError",
    "RateLimitError",
    "Region",
    "ResponseDecodeError",
    "RetryPolicy",
    "SeenAt",
    "ServerError",
    "Session",
    "SessionStats",
    "Subdivision",
    "TransportError",
    "Visit",
    "VisitorHistory",
]

__version__ = "0.1.0"
