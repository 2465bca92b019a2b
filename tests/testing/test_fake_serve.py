"""The emulator on loopback: `python -m fpjs_async.testing serve`, a subprocess, a thread."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading

import anyio
import httpx
import pytest

from fpjs_async import (
    ResponseDecodeError,
    RetryPolicy,
    Session,
    TransportError,
    VisitorHistory,
)
from fpjs_async.testing import FakeServerAPI, Fault, serve_in_subprocess, serve_in_thread
from fpjs_async.testing.__main__ import main
from fpjs_async.testing._server import READY_END, READY_PREFIX, VISITOR_PREFIX

KEY = "loopback-secret-key"
NO_RETRIES = RetryPolicy(max_retries=0)


async def first_page(url: str, visitor_id: str, **params: int) -> VisitorHistory:
    async with Session(KEY, base_url=url, retry=NO_RETRIES) as session:
        return await session.get_visits(visitor_id, **params)


def test_cli_serves_on_a_free_port_until_interrupted() -> None:
    command = [
        sys.executable, "-m", "fpjs_async.testing", "serve", "--port", "0",
        "--api-key", KEY, "--visitors", "3", "--visits", "5,40", "--seed", "4",
    ]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        # Whatever happens, the process does not outlive a minute.
        watchdog = threading.Timer(60, process.kill)
        watchdog.start()
        try:
            assert process.stdout is not None
            startup = []
            for line in process.stdout:
                startup.append(line.rstrip("\n"))
                if line.startswith(READY_END):
                    break
            url = startup[0].removeprefix(READY_PREFIX)
            visitor_id = startup[2].removeprefix(VISITOR_PREFIX).split()[0]
            page = anyio.run(first_page, url, visitor_id)
            process.send_signal(signal.SIGINT)
            rest = process.stdout.read()
            assert process.wait(timeout=30) == 0
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
    assert startup[0].startswith(f"{READY_PREFIX}http://127.0.0.1:")
    assert not url.endswith(":0")
    assert page.visitor_id == visitor_id
    assert 5 <= len(page.visits) <= 40
    assert "Stopped." in rest
    assert KEY not in "\n".join(startup) + rest


def test_serve_in_subprocess_takes_the_options_of_the_command_line() -> None:
    extra = ["--visits", "30", "--latency-ms", "1,3", "--rate-limit", "1000", "--no-pagination-key"]
    with serve_in_subprocess(KEY, visitors=2, seed=9, extra_args=extra) as server:
        assert len(server.visitor_ids) == 2
        page = anyio.run(lambda: first_page(server.url, server.visitor_ids[1], limit=10))
    assert len(page.visits) == 10
    assert page.last_timestamp == page.visits[-1].timestamp
    assert page.pagination_key is None
    assert server.process.returncode == 0


def test_serve_in_subprocess_reports_a_server_that_cannot_start() -> None:
    with pytest.raises(RuntimeError, match="exited"), serve_in_subprocess(KEY, visitors=-1):
        pass  # pragma: no cover - never reached


def test_serve_in_thread_answers_over_real_sockets() -> None:
    fake = FakeServerAPI(KEY, latency=0.05)
    ids = fake.populate(visitors=2, visits_per_visitor=20, seed=1)

    async def concurrently(url: str) -> list[int]:
        sizes: list[int] = []
        async with Session(KEY, base_url=url) as session:

            async def one(visitor_id: str) -> None:
                sizes.append(len((await session.get_visits(visitor_id)).visits))

            async with anyio.create_task_group() as tasks:
                for visitor_id in ids * 3:
                    tasks.start_soon(one, visitor_id)
        return sizes

    with serve_in_thread(fake) as url:
        assert url.startswith("http://127.0.0.1:")
        sizes = anyio.run(concurrently, url)
    assert sizes == [20] * 6
    assert fake.max_in_flight == 6
    assert {r.host for r in fake.requests} == {"127.0.0.1"}


def test_dropped_connection_on_loopback_is_a_transport_error() -> None:
    fake = FakeServerAPI(KEY)
    (visitor_id,) = fake.populate(visitors=1, visits_per_visitor=50, seed=2)
    fake.add_fault(Fault.dropped(), times=1)
    fake.add_fault(Fault.truncated(), times=1)
    with serve_in_thread(fake) as url:
        with pytest.raises(TransportError) as dropped:
            anyio.run(first_page, url, visitor_id)
        with pytest.raises(ResponseDecodeError):
            anyio.run(first_page, url, visitor_id)
        page = anyio.run(first_page, url, visitor_id)
    assert isinstance(dropped.value.__cause__, httpx.TransportError)
    assert len(page.visits) == 50


def test_cli_reports_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = main(["serve", "--api-key", KEY, "--port", str(port), "--visitors", "1"])
    captured = capsys.readouterr()
    assert status == 1
    assert "error:" in captured.err
    assert KEY not in captured.out + captured.err


def test_cli_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--api-key", KEY, "--visitors", "-2"]) == 2
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--api-key", KEY, "--visits", "9,3"])
    assert exited.value.code == 2
    with pytest.raises(SystemExit):
        main(["serve"])  # --api-key is required
    assert "error" in capsys.readouterr().err


def test_missing_uvicorn_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with (
        pytest.raises(RuntimeError, match=r"fpjs-async\[testing\]"),
        serve_in_thread(FakeServerAPI(KEY)),
    ):
        pass  # pragma: no cover - never reached
