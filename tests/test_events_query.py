"""The v4 search filters: every one's wire form, every refusal, before anything is sent."""

from __future__ import annotations

import json
import typing
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from _shared import V4_SPEC, require

from fpjs_async._events_query import (
    EventFilters,
    EventSearchQuery,
    check_filters,
    delete_visitor_call,
    get_event_call,
    update_event_call,
)

#: The parameters of `GET /v4/events` that are keyword arguments of their own, not filters.
PAGING = {"limit", "pagination_key", "total_hits"}

MOMENT = datetime(2026, 11, 30, 12, 0, 0, 250_000, tzinfo=timezone.utc)
MOMENT_MS = 1796040000250


def pairs(**filters: Any) -> tuple[tuple[str, str], ...]:
    return check_filters(filters, caller="search_events")


def test_every_search_parameter_of_the_schema_is_a_filter_or_a_paging_argument() -> None:
    operation = json.loads(require(V4_SPEC / "bundled.json").read_text())["paths"]["/events"]["get"]
    documented = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert documented - PAGING == set(EventFilters.__annotations__)
    assert documented >= PAGING


def test_filter_types_follow_the_schema() -> None:
    operation = json.loads(require(V4_SPEC / "bundled.json").read_text())["paths"]["/events"]["get"]
    hints = typing.get_type_hints(EventFilters)
    expected = {"string": str, "boolean": bool, "number": float}
    for parameter in operation["parameters"]:
        name, schema = parameter["name"], parameter["schema"]
        if name in PAGING:
            continue
        if "oneOf" in schema:  # start, end: a date-time or Unix ms
            assert hints[name] == int | datetime, name
        elif schema["type"] == "array":
            assert hints[name] == Sequence[str], name
        else:
            assert hints[name] is expected[schema["type"]], name


@pytest.mark.parametrize(
    ("filters", "wire"),
    [
        ({"visitor_id": "Ibk"}, [("visitor_id", "Ibk")]),
        ({"ip_address": "10.0.0.0/8"}, [("ip_address", "10.0.0.0/8")]),
        ({"bot": "bad"}, [("bot", "bad")]),
        ({"bot": "a-value-added-later"}, [("bot", "a-value-added-later")]),
        ({"suspect": True, "vpn": False}, [("suspect", "true"), ("vpn", "false")]),
        ({"reverse": True}, [("reverse", "true")]),
        ({"start": MOMENT}, [("start", str(MOMENT_MS))]),
        ({"end": MOMENT_MS}, [("end", str(MOMENT_MS))]),
        ({"start": MOMENT.astimezone(timezone(timedelta(hours=5)))}, [("start", str(MOMENT_MS))]),
        ({"min_suspect_score": 7.5}, [("min_suspect_score", "7.5")]),
        ({"min_suspect_score": 7}, [("min_suspect_score", "7")]),
        (
            {"bot_info_category": ["ai_agent", "search_engine"]},
            [("bot_info_category", "ai_agent"), ("bot_info_category", "search_engine")],
        ),
        ({"environment": ("ae_1",)}, [("environment", "ae_1")]),
        ({"source": ["edge"]}, [("source", "edge")]),
        (
            {"linked_id": None, "url": "https://x.example/login"},
            [("url", "https://x.example/login")],
        ),
    ],
)
def test_wire_forms(filters: dict[str, Any], wire: list[tuple[str, str]]) -> None:
    assert list(pairs(**filters)) == wire


@pytest.mark.parametrize(
    ("filters", "error", "words"),
    [
        ({"visitorId": "x"}, TypeError, "unexpected keyword argument 'visitorId'"),
        ({"visitor_id": 7}, TypeError, "visitor_id must be a non-empty str"),
        ({"visitor_id": ""}, ValueError, "visitor_id must be a non-empty str"),
        ({"bot": 1}, TypeError, "bot must be a non-empty str"),
        ({"suspect": 1}, TypeError, "suspect must be a bool"),
        ({"suspect": "true"}, TypeError, "suspect must be a bool"),
        ({"start": datetime(2026, 1, 1)}, ValueError, "start must be an aware datetime"),
        ({"end": "2026-01-01T00:00:00Z"}, TypeError, "end must be an int"),
        ({"start": True}, TypeError, "start must be an int"),
        ({"start": -1}, ValueError, "start must be from 0"),
        ({"min_suspect_score": "7"}, TypeError, "min_suspect_score must be a finite number"),
        ({"min_suspect_score": True}, TypeError, "min_suspect_score must be a finite number"),
        ({"min_suspect_score": float("nan")}, ValueError, "min_suspect_score must be a finite"),
        ({"bot_info_category": "ai_agent"}, TypeError, "bot_info_category must be a sequence"),
        ({"bot_info_category": []}, ValueError, "bot_info_category must hold at least one"),
        ({"bot_info_name": ["ok", 3]}, TypeError, "each item of bot_info_name"),
        ({"environment": {"ae_1"}}, TypeError, "environment must be a sequence"),
        ({"source": ["edge", "edge"]}, ValueError, "source holds at most 1"),
    ],
)
def test_refusals_name_the_parameter(
    filters: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        pairs(**filters)


def test_a_reserved_filter_is_refused_as_unexpected() -> None:
    with pytest.raises(TypeError, match=r"'visitor_id' \(it is set for each key\)"):
        check_filters({"visitor_id": "x"}, caller="search_many", reserved=frozenset({"visitor_id"}))


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"limit": 0}, ValueError, "limit must be an int from 1 to 100"),
        ({"limit": 101}, ValueError, "limit must be an int from 1 to 100"),
        ({"limit": 5.0}, TypeError, "limit must be an int"),
        ({"limit": True}, TypeError, "limit must be an int"),
        ({"total_hits": 0}, ValueError, "total_hits must be an int from 1 to 1000"),
        ({"total_hits": 1001}, ValueError, "total_hits must be an int from 1 to 1000"),
        ({"pagination_key": ""}, ValueError, "pagination_key must be a non-empty str"),
        ({"pagination_key": 5}, TypeError, "pagination_key must be a non-empty str"),
    ],
)
def test_paging_refusals(options: dict[str, Any], error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        EventSearchQuery.build({}, **options)


def test_search_call_puts_paging_after_the_filters() -> None:
    query = EventSearchQuery.build(
        {"linked_id": "order-7", "reverse": True}, limit=100, total_hits=1000, pagination_key="pk"
    )
    call = query.call()
    assert (call.method, call.path, call.body, call.version) == ("GET", "/v4/events", None, 4)
    assert call.params == (
        ("linked_id", "order-7"),
        ("reverse", "true"),
        ("limit", "100"),
        ("total_hits", "1000"),
        ("pagination_key", "pk"),
    )
    following = query.next_page("pk2")
    assert following.call().params[-1] == ("pagination_key", "pk2")
    assert following.filters == query.filters


@pytest.mark.parametrize(
    ("event_id", "path"),
    [
        ("1708102555327.NLOjmg", "/v4/events/1708102555327.NLOjmg"),
        ("../visitors/x", "/v4/events/..%2Fvisitors%2Fx"),
        ("..", "/v4/events/%2E%2E"),
        ("a?b#c d", "/v4/events/a%3Fb%23c%20d"),
    ],
)
def test_event_ids_are_one_path_segment(event_id: str, path: str) -> None:
    assert get_event_call(event_id).path == path
    assert update_event_call(event_id, suspect=True).path == path


def test_get_event_call() -> None:
    assert get_event_call("e", ruleset_id="rs").params == (("ruleset_id", "rs"),)
    assert get_event_call("e").params == ()
    with pytest.raises(TypeError, match="event_id"):
        get_event_call(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ruleset_id"):
        get_event_call("e", ruleset_id="")


def test_update_event_body_holds_only_the_fields_given() -> None:
    call = update_event_call("e", suspect=False)
    assert (call.method, call.body) == ("PATCH", b'{"suspect":false}')
    call = update_event_call("e", linked_id="L", tags={"case": 17, "who": "é"}, suspect=True)
    assert json.loads(call.body or b"") == {
        "linked_id": "L",
        "tags": {"case": 17, "who": "é"},
        "suspect": True,
    }


@pytest.mark.parametrize(
    ("fields", "error", "words"),
    [
        ({}, ValueError, "at least one of linked_id, tags or suspect"),
        ({"suspect": "yes"}, TypeError, "suspect must be a bool"),
        ({"linked_id": ""}, ValueError, "linked_id must be a non-empty str"),
        ({"tags": ["a"]}, TypeError, "tags must be a mapping"),
        ({"tags": {"when": datetime.now(timezone.utc)}}, TypeError, "tags must hold JSON"),
        ({"tags": {"score": float("inf")}}, ValueError, "tags must hold JSON"),
    ],
)
def test_update_event_refusals(fields: dict[str, Any], error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        update_event_call("e", **fields)


def test_delete_visitor_call() -> None:
    call = delete_visitor_call("a/b")
    assert (call.method, call.path, call.params, call.body) == (
        "DELETE",
        "/v4/visitors/a%2Fb",
        (),
        None,
    )
    with pytest.raises(ValueError, match="visitor_id"):
        delete_visitor_call("")
