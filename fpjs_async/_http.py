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
from fpjs_async._errors import (
    APIError,
    FingerprintError,
    ResponseDecodeError,
    TransportError,
    api_error_from_response,
    excerpt,
)
from fpjs_async._limits import RateLimit
from fpjs_async._models import VisitorHistory
from fpjs_async._pools import Sender
from fpjs_async._query import VisitsQuery
from fpjs_async._redact import redact_body, redact_error
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
        self.until = max(self.until, _retry.clock() + seconds)

    async def wait(self) -> None:
        """Sleep until the cooldown is over (at once when there is none)."""
        # One sleep per deadline: sleep again only when another 429 moved it meanwhile.
        slept_until = 0.0
        while self.until > slept_until and (remaining := self.until - _retry.clock()) > 0:
            slept_until = self.until
            await _retry.sleep(remaining)


def _describe(exc: httpx.TransportError) -> str:
    # httpx messages carry no URL; the class name says what kind of failure it was.
    detail = str(exc).strip()
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _attempt_deadline(timeout: httpx.Timeout) -> float | None:
    """The longest one attempt may take: the longest of the client's timeouts (`None`: none)."""
    phases = (timeout.connect, timeout.read, timeout.write, timeout.pool)
    return max((t for t in phases if t is not None), default=None)


def _loggable_query(params: dict[str, str]) -> str:
    shown = {name: value for name, value in params.items() if name != "token"}
    return "?" + urlencode(shown) if shown else ""


@attrs.define(eq=False)
class Requester:
    """Sends requests for one session: auth, session-wide limits, retries, error mapping."""

    sender: Sender
    api_key: str = attrs.field(repr=False)
    auth: AuthMode
    retry: RetryPolicy
    limiter: anyio.CapacityLimiter
    rate_limit: RateLimit | None = None
    cooldown: Cooldown = attrs.Factory(Cooldown)
    stats: RequestStats = attrs.Factory(RequestStats)

    async def get_visits(self, query: VisitsQuery) -> VisitorHistory:
        """Send `query`, retrying per the policy; the decoded page or a `FingerprintError`."""
        try:
            return await self._attempts(query)
        except FingerprintError as error:
            # Messages quote what the server sent, and a server may quote the key it got.
            redact_error(error, self.api_key)
            raise

    async def _attempts(self, query: VisitsQuery) -> VisitorHistory:
        path = query.path
        params = query.params()
        where = f"GET {path}"
        attempt = 0
        while True:
            try:
                response = await self._send(path, params)
            except httpx.InvalidURL as exc:
                # Raised while the request is built, before anything is sent (e.g. a visitor
                # ID longer than any URL may be): an argument error like any other.
                raise ValueError(f"the visitor ID and parameters make no URL: {exc}") from None
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
                    return self._decode(response.content, status)
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

    def _decode(self, content: bytes, status: int) -> VisitorHistory:
        """The page in a 2xx body; a `ResponseDecodeError` quoting the body without the key."""
        try:
            return decode_history(content, status=status)
        except ResponseDecodeError as error:
            failure = error
        redacted = redact_body(content, self.api_key)
        if redacted is content:
            raise failure
        # Built afresh rather than edited: the excerpt's cut may fall inside the key.
        raise ResponseDecodeError(status, excerpt(redacted), failure.reason) from failure.__cause__

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
            status,
            redact_body(response.content, self.api_key),
            method=method,
            path=path,
            retry_after=retry_after,
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

    async def _acquire_slot(self) -> None:
        """Take one of the session's `max_concurrency` slots, waiting for one if need be."""
        try:
            # A free slot is taken at once: `async with limiter` would first yield to the
            # event loop, which delays each request behind every callback ready to run.
            self.limiter.acquire_nowait()
        except anyio.WouldBlock:
            await self.limiter.acquire()

    async def _send(self, path: str, params: dict[str, str]) -> httpx.Response:
        headers: dict[str, str] = {}
        if self.auth == "header":
            headers["Auth-Token"] = self.api_key
        else:
            params = {**params, "token": self.api_key}
        await self._acquire_slot()
        try:
            await self.cooldown.wait()
            if self.rate_limit is not None:
                # After the cooldown: requests resume at the set rate, not all at once.
                await self.rate_limit.wait()
            self.stats.requests += 1
            started = time.perf_counter()
            deadline = _attempt_deadline(self.sender.timeout)
            try:
                # httpx times each read alone: a server trickling its body byte by byte would
                # hold the attempt forever without a deadline on the whole of it.
                with anyio.fail_after(deadline):
                    response = await self.sender.get(path, params, headers)
            except TimeoutError:
                raise httpx.ReadTimeout(f"no complete response within {deadline:g}s") from None
        finally:
            self.limiter.release()
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "GET %s%s -> %d (%.1f ms)",
                path,
                _loggable_query(params),
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
        return response
