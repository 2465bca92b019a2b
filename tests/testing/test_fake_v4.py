"""The emulator's v4 routes: one event, updates, deletions, routing, keys and what is recorded."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from _events_data import EVENT_VISITOR, NOW

from fpjs_async import AuthenticationError, NotFoundError
from fpjs_async._converter import converter
from fpjs_async.events import Event
from fpjs_async.testing import FakeServerAPI

pytestmark = pytest.mark.anyio

KEY = "secret-test-key"  # the key of the `pinned` fixture
BEARER = {"Authorization": f"Bearer {KEY}"}
MakeEvents = Callable[..., list[dict[str, Any]]]
MakeVisits = Callable[..., list[dict[str, Any]]]
# The schema's example bodies, kept beside the repository (never in it).
EXAMPLES = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "spec" / "v4" / "paths" / "examples"
)


def example(name: str) -> Any:
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip("the v4 schema is not beside this checkout")
    return json.loads(path.read_bytes())


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"]["code"], body["error"]["message"]


# --- GET /v4/events/{event_id} ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["events/get_event_200.json", "events/get_event_200_with_unknown_field.json"]
)
async def test_an_event_is_served_exactly_as_it_was_added(
    pinned: FakeServerAPI, api: httpx.AsyncClient, name: str
) -> None:
    event = example(name)
    pinned.add_events([event])
    response = await api.get(f"/v4/events/{event['event_id']}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == event  # unknown keys too
    assert pinned.event(event["event_id"]) == converter.structure(event, Event)


async def test_an_unknown_event_is_404_event_not_found(api: httpx.AsyncClient) -> None:
    response = await api.get("/v4/events/1708102555327.Nope00")
    assert response.status_code == 404
    assert response.json() == example("errors/404_event_not_found.json")


async def test_ruleset_id_adds_the_rule_action_and_other_parameters_are_refused(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    (event,) = make_events(1)
    pinned.add_events([event])
    path = f"/v4/events/{event['event_id']}"
    with_rules = (await api.get(path, params={"ruleset_id": "rs_b1k1blhqpOX3kU"})).json()
    assert with_rules["rule_action"] == {"type": "allow", "ruleset_id": "rs_b1k1blhqpOX3kU"}
    assert {k: v for k, v in with_rules.items() if k != "rule_action"} == event
    for params in (
        {"linked_id": "x"},
        {"ruleset_id": ""},
        [("ruleset_id", "a"), ("ruleset_id", "b")],
    ):
        status, code, message = error_of(await api.get(path, params=params))
        assert (status, code) == (400, "request_cannot_be_parsed")
        assert "linked_id" in message or "ruleset_id" in message


@pytest.mark.parametrize("event_id", ["a/b", "../x", "..", "id with space?&#", "żółw/🐢", "%2F"])
async def test_event_id_is_one_percent_decoded_path_segment(
    pinned: FakeServerAPI, api: httpx.AsyncClient, event_id: str
) -> None:
    pinned.add_events([{"event_id": event_id, "timestamp": NOW}, {"event_id": "x", "timestamp": 1}])
    async with pinned.session() as session:
        event = await session.get_event(event_id)
    assert event.event_id == event_id
    (request,) = pinned.requests
    assert (request.event_id, request.operation) == (event_id, "get_event")
    assert request.path.count("/") == 3


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v4/events/a/b", 404, "not_found"),
        ("/v4/events/", 400, "request_cannot_be_parsed"),
        ("/v4/visitors/", 400, "request_cannot_be_parsed"),
        ("/v4/visitors/a/b", 404, "not_found"),
        ("/v4/visitors", 404, "not_found"),
        ("/v4/", 404, "not_found"),
        ("/v4/elsewhere", 404, "not_found"),
    ],
)
async def test_other_v4_paths_answer_v4_errors(
    api: httpx.AsyncClient, path: str, status: int, code: str
) -> None:
    assert error_of(await api.get(path))[:2] == (status, code)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/v4/events", "GET"),
        ("DELETE", "/v4/events", "GET"),
        ("POST", "/v4/events/1.Abc", "GET, PATCH"),
        ("DELETE", "/v4/events/1.Abc", "GET, PATCH"),
        ("PUT", "/v4/events/1.Abc", "GET, PATCH"),
        ("GET", "/v4/visitors/Abc", "DELETE"),
        ("PATCH", "/v4/visitors/Abc", "DELETE"),
    ],
)
async def test_wrong_method_is_405_with_allow(
    pinned: FakeServerAPI, api: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    rule = pinned.fail_next(1, 500)
    response = await api.request(method, path)
    assert error_of(response) == (405, "method_not_allowed", "method not allowed")
    assert response.headers["allow"] == allow
    assert rule.remaining == 1  # faults apply to routed requests only


# --- keys and regions -------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["structured", "plain"])
@pytest.mark.parametrize(
    ("headers", "params", "error"),
    [
        ({}, {}, "403_secret_api_key_required.json"),
        ({"Authorization": "Bearer "}, {}, "403_secret_api_key_required.json"),
        ({"Authorization": f"Basic {KEY}"}, {}, "403_secret_api_key_required.json"),
        ({"Auth-Token": KEY}, {}, "403_secret_api_key_required.json"),
        ({}, {"token": KEY}, "403_secret_api_key_required.json"),
        ({"Authorization": "Bearer wrong"}, {}, "403_secret_api_key_not_found.json"),
    ],
)
async def test_v4_takes_the_key_as_a_bearer_token_only(
    make_events: MakeEvents,
    style: str,
    headers: dict[str, str],
    params: dict[str, str],
    error: str,
) -> None:
    fake = FakeServerAPI(KEY, now=NOW, error_style=style)  # type: ignore[arg-type]
    fake.add_events(make_events(1))
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        for path in ("/v4/events", f"/v4/events/{make_events(1)[0]['event_id']}"):
            response = await client.get(
                f"https://api.fpjs.io{path}", headers=headers, params=params
            )
            assert response.json() == example(f"errors/{error}")
            assert response.status_code == 403
        ok = await client.get(
            "https://api.fpjs.io/v4/events", headers={"authorization": f"bearer {KEY}"}
        )
    assert ok.status_code == 200
    presented = "bearer" if "not_found" in error else None
    assert [r.auth for r in fake.requests] == [presented, presented, "bearer"]


async def test_a_bearer_token_does_not_open_v3(fake: FakeServerAPI) -> None:
    async with httpx.AsyncClient(transport=fake.transport(), headers=BEARER) as client:
        response = await client.get("https://api.fpjs.io/visitors/Someone")
    assert error_of(response) == (403, "TokenRequired", "secret key is required")
    assert fake.requests[0].auth is None


@pytest.mark.parametrize(
    ("base_url", "allowed"),
    [
        ("https://eu.api.fpjs.io", True),
        ("https://api.fpjs.io", False),
        ("http://127.0.0.1:1", True),
    ],
)
async def test_a_key_bound_to_a_region_answers_wrong_region_elsewhere(
    base_url: str, allowed: bool
) -> None:
    fake = FakeServerAPI(KEY, region="eu", now=NOW)
    async with httpx.AsyncClient(
        transport=fake.transport(), base_url=base_url, headers=BEARER
    ) as client:
        responses = [
            await client.get("/v4/events"),
            await client.get("/v4/events/1.Abc"),
            await client.patch("/v4/events/1.Abc", json={"suspect": True}),
            await client.delete("/v4/visitors/Abc"),
        ]
    for response in responses:
        if allowed:
            assert response.status_code != 403
        else:
            assert response.json() == example("errors/403_wrong_region.json")


# --- PATCH /v4/events/{event_id} --------------------------------------------------------------


async def test_an_update_answers_200_with_an_empty_body_and_changes_the_event(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    events = make_events(3, linked_id="before", tags={"a": 1})
    pinned.add_events(events)
    target = events[1]["event_id"]
    body = example("events/update_event_multiple_fields_request.json")
    response = await api.patch(f"/v4/events/{target}", json=body)
    assert response.status_code == 200
    assert response.content == b""
    assert "content-type" not in response.headers
    stored = (await api.get(f"/v4/events/{target}")).json()
    assert stored == {**events[1], **body}  # the tags are replaced, not merged
    assert (await api.get(f"/v4/events/{events[0]['event_id']}")).json() == events[0]
    (changed,) = (await api.get("/v4/events", params={"linked_id": body["linked_id"]})).json()[
        "events"
    ]
    assert changed["event_id"] == target
    flagged = (await api.get("/v4/events", params={"suspect": "true"})).json()["events"]
    assert [event["event_id"] for event in flagged] == [target]
    assert events[1]["tags"] == {"a": 1}  # what was added is not touched


async def test_each_field_can_be_updated_alone(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    (event,) = make_events(1)
    pinned.add_events([event])
    path = f"/v4/events/{event['event_id']}"
    expected = dict(event)
    for change in ({"linked_id": "order-7"}, {"tags": {"n": {"deep": [1, 2]}}}, {"suspect": False}):
        assert (await api.patch(path, json=change)).status_code == 200
        expected.update(change)
        assert (await api.get(path)).json() == expected


async def test_updates_of_synthetic_events_show_in_reads_and_searches(
    pinned: FakeServerAPI, api: httpx.AsyncClient
) -> None:
    (visitor_id,) = pinned.populate(visitors=1, visits_per_visitor=30, seed=4)
    newest = pinned.events_of(visitor_id)[0]
    response = await api.patch(
        f"/v4/events/{newest.event_id}",
        json={"linked_id": "case-17", "suspect": True, "tags": {"reviewed": True}},
    )
    assert response.status_code == 200
    updated = pinned.event(newest.event_id)
    assert updated is not None
    assert (updated.linked_id, updated.suspect, dict(updated.tags or {})) == (
        "case-17",
        True,
        {"reviewed": True},
    )
    found = (await api.get("/v4/events", params={"linked_id": "case-17"})).json()["events"]
    assert [event["event_id"] for event in found] == [newest.event_id]
    assert found[0]["identification"]["visitor_id"] == visitor_id
    # The v3 history is the visits as they were stored.
    assert pinned.visits_of(visitor_id)[0].linked_id != "case-17"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "request body is not valid"),
        (b"{", "request body is not valid"),
        (b"[]", "request body is not valid"),
        (b"{}", "request body is not valid"),
        (b'"suspect"', "request body is not valid"),
        (b'{"suspect": "yes"}', "request body is not valid"),
        (b'{"suspect": null}', "request body is not valid"),
        (b'{"tags": [1]}', "request body is not valid"),
        (b'{"linked_id": 7}', "request body is not valid"),
        (b'{"linked_id": ""}', "request body is not valid"),
        (b'{"tags": {"x": NaN}}', "request body is not valid"),
        (b"\xff\xfe", "request body is not valid"),
        (b'{"unknown": 1}', 'request body contains an unknown field "unknown"'),
        (
            b'{"suspect": true, "visitor_id": "x"}',
            'request body contains an unknown field "visitor_id"',
        ),
    ],
)
async def test_an_update_body_that_is_not_valid_is_400(
    pinned: FakeServerAPI,
    api: httpx.AsyncClient,
    make_events: MakeEvents,
    content: bytes,
    message: str,
) -> None:
    (event,) = make_events(1)
    pinned.add_events([event])
    response = await api.patch(f"/v4/events/{event['event_id']}", content=content)
    assert error_of(response) == (400, "request_cannot_be_parsed", message)
    assert (await api.get(f"/v4/events/{event['event_id']}")).json() == event


async def test_a_linked_id_longer_than_256_characters_is_refused(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    (event,) = make_events(1)
    pinned.add_events([event])
    path = f"/v4/events/{event['event_id']}"
    assert (await api.patch(path, json={"linked_id": "x" * 256})).status_code == 200
    assert error_of(await api.patch(path, json={"linked_id": "x" * 257}))[0] == 400


async def test_updating_an_unknown_event_is_404_and_query_parameters_are_refused(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    (event,) = make_events(1)
    pinned.add_events([event])
    missing = await api.patch("/v4/events/1.Missing", json={"suspect": True})
    assert error_of(missing) == (404, "event_not_found", "event id not found")
    with_query = await api.patch(
        f"/v4/events/{event['event_id']}", params={"x": "1"}, json={"suspect": True}
    )
    assert error_of(with_query) == (400, "request_cannot_be_parsed", "unknown query parameter 'x'")


# --- DELETE /v4/visitors/{visitor_id} ---------------------------------------------------------


async def test_deleting_a_visitor_removes_its_visits_and_events_only(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_visits: MakeVisits
) -> None:
    gone, kept = pinned.populate(visitors=2, visits_per_visitor=40, seed=9)
    pinned.add_visits("OnlyV3", make_visits(3))
    doomed = pinned.events_of(gone)[0].event_id
    response = await api.delete(f"/v4/visitors/{gone}")
    assert (response.status_code, response.content) == (200, b"")
    assert (pinned.count_visits(gone), pinned.count_events(gone)) == (0, 0)
    assert (pinned.count_visits(kept), pinned.count_events(kept)) == (40, 40)
    assert gone not in pinned.visitor_ids
    assert error_of(await api.get(f"/v4/events/{doomed}"))[:2] == (404, "event_not_found")
    assert error_of(await api.get("/v4/events", params={"visitor_id": gone}))[:2] == (
        404,
        "visitor_not_found",
    )
    v3 = await api.get(f"/visitors/{gone}", headers={"Auth-Token": KEY})
    assert v3.json() == {"visitorId": gone, "visits": []}
    week = (await api.get("/v4/events", params={"limit": 100})).json()["events"]
    assert all(event["identification"]["visitor_id"] == kept for event in week)
    # A visitor with v3 visits only is deleted too; then nobody is left to delete.
    assert (await api.delete("/v4/visitors/OnlyV3")).status_code == 200
    again = await api.delete(f"/v4/visitors/{gone}")
    assert again.json() == example("errors/404_visitor_not_found.json")
    assert again.status_code == 404


async def test_deletion_takes_no_query_parameters(
    pinned: FakeServerAPI, api: httpx.AsyncClient
) -> None:
    (visitor_id,) = pinned.populate(visitors=1, visits_per_visitor=2, seed=1)
    response = await api.delete(f"/v4/visitors/{visitor_id}", params={"force": "true"})
    assert error_of(response)[:2] == (400, "request_cannot_be_parsed")
    assert pinned.count_events(visitor_id) == 2


# --- what is recorded -------------------------------------------------------------------------


async def test_v4_requests_are_recorded_without_the_key(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    pinned.add_events(make_events(2))
    await api.get(
        "/v4/events",
        params=[
            ("visitor_id", EVENT_VISITOR),
            ("bot_info_category", "ai_agent"),
            ("bot_info_category", "ai_crawler"),
            ("token", KEY),
        ],
    )
    await api.patch("/v4/events/a%2Fb", json={"suspect": True})
    await api.delete("/v4/visitors/Gone", headers={"Auth-Token": KEY})
    search, update, delete = pinned.requests
    assert (search.method, search.path, search.operation) == ("GET", "/v4/events", "search_events")
    assert search.visitor_id == EVENT_VISITOR
    assert search.params == {"visitor_id": EVENT_VISITOR, "bot_info_category": "ai_agent"}
    assert search.all_params == {
        "visitor_id": (EVENT_VISITOR,),
        "bot_info_category": ("ai_agent", "ai_crawler"),
    }
    assert search.auth == "bearer"
    assert (update.operation, update.event_id, update.path) == (
        "update_event",
        "a/b",
        "/v4/events/a%2Fb",
    )
    assert json.loads(update.body) == {"suspect": True}
    assert (delete.operation, delete.visitor_id, delete.method) == (
        "delete_visitor_data",
        "Gone",
        "DELETE",
    )
    for request in pinned.requests:
        assert "authorization" not in request.headers
        assert "auth-token" not in request.headers
    assert KEY not in repr(pinned.requests)
    assert KEY not in repr(pinned)
    assert pinned.status_counts == {200: 1, 404: 2}


# --- add_events -------------------------------------------------------------------------------


async def test_add_events_takes_models_and_mappings_and_checks_their_shape(
    pinned: FakeServerAPI, make_events: MakeEvents
) -> None:
    first, second, third = make_events(3)
    model = converter.structure(second, Event)
    pinned.add_events([first, model])
    assert pinned.events_of(EVENT_VISITOR) == [converter.structure(first, Event), model]
    with pytest.raises(ValueError, match="event 1: timestamp"):
        pinned.add_events([third, {"event_id": "x"}])
    with pytest.raises(ValueError, match=r"event 0: .*timestamp"):
        pinned.add_events([{"event_id": "x", "timestamp": "soon"}])
    with pytest.raises(ValueError, match="duplicate event_id"):
        pinned.add_events([third, first])
    with pytest.raises(ValueError, match="duplicate event_id"):
        pinned.add_events([third, third])
    with pytest.raises(TypeError, match="event 0"):
        pinned.add_events(["1.Abc"])  # type: ignore[list-item]
    # A refused batch leaves nothing behind.
    assert pinned.count_events() == 2
    assert pinned.event(third["event_id"]) is None
    pinned.add_events([{"event_id": "edge.1", "timestamp": NOW, "source": "edge"}])
    assert pinned.count_events() == 3
    assert pinned.count_events(EVENT_VISITOR) == 2
    assert pinned.visitor_ids == [EVENT_VISITOR]


async def test_add_events_copies_the_mapping_it_is_given(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    (event,) = make_events(1)
    pinned.add_events([event])
    event["linked_id"] = "changed later"
    assert "linked_id" not in (await api.get(f"/v4/events/{event['event_id']}")).json()


# --- through a Session ------------------------------------------------------------------------


async def test_the_session_reads_updates_and_deletes_through_the_emulator(
    pinned: FakeServerAPI,
) -> None:
    (visitor_id,) = pinned.populate(visitors=1, visits_per_visitor=12, seed=6)
    newest = pinned.events_of(visitor_id)[0]
    async with pinned.session() as session:
        assert await session.get_event(newest.event_id) == newest
        await session.update_event(newest.event_id, tags={"case": 17}, linked_id="case-17")
        changed = await session.get_event(newest.event_id)
        await session.delete_visitor_data(visitor_id)
        with pytest.raises(NotFoundError) as unknown_event:
            await session.get_event(newest.event_id)
        with pytest.raises(NotFoundError) as unknown_visitor:
            await session.delete_visitor_data(visitor_id)
    assert (changed.linked_id, dict(changed.tags or {})) == ("case-17", {"case": 17})
    assert (unknown_event.value.code, unknown_visitor.value.code) == (
        "event_not_found",
        "visitor_not_found",
    )
    assert [r.operation for r in pinned.requests] == [
        "get_event",
        "update_event",
        "get_event",
        "delete_visitor_data",
        "get_event",
        "delete_visitor_data",
    ]
    assert {r.auth for r in pinned.requests} == {"bearer"}


async def test_a_wrong_key_through_a_session_is_authentication_error(pinned: FakeServerAPI) -> None:
    async with pinned.session(api_key="not-the-key") as session:
        with pytest.raises(AuthenticationError) as caught:
            await session.search_events()
    assert caught.value.code == "secret_api_key_not_found"
    assert "not-the-key" not in repr(pinned.requests)


def test_constructor_checks_the_v4_options() -> None:
    with pytest.raises(ValueError, match="retention_days"):
        FakeServerAPI(KEY, retention_days=0)
    with pytest.raises(ValueError, match="search_scan_limit"):
        FakeServerAPI(KEY, search_scan_limit=0)
    with pytest.raises(TypeError, match="now"):
        FakeServerAPI(KEY, now="soon")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="now"):
        FakeServerAPI(KEY, now=datetime(2026, 1, 1))  # naive
    fake = FakeServerAPI(KEY, now=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert fake.now == NOW
    fake.now += 1000
    assert fake.now == NOW + 1000
    fake.now = None  # real time again
    before = time.time_ns() // 1_000_000
    now = fake.now
    assert before <= now <= time.time_ns() // 1_000_000
