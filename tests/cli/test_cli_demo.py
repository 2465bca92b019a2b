"""`fpjs-async demo`: it finishes, survives its faults, and its numbers are the emulator's."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from collections import Counter

import anyio
import pytest
from _cli_support import pages_of, run

from fpjs_async._cli._demo import (
    FAILING_REQUESTS,
    TOP,
    DemoSummary,
    demo_emulator,
    run_demo,
)
from fpjs_async.testing import FakeServerAPI


def expected_pages(fake: FakeServerAPI) -> int:
    return sum(pages_of(fake, visitor_id) for visitor_id in fake.visitor_ids)


def check_top(top: tuple[tuple[str, int], ...], counts: Counter[str]) -> None:
    """`top` is a most-common list of `counts` (ties may come in any order)."""
    assert [count for _, count in top] == sorted(counts.values(), reverse=True)[:TOP]
    assert all(counts[name] == count for name, count in top)


def test_the_summary_is_what_the_emulator_served() -> None:
    fake = demo_emulator(24, latency_ms=1, seed=7)
    stored = {v: fake.visits_of(v) for v in fake.visitor_ids}
    summary: DemoSummary = anyio.run(functools.partial(run_demo, fake, concurrency=6))
    assert summary.visitors == 24
    assert summary.failed == 0
    assert summary.visits == sum(map(len, stored.values())) == fake.count_visits()
    assert summary.pages == expected_pages(fake)
    assert summary.pages > summary.visitors  # some histories took several pages
    assert summary.requests == len(fake.requests)
    # Every request that did not bring a page was retried, and survived.
    assert summary.requests == summary.pages + summary.retries
    assert summary.retries >= FAILING_REQUESTS
    assert summary.max_in_flight == fake.max_in_flight <= 6
    assert summary.seconds > 0
    all_visits = [visit for visits in stored.values() for visit in visits]
    browsers = Counter(
        v.browser_details.browser_name
        for v in all_visits
        if v.browser_details and v.browser_details.browser_name
    )
    countries = Counter(
        v.ip_location.country.name
        for v in all_visits
        if v.ip_location and v.ip_location.country and v.ip_location.country.name
    )
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
    assert number("Visits", ran.out) == same_data.count_visits()
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
