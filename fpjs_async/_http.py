"""One request to `GET /visitors/:id`: build it, send it, retry it, map its status, decode it."""

from __future__ import annotations

import logging
import time
from typing import Literal
from urllib.parse import urlencode

import anyio
import attrs
import httpx

from fpjs_async import _retry
from fpjs_async._converter import decode_history
from fpjs_async._errors import APIError, TransportError, api_error_from_response
from fpjs_async._models import VisitorHistory
from fpjs_async._query import VisitsQuery
from fpjs_async._retry import RetryPolicy, parse_retry_after

__all__ = ["AuthMode", "Cooldown", "RequestStats", "Requester"]

AuthMode = Literal["header", "query"]

logger = logging.getLogger("fpjs_async")

# Failures on the wire that a new attempt may get past. UnsupportedProtocol, ProxyError and
# LocalProtocolError are configuration or programming errors and fail at once.
_RETRYABLE_TRANSPORT_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


@attrs.define
class RequestStats:
    """Running counts of what a session sent (read them through `Session.stats`)."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0


@attrs.define
class Cooldown:
    """A moment before which no request of the session is sent (set by a 429 `Retry-After`)."""

    until: float = 0.0

    def extend(self, seconds: float) -> None:
        """Hold new requests back for at least `seconds` from now."""
        self.until = max(self.until, time.monotonic() + seconds)

    async def wait(self) -> None:
        """Sleep until the cooldown is over (at once when there is none)."""
        while (remaining := self.until - time.monotonic()) > 0:
            await _retry.sleep(remaining)


def _describe(exc: httpx.TransportError) -> str:
    # httpx messages carry no URL; the class name says what kind of failure it was.
    detail = str(exc).strip()
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _loggable_query(params: dict[str, str]) -> str:
    shown = {name: value for name, value in params.items() if name != "token"}
    return "?" + urlencode(shown) if shown else ""


@attrs.define(eq=False)
class Requester:
    """Sends requests for one session: auth, session-wide limits, retries, error mapping."""

    client: httpx.AsyncClient
    base_url: str
    api_key: str = attrs.field(repr=False)
    auth: AuthMode
    retry: RetryPolicy
    limiter: anyio.CapacityLimiter
    cooldown: Cooldown = attrs.Factory(Cooldown)
    stats: RequestStats = attrs.Factory(RequestStats)

    async def get_visits(self, query: VisitsQuery) -> VisitorHistory:
        """Send `query`, retrying per the policy; the decoded page or a `FingerprintError`."""
        path = query.path
        params = query.params()
        where = f"GET {path}"
        attempt = 0
        while True:
            try:
                response = await self._send(path, params)
            except httpx.TransportError as exc:
                error = TransportError(f"{_describe(exc)} ({where})")
                if (
                    not isinstance(exc, _RETRYABLE_TRANSPORT_ERRORS)
                    or attempt >= self.retry.max_retries
                ):
                    raise error from exc
                wait = self.retry.backoff(attempt)
                reason = type(exc).__name__
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return decode_history(response.content, status=status)
                api_error, retry_wait = self._failure(response, where, attempt)
                if retry_wait is None or attempt >= self.retry.max_retries:
                    raise api_error
                wait = retry_wait
                reason = f"status {status}"
            attempt += 1
            self.stats.retries += 1
            logger.debug(
                "retrying %s after %s (retry %d of %d, waiting %.2fs)",
                where,
                reason,
                attempt,
                self.retry.max_retries,
                wait,
            )
            await _retry.sleep(wait)

    def _failure(
        self, response: httpx.Response, where: str, attempt: int
    ) -> tuple[APIError, float | None]:
        """The error for a non-2xx response and the wait before retrying it (`None`: don't)."""
        status = response.status_code
        method, _, path = where.partition(" ")
        if 300 <= status < 400:
            return APIError(status, None, "redirect not followed", method=method, path=path), None
        retry_after = None
        if status == 429:
            self.stats.rate_limited += 1
            retry_after = parse_retry_after(response.headers.get("retry-after"))
        error = api_error_from_response(
            status, response.content, method=method, path=path, retry_after=retry_after
        )
        if not self.retry.is_retryable_status(status):
            return error, None
        if retry_after is None:
            return error, self.retry.backoff(attempt)
        if retry_after > self.retry.max_retry_after:
            return error, None
        # Every request of the session waits this out, not only the one that was refused.
        self.cooldown.extend(retry_after)
        return error, retry_after

    async def _send(self, path: str, params: dict[str, str]) -> httpx.Response:
        headers: dict[str, str] = {}
        if self.auth == "header":
            headers["Auth-Token"] = self.api_key
        else:
            params = {**params, "token": self.api_key}
        async with self.limiter:
            await self.cooldown.wait()
            self.stats.requests += 1
            started = time.perf_counter()
            response = await self.client.get(
                self.base_url + path, params=params, headers=headers, follow_redirects=False
            )
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "GET %s%s -> %d (%.1f ms)",
                path,
                _loggable_query(params),
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
        return response
