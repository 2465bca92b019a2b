"""The v4 commands: `events` (one search) and `search-many` (a search per visitor)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from _cli_support import (
    KEY,
    MONTH_AGO_MS,
    NOW_MS,
    WEEK_AGO_MS,
    Ran,
    busiest_visitor,
    by_visitor,
    ids_file,
    recent_event_ids,
    run,
    run_module,
)

from fpjs_async import Event, EventSearch
from fpjs_async._converter import converter
from fpjs_async.testing import FakeServerAPI, Fault

pytestmark = pytest.mark.usefixtures("environment")

WHOLE = ["--all", "--start", str(MONTH_AGO_MS), "--limit", "100"]


def event_ids(ran: Ran) -> list[str]:
    return [converter.structure(line, Event).event_id for line in ran.lines()]


def stored_ids(fake: FakeServerAPI, visitor_id: str) -> list[str]:
    return [event.event_id for event in fake.events_of(visitor_id)]


# --- events ------------------------------------------------------------------------------


def test_events_prints_the_first_page_of_the_last_week(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str
) -> None:
    visitor_id = busiest_visitor(fake)
    ran = run(capsys, "events", "--visitor-id", visitor_id, "--base-url", url)
    assert (ran.status, ran.err) == (0, "")
    assert event_ids(ran) == recent_event_ids(fake, visitor_id)[:10]  # the API's default limit
    request = fake.requests[-1]
    assert (request.path, request.auth) == ("/v4/events", "bearer")
    assert request.params == {"visitor_id": visitor_id}


def test_events_all_walks_every_page_as_the_api_sends_each_event(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str
) -> None:
    visitor_id = busiest_visitor(fake)
    ran = run(capsys, "events", "--visitor-id", visitor_id, "--base-url", url, *WHOLE)
    assert ran.status == 0
    assert event_ids(ran) == stored_ids(fake, visitor_id)
    assert len(ran.lines()) > 100  # several pages
    assert [converter.structure(line, Event) for line in ran.lines()] == fake.events_of(visitor_id)


def test_events_json_is_one_search_document(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str
) -> None:
    visitor_id = busiest_visitor(fake)
    ran = run(
        capsys, "events", "--visitor-id", visitor_id, "--base-url", url, *WHOLE, "--format", "json"
    )
    assert ran.status == 0
    search = converter.structure(json.loads(ran.out), EventSearch)
    assert search == EventSearch(tuple(fake.events_of(visitor_id)))


def test_events_table_lists_the_events(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str
) -> None:
    visitor_id = busiest_visitor(fake)
    argv = ["events", "--visitor-id", visitor_id, "--base-url", url, "--format", "table"]
    ran = run(capsys, *argv, "--max-events", "3", "--start", str(MONTH_AGO_MS))
    assert ran.status == 0
    shown, hidden = stored_ids(fake, visitor_id)[:3], stored_ids(fake, visitor_id)[3]
    assert all(event_id in ran.out for event_id in shown)
    assert hidden not in ran.out
    assert "3 events" in ran.out


@pytest.mark.parametrize(
    ("options", "sent"),
    [
        (["--reverse", "--max-events", "4"], {"reverse": "true"}),
        (["--vpn", "--no-incognito"], {"vpn": "true", "incognito": "false"}),
        (["--bot", "bad", "--suspect"], {"bot": "bad", "suspect": "true"}),
        (["--ip-address", "10.0.0.0/8", "--end", str(NOW_MS)], {"ip_address": "10.0.0.0/8"}),
        (["--linked-id", "order-7"], {"linked_id": "order-7"}),
    ],
)
def test_events_sends_the_filters_given(
    capsys: pytest.CaptureFixture[str],
    fake: FakeServerAPI,
    url: str,
    options: list[str],
    sent: dict[str, str],
) -> None:
    ran = run(capsys, "events", "--base-url", url, "--start", str(MONTH_AGO_MS), *options)
    assert ran.status == 0, ran.err
    params = fake.requests[-1].params
    assert params.items() >= {"start": str(MONTH_AGO_MS), **sent}.items()
    if "--end" in options:
        assert params["end"] == str(NOW_MS)
    if "--max-events" in options:
        assert len(ran.lines()) == 4


def test_events_with_a_linked_id_finds_its_events(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str
) -> None:
    linked = [e for v in fake.visitor_ids for e in fake.events_of(v) if e.linked_id is not None]
    linked_id = linked[0].linked_id
    assert linked_id is not None
    expected = sorted(e.event_id for e in linked if e.linked_id == linked_id)
    ran = run(capsys, "events", "--linked-id", linked_id, "--base-url", url, *WHOLE)
    assert ran.status == 0
    assert sorted(event_ids(ran)) == expected


@pytest.mark.parametrize(
    "options",
    [
        ["--limit", "101"],
        ["--limit", "0"],
        ["--start", "yesterday"],
        ["--max-events", "0"],
        ["--visitor-id", ""],
        ["--auth", "query"],  # v4 sends the key as a Bearer token only
        ["--format", "xml"],
        ["--request-id", "r"],  # a v3 filter
    ],
)
def test_events_bad_arguments_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], url: str, options: list[str]
) -> None:
    ran = run(capsys, "events", "--base-url", url, *options)
    assert ran.status == 2
    ran.assert_one_error_line()
    assert ran.out == ""


def test_events_of_an_unknown_visitor_is_a_404_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    ran = run(capsys, "events", "--visitor-id", "nobody-at-all", "--base-url", url)
    assert ran.status == 1
    assert "visitor_not_found" in ran.assert_one_error_line()


def test_events_never_prints_the_key(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str
) -> None:
    visitor_id = busiest_visitor(fake)
    ran = run(capsys, "events", "--visitor-id", visitor_id, "--base-url", url, "-v", *WHOLE)
    assert ran.status == 0
    assert "GET /v4/events" in ran.err
    assert "pagination_key=" in ran.err
    ran.assert_no_secret()
    wrong = "wrongKeyQ8sLm2Vx"
    ran = run(capsys, "events", "--base-url", url, "--api-key", wrong)
    assert ran.status == 1
    assert "region" in ran.assert_one_error_line()
    ran.assert_no_secret(wrong)


def test_python_m_fpjs_async_runs_events(fake: FakeServerAPI, url: str) -> None:
    visitor_id = busiest_visitor(fake)
    ran = run_module("events", "--visitor-id", visitor_id, "--base-url", url, *WHOLE)
    assert ran.status == 0, ran.err
    assert event_ids(ran) == stored_ids(fake, visitor_id)
    ran.assert_no_secret()


# --- search-many -------------------------------------------------------------------------


def test_search_many_writes_a_line_per_visitor_and_an_error_line(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str, tmp_path: Path
) -> None:
    ids = fake.visitor_ids
    path = ids_file(tmp_path, [ids[0], "nobody-at-all", *ids, ids[1]])
    ran = run(capsys, "search-many", path, "--base-url", url, *WHOLE)
    assert ran.status == 1
    assert "1 of 7 visitors failed" in ran.assert_one_error_line()
    lines = by_visitor(ran, "visitor_id")
    assert set(lines) == {*ids, "nobody-at-all"}
    assert lines["nobody-at-all"] == {
        "visitor_id": "nobody-at-all",
        "error": {
            "type": "NotFoundError",
            "status": 404,
            "code": "visitor_not_found",
            "message": "visitor not found",
        },
    }
    for visitor_id in ids:
        line = lines[visitor_id]
        search = converter.structure(line, EventSearch)
        assert list(search.events) == fake.events_of(visitor_id)
        assert line["pages"] == max(1, -(-fake.count_events(visitor_id) // 100))


def test_search_many_first_page_by_default_with_filters(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeServerAPI,
    url: str,
) -> None:
    stdin = io.TextIOWrapper(io.BytesIO("\n".join(fake.visitor_ids).encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    before = len(fake.requests)
    ran = run(capsys, "search-many", "--base-url", url, "--limit", "5", "--no-vpn")
    assert (ran.status, ran.err) == (0, "")
    for visitor_id, line in by_visitor(ran, "visitor_id").items():
        assert line["pages"] == 1
        expected = [
            e.event_id
            for e in fake.events_of(visitor_id)
            if e.timestamp >= WEEK_AGO_MS and not e.vpn
        ][:5]
        assert [e["event_id"] for e in line["events"]] == expected
    searches = fake.requests[before:]
    assert len(searches) == 6
    assert all(
        r.params == {"visitor_id": r.visitor_id, "vpn": "false", "limit": "5"} for r in searches
    )


def test_search_many_per_event_to_a_file(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str, tmp_path: Path
) -> None:
    output = tmp_path / "events.jsonl"
    ids = ids_file(tmp_path, fake.visitor_ids[:3])
    ran = run(
        capsys, "search-many", ids, "--base-url", url, *WHOLE, "--per-event", "-o", str(output)
    )
    assert (ran.status, ran.out, ran.err) == (0, "", "")
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    seen: dict[str, list[Event]] = {}
    for line in lines:
        seen.setdefault(line["visitor_id"], []).append(converter.structure(line, Event))
    assert seen == {v: fake.events_of(v) for v in fake.visitor_ids[:3]}


def test_search_many_draws_a_progress_bar_on_a_terminal(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeServerAPI,
    url: str,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("TERM", "xterm")
    ran = run(capsys, "search-many", ids_file(tmp_path, fake.visitor_ids), "--base-url", url)
    assert ran.status == 0
    assert "6/6" in ran.err
    assert len(by_visitor(ran, "visitor_id")) == 6


def test_search_many_survives_server_errors(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str, tmp_path: Path
) -> None:
    fake.add_fault(Fault.error(503), times=3)
    ran = run(capsys, "search-many", ids_file(tmp_path, fake.visitor_ids), "--base-url", url)
    assert ran.status == 0, ran.err
    assert len(by_visitor(ran, "visitor_id")) == 6


@pytest.mark.parametrize(
    "options",
    [["--visitor-id", "v"], ["--per-visit"], ["--limit", "500"], ["--concurrency", "0"]],
)
def test_search_many_bad_arguments_exit_2(
    capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path, options: list[str]
) -> None:
    ran = run(capsys, "search-many", ids_file(tmp_path, ["a"]), "--base-url", url, *options)
    assert ran.status == 2
    ran.assert_one_error_line()
    assert ran.out == ""


def test_search_many_stops_at_once_on_a_refused_key(
    capsys: pytest.CaptureFixture[str], fake: FakeServerAPI, url: str, tmp_path: Path
) -> None:
    ids = ids_file(tmp_path, [f"visitor-{n}" for n in range(300)])
    before = len(fake.requests)
    wrong = "wrongKeyQ8sLm2Vx"
    ran = run(capsys, "search-many", ids, "--base-url", url, "--api-key", wrong)
    assert ran.status == 1
    assert "403" in ran.assert_one_error_line()
    assert all(line["error"]["type"] == "AuthenticationError" for line in ran.lines())
    assert len(fake.requests) - before < 25
    ran.assert_no_secret(wrong)
    assert KEY not in ran.err
