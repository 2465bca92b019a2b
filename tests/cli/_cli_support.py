"""Helpers of the command-line tests: the emulator they talk to, `main` run in-process."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from fpjs_async._cli import main
from fpjs_async.testing import FakeServerAPI

#: The key of the emulator; shaped like a real one, and checked never to be printed.
KEY = "cliSecretKey7fQ3xZpL"
#: Events the server scans per page when no limit is given.
DEFAULT_LIMIT = 100


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


def cli_emulator() -> FakeServerAPI:
    """The emulator of the tests: 6 visitors, up to 3 pages of history each."""
    fake = FakeServerAPI(KEY)
    fake.populate(6, (1, 260), seed=5)
    return fake


def pages_of(fake: FakeServerAPI, visitor_id: str) -> int:
    """How many pages the whole history of a visitor takes at the default limit."""
    return max(1, math.ceil(fake.count_visits(visitor_id) / DEFAULT_LIMIT))


def longest_history(fake: FakeServerAPI) -> str:
    """The visitor with the most visits (several pages)."""
    return max(fake.visitor_ids, key=fake.count_visits)
