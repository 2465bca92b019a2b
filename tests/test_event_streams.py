"""iter_event_pages / iter_events at the HTTP level: `pagination_key` followed to the end,
lazily, never forever, every argument checked before anything is sent."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx
import pytest
import respx
from _bodies import API_KEY, US, responder

from fpjs_async import BadRequestError, Event, EventSearch, PaginationError, RetryPolicy, Session

pytestmark = pytest.mark.anyio

SEARCH = f"{US}/v4/events"
T = TypeVar("T")


def event(number: int) -> dict[str, Any]:
    """A minimal event; a higher number is newer."""
    return {"event_id": f"{1_700_000_000_000 + number}.ev{number}", "timestamp": number}


def page(numbers: list[int], key: str | None = None, **fields: Any) -> httpx.Response:
    body: dict[str, Any] = {"events": [event(n) for n in numbers], **fields}
    if key is not None:
        body["pagination_key"] = key
    return httpx.Response(200, json=body)


async def drain(stream: AsyncIterator[T], into: list[T]) -> None:
    """Append each item of `stream` to `into` (kept when the stream raises)."""
    async for item in stream:
        into.append(item)


def params_of(route: respx.Route) -> list[list[tuple[str, str]]]:
    return [list(call.request.url.params.multi_items()) for call in route.calls]


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


async def test_follows_the_key_across_empty_pages_with_every_filter(
    session: Session, api: respx.MockRouter
) -> None:
    route = api.get(SEARCH).mock(
        side_effect=responder([page([9, 8], "k1"), page([], "k2"), page([5])])
    )
    start = datetime(2024, 5, 1, tzinfo=timezone.utc)
    pages = [
        p
        async for p in session.iter_event_pages(
            visitor_id="v", start=start, bot_info_category=["a", "b"], vpn=True, limit=2
        )
    ]
    assert [len(p.events) for p in pages] == [2, 0, 1]
    assert all(isinstance(p, EventSearch) for p in pages)
    assert pages[-1].pagination_key is None
    filters = [
        ("visitor_id", "v"),
        ("start", "1714521600000"),
        ("bot_info_category", "a"),
        ("bot_info_category", "b"),
        ("vpn", "true"),
        ("limit", "2"),
    ]
    assert params_of(route) == [
        filters,
        [*filters, ("pagination_key", "k1")],
        [*filters, ("pagination_key", "k2")],
    ]


async def test_iter_events_yields_every_event_in_the_servers_order(
    session: Session, api: respx.MockRouter
) -> None:
    route = api.get(SEARCH).mock(side_effect=responder([page([1, 2], "k"), page([3])]))
    events = [e async for e in session.iter_events(linked_id="order-7", reverse=True)]
    assert [e.timestamp for e in events] == [1, 2, 3]
    assert params_of(route)[1] == [
        ("linked_id", "order-7"),
        ("reverse", "true"),
        ("pagination_key", "k"),
    ]


async def test_starts_from_a_given_key(session: Session, api: respx.MockRouter) -> None:
    route = api.get(SEARCH).mock(side_effect=responder([page([4])]))
    pages = [p async for p in session.iter_event_pages(pagination_key="resume-here")]
    assert len(pages) == 1
    assert params_of(route) == [[("pagination_key", "resume-here")]]


@pytest.mark.parametrize(
    ("given", "answers"),
    [
        pytest.param(None, [page([9], "k"), page([8], "k")], id="repeated"),
        pytest.param("k", [page([9], "k")], id="given-key-sent-back"),
    ],
)
async def test_a_key_that_does_not_move_raises(
    session: Session, api: respx.MockRouter, given: str | None, answers: list[httpx.Response]
) -> None:
    route = api.get(SEARCH).mock(side_effect=responder(answers))
    seen: list[EventSearch] = []
    with pytest.raises(PaginationError, match="'k'"):
        await drain(session.iter_event_pages(pagination_key=given), seen)
    assert len(seen) == route.call_count == len(answers)


async def test_max_pages_sends_no_extra_request(session: Session, api: respx.MockRouter) -> None:
    route = api.get(SEARCH).mock(side_effect=[page([9], "k1"), page([8], "k2"), page([7], "k3")])
    pages = [p async for p in session.iter_event_pages(max_pages=2)]
    assert len(pages) == 2
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("max_events", "requests"),
    [(1, 1), (3, 1), (4, 2), (6, 2)],
    ids=["inside-first", "end-of-first", "start-of-second", "end-of-second"],
)
async def test_max_events_stops_after_the_page_that_fills_it(
    session: Session, api: respx.MockRouter, max_events: int, requests: int
) -> None:
    route = api.get(SEARCH).mock(
        side_effect=[page([9, 8, 7], "k1"), page([6, 5, 4], "k2"), page([3], "k3")]
    )
    events = [e async for e in session.iter_events(max_events=max_events, limit=3)]
    assert [e.timestamp for e in events] == [9, 8, 7, 6, 5, 4][:max_events]
    assert route.call_count == requests


async def test_max_pages_bounds_iter_events_too(session: Session, api: respx.MockRouter) -> None:
    route = api.get(SEARCH).mock(side_effect=[page([9], "k1"), page([8], "k2"), page([7])])
    events = [e async for e in session.iter_events(max_pages=2)]
    assert [e.timestamp for e in events] == [9, 8]
    assert route.call_count == 2


async def test_break_and_aclose_send_nothing_more(session: Session, api: respx.MockRouter) -> None:
    route = api.get(SEARCH).mock(side_effect=[page([9, 8], "k1")] + [page([7], "k")] * 3)
    async with contextlib.aclosing(session.iter_events()) as events:
        async for _ in events:
            break
    assert route.call_count == 1
    pages = session.iter_event_pages()
    first = await anext(pages)
    await pages.aclose()
    assert first.pagination_key == "k"  # the second answer: one request each
    assert route.call_count == 2
    with pytest.raises(StopAsyncIteration):
        await anext(pages)
    assert route.call_count == 2


async def test_nothing_is_sent_before_the_first_step(
    session: Session, api: respx.MockRouter
) -> None:
    route = api.get(SEARCH).mock(return_value=page([1]))
    session.iter_events(visitor_id="v")
    session.iter_event_pages(visitor_id="v")
    assert not route.called


@pytest.mark.parametrize(
    ("method", "kwargs", "error", "match"),
    [
        *(
            (method, *refusal)
            for method in ("iter_events", "iter_event_pages")
            for refusal in (
                ({"visitorid": "v"}, TypeError, r"\(\) got an unexpected keyword argument 'vis"),
                ({"visitor_id": ""}, ValueError, "visitor_id"),
                ({"vpn": "yes"}, TypeError, "vpn"),
                ({"start": datetime(2024, 1, 1)}, ValueError, "start"),
                ({"bot_info_category": "edge"}, TypeError, "bot_info_category"),
                ({"limit": 101}, ValueError, "limit"),
                ({"limit": 0}, ValueError, "limit"),
                ({"max_pages": 0}, ValueError, "max_pages"),
                ({"max_pages": True}, TypeError, "max_pages"),
            )
        ),
        # Each iterator takes its own budget.
        ("iter_events", {"max_events": 0}, ValueError, "max_events"),
        ("iter_events", {"max_events": 2.0}, TypeError, "max_events"),
        ("iter_events", {"pagination_key": "k"}, TypeError, "pagination_key"),
        ("iter_event_pages", {"pagination_key": ""}, ValueError, "pagination_key"),
        ("iter_event_pages", {"max_events": 1}, TypeError, "max_events"),
    ],
)  # fmt: skip
async def test_bad_arguments_are_refused_at_the_call(
    session: Session,
    api: respx.MockRouter,
    method: str,
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    route = api.get(SEARCH).mock(return_value=page([]))
    with pytest.raises(error, match=match):
        getattr(session, method)(**kwargs)
    assert not route.called


async def test_the_unknown_filter_message_names_the_method(session: Session) -> None:
    with pytest.raises(TypeError, match=r"^iter_events\(\) got an unexpected"):
        session.iter_events(visitor="v")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"^iter_event_pages\(\) got an unexpected"):
        session.iter_event_pages(visitor="v")  # type: ignore[call-arg]


async def test_a_closed_session_refuses() -> None:
    fp = Session(API_KEY)
    await fp.aclose()
    for method in (fp.iter_events, fp.iter_event_pages):
        with pytest.raises(RuntimeError, match="closed"):
            method()


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_an_error_ends_the_walk_after_the_pages_before_it(api: respx.MockRouter) -> None:
    route = api.get(SEARCH).mock(
        side_effect=[
            page([9], "k1"),
            httpx.Response(
                400, json={"error": {"code": "request_cannot_be_parsed", "message": "no"}}
            ),
        ]
    )
    seen: list[Event] = []
    async with Session(API_KEY, retry=RetryPolicy(max_retries=0)) as fp:
        with pytest.raises(BadRequestError, match="request_cannot_be_parsed"):
            await drain(fp.iter_events(), seen)
    assert [e.timestamp for e in seen] == [9]
    assert route.call_count == 2
