"""The emulator on loopback: `python -m fpjs_async.testing serve`, a subprocess, a thread."""

from __future__ import annotations

import socket
import sys

import anyio
import httpx
import pytest
from _serving import served

from fpjs_async import (
    ResponseDecodeError,
    RetryPolicy,
    Session,
    TransportError,
    VisitorHistory,
)
from fpjs_async.testing import FakeServerAPI, Fault, serve_in_subprocess, serve_in_thread
from fpjs_async.testing.__main__ import main
from fpjs_async.testing._banner import READY_PREFIX

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
    with served(command) as server:
        url = server.banner.url
        page = anyio.run(first_page, url, server.banner.visitor_ids[0])
    assert server.status == 0
    assert server.banner.lines[0] == f"{READY_PREFIX}{url}"
    assert url.startswith("http://127.0.0.1:")
    assert not url.endswith(":0")
    assert page.visitor_id == server.banner.visitor_ids[0]
    assert 5 <= len(page.visits) <= 40
    assert "Stopped." in server.rest
    assert KEY not in server.output


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


def test_serve_in_subprocess_answers_v4_with_the_rate_limit_and_burst_it_is_given() -> None:
    extra = ["--visits", "30", "--rate-limit", "0.01", "--burst", "3"]

    async def four_searches(url: str, visitor_id: str) -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, trust_env=False) as client:
            return [
                await client.get("/v4/events", params={"visitor_id": visitor_id}) for _ in range(4)
            ]

    with serve_in_subprocess(KEY, visitors=2, seed=9, extra_args=extra) as server:
        answers = anyio.run(four_searches, server.url, server.visitor_ids[0])
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    events = answers[0].json()["events"]
    assert events
    assert {event["identification"]["visitor_id"] for event in events} == {server.visitor_ids[0]}
    assert "retry-after" not in answers[3].headers
    assert answers[3].json()["error"]["code"] == "too_many_requests"


def test_cli_refuses_a_burst_without_a_rate_limit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--api-key", KEY, "--burst", "15", "--visitors", "1"]) == 2
    assert "burst needs a rate_limit" in capsys.readouterr().err
