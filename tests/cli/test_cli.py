"""The command line: `visits`, the common options, errors and exit statuses, `serve`, the module."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from importlib.metadata import entry_points

import pytest
from _cli_support import KEY, Ran, longest_history, run, run_module
from _serving import served

from fpjs_async import Visit, VisitorHistory
from fpjs_async._cli import main
from fpjs_async._cli._options import moment
from fpjs_async._converter import converter
from fpjs_async._datetimes import format_datetime
from fpjs_async.testing import FakeServerAPI, Fault, serve_in_thread

pytestmark = pytest.mark.usefixtures("environment")


def visits_of(ran: Ran) -> list[Visit]:
    return [converter.structure(line, Visit) for line in ran.lines()]


# --- visits ------------------------------------------------------------------------------


def test_visits_prints_the_first_page_as_json_lines(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str
) -> None:
    visitor_id = longest_history(fake)
    ran = run(capsys, "visits", visitor_id, "--base-url", url)
    assert (ran.status, ran.err) == (0, "")
    assert visits_of(ran) == fake.visits_of(visitor_id)[:100]


def test_visits_all_walks_every_page(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str
) -> None:
    visitor_id = longest_history(fake)
    ran = run(capsys, "visits", visitor_id, "--base-url", url, "--all", "--limit", "60")
    assert ran.status == 0
    assert visits_of(ran) == fake.visits_of(visitor_id)
    assert len(ran.lines()) > 60 * 3


def test_visits_json_is_one_document_shaped_like_the_api_response(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str
) -> None:
    visitor_id = longest_history(fake)
    ran = run(capsys, "visits", visitor_id, "--base-url", url, "--all", "--format", "json")
    assert ran.status == 0
    history = converter.structure(json.loads(ran.out), VisitorHistory)
    assert history == VisitorHistory(visitor_id, tuple(fake.visits_of(visitor_id)))


def test_visits_table_lists_the_visits(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str
) -> None:
    visitor_id = longest_history(fake)
    ran = run(
        capsys, "visits", visitor_id, "--base-url", url, "--format", "table", "--max-visits", "3"
    )
    assert ran.status == 0
    shown = fake.visits_of(visitor_id)[:3]
    for visit in shown:
        assert visit.request_id in ran.out
        assert visit.time is not None
        assert format_datetime(visit.time) in ran.out
    assert fake.visits_of(visitor_id)[3].request_id not in ran.out
    assert f"3 visits of {visitor_id}" in ran.out


def test_visits_filters_by_linked_id_and_max_visits(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str
) -> None:
    visitor_id = longest_history(fake)
    linked = [v for v in fake.visits_of(visitor_id) if v.linked_id is not None]
    linked_id = linked[0].linked_id
    assert linked_id is not None
    expected = [v for v in fake.visits_of(visitor_id) if v.linked_id == linked_id]
    ran = run(capsys, "visits", visitor_id, "--base-url", url, "--all", "--linked-id", linked_id)
    assert visits_of(ran) == expected
    ran = run(capsys, "visits", visitor_id, "--base-url", url, "--all", "--max-visits", "7")
    assert visits_of(ran) == fake.visits_of(visitor_id)[:7]


def test_since_and_before_take_ms_or_iso_8601_with_naive_times_in_utc(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str
) -> None:
    visitor_id = longest_history(fake)
    stored = fake.visits_of(visitor_id)
    middle = stored[len(stored) // 2]
    moment_ms = middle.timestamp - middle.timestamp % 1000  # a whole second
    as_utc = datetime.fromtimestamp(moment_ms / 1000, timezone.utc)
    forms = [
        str(moment_ms),
        as_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        as_utc.strftime("%Y-%m-%dT%H:%M:%S"),  # naive: UTC
        as_utc.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    ]
    newer = [v for v in stored if v.timestamp >= moment_ms]
    older = [v for v in stored if v.timestamp < moment_ms]
    for form in forms:
        ran = run(capsys, "visits", visitor_id, "--base-url", url, "--all", "--since", form)
        assert visits_of(ran) == newer, form
        ran = run(capsys, "visits", visitor_id, "--base-url", url, "--all", "--before", form)
        assert visits_of(ran) == older, form


def test_moment_reads_ms_dates_and_offsets() -> None:
    assert moment("1714521600000") == 1714521600000
    assert moment("2024-05-01") == 1714521600000
    assert moment("2024-05-01T00:00:00Z") == 1714521600000
    assert moment("2024-05-01T02:00:00+02:00") == 1714521600000
    assert moment("2024-05-01T00:00:00") == 1714521600000
    assert moment(" 2024-05-01T00:00:00.250Z ") == 1714521600250
    for bad in ("yesterday", "-5", "2024-13-01", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            moment(bad)


# --- errors and exit statuses ------------------------------------------------------------------


def test_a_missing_key_names_the_variable_and_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.delenv("FPJS_API_KEY")
    ran = run(capsys, "visits", "someone", "--base-url", url)
    assert ran.status == 2
    assert "FPJS_API_KEY" in ran.assert_one_error_line()
    assert ran.out == ""


@pytest.mark.parametrize(
    "options",
    [
        ["--limit", "0"],
        ["--limit", "many"],
        ["--region", "mars"],
        ["--auth", "cookie"],
        ["--before", "yesterday"],
        ["--since", "2024-02-30"],
        ["--max-retries", "-1"],
        ["--max-visits", "0"],
        ["--timeout", "0"],
        ["--format", "xml"],
        ["--base-url", "http://example.com"],
        ["--no-such-option"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], url: str, options: list[str]
) -> None:
    base = [] if "--base-url" in options else ["--base-url", url]
    ran = run(capsys, "visits", "someone", *base, *options)
    assert ran.status == 2
    ran.assert_one_error_line()
    assert ran.out == ""


def test_a_wrong_key_says_to_check_the_key_and_region(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    wrong = "wrongKeyQ8sLm2Vx"
    ran = run(capsys, "visits", "someone", "--base-url", url, "--api-key", wrong)
    assert ran.status == 1
    line = ran.assert_one_error_line()
    assert "403" in line
    assert "key" in line
    assert "region" in line
    ran.assert_no_secret(wrong)


def test_an_api_error_is_one_line_and_exits_1(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str
) -> None:
    fake.add_fault(Fault.error(404), visitor_id="gone")
    ran = run(capsys, "visits", "gone", "--base-url", url)
    assert ran.status == 1
    assert "404" in ran.assert_one_error_line()


def test_a_transport_error_is_one_line_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    # A port nothing listens on: connecting is refused at once.
    with serve_in_thread(FakeServerAPI(KEY)) as stopped_later:
        closed_url = stopped_later
    ran = run(capsys, "visits", "someone", "--base-url", closed_url, "--max-retries", "0")
    assert ran.status == 1
    assert "GET /visitors/someone" in ran.assert_one_error_line()


@pytest.mark.parametrize("auth", ["header", "query"])
def test_the_key_is_never_printed(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str, auth: str
) -> None:
    visitor_id = longest_history(fake)
    ran = run(capsys, "visits", visitor_id, "--base-url", url, "--auth", auth, "-v", "--all")
    assert ran.status == 0
    assert f"GET /visitors/{visitor_id}" in ran.err  # -v logs each request
    assert "paginationKey=" in ran.err
    ran.assert_no_secret()
    # A server that quotes the key in its error message.
    fake.add_fault(Fault.error(500, message=f"token {KEY} is broken"), visitor_id="quoting")
    ran = run(
        capsys, "visits", "quoting", "--base-url", url, "--auth", auth, "-v", "--max-retries", "0"
    )
    assert ran.status == 1
    assert "is broken" in ran.err
    ran.assert_no_secret()
    # The key given where argparse does not expect it, which it quotes.
    for argv in (["visits", "someone", KEY], ["--api-key", KEY, "visits", "someone"]):
        ran = run(capsys, *argv)
        assert ran.status == 2
        assert "[REDACTED]" in ran.assert_one_error_line()
        ran.assert_no_secret()


def test_rich_is_needed_for_tables_only(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeServerAPI,
    url: str,
) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)  # as if it were not installed
    visitor_id = longest_history(fake)
    ran = run(capsys, "visits", visitor_id, "--base-url", url, "--format", "table")
    assert ran.status == 1
    assert "pip install 'fpjs-async[cli]'" in ran.assert_one_error_line()
    ran = run(capsys, "visits", visitor_id, "--base-url", url)
    assert ran.status == 0
    assert len(ran.lines()) == 100


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    ran = run(capsys, "--help")
    assert ran.status == 0
    for command in ("events", "search-many", "visits", "bulk", "demo", "serve"):
        assert command in ran.out
    ran = run(capsys, "visits", "--help")
    assert ran.status == 0
    assert "FPJS_API_KEY" in ran.out
    assert run(capsys, "--version").status == 0
    no_command = run(capsys)
    assert no_command.status == 2
    no_command.assert_one_error_line()


# --- entry points ------------------------------------------------------------------------------


def test_the_console_script_is_main() -> None:
    (script,) = entry_points(group="console_scripts", name="fpjs-async")
    assert script.value == "fpjs_async._cli:main"
    assert script.load() is main


def test_python_m_fpjs_async_runs_visits(fake: FakeServerAPI, url: str) -> None:
    visitor_id = longest_history(fake)
    ran = run_module("visits", visitor_id, "--base-url", url, "--all", "--auth", "query", "-v")
    assert ran.status == 0, ran.err
    assert visits_of(ran) == fake.visits_of(visitor_id)
    ran.assert_no_secret()
    ran = run_module("visits", "someone", "--base-url", url, "--api-key", "not-the-key")
    assert ran.status == 1
    assert "Traceback" not in ran.err
    ran.assert_one_error_line()
    ran.assert_no_secret("not-the-key")


def test_serve_runs_the_emulator_until_interrupted(capsys: pytest.CaptureFixture[str]) -> None:
    command = [
        sys.executable, "-m", "fpjs_async", "serve", "--port", "0",
        "--visitors", "3", "--visits", "5,40", "--seed", "4",
    ]  # fmt: skip
    env = {**os.environ, "FPJS_API_KEY": KEY, "PYTHONUNBUFFERED": "1"}
    with served(command, env) as server:
        visitor_id = server.banner.visitor_ids[0]
        # The key came from FPJS_API_KEY: a client with the same key is served.
        ran = run(capsys, "visits", visitor_id, "--base-url", server.banner.url, "--all")
    assert server.status == 0
    assert ran.status == 0
    assert 5 <= len(ran.lines()) <= 40
    assert "Stopped." in server.rest
    assert KEY not in server.output
