"""VisitsQuery: parameters validated before anything is sent, mapped onto the wire."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

import pytest
import respx
from _bodies import US, ok

from fpjs_async import Session
from fpjs_async._query import MAX_LIMIT, VisitsQuery

pytestmark = [pytest.mark.anyio, pytest.mark.respx(assert_all_called=False)]

VISITS = US + "/visitors/"
AWARE = datetime(2024, 2, 16, 16, 55, 55, 327000, tzinfo=timezone(timedelta(hours=2)))
AWARE_MS = 1708095355327


@pytest.fixture
def route(respx_mock: respx.MockRouter) -> respx.Route:
    return respx_mock.get(url__startswith=VISITS).mock(return_value=ok())


REFUSED: list[Any] = [
    # (visitor_id, keyword arguments, exception, words the message must hold)
    ("", {}, ValueError, ["visitor_id", "non-empty"]),
    (None, {}, TypeError, ["visitor_id", "str"]),
    (42, {}, TypeError, ["visitor_id", "str"]),
    (b"abc", {}, TypeError, ["visitor_id", "str"]),
    ("a\ud800", {}, ValueError, ["visitor_id", "UTF-8"]),
    ("v", {"request_id": ""}, ValueError, ["request_id", "non-empty"]),
    ("v", {"request_id": 7}, TypeError, ["request_id", "str"]),
    ("v", {"linked_id": ""}, ValueError, ["linked_id", "non-empty"]),
    ("v", {"linked_id": ["x"]}, TypeError, ["linked_id", "str"]),
    ("v", {"pagination_key": ""}, ValueError, ["pagination_key", "non-empty"]),
    ("v", {"pagination_key": 3}, TypeError, ["pagination_key", "str"]),
    ("v", {"limit": 0}, ValueError, ["limit", "1 to 500"]),
    ("v", {"limit": -5}, ValueError, ["limit", "1 to 500"]),
    ("v", {"limit": MAX_LIMIT + 1}, ValueError, ["limit", "1 to 500"]),
    ("v", {"limit": True}, TypeError, ["limit", "1 to 500", "bool"]),
    ("v", {"limit": "5"}, TypeError, ["limit", "1 to 500", "str"]),
    ("v", {"limit": 1.5}, TypeError, ["limit", "1 to 500", "float"]),
    ("v", {"before": -1}, ValueError, ["before", "from 0"]),
    ("v", {"before": 2**63}, ValueError, ["before", "from 0"]),
    ("v", {"before": datetime(2024, 1, 1)}, ValueError, ["before", "aware"]),
    ("v", {"before": datetime(1969, 12, 31, tzinfo=timezone.utc)}, ValueError, ["before"]),
    ("v", {"before": False}, TypeError, ["before", "aware datetime", "bool"]),
    ("v", {"before": "1700000000000"}, TypeError, ["before", "ms since the epoch", "str"]),
    ("v", {"before": 1.5e12}, TypeError, ["before", "float"]),
    ("v", {"before": 5, "pagination_key": "k"}, ValueError, ["before", "pagination_key"]),
    ("v", {"before": AWARE, "pagination_key": "k"}, ValueError, ["before", "pagination_key"]),
]


@pytest.mark.parametrize(("visitor_id", "kwargs", "error", "words"), REFUSED)
async def test_refused_argument_sends_nothing(
    session: Session,
    route: respx.Route,
    visitor_id: Any,
    kwargs: dict[str, Any],
    error: type[Exception],
    words: list[str],
) -> None:
    with pytest.raises(error) as caught:
        await session.get_visits(visitor_id, **kwargs)
    for word in words:
        assert word in str(caught.value)
    assert not route.called


@pytest.mark.parametrize(
    ("kwargs", "params"),
    [
        ({}, {}),
        ({"limit": 1}, {"limit": "1"}),
        ({"limit": MAX_LIMIT}, {"limit": "500"}),
        ({"before": 0}, {"before": "0"}),
        ({"before": 1700000000000}, {"before": "1700000000000"}),
        ({"before": AWARE}, {"before": str(AWARE_MS)}),
        ({"pagination_key": "1655373953086"}, {"paginationKey": "1655373953086"}),
        (
            {"request_id": "1708102555327.NLOjmg", "linked_id": "order 7&x=1"},
            {"request_id": "1708102555327.NLOjmg", "linked_id": "order 7&x=1"},
        ),
    ],
)
async def test_accepted_arguments_reach_the_query_string(
    session: Session, route: respx.Route, kwargs: dict[str, Any], params: dict[str, str]
) -> None:
    await session.get_visits("v", **kwargs)
    assert route.call_count == 1
    assert dict(route.calls.last.request.url.params) == params


ODD_IDS = ["../x", "a/b", "a?b#c", "%", ".", "..", "%2F", "..%2F..", "é/日本", "a b", "+;=&"]


@pytest.mark.parametrize("visitor_id", ODD_IDS)
async def test_visitor_id_stays_one_path_segment(
    session: Session, route: respx.Route, visitor_id: str
) -> None:
    await session.get_visits(visitor_id, limit=3)
    request = route.calls.last.request
    raw_path, _, raw_query = request.url.raw_path.decode("ascii").partition("?")
    prefix, _, segment = raw_path.rpartition("/")
    assert prefix == "/visitors"
    assert segment not in ("", ".", "..")
    # What a server decodes from the segment is exactly the visitor ID sent.
    assert unquote(segment, errors="strict") == visitor_id
    assert raw_query == "limit=3"
    assert request.url.host == "api.fpjs.io"


def test_path_and_params_of_a_built_query() -> None:
    query = VisitsQuery.build("v/1", linked_id="L", limit=10, before=AWARE)
    assert query.path == "/visitors/v%2F1"
    assert query.params() == [("linked_id", "L"), ("limit", "10"), ("before", str(AWARE_MS))]
    call = query.call()
    assert (call.method, call.path, call.version) == ("GET", "/visitors/v%2F1", 3)
    assert call.params == tuple(query.params())


def test_next_page_keeps_filters_and_swaps_the_cursor() -> None:
    query = VisitsQuery.build("v", request_id="r", linked_id="L", limit=10, before=99)
    following = query.next_page(before=None, pagination_key="pk")
    assert following == VisitsQuery("v", "r", "L", 10, None, "pk")
    assert dict(following.params())["paginationKey"] == "pk"
    assert "before" not in dict(following.params())
