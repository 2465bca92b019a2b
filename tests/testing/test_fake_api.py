"""The emulator answers `GET /visitors/:id` as the spec says, request by request."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from _shared import OPENAPI_FIXTURES, require

import fpjs_async
from fpjs_async import AuthenticationError, BadRequestError, Visit
from fpjs_async._converter import converter, decode_history
from fpjs_async.testing import FakeServerAPI

pytestmark = pytest.mark.anyio

KEY = "secret-test-key"  # the key of the `fake` fixture
MakeVisits = Callable[..., list[dict[str, Any]]]

VISITOR = "Ibk1527CUFmcnjLwIs4A9"
# Published response bodies, kept beside the repository (never in it).


async def visits_json(client: httpx.AsyncClient, visitor_id: str = VISITOR, **params: Any) -> Any:
    response = await client.get(f"/visitors/{visitor_id}", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


# --- authentication and hosts -------------------------------------------------------------


async def test_key_in_header_or_query_parameter_is_accepted(
    fake: FakeServerAPI, make_visits: MakeVisits
) -> None:
    fake.add_visits(VISITOR, make_visits(3))
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        url = f"https://api.fpjs.io/visitors/{VISITOR}"
        by_header = await client.get(url, headers={"Auth-Token": KEY})
        by_query = await client.get(url, params={"token": KEY, "limit": "2"})
    assert by_header.status_code == by_query.status_code == 200
    assert len(by_header.json()["visits"]) == 3
    assert len(by_query.json()["visits"]) == 2
    assert [r.auth for r in fake.requests] == ["header", "query"]
    # The key is kept out of what the emulator records.
    assert fake.requests[1].params == {"limit": "2"}
    assert "auth-token" not in fake.requests[0].headers
    assert KEY not in repr(fake.requests)
    assert KEY not in repr(fake)


@pytest.mark.parametrize(
    ("headers", "params", "code", "message"),
    [
        ({}, {}, "TokenRequired", "secret key is required"),
        ({"Auth-Token": ""}, {}, "TokenRequired", "secret key is required"),
        ({"Auth-Token": "wrong"}, {}, "TokenNotFound", "secret key is not found"),
        ({}, {"token": "wrong"}, "TokenNotFound", "secret key is not found"),
    ],
)
async def test_missing_or_wrong_key_is_403_structured(
    fake: FakeServerAPI,
    headers: dict[str, str],
    params: dict[str, str],
    code: str,
    message: str,
) -> None:
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        response = await client.get(
            f"https://api.fpjs.io/visitors/{VISITOR}", headers=headers, params=params
        )
    assert response.status_code == 403
    assert response.json() == {"error": {"code": code, "message": message}}


async def test_plain_error_style_sends_the_older_403_body() -> None:
    fake = FakeServerAPI(KEY, error_style="plain")
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        response = await client.get(f"https://api.fpjs.io/visitors/{VISITOR}")
    assert response.status_code == 403
    assert response.json() == {"error": "Forbidden (HTTP 403)"}


async def test_wrong_key_through_a_session_is_authentication_error(fake: FakeServerAPI) -> None:
    async with fake.session(api_key="not-the-key") as session:
        with pytest.raises(AuthenticationError) as caught:
            await session.get_visits(VISITOR)
    assert caught.value.code == "TokenNotFound"
    assert caught.value.message == "secret key is not found"


@pytest.mark.parametrize(
    "base_url",
    [
        "https://api.fpjs.io",
        "https://eu.api.fpjs.io",
        "https://ap.api.fpjs.io",
        "http://127.0.0.1:8080",
    ],
)
async def test_any_host_is_served(
    fake: FakeServerAPI, make_visits: MakeVisits, base_url: str
) -> None:
    fake.add_visits(VISITOR, make_visits(2))
    async with fake.session(base_url=base_url) as session:
        page = await session.get_visits(VISITOR)
    assert len(page.visits) == 2
    assert fake.requests[0].host == httpx.URL(base_url).host


@pytest.mark.parametrize(
    ("region", "base_url", "allowed"),
    [
        ("eu", "https://eu.api.fpjs.io", True),
        ("eu", "https://api.fpjs.io", False),
        ("eu", "https://ap.api.fpjs.io", False),
        ("us", "https://api.fpjs.io", True),
        ("ap", "https://ap.api.fpjs.io", True),
        ("ap", "http://127.0.0.1:9999", True),
    ],
)
async def test_a_key_bound_to_a_region_answers_wrong_region_elsewhere(
    region: str, base_url: str, allowed: bool
) -> None:
    fake = FakeServerAPI(KEY, region=region)
    async with fake.session(base_url=base_url) as session:
        if allowed:
            page = await session.get_visits(VISITOR)
            assert page.visits == ()
        else:
            with pytest.raises(AuthenticationError) as caught:
                await session.get_visits(VISITOR)
            assert (caught.value.status, caught.value.code) == (403, "WrongRegion")
            assert caught.value.message == "wrong region"


# --- ordering, limit, cursors ---------------------------------------------------------------


async def test_visits_come_newest_first_whatever_the_insertion_order(
    fake: FakeServerAPI, client: httpx.AsyncClient, make_visits: MakeVisits
) -> None:
    visits = make_visits(30)
    shuffled = visits[:]
    random.Random(3).shuffle(shuffled)
    fake.add_visits(VISITOR, shuffled[:10])
    fake.add_visits(VISITOR, shuffled[10:])
    body = await visits_json(client)
    assert [v["timestamp"] for v in body["visits"]] == [v["timestamp"] for v in visits]
    assert [v.request_id for v in fake.visits_of(VISITOR)] == [v["requestId"] for v in visits]


async def test_limit_defaults_to_100_scanned_and_sends_the_cursor_of_the_last_one(
    fake: FakeServerAPI, client: httpx.AsyncClient, make_visits: MakeVisits
) -> None:
    visits = make_visits(150)
    fake.add_visits(VISITOR, visits)
    body = await visits_json(client)
    assert body["visitorId"] == VISITOR
    assert len(body["visits"]) == 100
    assert body["lastTimestamp"] == visits[99]["timestamp"]
    assert body["paginationKey"] == visits[99]["requestId"]


@pytest.mark.parametrize(("limit", "scanned"), [("1", 1), ("73", 73), ("500", 500)])
async def test_limit_scans_that_many_events(
    fake: FakeServerAPI,
    client: httpx.AsyncClient,
    make_visits: MakeVisits,
    limit: str,
    scanned: int,
) -> None:
    fake.add_visits(VISITOR, make_visits(600))
    body = await visits_json(client, limit=limit)
    assert len(body["visits"]) == scanned


@pytest.mark.parametrize("limit", ["0", "501", "-1", "1000", "abc", "1.5", "", " 5", "5e1"])
async def test_limit_out_of_range_or_not_an_integer_is_400(
    fake: FakeServerAPI, client: httpx.AsyncClient, limit: str
) -> None:
    response = await client.get(f"/visitors/{VISITOR}", params={"limit": limit})
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "RequestCannotBeParsed", "message": "invalid limit"}
    }


async def test_cursor_is_present_exactly_when_events_remain_beyond_the_window(
    fake: FakeServerAPI, client: httpx.AsyncClient, make_visits: MakeVisits
) -> None:
    fake.add_visits(VISITOR, make_visits(100))
    everything = await visits_json(client, limit=100)
    more_than_everything = await visits_json(client, limit=500)
    one_short = await visits_json(client, limit=99)
    for body in (everything, more_than_everything):
        assert len(body["visits"]) == 100
        assert "lastTimestamp" not in body
        assert "paginationKey" not in body
    assert len(one_short["visits"]) == 99
    assert one_short["lastTimestamp"] == one_short["visits"][-1]["timestamp"]
    assert one_short["paginationKey"] == one_short["visits"][-1]["requestId"]


async def test_before_keeps_strictly_older_events(
    fake: FakeServerAPI, client: httpx.AsyncClient, make_visits: MakeVisits
) -> None:
    visits = make_visits(10)
    fake.add_visits(VISITOR, visits)
    body = await visits_json(client, before=visits[3]["timestamp"])
    assert [v["requestId"] for v in body["visits"]] == [v["requestId"] for v in visits[4:]]
    between = await visits_json(client, before=visits[3]["timestamp"] + 1)
    assert between["visits"][0]["requestId"] == visits[3]["requestId"]
    assert (await visits_json(client, before=0))["visits"] == []


@pytest.mark.parametrize("before", ["-5", "abc", "1.5", ""])
async def test_invalid_before_is_400(
    fake: FakeServerAPI, client: httpx.AsyncClient, before: str
) -> None:
    response = await client.get(f"/visitors/{VISITOR}", params={"before": before})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "RequestCannotBeParsed"


async def test_spec_example_limit_50_linked_id_gives_10_visits_and_a_cursor(
    fake: FakeServerAPI, client: httpx.AsyncClient, make_visits: MakeVisits
) -> None:
    # 120 events, the newest 10 linked to the session 1234ADF.
    newest = make_visits(10, newest=1_700_000_000_000, linked_id="1234ADF")
    older = make_visits(110, newest=1_700_000_000_000 - 10_000)
    fake.add_visits(VISITOR, older + newest)
    body = await visits_json(client, limit=50, linked_id="1234ADF")
    assert [v["requestId"] for v in body["visits"]] == [v["requestId"] for v in newest]
    assert body["lastTimestamp"] == older[39]["timestamp"]


async def test_filters_apply_after_the_scan_so_a_page_can_be_empty_with_a_cursor(
    fake: FakeServerAPI, client: httpx.AsyncClient, make_visits: MakeVisits
) -> None:
    recent = make_visits(60, newest=1_700_000_000_000)
    linked = make_visits(5, newest=1_600_000_000_000, linked_id="order-7")
    fake.add_visits(VISITOR, recent + linked)
    first = await visits_json(client, limit=50, linked_id="order-7")
    assert first["visits"] == []
    assert first["lastTimestamp"] == recent[49]["timestamp"]
    second = await visits_json(client, limit=50, linked_id="order-7", before=first["lastTimestamp"])
    assert [v["requestId"] for v in second["visits"]] == [v["requestId"] for v in linked]
    assert "lastTimestamp" not in second


async def test_request_id_filter_returns_that_event_when_scanned(
    fake: FakeServerAPI, client: httpx.AsyncClient, make_visits: MakeVisits
) -> None:
    visits = make_visits(20)
    fake.add_visits(VISITOR, visits)
    wanted = visits[7]["requestId"]
    found = await visits_json(client, request_id=wanted)
    assert [v["requestId"] for v in found["visits"]] == [wanted]
    not_scanned = await visits_json(client, request_id=wanted, limit=5)
    assert not_scanned["visits"] == []
    assert not_scanned["paginationKey"] == visits[4]["requestId"]


async def test_pagination_key_continues_strictly_after_that_event(
    fake: FakeServerAPI, client: httpx.AsyncClient, make_visits: MakeVisits
) -> None:
    visits = make_visits(25)
    fake.add_visits(VISITOR, visits)
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 10}
    while True:
        body = await visits_json(client, **params)
        seen += [v["requestId"] for v in body["visits"]]
        if "paginationKey" not in body:
            break
        params["paginationKey"] = body["paginationKey"]
    assert seen == [v["requestId"] for v in visits]
    assert [r.params.get("paginationKey") for r in fake.requests] == [
        None,
        visits[9]["requestId"],
        visits[19]["requestId"],
    ]


async def test_pagination_key_pages_through_equal_timestamps(
    fake: FakeServerAPI, client: httpx.AsyncClient, make_visits: MakeVisits
) -> None:
    # Four events in the same millisecond straddle the page boundary: `before` would skip
    # the two on the next page, the pagination key does not.
    same_ms = make_visits(4, step=0)
    for i, visit in enumerate(same_ms):
        visit["requestId"] = f"{visit['timestamp']}.Same{i:02d}"
    fake.add_visits(VISITOR, same_ms)
    first = await visits_json(client, limit=2)
    second = await visits_json(client, limit=2, paginationKey=first["paginationKey"])
    by_before = await visits_json(client, limit=2, before=first["lastTimestamp"])
    ids = [v["requestId"] for v in first["visits"] + second["visits"]]
    assert ids == [v["requestId"] for v in same_ms]
    assert by_before["visits"] == []


async def test_unknown_pagination_key_is_400(
    fake: FakeServerAPI, client: httpx.AsyncClient, make_visits: MakeVisits
) -> None:
    fake.add_visits(VISITOR, make_visits(3))
    for visitor_id in (VISITOR, "UnknownVisitor000000"):
        response = await client.get(f"/visitors/{visitor_id}", params={"paginationKey": "1.nope"})
        assert response.status_code == 400
        assert response.json()["error"] == {
            "code": "RequestCannotBeParsed",
            "message": "invalid pagination key",
        }


async def test_older_server_flavour_sends_last_timestamp_only(make_visits: MakeVisits) -> None:
    fake = FakeServerAPI(KEY, send_pagination_key=False)
    visits = make_visits(30)
    fake.add_visits(VISITOR, visits)
    async with fake.session() as session:
        page = await session.get_visits(VISITOR, limit=10)
    assert page.last_timestamp == visits[9]["timestamp"]
    assert page.pagination_key is None
    assert page.next_page_params() == {"before": visits[9]["timestamp"]}


async def test_unknown_visitor_is_200_with_no_visits_and_no_cursor(
    client: httpx.AsyncClient,
) -> None:
    assert await visits_json(client, "NeverSeen") == {"visitorId": "NeverSeen", "visits": []}


# --- routing ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/visitors", "/visitor/x", "/visitors/a/b", "/events/x"])
async def test_other_paths_are_404_json(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "NotFound", "message": "not found"}}


async def test_empty_visitor_id_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/visitors/")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "visitor id is required"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD"])
async def test_methods_other_than_get_are_405(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, f"/visitors/{VISITOR}")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"


@pytest.mark.parametrize("visitor_id", ["a/b", "../x", "..", "visitor id?&#", "żółw/🐢"])
async def test_visitor_id_is_one_percent_decoded_path_segment(
    fake: FakeServerAPI, make_visits: MakeVisits, visitor_id: str
) -> None:
    fake.add_visits(visitor_id, make_visits(2))
    fake.add_visits("x", make_visits(5))
    async with fake.session() as session:
        page = await session.get_visits(visitor_id)
    assert page.visitor_id == visitor_id
    assert len(page.visits) == 2
    assert fake.requests[0].visitor_id == visitor_id
    assert fake.requests[0].path.startswith("/visitors/")
    assert fake.requests[0].path.count("/") == 2


# --- data in, models out --------------------------------------------------------------------


async def test_session_reads_back_exactly_the_stored_models(fake: FakeServerAPI) -> None:
    (visitor_id,) = fake.populate(visitors=1, visits_per_visitor=230, seed=11)
    collected: list[Visit] = []
    cursor: dict[str, Any] = {}
    async with fake.session() as session:
        while True:
            page = await session.get_visits(visitor_id, limit=100, **cursor)
            collected += page.visits
            next_cursor = page.next_page_params()
            if next_cursor is None:
                break
            cursor = next_cursor
    assert collected == fake.visits_of(visitor_id)
    assert len(fake.requests) == 3


async def test_responses_are_the_converter_output_of_the_stored_visits(
    fake: FakeServerAPI, client: httpx.AsyncClient
) -> None:
    (visitor_id,) = fake.populate(visitors=1, visits_per_visitor=40, seed=5)
    body = await visits_json(client, visitor_id)
    expected = [converter.unstructure(visit) for visit in fake.visits_of(visitor_id)]
    assert body["visits"] == [httpx.Response(200, json=visit).json() for visit in expected]


@pytest.mark.parametrize(
    "name", ["v2.12.1/get_visitors_200_limit_500.json", "v1.0.0/get_visits_200_limit_500.json"]
)
async def test_published_response_bodies_are_served_back_as_the_same_models(
    fake: FakeServerAPI, name: str
) -> None:
    content = require(OPENAPI_FIXTURES / name).read_bytes()
    published = decode_history(content)
    fake.add_visits(published.visitor_id, json.loads(content)["visits"])
    async with fake.session() as session:
        served = await session.get_visits(published.visitor_id, limit=500)
    assert served.visits == published.visits


async def test_add_visits_accepts_models_and_rejects_what_is_not_api_shaped(
    fake: FakeServerAPI, make_visits: MakeVisits
) -> None:
    model = Visit(request_id="1.Abcdef", timestamp=1, url="https://example.com/")
    fake.add_visits(VISITOR, [model])
    assert fake.visits_of(VISITOR) == [model]
    with pytest.raises(ValueError, match="requestId"):
        fake.add_visits(VISITOR, [{"timestamp": 5}])
    with pytest.raises(ValueError, match="visit 1"):
        fake.add_visits(VISITOR, [*make_visits(1), {"requestId": "x", "timestamp": "soon"}])
    with pytest.raises(ValueError, match="duplicate requestId"):
        fake.add_visits(VISITOR, [{"requestId": "1.Abcdef", "timestamp": 2}])
    with pytest.raises(ValueError, match="visitor_id"):
        fake.add_visits("", make_visits(1))
    assert fake.count_visits(VISITOR) == 1


async def test_requests_are_recorded_and_can_be_reset(
    fake: FakeServerAPI, client: httpx.AsyncClient
) -> None:
    await client.get(f"/visitors/{VISITOR}", params={"limit": "5", "linked_id": "L"})
    (request,) = fake.requests
    assert request.method == "GET"
    assert request.path == f"/visitors/{VISITOR}"
    assert request.visitor_id == VISITOR
    assert request.params == {"limit": "5", "linked_id": "L"}
    assert request.host == "api.fpjs.io"
    assert request.headers["user-agent"].startswith("python-httpx/")
    assert fake.max_in_flight == 1
    assert fake.in_flight == 0
    fake.reset_requests()
    assert fake.requests == []
    assert fake.max_in_flight == 0


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_works_under_trio(fake: FakeServerAPI, make_visits: MakeVisits) -> None:
    fake.latency = 0.001
    fake.add_visits(VISITOR, make_visits(3))
    async with fake.session() as session:
        page = await session.get_visits(VISITOR)
    assert len(page.visits) == 3


async def test_get_visits_validation_still_happens_before_the_emulator(
    fake: FakeServerAPI,
) -> None:
    async with fake.session() as session:
        with pytest.raises(ValueError, match="limit"):
            await session.get_visits(VISITOR, limit=501)
    assert fake.requests == []


async def test_bad_request_error_reaches_the_session_with_its_code(
    fake: FakeServerAPI, make_visits: MakeVisits
) -> None:
    fake.add_visits(VISITOR, make_visits(3))
    async with fake.session() as session:
        with pytest.raises(BadRequestError) as caught:
            await session.get_visits(VISITOR, pagination_key="1.unknown")
    assert caught.value.code == "RequestCannotBeParsed"
    assert caught.value.message == "invalid pagination key"


def test_constructor_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="api_key"):
        FakeServerAPI("")
    with pytest.raises(ValueError, match="error_style"):
        FakeServerAPI(KEY, error_style="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="region"):
        FakeServerAPI(KEY, region="mars")
    with pytest.raises(ValueError, match="latency"):
        FakeServerAPI(KEY, latency=(0.5, 0.1))
    with pytest.raises(ValueError, match="rate_limit"):
        FakeServerAPI(KEY, rate_limit=0)
    assert FakeServerAPI(KEY, region=fpjs_async.Region.EU).region is fpjs_async.Region.EU
