"""The ASGI plumbing of the emulator: messages in and out, and the in-process transport."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

from fpjs_async.testing._faults import ConnectionDropped
from fpjs_async.testing._responses import Response

__all__ = [
    "App",
    "InProcessTransport",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "in_process_client",
    "lifespan",
    "read_body",
    "send_response",
    "send_then_drop",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application.
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class InProcessTransport(httpx.ASGITransport):
    """`httpx.ASGITransport` that reports a dropped connection as a client on the wire would."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from exc


def in_process_client(app: App) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` whose requests `app` serves in-process."""
    # No proxies from the environment: nothing here goes over a network.
    return httpx.AsyncClient(transport=InProcessTransport(app=app), trust_env=False)


async def read_body(receive: Receive) -> bytes:
    """The whole body of an HTTP request (empty when the client disconnects first)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def lifespan(receive: Receive, send: Send) -> None:
    """Answer the server's start-up and shut-down: the emulator needs neither."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _start_message(response: Response) -> Message:
    headers = [(b"content-length", str(len(response.body)).encode())]
    if response.content_type is not None:
        headers.insert(0, (b"content-type", response.content_type.encode()))
    headers += [(name.encode(), value.encode()) for name, value in response.headers]
    return {"type": "http.response.start", "status": response.status, "headers": headers}


async def send_response(send: Send, response: Response) -> None:
    """Send a whole response."""
    await send(_start_message(response))
    await send({"type": "http.response.body", "body": response.body})


async def send_then_drop(send: Send, response: Response) -> None:
    """Send the start of a response, half its body, then drop the connection."""
    await send(_start_message(response))
    half = response.body[: len(response.body) // 2]
    await send({"type": "http.response.body", "body": half, "more_body": True})
    raise ConnectionDropped("the connection was dropped by a fault")
