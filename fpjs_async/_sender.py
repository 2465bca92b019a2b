"""What every way of sending a session's requests shares: the `Sender` protocol, its `Reply`,
and the rules all of them follow (TLS, the whole-attempt deadline, headers, content decoding).

A sender is told each request once (`prepare`, which builds whatever its engine sends) and
sends it as often as the retries need (`send`), so a retried request is not built again.
"""

from __future__ import annotations

import ssl
import sys
import zlib
from collections.abc import Mapping
from typing import NamedTuple, Protocol, TypeVar

import httpx

__all__ = [
    "ACCEPT_HEADERS",
    "KEEPALIVE_EXPIRY",
    "PYTHON_ENGINE",
    "HeaderLookup",
    "Params",
    "Reply",
    "Sender",
    "async_library",
    "attempt_deadline",
    "decode_content",
    "deadline_exceeded",
    "stricter",
    "tls_context",
    "user_agent",
]

#: Query string parameters in order; a name may repeat (`a=x&a=y`).
Params = tuple[tuple[str, str], ...]

#: Seconds an idle connection is kept open (httpx's default).
KEEPALIVE_EXPIRY = 5.0

#: Sent with every request of the session's own connections (what an httpx.AsyncClient adds).
ACCEPT_HEADERS = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate"}

RequestT = TypeVar("RequestT")


class HeaderLookup(Protocol):
    """Response headers, looked up by name whatever its case."""

    def get(self, name: str, /) -> str | None:
        """The value of header `name`, or `None` when the response has none."""
        ...


class Reply(NamedTuple):
    """A response with its body read and decoded (`Content-Encoding` undone)."""

    status: int
    headers: HeaderLookup
    content: bytes


class Sender(Protocol[RequestT]):
    """Sends requests to one origin and returns their responses, bodies read.

    Each send is bounded as a whole by the longest of the sender's timeouts (see
    `attempt_deadline`); failures come out as the `httpx` exceptions an `httpx.AsyncClient`
    raises, so that the caller handles every sender alike.
    """

    def prepare(
        self,
        method: str,
        path: str,
        params: Params,
        headers: Mapping[str, str],
        content: bytes | None,
    ) -> RequestT:
        """Build `<method> <base URL><path>?<params>` with `headers` and a JSON body if given.

        `path` must be percent-encoded already (the queries' paths are).
        """
        ...

    async def send(self, request: RequestT) -> Reply:
        """Send a prepared request (again, on a retry); its response, body read."""
        ...

    async def aclose(self) -> None:
        """Close the connections this sender owns."""
        ...


def async_library() -> str:
    """The name of the async library running the current task (`"asyncio"`, `"trio"`).

    Call it from a task. trio depends on sniffio, which it keeps informed: without sniffio
    installed, the library can only be asyncio.
    """
    try:
        import sniffio
    except ImportError:
        return "asyncio"
    return sniffio.current_async_library()


def attempt_deadline(timeout: httpx.Timeout) -> float | None:
    """The longest one attempt may take: the longest of the timeouts (`None`: none).

    Timeouts apply to each read alone: a server trickling its body byte by byte would hold
    an attempt forever without a bound on the whole of it.
    """
    phases = (timeout.connect, timeout.read, timeout.write, timeout.pool)
    return max((t for t in phases if t is not None), default=None)


def stricter(phase: float | None, deadline: float | None) -> float | None:
    """`phase` when it cuts sooner than the whole-attempt `deadline` does, else `None`."""
    if phase is None or (deadline is not None and phase >= deadline):
        return None
    return phase


def deadline_exceeded(seconds: float) -> httpx.ReadTimeout:
    """The error of an attempt cut off by its whole-attempt deadline."""
    return httpx.ReadTimeout(f"no complete response within {seconds:g}s")


def tls_context() -> ssl.SSLContext:
    """The TLS configuration of the session's own connections: certificates and host names
    verified against the CA bundle httpx ships, nothing read from the environment
    (`SSL_CERT_FILE`...), so that a session connects the same way wherever it runs."""
    return httpx.create_ssl_context(trust_env=False)


def user_agent(engine: str) -> str:
    """The `User-Agent` of the session's own connections, naming the engine that sends
    (`python-httpx/0.28.1`, `aiohttp/3.10.5`); the built-in one names Python."""
    return f"fpjs-async ({engine})"


#: What the built-in connections call themselves in `User-Agent`.
PYTHON_ENGINE = f"python/{sys.version_info[0]}.{sys.version_info[1]}"


def decode_content(encoding: str | None, content: bytes) -> bytes:
    """`content` with its `Content-Encoding` undone.

    gzip and deflate (zlib-wrapped or raw, as servers send either) are decoded, in the
    reverse order of a list of them; any other coding is left as it is, as httpx leaves it
    (none is asked for).

    Raises:
        httpx.DecodingError: The body is not valid in its coding.
    """
    if not encoding:
        return content
    for coding in reversed(encoding.lower().split(",")):
        coding = coding.strip()
        if coding in ("gzip", "x-gzip"):
            content = _inflate(content, zlib.MAX_WBITS | 16, coding)
        elif coding == "deflate":
            try:
                content = _inflate(content, zlib.MAX_WBITS, coding)
            except httpx.DecodingError:
                content = _inflate(content, -zlib.MAX_WBITS, coding)
    return content


def _inflate(content: bytes, wbits: int, coding: str) -> bytes:
    decompressor = zlib.decompressobj(wbits)
    try:
        inflated = decompressor.decompress(content) + decompressor.flush()
    except zlib.error as exc:
        raise httpx.DecodingError(f"the body is not valid {coding}: {exc}") from None
    if not decompressor.eof:
        raise httpx.DecodingError(f"the body is not valid {coding}: it is cut short")
    return inflated
