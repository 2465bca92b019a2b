"""How a session's requests reach the network: connections of its own, or a client it was given.

A session not given an `httpx.AsyncClient` has three ways of sending (`Session(transport=...)`),
all behaving alike (no redirect followed, nothing read from the environment, the same TLS
verification, gzip decoded, `max_concurrency` connections, each attempt bounded as a whole)
and failing with the same `httpx` exceptions:

- `"builtin"`: the session's own HTTP/1.1 connections (`_builtin`), under asyncio and trio,
  with no extra. The least CPU time per request of the three, so the default.
- `"aiohttp"`: through aiohttp (the `aiohttp` extra), asyncio only.
- `"httpcore"`: through httpcore, the engine under httpx: HTTP/1.1 and HTTP/2, and visible
  to httpx-level tools such as respx.

`"auto"` is `"builtin"`, or `"httpcore"` when HTTP/2 is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

import anyio
import attrs
import httpx

from fpjs_async._aiohttp import AiohttpSender
from fpjs_async._builtin import BuiltinSender
from fpjs_async._httpcore import PooledSender
from fpjs_async._sender import Params, Reply, Sender, attempt_deadline, deadline_exceeded

__all__ = [
    "ClientSender",
    "Params",
    "Reply",
    "Sender",
    "TransportName",
    "auto_transport",
    "make_sender",
]

#: The session's ways of reaching the network (`Session(transport=...)`).
TransportName = Literal["auto", "builtin", "aiohttp", "httpcore"]
#: The ways `"auto"` stands for.
Engine = Literal["builtin", "aiohttp", "httpcore"]


def auto_transport(*, http2: bool) -> Engine:
    """What `"auto"` sends with: the built-in connections, or httpcore for HTTP/2."""
    return "httpcore" if http2 else "builtin"


@attrs.define(eq=False)
class ClientSender:
    """Sends through an `httpx.AsyncClient` the caller owns: its transport, defaults and hooks
    apply, and it is never closed here. Its timeouts apply, the longest of them to each
    attempt as a whole."""

    client: httpx.AsyncClient
    base_url: str

    def prepare(
        self,
        method: str,
        path: str,
        params: Params,
        headers: Mapping[str, str],
        content: bytes | None,
    ) -> httpx.Request:
        """The request as the client builds it, with its defaults.

        Raises:
            httpx.InvalidURL: The path and parameters make no URL.
        """
        if content is not None:
            headers = {**headers, "Content-Type": "application/json"}
        return self.client.build_request(
            method, self.base_url + path, params=params, headers=headers, content=content
        )

    async def send(self, request: httpx.Request) -> Reply:
        """Send the request with the client (no redirect followed)."""
        deadline = attempt_deadline(self.client.timeout)
        try:
            with anyio.fail_after(deadline):
                response = await self.client.send(request, follow_redirects=False)
        except TimeoutError:
            assert deadline is not None
            raise deadline_exceeded(deadline) from None
        return Reply(response.status_code, response.headers, response.content)

    async def aclose(self) -> None:
        """Nothing to close: the client belongs to the caller."""


def make_sender(
    transport: TransportName,
    base_url: str,
    size: int,
    *,
    timeout: httpx.Timeout,
    http2: bool,
    http_client: httpx.AsyncClient | None,
) -> Sender[Any]:
    """The sender of a session: through `http_client` when given, else of `transport`.

    Raises:
        TypeError: `transport` is not a str.
        ValueError: `transport` is not a `TransportName`, or not `"auto"` with a client, or
            `http2` with a transport that speaks HTTP/1.1 only.
        ImportError: `http2` without the `h2` package, or `"aiohttp"` without aiohttp.
    """
    choices = ", ".join(repr(name) for name in get_args(TransportName))
    if not isinstance(transport, str):
        raise TypeError(f"transport must be one of {choices}, got {type(transport).__name__}")
    if transport not in get_args(TransportName):
        raise ValueError(f"transport must be one of {choices}, got {transport!r}")
    if http_client is not None:
        if transport != "auto":
            raise ValueError(
                "transport chooses the session's own connections: leave it 'auto' with an "
                "http_client, whose own transport applies"
            )
        return ClientSender(http_client, base_url)
    if transport == "auto":
        transport = auto_transport(http2=http2)
    if http2 and transport != "httpcore":
        raise ValueError(
            f"transport={transport!r} speaks HTTP/1.1 only: use 'httpcore' (or 'auto') "
            "with http2=True"
        )
    if transport == "aiohttp":
        return AiohttpSender(base_url, size, timeout=timeout)
    if transport == "builtin":
        return BuiltinSender(base_url, size, timeout=timeout)
    return PooledSender(base_url, size, timeout=timeout, http2=http2)
