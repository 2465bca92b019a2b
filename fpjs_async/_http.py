"""One request of either API version: send it, retry it, map its status, decode its body."""

from __future__ import annotations

import logging
import time
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode

import anyio
import attrs
import httpx

from fpjs_async import _retry
from fpjs_async._converter import decode_body
from fpjs_async._errors import (
    APIError,
    FingerprintError,
    ResponseDecodeError,
    TransportError,
    api_error_from_response,
    excerpt,
)
from fpjs_async._limits import Pacer
from fpjs_async._redact import redact_body, redact_error
from fpjs_async._retry import RetryPolicy, parse_retry_after
from fpjs_async._sender import Params, Reply, Sender

__all__ = ["ApiCall", "AuthMode", "Cooldown", "RequestStats", "Requester"]

AuthMode = Literal["header", "query"]
Method = Literal["GET", "PATCH", "DELETE"]

T = TypeVar("T")

#: The one 409 that goes away by itself: an event not yet mutable (`update_event`).
_TRANSIENT_CONFLICT = "state_not_ready"

logger = logging.getLogger("fpjs_async")

# Failures on the wire that a new attempt may get past, a body that does not decompress
# included. UnsupportedProtocol, ProxyError and LocalProtocolError are configuration or
# programming errors and fail at once.
_RETRYABLE_TRANSPORT_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.DecodingError,
)


@attrs.define
class RequestStats:
    """Running counts of what a session sent (read them through `Session.stats`)."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    #: Seconds requests spent held back by a `Retry-After` cooldown or the pacer, summed.
    waited: float = 0.0


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


def _describe(exc: httpx.RequestError) -> str:
    # httpx messages carry no URL; the class name says what kind of failure it was.
    detail = str(exc).strip()
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


@attrs.frozen
class ApiCall:
    """One operation of the API, validated and ready to send (the queries build them).

    Attributes:
        method: The HTTP method.
        path: The path from the host root, IDs percent-encoded (`/v4/events/1708.Ab`).
        params: The query string parameters, in order; a name may repeat.
        body: The JSON body, encoded, or `None`.
        version: The API version, which decides how the key is sent: v4 always with
            `Authorization: Bearer`, v3 as the session's `auth` says.
    """

    method: Method
    path: str
    params: Params = ()
    body: bytes | None = None
    version: Literal[3, 4] = 4

    @property
    def where(self) -> str:
        """`METHOD path`, as error messages and logs name the request."""
        return f"{self.method} {self.path}"


def _loggable_query(params: Params) -> str:
    """The query string without the key (v3 query auth sends it as `token`)."""
    shown = [(name, value) for name, value in params if name != "token"]
    return "?" + urlencode(shown) if shown else ""


@attrs.define(eq=False)
class Requester:
    """Sends requests for one session: auth, session-wide limits, retries, error mapping."""

    sender: Sender[Any]
    base_url: str
    api_key: str = attrs.field(repr=False)
    auth: AuthMode
    retry: RetryPolicy
    limiter: anyio.CapacityLimiter
    pacer: Pacer
    cooldown: Cooldown = attrs.Factory(Cooldown)
    stats: RequestStats = attrs.Factory(RequestStats)
    _bearer: dict[str, str] = attrs.field(init=False, repr=False)
    _auth_token: dict[str, str] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._bearer = {"Authorization": f"Bearer {self.api_key}"}
        self._auth_token = {"Auth-Token": self.api_key}

    async def fetch(self, call: ApiCall, model: type[T]) -> T:
        """Send `call`, retrying per the policy; its 2xx body decoded as `model`.

        Raises:
            FingerprintError: An error status, a failure on the wire or an undecodable body,
                with the key removed from everything it quotes.
        """
        try:
            reply = await self._attempts(call)
            return self._decode(reply.content, reply.status, model)
        except FingerprintError as error:
            # Messages quote what the server sent, and a server may quote the key it got.
            redact_error(error, self.api_key)
            raise

    async def execute(self, call: ApiCall) -> None:
        """Send `call`, retrying per the policy, for an operation whose answer has no data."""
        try:
            await self._attempts(call)
        except FingerprintError as error:
            redact_error(error, self.api_key)
            raise

    async def _attempts(self, call: ApiCall) -> Reply:
        """The first 2xx response to `call`, after the retries the policy allows."""
        params, headers = self._auth(call)
        request: Any = None  # built once, sent by every attempt
        attempt = 0
        while True:
            try:
                if request is None:
                    request = self.sender.prepare(
                        call.method, call.path, params, headers, call.body
                    )
                reply = await self._send(call, request, params)
            except httpx.InvalidURL as exc:
                # Raised while the request is built, before anything is sent (e.g. an ID
                # longer than any URL may be): an argument error like any other.
                raise ValueError(f"the ID and parameters make no URL: {exc}") from None
            except (httpx.TransportError, httpx.DecodingError) as exc:
                # The request as sent, less the key: whoever reads the chained exception
                # sees where it went, and no secret.
                exc.request = httpx.Request(call.method, self._loggable_url(call))
                error = TransportError(f"{_describe(exc)} ({call.where})")
                if (
                    not isinstance(exc, _RETRYABLE_TRANSPORT_ERRORS)
                    or attempt >= self.retry.max_retries
                ):
                    raise error from exc
                wait = self.retry.backoff(attempt)
                reason = type(exc).__name__
            else:
                status = reply.status
                if status != 429:
                    self.pacer.on_success()
                if 200 <= status < 300:
                    return reply
                api_error, retry_wait = self._failure(reply, call, attempt)
                if retry_wait is None or attempt >= self.retry.max_retries:
                    raise api_error
                wait = retry_wait
                reason = f"status {status}"
            attempt += 1
            self.stats.retries += 1
            logger.debug(
                "retrying %s after %s (retry %d of %d, waiting %.2fs)",
                call.where,
                reason,
                attempt,
                self.retry.max_retries,
                wait,
            )
            await _retry.sleep(wait)

    def _decode(self, content: bytes, status: int, model: type[T]) -> T:
        """The model in a 2xx body; a `ResponseDecodeError` quoting the body without the key."""
        try:
            return decode_body(content, model, status=status)
        except ResponseDecodeError as error:
            failure = error
        redacted = redact_body(content, self.api_key)
        if redacted is content:
            raise failure
        # Built afresh rather than edited: the excerpt's cut may fall inside the key.
        raise ResponseDecodeError(status, excerpt(redacted), failure.reason) from failure.__cause__

    def _failure(self, reply: Reply, call: ApiCall, attempt: int) -> tuple[APIError, float | None]:
        """The error for a non-2xx response and the wait before retrying it (`None`: don't)."""
        status = reply.status
        if 300 <= status < 400:
            error = APIError(
                status, None, "redirect not followed", method=call.method, path=call.path
            )
            return error, None
        retry_after = None
        if status == 429:
            self.stats.rate_limited += 1
            retry_after = parse_retry_after(reply.headers.get("retry-after"))
            # A 429 slows the whole session down, not only this request (see `Pacer`).
            self.pacer.on_rate_limited(retry_after)
        error = api_error_from_response(
            status,
            redact_body(reply.content, self.api_key),
            method=call.method,
            path=call.path,
            retry_after=retry_after,
        )
        transient_conflict = status == 409 and error.code == _TRANSIENT_CONFLICT
        if not (self.retry.is_retryable_status(status) or transient_conflict):
            return error, None
        if retry_after is None:
            return error, self.retry.backoff(attempt)
        if retry_after > self.retry.max_retry_after:
            return error, None
        # Every request of the session waits this out, not only the one that was refused.
        self.cooldown.extend(retry_after)
        return error, retry_after

    def _auth(self, call: ApiCall) -> tuple[Params, dict[str, str]]:
        """The parameters and headers of `call` with the key where its API version takes it."""
        if call.version == 4:
            return call.params, self._bearer
        if self.auth == "header":
            return call.params, self._auth_token
        return (*call.params, ("token", self.api_key)), {}

    def _loggable_url(self, call: ApiCall) -> str:
        return self.base_url + call.path + _loggable_query(call.params)

    async def _send(self, call: ApiCall, request: Any, params: Params) -> Reply:
        """One attempt: within the session's limits, the request sent (each sender bounds the
        attempt as a whole by its longest timeout)."""
        try:
            # A free slot is taken at once: `async with limiter` would first yield to the
            # event loop, which delays each request behind every callback ready to run.
            self.limiter.acquire_nowait()
        except anyio.WouldBlock:
            await self.limiter.acquire()
        try:
            held = _retry.clock()
            if self.cooldown.until > held:
                await self.cooldown.wait()
            # After the cooldown: requests resume at the pacer's rate, not all at once.
            await self.pacer.wait()
            self.stats.waited += _retry.clock() - held
            self.stats.requests += 1
            started = time.perf_counter()
            reply = await self.sender.send(request)
        finally:
            self.limiter.release()
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s%s -> %d (%.1f ms)",
                call.method,
                call.path,
                _loggable_query(params),
                reply.status,
                (time.perf_counter() - started) * 1000,
            )
        return reply
