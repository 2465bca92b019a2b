"""The command line's tests: one emulator per module, served on loopback, the key in the
environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _cli_support import KEY, cli_emulator

from fpjs_async.testing import FakeServerAPI, serve_in_thread


@pytest.fixture(scope="module")
def fake() -> FakeServerAPI:
    """The emulator a module's commands talk to."""
    return cli_emulator()


@pytest.fixture(scope="module")
def url(fake: FakeServerAPI) -> Iterator[str]:
    """The emulator's base URL on loopback."""
    with serve_in_thread(fake) as base_url:
        yield base_url


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, fake: FakeServerAPI) -> Iterator[None]:
    """The key in the environment, a wide terminal for tables, no faults left behind."""
    monkeypatch.setenv("FPJS_API_KEY", KEY)
    monkeypatch.setenv("COLUMNS", "250")
    yield
    fake.clear_faults()
