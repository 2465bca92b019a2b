"""`fpjs-async bulk`: visitor IDs in, JSON Lines out, errors as lines, exit statuses, Ctrl-C."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import anyio
import pytest
from _cli_support import KEY, by_visitor, ids_file, pages_of, run

from fpjs_async import Visit, VisitorHistory
from fpjs_async._cli._input import read_visitor_ids
from fpjs_async._converter import converter
from fpjs_async.testing import FakeServerAPI, Fault

pytestmark = pytest.mark.usefixtures("environment")


def test_one_line_per_visitor_and_an_error_line_for_a_failure(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str, tmp_path: Path
) -> None:
    fake.add_fault(Fault.error(404), visitor_id="missing-visitor")
    ids = fake.visitor_ids
    # Surrounding whitespace, blank lines, CRLF and a duplicate are all fine.
    text = f"  {ids[0]}  \n\n{ids[1]}\r\n\t\nmissing-visitor\n{ids[0]}\n" + "\n".join(ids[2:])
    ran = run(capsys, "bulk", ids_file(tmp_path, text), "--base-url", url)
    assert ran.status == 1
    assert "1 of 7 visitors failed" in ran.assert_one_error_line()
    lines = by_visitor(ran, "visitorId")
    assert set(lines) == {*ids, "missing-visitor"}
    assert lines["missing-visitor"] == {
        "visitorId": "missing-visitor",
        "error": {
            "type": "NotFoundError",
            "status": 404,
            "code": "VisitorNotFound",
            "message": "visitor not found",
        },
    }
    for visitor_id in ids:
        line = lines[visitor_id]
        assert line["pages"] == 1
        history = converter.structure(line, VisitorHistory)
        assert history.visits == tuple(fake.visits_of(visitor_id)[:100])


def test_all_pages_per_visit_from_stdin(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeServerAPI,
    url: str,
) -> None:
    stdin = io.TextIOWrapper(io.BytesIO("\n".join(fake.visitor_ids).encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    ran = run(capsys, "bulk", "-", "--base-url", url, "--all", "--per-visit")
    assert (ran.status, ran.err) == (0, "")  # stderr is no terminal: no progress bar
    seen: dict[str, list[Visit]] = {}
    for line in ran.lines():
        seen.setdefault(line["visitorId"], []).append(converter.structure(line, Visit))
    assert seen == {v: fake.visits_of(v) for v in fake.visitor_ids}


def test_all_pages_per_visitor_counts_pages(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str, tmp_path: Path
) -> None:
    text = "\n".join(fake.visitor_ids)
    ran = run(capsys, "bulk", ids_file(tmp_path, text), "--base-url", url, "--all")
    assert ran.status == 0
    for visitor_id, line in by_visitor(ran, "visitorId").items():
        assert line["pages"] == pages_of(fake, visitor_id)
        history = converter.structure(line, VisitorHistory)
        assert list(history.visits) == fake.visits_of(visitor_id)


def test_output_goes_to_a_file(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str, tmp_path: Path
) -> None:
    output = tmp_path / "out.jsonl"
    ids = ids_file(tmp_path, "\n".join(fake.visitor_ids[:3]))
    ran = run(capsys, "bulk", ids, "--base-url", url, "--output", str(output), "--since", "0")
    assert (ran.status, ran.out, ran.err) == (0, "", "")
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert {line["visitorId"] for line in lines} == set(fake.visitor_ids[:3])


def test_a_progress_bar_is_drawn_on_a_terminal_only(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeServerAPI,
    url: str,
    tmp_path: Path,
) -> None:
    ids = ids_file(tmp_path, "\n".join(fake.visitor_ids))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("TERM", "xterm")
    ran = run(capsys, "bulk", ids, "--base-url", url)
    assert ran.status == 0
    assert "6/6" in ran.err
    assert "visitors" in ran.err
    assert len(by_visitor(ran, "visitorId")) == 6  # stdout holds the lines only


@pytest.mark.parametrize("problem", ["missing", "directory", "not utf-8"])
def test_an_unreadable_input_exits_2(
    capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path, problem: str
) -> None:
    path = tmp_path / "ids"
    if problem == "directory":
        path.mkdir()
    elif problem == "not utf-8":
        path.write_bytes(b"\xff\xfe\x00garbage\n")
    ran = run(capsys, "bulk", str(path), "--base-url", url)
    assert ran.status == 2
    assert f"cannot read {path}" in ran.assert_one_error_line()


def test_an_output_that_cannot_be_written_exits_2(
    capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path
) -> None:
    ids = ids_file(tmp_path, "someone\n")
    output = tmp_path / "no-such-dir" / "out.jsonl"
    ran = run(capsys, "bulk", ids, "--base-url", url, "-o", str(output))
    assert ran.status == 2
    assert "cannot write" in ran.assert_one_error_line()


def test_a_refused_key_stops_at_once(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str, tmp_path: Path
) -> None:
    ids = ids_file(tmp_path, "\n".join(f"visitor-{n}" for n in range(500)))
    before = len(fake.requests)
    wrong = "wrongKeyQ8sLm2Vx"
    ran = run(capsys, "bulk", ids, "--base-url", url, "--api-key", wrong, "--concurrency", "4")
    assert ran.status == 1
    line = ran.assert_one_error_line()
    assert "403" in line
    assert "region" in line
    ran.assert_no_secret(wrong)
    errors = ran.lines()
    assert errors
    assert all(e["error"]["type"] == "AuthenticationError" for e in errors)
    assert len(fake.requests) - before < 20  # not 500


@pytest.fixture
def pipe() -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """The two ends of a pipe: (read, write)."""
    read_end, write_end = os.pipe()
    with open(read_end, "rb") as reader, open(write_end, "wb", buffering=0) as writer:
        yield reader, writer


@pytest.mark.anyio
async def test_input_lines_are_taken_as_they_come(pipe: tuple[BinaryIO, BinaryIO]) -> None:
    reader, writer = pipe
    writer.write(b"first\n  second  \n\nthi")
    ids = read_visitor_ids(reader, "the pipe")
    # The writer is still open: lines come without waiting for the end of the input.
    assert await anext(ids) == "first"
    assert await anext(ids) == "second"
    writer.write(b"rd\r\n")
    assert await anext(ids) == "third"
    writer.write(b"last")
    writer.close()
    assert [visitor_id async for visitor_id in ids] == ["last"]


@pytest.mark.anyio
async def test_input_waiting_for_a_line_can_be_cancelled(
    pipe: tuple[BinaryIO, BinaryIO],
) -> None:
    reader, writer = pipe
    writer.write(b"one\n")
    ids = read_visitor_ids(reader, "the pipe")
    assert await anext(ids) == "one"
    with anyio.move_on_after(0.2) as scope:
        await anext(ids)  # waits for input that does not come
    assert scope.cancelled_caught
    await ids.aclose()


def test_ctrl_c_keeps_what_was_written_and_exits_130(fake: FakeServerAPI, url: str) -> None:
    command = [sys.executable, "-m", "fpjs_async", "bulk", "--base-url", url]
    env = {**os.environ, "FPJS_API_KEY": KEY}
    with subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as process:
        watchdog = threading.Timer(60, process.kill)
        watchdog.start()
        try:
            assert process.stdin is not None
            assert process.stdout is not None
            assert process.stderr is not None
            # Two visitors, and the input left open: bulk waits for more.
            process.stdin.write("\n".join(fake.visitor_ids[:2]).encode() + b"\n")
            process.stdin.flush()
            written = [process.stdout.readline(), process.stdout.readline()]
            process.send_signal(signal.SIGINT)
            rest = process.stdout.read()
            err = process.stderr.read().decode()
            status = process.wait(timeout=30)
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
    assert status == 130
    assert err.strip() == "error: interrupted"
    assert rest == b""
    assert {json.loads(line)["visitorId"] for line in written} == set(fake.visitor_ids[:2])
