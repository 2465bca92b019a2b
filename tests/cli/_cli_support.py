"""Helpers of the command-line tests: the emulator they talk to, `main` run in-process."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fpjs_async._cli import main
from fpjs_async.testing import FakeServerAPI

#: The key of the emulator; shaped like a real one, and checked never to be printed.
KEY = "cliSecretKey7fQ3xZpL"
#: Events the server scans per page when no limit is given.
DEFAULT_LIMIT = 100
#: The emulator's clock stands still here, so that the v4 search windows do not move.
NOW_MS = 1_750_000_000_000
#: The oldest `start` the emulator accepts: its whole retention.
MONTH_AGO_MS = NOW_MS - 30 * 86_400_000
#: Where a v4 search starts when it is given no `start`.
WEEK_AGO_MS = NOW_MS - 7 * 86_400_000


@dataclass(frozen=True)
class Ran:
    """The outcome of one command."""

    status: int
    out: str
    err: str

    def lines(self) -> list[dict[str, Any]]:
        """stdout as JSON Lines."""
        return [json.loads(line) for line in self.out.splitlines()]

    def assert_no_secret(self, secret: str = KEY) -> None:
        """The key appears nowhere in what was printed."""
        assert secret not in self.out
        assert secret not in self.err

    def assert_one_error_line(self) -> str:
        """stderr is exactly one `error: ...` line (no traceback); returns it."""
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("error: ")
        return lines[0]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Ran:
    """`fpjs-async ARGV` in-process."""
    status = main(list(argv))
    captured = capsys.readouterr()
    return Ran(status, captured.out, captured.err)


def run_module(*argv: str, env: dict[str, str] | None = None, timeout: float = 60) -> Ran:
    """`python -m fpjs_async ARGV` in a subprocess, with `FPJS_API_KEY` set to the key."""
    process = subprocess.run(
        [sys.executable, "-m", "fpjs_async", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "FPJS_API_KEY": KEY, **(env or {})},
        check=False,
    )
    return Ran(process.returncode, process.stdout, process.stderr)


def ids_file(tmp_path: Path, ids: str | Sequence[str]) -> str:
    """The path of a file of visitor IDs: `ids` as text, or one ID a line."""
    path = tmp_path / "ids.txt"
    text = ids if isinstance(ids, str) else "".join(f"{visitor_id}\n" for visitor_id in ids)
    path.write_text(text, encoding="utf-8")
    return str(path)


def by_visitor(ran: Ran, key: str) -> dict[str, dict[str, Any]]:
    """The JSON Lines of a bulk command by their visitor ID (`key`), one line per visitor."""
    lines = ran.lines()
    table = {line[key]: line for line in lines}
    assert len(table) == len(lines), "one line per visitor"
    return table


def cli_emulator() -> FakeServerAPI:
    """The emulator of the tests: 6 visitors, up to 3 pages of history each, at `NOW_MS`."""
    fake = FakeServerAPI(KEY, now=NOW_MS)
    fake.populate(6, (1, 260), seed=5)
    return fake


def pages_of(fake: FakeServerAPI, visitor_id: str) -> int:
    """How many pages the whole history of a visitor takes at the default limit."""
    return max(1, math.ceil(fake.count_visits(visitor_id) / DEFAULT_LIMIT))


def longest_history(fake: FakeServerAPI) -> str:
    """The visitor with the most visits (several pages)."""
    return max(fake.visitor_ids, key=fake.count_visits)


def recent_event_ids(fake: FakeServerAPI, visitor_id: str) -> list[str]:
    """The IDs of a visitor's events of the last 7 days (a default search), newest first."""
    return [e.event_id for e in fake.events_of(visitor_id) if e.timestamp >= WEEK_AGO_MS]


def busiest_visitor(fake: FakeServerAPI) -> str:
    """The visitor with the most events."""
    return max(fake.visitor_ids, key=fake.count_events)
