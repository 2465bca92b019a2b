"""`fpjs-async demo`: it finishes, survives its faults, and its numbers are the emulator's.

The demo searches v4 events; its emulator's clock stands still at the moment it is made, so
two emulators of one seed made a moment apart hold the same events but for their times.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from collections import Counter

import anyio
import pytest
from _cli_support import run

from fpjs_async._cli._demo import (
    FAILING_REQUESTS,
    PAGE_LIMIT,
    TOP,
    DemoSummary,
    demo_emulator,
    run_demo,
)
from fpjs_async._cli._ui import event_country
from fpjs_async.testing import FakeServerAPI


def expected_pages(fake: FakeServerAPI) -> int:
    """The pages of every visitor's whole search: one at least, then 100 events a page."""
    counts = [fake.count_events(visitor_id) for visitor_id in fake.visitor_ids]
    return sum(max(1, -(-count // PAGE_LIMIT)) for count in counts)


def check_top(top: tuple[tuple[str, int], ...], counts: Counter[str]) -> None:
    """`top` is a most-common list of `counts` (ties may come in any order)."""
    assert [count for _, count in top] == sorted(counts.values(), reverse=True)[:TOP]
    assert all(counts[name] == count for name, count in top)


def test_the_summary_is_what_the_emulator_served() -> None:
    fake = demo_emulator(24, latency_ms=1, seed=7)
    stored = {v: fake.events_of(v) for v in fake.visitor_ids}
    summary: DemoSummary = anyio.run(functools.partial(run_demo, fake, concurrency=6))
    assert summary.visitors == 24
    assert summary.failed == 0
    assert summary.events == sum(map(len, stored.values())) == fake.count_events()
    assert summary.pages == expected_pages(fake)
    assert summary.pages > summary.visitors  # some visitors took several pages
    assert summary.requests == len(fake.requests)
    assert all(r.operation == "search_events" and r.auth == "bearer" for r in fake.requests)
    # Every request that did not bring a page was retried, and survived.
    assert summary.requests == summary.pages + summary.retries
    assert summary.retries >= FAILING_REQUESTS
    assert summary.rate_limited == fake.status_counts[429]
    assert summary.max_in_flight == fake.max_in_flight <= 6
    assert summary.seconds > 0
    all_events = [event for events in stored.values() for event in events]
    browsers = Counter(
        e.browser_details.browser_name
        for e in all_events
        if e.browser_details and e.browser_details.browser_name
    )
    countries = Counter(filter(None, map(event_country, all_events)))
    check_top(summary.top_browsers, browsers)
    check_top(summary.top_countries, countries)


def number(label: str, text: str) -> int:
    match = re.search(rf"^\W*{re.escape(label)}\W+([\d,]+)", text, re.MULTILINE)
    assert match is not None, f"{label!r} not in {text}"
    return int(match.group(1).replace(",", ""))


def test_the_command_prints_the_summary(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    ran = run(
        capsys, "demo", "--visitors", "15", "--concurrency", "5", "--latency-ms", "0", "--seed", "3"
    )
    assert ran.status == 0, ran.err
    same_data = demo_emulator(15, latency_ms=0, seed=3)
    assert number("Visitors", ran.out) == 15
    assert number("Events", ran.out) == same_data.count_events()
    assert number("Pages", ran.out) == expected_pages(same_data)
    assert number("Requests", ran.out) == number("Pages", ran.out) + number("Retries", ran.out)
    assert number("Peak in flight", ran.out) <= 5
    for heading in ("Wall time", "Throughput", "Top browsers", "Top countries"):
        assert heading in ran.out
    assert "15/15" in ran.err  # the progress bar's last state


def test_the_demo_needs_no_uvicorn() -> None:
    # As on a machine where uvicorn (needed by `serve` only) is not installed.
    code = (
        "import sys; sys.modules['uvicorn'] = None; from fpjs_async._cli import main; "
        "sys.exit(main(['demo', '--visitors', '8', '--latency-ms', '0']))"
    )
    process = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert process.returncode == 0, process.stderr
    assert "Summary" in process.stdout
