"""An emulator of the FingerprintJS Pro Server API visitor history, for tests and benchmarks.

`FakeServerAPI` serves `GET /visitors/:id` as the API does, in-process (`transport()`,
`session()`) or on loopback (`serve_in_thread`, `serve_in_subprocess`, `serve`, and
`python -m fpjs_async.testing serve`), with deterministic synthetic data (`populate`) and
fault injection (`Fault`, `FakeServerAPI.add_fault`).
"""

from fpjs_async.testing._fake import ErrorStyle, FakeServerAPI, RecordedRequest
from fpjs_async.testing._faults import ConnectionDropped, Fault, FaultRule
from fpjs_async.testing._server import (
    ServerProcess,
    serve,
    serve_in_subprocess,
    serve_in_thread,
)
from fpjs_async.testing._synthetic import SYNTHETIC_END_MS

__all__ = [
    "SYNTHETIC_END_MS",
    "ConnectionDropped",
    "ErrorStyle",
    "FakeServerAPI",
    "Fault",
    "FaultRule",
    "RecordedRequest",
    "ServerProcess",
    "serve",
    "serve_in_subprocess",
    "serve_in_thread",
]
