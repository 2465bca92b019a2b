"""The pytest plugin's fixtures `fake_api` and `fake_session`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fpjs_async import Session
from fpjs_async.testing import FakeServerAPI
from fpjs_async.testing._pytest_plugin import FAKE_API_DATA, FAKE_API_KEY


@pytest.mark.anyio
async def test_fixtures_serve_the_deterministic_data(
    fake_api: FakeServerAPI, fake_session: Session
) -> None:
    assert fake_api.api_key == FAKE_API_KEY
    assert len(fake_api.visitor_ids) == 10
    counts = {v: fake_api.count_visits(v) for v in fake_api.visitor_ids}
    paged = max(counts, key=counts.__getitem__)
    assert counts[paged] > 100  # at least one visitor has more than one default page
    page = await fake_session.get_visits(paged)
    assert page.visits == tuple(fake_api.visits_of(paged)[:100])
    assert page.has_more
    assert fake_api.requests[0].auth == "header"


def test_fixtures_are_the_same_in_every_test(fake_api: FakeServerAPI) -> None:
    again = FakeServerAPI(FAKE_API_KEY)
    assert again.populate(**FAKE_API_DATA) == fake_api.visitor_ids
    assert FAKE_API_DATA["seed"] == 0


USER_TESTS = """
    import pytest

    SESSIONS = {}


    @pytest.fixture(params=["asyncio", "trio"])
    def anyio_backend(request):
        return request.param


    @pytest.mark.anyio
    async def test_with_anyio(fake_api, fake_session, anyio_backend):
        page = await fake_session.get_visits(fake_api.visitor_ids[0])
        assert page.visits
        SESSIONS[anyio_backend] = fake_session


    @pytest.mark.asyncio
    async def test_with_pytest_asyncio(fake_api, fake_session):
        fake_api.fail_next(1, 503)
        page = await fake_session.get_visits(fake_api.visitor_ids[2])
        assert page.visits
        assert len(fake_api.requests) == 2  # the 503 was retried
        SESSIONS["pytest-asyncio"] = fake_session


    def test_every_session_was_closed_after_its_test():
        assert sorted(SESSIONS) == ["asyncio", "pytest-asyncio", "trio"]
        assert all(session.closed for session in SESSIONS.values())
"""


def test_plugin_works_in_a_users_suite_with_warnings_as_errors(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TESTS))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    options = ["-q", "-p", "no:cacheprovider", "-W", "error"]
    options += ["-o", "asyncio_default_fixture_loop_scope=function"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *options, "test_user.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
    assert "warning" not in result.stdout.lower()
