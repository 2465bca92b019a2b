"""An emulator of the Fingerprint Server API, v3 and v4, for tests and benchmarks.

`FakeServerAPI` serves v3 `GET /visitors/:id` and the v4 events API (`GET /v4/events/{id}`,
`GET /v4/events`, `PATCH /v4/events/{id}`, `DELETE /v4/visitors/{id}`) as the API does,
in-process (`transport()`, `session()`) or on loopback (`serve_in_thread`,
`serve_in_subprocess`, `serve`, and `python -m fpjs_async.testing serve`), with a clock that
can be pinned, deterministic synthetic data (`populate`), a rate limit, and fault injection
(`Fault`, `FakeServerAPI.add_fault`). `sign_webhook`, `seal_event` and `send_webhook` make
what Fingerprint sends a server, for testing webhook and sealed-result handlers.
"""

from fpjs_async.testing._fake import ErrorStyle, FakeServerAPI
from fpjs_async.testing._faults import ConnectionDropped, Fault, FaultRule
from fpjs_async.testing._requests import RecordedRequest
from fpjs_async.testing._server import (
    ServerProcess,
    serve,
    serve_in_subprocess,
    serve_in_thread,
)
from fpjs_async.testing._signing import seal_event, send_webhook, sign_webhook

__all__ = [
    "ConnectionDropped",
    "ErrorStyle",
    "FakeServerAPI",
    "Fault",
    "FaultRule",
    "RecordedRequest",
    "ServerProcess",
    "seal_event",
    "send_webhook",
    "serve",
    "serve_in_subprocess",
    "serve_in_thread",
    "sign_webhook",
]
