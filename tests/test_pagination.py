"""iter_pages / iter_visits: cursors walked to the end, lazily, never forever."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
import respx
from _bodies import responder

import fpjs_async
from fpjs_async import PaginationError, Session, _pagination
from fpjs_async.testing import FakeServerAPI

pytestmark = pytest.mark.anyio

BASE = "https://api.fpjs.io"
NEWEST_MS = 1_700_000_000_000


def visit(timestamp: int, request_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A minimal API-shaped visit."""
    return {"requestId": request_id or f"{timestamp}.req", "timestamp": timestamp, **fields}


def page(visits: list[dict[str, Any]], **cursor: Any) -> httpx.Response:
    return httpx.Response(200, json={"visitorId": "v", "visits": visits, **cursor})


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


async def test_follows_last_timestamp_with_every_filter(
    session: Session, api: respx.MockRouter
) -> None:
    route = api.get("/visitors/v").mock(
        side_effect=responder(
            [
                page([visit(30), visit(20)], lastTimestamp=20),
                page([], lastTimestamp=10),
                page([visit(5)]),
            ]
        )
    )
    pages = [p async for p in session.iter_pages("v", limit=2, linked_id="L")]
    assert [len(p.visits) for p in pages] == [2, 0, 1]
    params = [dict(call.request.url.params) for call in route.calls]
    assert params == [
        {"limit": "2", "linked_id": "L"},
        {"limit": "2", "linked_id": "L", "before": "20"},
        {"limit": "2", "linked_id": "L", "before": "10"},
    ]


async def test_prefers_pagination_key(session: Session, api: respx.MockRouter) -> None:
    route = api.get("/visitors/v").mock(
        side_effect=responder(
            [
                page([visit(30)], lastTimestamp=30, paginationKey="30.req"),
                page([visit(20)]),
            ]
        )
    )
    visits = [v async for v in session.iter_visits("v", limit=1)]
    assert [v.timestamp for v in visits] == [30, 20]
    assert dict(route.calls[1].request.url.params) == {"limit": "1", "paginationKey": "30.req"}


@pytest.mark.parametrize(
    "cursors",
    [
        pytest.param([{"lastTimestamp": 20}, {"lastTimestamp": 20}], id="same-timestamp"),
        pytest.param([{"lastTimestamp": 20}, {"lastTimestamp": 25}], id="newer-timestamp"),
        pytest.param([{"paginationKey": "k"}, {"paginationKey": "k"}], id="same-key"),
    ],
)
async def test_stuck_cursor_raises(
    session: Session, api: respx.MockRouter, cursors: list[dict[str, Any]]
) -> None:
    responses = [page([visit(30)], **c) for c in cursors] + [page([visit(1)], **cursors[-1])] * 5
    route = api.get("/visitors/v").mock(side_effect=responses)
    with pytest.raises(PaginationError):
        async for _ in session.iter_pages("v"):
            pass
    assert route.call_count <= 3


async def test_stuck_cursor_on_first_page_against_given_before(
    session: Session, api: respx.MockRouter
) -> None:
    route = api.get("/visitors/v").mock(return_value=page([], lastTimestamp=500))
    with pytest.raises(PaginationError, match="not older"):
        async for _ in session.iter_pages("v", before=500):
            pass
    assert route.call_count == 1


async def test_request_id_sends_one_request(session: Session, api: respx.MockRouter) -> None:
    route = api.get("/visitors/v").mock(return_value=page([], lastTimestamp=10))
    assert [v async for v in session.iter_visits("v", request_id="r")] == []
    assert route.call_count == 1


async def test_max_pages_sends_no_extra_request(session: Session, api: respx.MockRouter) -> None:
    route = api.get("/visitors/v").mock(
        side_effect=[page([visit(30)], lastTimestamp=30), page([visit(20)], lastTimestamp=20)]
    )
    pages = [p async for p in session.iter_pages("v", max_pages=2)]
    assert len(pages) == 2
    assert route.call_count == 2


async def test_since_stops_inside_a_page(session: Session, api: respx.MockRouter) -> None:
    route = api.get("/visitors/v").mock(
        side_effect=responder(
            [
                page([visit(300), visit(250)], lastTimestamp=250),
                page([visit(200), visit(150), visit(100)], lastTimestamp=100),
            ]
        )
    )
    visits = [v async for v in session.iter_visits("v", since=150)]
    assert [v.timestamp for v in visits] == [300, 250, 200, 150]
    assert route.call_count == 2


async def test_since_skips_a_page_whose_cursor_is_older(
    session: Session, api: respx.MockRouter
) -> None:
    # The filter matched nothing, but the cursor shows every later event is older than since.
    route = api.get("/visitors/v").mock(
        side_effect=responder([page([visit(300)], lastTimestamp=120)])
    )
    visits = [v async for v in session.iter_visits("v", linked_id="x", since=200)]
    assert [v.timestamp for v in visits] == [300]
    assert route.call_count == 1


async def test_since_accepts_aware_datetime(session: Session, api: respx.MockRouter) -> None:
    since = datetime.fromtimestamp(200, tz=timezone.utc)
    api.get("/visitors/v").mock(
        side_effect=responder([page([visit(300_000), visit(200_000), visit(100_000)])])
    )
    visits = [v async for v in session.iter_visits("v", since=since)]
    assert [v.timestamp for v in visits] == [300_000, 200_000]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_visits": 0}, ValueError),
        ({"max_visits": True}, TypeError),
        ({"max_pages": -1}, ValueError),
        ({"max_pages": 1.5}, TypeError),
        ({"since": datetime(2024, 1, 1)}, ValueError),
        ({"since": "yesterday"}, TypeError),
        ({"limit": 501}, ValueError),
        ({"before": 5, "pagination_key": "k"}, ValueError),
    ],
)
async def test_bad_arguments_refused_before_iteration(
    session: Session, api: respx.MockRouter, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    route = api.get("/visitors/v").mock(return_value=page([]))
    with pytest.raises(error):
        session.iter_visits("v", **kwargs)
    assert not route.called


async def test_closed_session_refuses_iteration(api: respx.MockRouter) -> None:
    fp = Session("key")
    await fp.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        fp.iter_pages("v")


async def test_next_page_params_resumes_where_a_page_ended(
    session: Session, api: respx.MockRouter
) -> None:
    route = api.get("/visitors/v").mock(
        side_effect=responder([page([visit(30)], lastTimestamp=30), page([visit(20)])])
    )
    first = await session.get_visits("v", limit=1)
    cursor = first.next_page_params()
    assert cursor == {"before": 30}
    second = await session.get_visits("v", limit=1, **cursor)
    assert second.next_page_params() is None
    assert dict(route.calls[1].request.url.params) == {"limit": "1", "before": "30"}


def test_next_page_params_prefers_the_key() -> None:
    history = fpjs_async.VisitorHistory("v", (), last_timestamp=5, pagination_key="k")
    assert history.next_page_params() == {"pagination_key": "k"}
    assert history.has_more


async def test_aclosing_break_sends_no_further_request(
    session: Session, api: respx.MockRouter
) -> None:
    route = api.get("/visitors/v").mock(
        side_effect=[page([visit(30), visit(25)], lastTimestamp=25)] * 3
    )
    async with contextlib.aclosing(session.iter_visits("v")) as visits:
        async for _ in visits:
            break
    assert route.call_count == 1


# --- against the emulator ----------------------------------------------------------------


def history(count: int, *, linked: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """`count` visits one second apart, newest first; `linked` maps an index to a linked ID."""
    linked = linked or {}
    return [
        visit(
            NEWEST_MS - i * 1000,
            f"{NEWEST_MS - i * 1000}.v{i:05d}",
            **({"linkedId": linked[i]} if i in linked else {}),
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("send_pagination_key", [False, True], ids=["lastTimestamp", "key"])
async def test_walks_1234_events_in_13_requests(send_pagination_key: bool) -> None:
    fake = FakeServerAPI(api_key="k", send_pagination_key=send_pagination_key)
    events = history(1234)
    fake.add_visits("v", events)
    async with fake.session() as fp:
        visits = [v async for v in fp.iter_visits("v", limit=100)]
    assert [v.request_id for v in visits] == [e["requestId"] for e in events]
    assert len(fake.requests) == 13
    cursor_name = "paginationKey" if send_pagination_key else "before"
    assert cursor_name not in fake.requests[0].params
    for previous, request in zip(visits[99:1200:100], fake.requests[1:], strict=True):
        expected = previous.request_id if send_pagination_key else str(previous.timestamp)
        assert request.params == {"limit": "100", cursor_name: expected}


async def test_sparse_linked_id_crosses_empty_pages() -> None:
    fake = FakeServerAPI(api_key="k")
    matches = {3: "order-7", 250: "order-7", 480: "order-7", 777: "order-7", 999: "order-7"}
    fake.add_visits("v", history(1000, linked=matches))
    async with fake.session() as fp:
        pages = [p async for p in fp.iter_pages("v", linked_id="order-7", limit=100)]
    assert [len(p.visits) for p in pages].count(0) == 5  # pages 2, 4, 6, 7 and 9 match nothing
    found = [v.request_id for p in pages for v in p.visits]
    assert found == [f"{NEWEST_MS - i * 1000}.v{i:05d}" for i in sorted(matches)]
    assert all(r.params["linked_id"] == "order-7" for r in fake.requests)
    assert len(fake.requests) == 10


async def test_max_visits_stops_after_the_page_that_fills_it() -> None:
    fake = FakeServerAPI(api_key="k")
    fake.add_visits("v", history(1000))
    async with fake.session() as fp:
        visits = [v async for v in fp.iter_visits("v", limit=100, max_visits=150)]
    assert len(visits) == 150
    assert len(fake.requests) == 2


async def test_since_stops_on_the_right_page() -> None:
    fake = FakeServerAPI(api_key="k")
    events = history(1000)
    fake.add_visits("v", events)
    since = events[349]["timestamp"]  # the 350th newest visit, on the 4th page of 100
    async with fake.session() as fp:
        visits = [v async for v in fp.iter_visits("v", limit=100, since=since)]
    assert len(visits) == 350
    assert len(fake.requests) == 4


async def test_break_stops_requests() -> None:
    fake = FakeServerAPI(api_key="k")
    fake.add_visits("v", history(1000))
    async with fake.session() as fp:
        seen = 0
        async with contextlib.aclosing(fp.iter_visits("v", limit=100)) as visits:
            async for _ in visits:
                seen += 1
                if seen == 150:
                    break
        sent = len(fake.requests)
        await fp.get_visits("other")  # the session still works; nothing else was sent
    assert sent == 2
    assert len(fake.requests) == 3


async def test_unknown_visitor_is_an_empty_iteration_after_one_request() -> None:
    fake = FakeServerAPI(api_key="k")
    async with fake.session() as fp:
        assert [v async for v in fp.iter_visits("nobody")] == []
    assert len(fake.requests) == 1


# --- the cursor-generic pager ------------------------------------------------------------


class Pages:
    """A toy API: the query is a cursor (an int), a page is (items, next cursor or None)."""

    def __init__(self, pages: list[tuple[list[int], int | None]]) -> None:
        self.pages = pages
        self.sent: list[int] = []

    async def fetch(self, cursor: int) -> tuple[list[int], int | None]:
        self.sent.append(cursor)
        return self.pages[cursor]


def advance(cursor: int, page: tuple[list[int], int | None]) -> int | None:
    return page[1]


def items_of(page: tuple[list[int], int | None]) -> list[int]:
    return page[0]


async def test_the_pager_walks_any_cursor_across_empty_pages() -> None:
    api = Pages([([9, 8], 1), ([], 2), ([], 3), ([5], None)])
    items = _pagination.iter_items(_pagination.iter_pages(api.fetch, 0, advance), items_of)
    assert [item async for item in items] == [9, 8, 5]
    assert api.sent == [0, 1, 2, 3]


async def test_the_item_stream_stops_before_a_wasted_request() -> None:
    pages = [([9, 8], 1), ([7, 6], 2), ([5], None)]
    kept = Pages(pages)
    stream = _pagination.iter_items(
        _pagination.iter_pages(kept.fetch, 0, advance), items_of, keep=lambda item: item > 7
    )
    assert [item async for item in stream] == [9, 8]
    assert kept.sent == [0, 1]  # the first item of page 2 said stop
    last = Pages(pages)
    stream = _pagination.iter_items(
        _pagination.iter_pages(last.fetch, 0, advance), items_of, last=lambda page: 8 in page[0]
    )
    assert [item async for item in stream] == [9, 8]
    assert last.sent == [0]  # the page itself said nothing further is wanted


async def test_closing_the_item_stream_closes_the_pages() -> None:
    api = Pages([([9, 8], 1), ([7], None)])
    pages = _pagination.iter_pages(api.fetch, 0, advance)
    items = _pagination.iter_items(pages, items_of)
    assert await anext(items) == 9
    await items.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(pages)
    assert api.sent == [0]
