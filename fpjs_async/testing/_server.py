"""The emulator under uvicorn on loopback: blocking, in a background thread, or in a subprocess."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs

from fpjs_async.testing._banner import read_banner
from fpjs_async.testing._fake import FakeServerAPI
from fpjs_async.testing._faults import ConnectionDropped

__all__ = ["ServerProcess", "serve", "serve_in_subprocess", "serve_in_thread"]


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError:
        raise RuntimeError(
            "serving the emulator on a socket needs uvicorn: pip install 'fpjs-async[testing]'"
        ) from None
    return uvicorn


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound and listening, so clients can connect before the server loop runs."""
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:  # a host name such as "localhost"
        family = socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _HideDroppedConnections(logging.Filter):
    """Keeps uvicorn from logging a dropped-connection fault as an application error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


@contextlib.contextmanager
def _quiet_dropped_connections() -> Iterator[None]:
    logger = logging.getLogger("uvicorn.error")
    hide = _HideDroppedConnections()
    logger.addFilter(hide)
    try:
        yield
    finally:
        logger.removeFilter(hide)


def _server(fake: FakeServerAPI, **config: Any) -> Any:
    uvicorn = _uvicorn()
    # No websockets (their import can warn), no access log, no proxy headers; the app is
    # ASGI 3 (a bound method, which uvicorn's detection would take for ASGI 2).
    return uvicorn.Server(
        uvicorn.Config(
            fake.app,
            interface="asgi3",
            lifespan="on",
            ws="none",
            access_log=False,
            proxy_headers=False,
            **config,
        )
    )


def serve(
    fake: FakeServerAPI,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the emulator with uvicorn until SIGINT or SIGTERM (blocking, main thread).

    Args:
        fake: The emulator to serve.
        host: The address to listen on.
        port: The port; 0 picks a free one.
        on_ready: Called with the base URL (e.g. `http://127.0.0.1:8080`) once clients can
            connect.

    Raises:
        RuntimeError: uvicorn is not installed (the `testing` extra).
        KeyboardInterrupt: After a clean shutdown on Ctrl-C, as Python does.
    """
    server = _server(fake, log_level="warning")
    with _listening_socket(host, port) as sock, _quiet_dropped_connections():
        if on_ready is not None:
            on_ready(_base_url(sock))
        server.run(sockets=[sock])


@contextlib.contextmanager
def serve_in_thread(
    fake: FakeServerAPI,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    timeout: float = 10.0,
) -> Iterator[str]:
    """Serve the emulator with uvicorn in a background thread while the block runs.

    Logging is left as it is configured (uvicorn's records propagate to the root logger).

    Args:
        fake: The emulator to serve.
        host: The address to listen on.
        port: The port; 0 picks a free one.
        timeout: Seconds to wait for the server to start, and to stop.

    Yields:
        The base URL, e.g. `http://127.0.0.1:54321`.

    Raises:
        RuntimeError: uvicorn is missing, or the server did not start or stop in time.
    """
    server = _server(fake, log_config=None)
    with _listening_socket(host, port) as sock, _quiet_dropped_connections():
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fpjs-emulator", daemon=True
        )
        thread.start()
        try:
            deadline = time.monotonic() + timeout
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the emulator's server did not start")
                time.sleep(0.01)
            yield _base_url(sock)
        finally:
            server.should_exit = True
            thread.join(timeout)
            if thread.is_alive():
                server.force_exit = True
                thread.join(timeout)
    if thread.is_alive():
        raise RuntimeError("the emulator's server did not stop")


@attrs.frozen
class ServerProcess:
    """A running `python -m fpjs_async.testing serve`.

    Attributes:
        url: The base URL it serves, e.g. `http://127.0.0.1:54321`.
        visitor_ids: The visitor IDs it printed (the first few of its synthetic data).
        process: The process.
    """

    url: str
    visitor_ids: tuple[str, ...]
    process: subprocess.Popen[str] = attrs.field(repr=False)


def _read_lines(stream: Any, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


@contextlib.contextmanager
def serve_in_subprocess(
    api_key: str,
    *,
    visitors: int = 20,
    seed: int = 0,
    host: str = "127.0.0.1",
    extra_args: Sequence[str] = (),
    timeout: float = 30.0,
) -> Iterator[ServerProcess]:
    """Run `python -m fpjs_async.testing serve --port 0` while the block runs.

    The process is stopped with SIGTERM on exit (killed if it does not stop in time).

    Args:
        api_key: The key the emulator requires.
        visitors: How many synthetic visitors it makes.
        seed: The seed of its data.
        host: The address it listens on.
        extra_args: More options of `serve`, e.g. `["--latency-ms", "20"]`.
        timeout: Seconds to wait for it to start, and to stop.

    Yields:
        The running server: its URL and the visitor IDs it printed.

    Raises:
        RuntimeError: It exited or did not print its address in time.
    """
    command = [
        sys.executable, "-m", "fpjs_async.testing", "serve",
        "--host", host, "--port", "0", "--api-key", api_key,
        "--visitors", str(visitors), "--seed", str(seed), *extra_args,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        lines: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
        reader.start()
        try:
            banner = read_banner(_lines_until(lines, time.monotonic() + timeout))
            yield ServerProcess(banner.url, banner.visitor_ids, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            reader.join(timeout)


def _lines_until(lines: queue.Queue[str | None], deadline: float) -> Iterator[str]:
    """The lines the reader thread puts in `lines`, until their end or the deadline.

    Raises:
        RuntimeError: No line came before the deadline.
    """
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError("the emulator did not print its address in time") from None
        if line is None:
            return
        yield line
