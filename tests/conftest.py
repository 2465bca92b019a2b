"""Shared test configuration: async tests run on asyncio through anyio's pytest plugin."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Async tests marked `anyio` run on asyncio unless a test asks for trio."""
    return "asyncio"
