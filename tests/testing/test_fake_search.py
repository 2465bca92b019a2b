"""`GET /v4/events` in the emulator: the time range, paging, `total_hits` and every filter."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from _events_data import DAY_MS, EVENT_VISITOR, NOW
from _shared import V4_EXAMPLES, V4_SPEC, require

from fpjs_async._events_query import EventFilters
from fpjs_async.testing import FakeServerAPI, _filters
from fpjs_async.testing import _search as search_module

pytestmark = pytest.mark.anyio

MakeEvents = Callable[..., list[dict[str, Any]]]
Params = Any  # a mapping, or pairs for repeated keys: as httpx takes them


async def search(client: httpx.AsyncClient, params: Params | None = None) -> dict[str, Any]:
    response = await client.get("/v4/events", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def ids(client: httpx.AsyncClient, params: Params | None = None) -> list[str]:
    return [event["event_id"] for event in (await search(client, params))["events"]]


async def refusal(client: httpx.AsyncClient, params: Params) -> str:
    response = await client.get("/v4/events", params=params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "request_cannot_be_parsed"
    message: str = error["message"]
    return message


async def walk(client: httpx.AsyncClient, params: dict[str, Any]) -> tuple[list[str], int]:
    """Every event ID of a search, page after page, and how many pages it took."""
    seen: list[str] = []
    pages = 0
    query = dict(params)
    while True:
        body = await search(client, query)
        pages += 1
        seen += [event["event_id"] for event in body["events"]]
        if "pagination_key" not in body:
            return seen, pages
        query["pagination_key"] = body["pagination_key"]


def nested(path: Sequence[str], value: Any) -> dict[str, Any]:
    """`{"a": {"b": value}}` for the path `("a", "b")`."""
    result: Any = value
    for name in reversed(path):
        result = {name: result}
    return dict(result)


# --- the time range and the order ------------------------------------------------------------


async def test_by_default_the_newest_ten_of_the_last_seven_days(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    hourly = make_events(24 * 9, newest=NOW + 3_600_000, step=3_600_000)  # one from the future
    pinned.add_events(hourly[::-1])
    body = await search(api)
    assert sorted(body) == ["events", "pagination_key"]
    assert [event["event_id"] for event in body["events"]] == [
        event["event_id"] for event in hourly[1:11]
    ]


async def test_the_default_range_is_the_last_seven_days_of_the_clock(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    hourly = make_events(24 * 9, newest=NOW + 3_600_000, step=3_600_000)
    pinned.add_events(hourly)
    in_range = [e["event_id"] for e in hourly if NOW - 7 * DAY_MS <= e["timestamp"] <= NOW]
    found, _ = await walk(api, {"limit": 100})
    assert found == in_range
    assert len(found) == 7 * 24 + 1  # both ends are included
    pinned.now += 2 * 3_600_000  # two hours later: the future event is in, two old ones out
    later, _ = await walk(api, {"limit": 100})
    assert later[0] == hourly[0]["event_id"]
    assert later == [hourly[0]["event_id"], *in_range[:-2]]


async def test_reverse_is_oldest_first(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    events = make_events(30)
    pinned.add_events(events)
    oldest_first = [event["event_id"] for event in reversed(events)]
    assert await ids(api, {"reverse": "true", "limit": 5}) == oldest_first[:5]
    assert await ids(api, {"reverse": "false", "limit": 5}) == oldest_first[::-1][:5]
    assert (await walk(api, {"reverse": "true", "limit": 7}))[0] == oldest_first


@pytest.mark.parametrize("value", ["1", "0", "True", "FALSE", "yes", ""])
async def test_booleans_are_true_or_false_only(api: httpx.AsyncClient, value: str) -> None:
    assert await refusal(api, {"reverse": value}) == "invalid reverse param"
    assert await refusal(api, {"vpn": value}) == "invalid vpn"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (str(NOW - 3 * DAY_MS), str(NOW - DAY_MS)),
        ("2025-12-29T00:00:00Z", "2025-12-31T00:00:00Z"),
        ("2025-12-29T01:00:00+01:00", "2025-12-30T19:00:00-05:00"),
        ("2025-12-29T00:00:00.000Z", "2025-12-31T00:00:00.000000z"),
    ],
)
async def test_start_and_end_take_ms_or_rfc_3339_and_include_both_ends(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents, start: str, end: str
) -> None:
    hourly = make_events(24 * 5, newest=NOW, step=3_600_000)
    pinned.add_events(hourly)
    expected = [e["event_id"] for e in hourly if NOW - 3 * DAY_MS <= e["timestamp"] <= NOW - DAY_MS]
    found, _ = await walk(api, {"start": start, "end": end, "limit": 100})
    assert found == expected
    assert len(expected) == 2 * 24 + 1


async def test_start_or_end_alone_keeps_the_other_default(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    daily = make_events(20, newest=NOW + DAY_MS, step=DAY_MS)  # from tomorrow back 19 days
    pinned.add_events(daily)
    since_ten_days, _ = await walk(api, {"start": NOW - 10 * DAY_MS, "limit": 100})
    assert since_ten_days == [e["event_id"] for e in daily[1:12]]
    until_tomorrow, _ = await walk(api, {"end": NOW + DAY_MS, "limit": 100})
    assert until_tomorrow == [e["event_id"] for e in daily[:9]]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "yesterday"}, "invalid start time"),
        ({"start": "2025-12-31"}, "invalid start time"),
        ({"start": "2025-12-31T00:00:00"}, "invalid start time"),  # no offset
        ({"start": "2025-13-31T00:00:00Z"}, "invalid start time"),
        ({"start": "-5"}, "invalid start time"),
        ({"start": "1.5"}, "invalid start time"),
        ({"start": str(NOW - 31 * DAY_MS)}, "invalid start time"),  # beyond the retention
        ({"end": "soon"}, "invalid end time"),
        ({"start": str(NOW - DAY_MS), "end": str(NOW - 2 * DAY_MS)}, "invalid end time"),
        (
            [("start", str(NOW)), ("start", str(NOW))],
            "invalid start: given 2 times, it takes one value",
        ),
    ],
)
async def test_bad_times_are_refused(api: httpx.AsyncClient, params: Params, message: str) -> None:
    assert await refusal(api, params) == message


async def test_the_retention_bounds_start(make_events: MakeEvents) -> None:
    fake = FakeServerAPI("k", now=NOW, retention_days=90)
    fake.add_events(make_events(1, newest=NOW - 80 * DAY_MS))
    async with httpx.AsyncClient(
        transport=fake.transport(),
        base_url="http://127.0.0.1",
        headers={"Authorization": "Bearer k"},
    ) as client:
        assert len(await ids(client, {"start": NOW - 90 * DAY_MS})) == 1
        assert await refusal(client, {"start": NOW - 90 * DAY_MS - 1}) == "invalid start time"


# --- limit, pagination_key, total_hits ----------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", "", " 5", "1e2"])
async def test_limit_is_1_to_100(api: httpx.AsyncClient, limit: str) -> None:
    assert await refusal(api, {"limit": limit}) == "invalid limit"


@pytest.mark.parametrize(("limit", "count"), [("1", 1), ("37", 37), ("100", 100)])
async def test_limit_is_how_many_events_a_page_holds(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents, limit: str, count: int
) -> None:
    pinned.add_events(make_events(150))
    assert len(await ids(api, {"limit": limit})) == count


@pytest.mark.parametrize(("total", "limit"), [(250, 7), (20, 10), (10, 10), (1, 100), (0, 5)])
async def test_pages_walk_every_match_once_and_the_key_is_there_exactly_while_more_exist(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents, total: int, limit: int
) -> None:
    events = make_events(total, step=1000)
    pinned.add_events(events)
    found, pages = await walk(api, {"limit": limit})
    assert found == [event["event_id"] for event in events]
    assert pages == max(1, -(-total // limit))  # no empty last page when it divides exactly


async def test_the_result_set_of_a_walk_does_not_change_under_it(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    events = make_events(60, step=1000)
    pinned.add_events(events)
    first = await search(api, {"limit": 25})
    # While the walk goes on: time passes, newer events arrive, older ones would leave.
    pinned.now += 3 * DAY_MS
    pinned.add_events(make_events(5, newest=NOW + 10_000, step=1, tag="Late"))
    second = await search(api, {"limit": 25, "pagination_key": first["pagination_key"]})
    third = await search(api, {"limit": 25, "pagination_key": second["pagination_key"]})
    walked = [e["event_id"] for page in (first, second, third) for e in page["events"]]
    assert walked == [event["event_id"] for event in events]
    assert "pagination_key" not in third


async def test_pages_break_exactly_between_events_of_the_same_millisecond(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    same_ms = make_events(9, step=0)
    pinned.add_events(same_ms)
    found, pages = await walk(api, {"limit": 2})
    assert sorted(found) == sorted(event["event_id"] for event in same_ms)
    assert len(set(found)) == 9
    assert pages == 5


async def test_a_key_belongs_to_its_search(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    pinned.add_events(make_events(30, linked_id="order-7"))
    key = (await search(api, {"limit": 10, "linked_id": "order-7"}))["pagination_key"]
    assert len(await ids(api, {"limit": 10, "linked_id": "order-7", "pagination_key": key})) == 10
    # Another limit is fine; other filters are another search.
    assert len(await ids(api, {"limit": 50, "linked_id": "order-7", "pagination_key": key})) == 20
    for other in ({"linked_id": "order-8"}, {}, {"linked_id": "order-7", "vpn": "false"}):
        params = {**other, "pagination_key": key}
        assert await refusal(api, params) == "invalid pagination key"


@pytest.mark.parametrize("key", ["nope", "", "!!!!", "eyJ2IjoxfQ", "A" * 80])
async def test_a_key_the_emulator_did_not_make_is_refused(api: httpx.AsyncClient, key: str) -> None:
    assert await refusal(api, {"pagination_key": key}) == "invalid pagination key"


async def test_total_hits_counts_every_match_up_to_the_number(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    pinned.add_events(make_events(40, vpn=True) + make_events(15, tag="No", vpn=False))
    assert "total_hits" not in await search(api)
    assert (await search(api, {"total_hits": 1000}))["total_hits"] == 55
    assert (await search(api, {"total_hits": 20, "limit": 5}))["total_hits"] == 20
    first = await search(api, {"total_hits": 1000, "vpn": "true", "limit": 30})
    assert (len(first["events"]), first["total_hits"]) == (30, 40)
    rest = await search(
        api,
        {"total_hits": 1000, "vpn": "true", "limit": 30, "pagination_key": first["pagination_key"]},
    )
    assert (len(rest["events"]), rest["total_hits"]) == (10, 40)
    assert (await search(api, {"total_hits": 5, "suspect": "true"}))["total_hits"] == 0
    for bad in ("0", "1001", "x", ""):
        assert await refusal(api, {"total_hits": bad}) == "invalid total_hits"


async def test_a_scan_limit_lets_pages_come_short_or_empty_with_a_key(
    make_events: MakeEvents,
) -> None:
    fake = FakeServerAPI("k", now=NOW, search_scan_limit=10)
    wanted = make_events(3, newest=NOW - 5_000, step=1, tag="W", linked_id="rare")
    fake.add_events(make_events(45, step=60_000) + wanted)
    async with httpx.AsyncClient(
        transport=fake.transport(),
        base_url="http://127.0.0.1",
        headers={"Authorization": "Bearer k"},
    ) as client:
        pages = []
        query: dict[str, Any] = {"linked_id": "rare", "limit": 2}
        while True:
            body = await search(client, query)
            pages.append([event["event_id"] for event in body["events"]])
            if "pagination_key" not in body:
                break
            query["pagination_key"] = body["pagination_key"]
        all_in_order, _ = await walk(client, {"limit": 100})
    assert [event_id for page in pages for event_id in page] == [e["event_id"] for e in wanted]
    assert [] in pages  # an empty page that still carries a key
    assert all(len(page) <= 2 for page in pages)
    assert len(all_in_order) == 48


# --- filters ---------------------------------------------------------------------------------

_FLAG_PATHS = {
    **{name: (name,) for name in _filters.FLAGS},
    "anti_detect_browser": ("tampering_details", "anti_detect_browser"),
    "tor_node": ("ip_blocklist", "tor_node"),
}


@pytest.mark.parametrize("name", sorted(_FLAG_PATHS))
async def test_boolean_filters_match_the_signal_and_leave_out_events_without_it(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents, name: str
) -> None:
    path = _FLAG_PATHS[name]
    yes, no, unknown = make_events(3)
    pinned.add_events([{**yes, **nested(path, True)}, {**no, **nested(path, False)}, unknown])
    assert await ids(api, {name: "true"}) == [yes["event_id"]]
    assert await ids(api, {name: "false"}) == [no["event_id"]]
    assert len(await ids(api)) == 3


async def test_factory_reset_is_whether_the_device_was_ever_reset(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    reset, never, unknown = make_events(3)
    pinned.add_events(
        [
            {**reset, "factory_reset_timestamp": NOW - DAY_MS},
            {**never, "factory_reset_timestamp": 0},
            unknown,
        ]
    )
    assert await ids(api, {"factory_reset": "true"}) == [reset["event_id"]]
    assert await ids(api, {"factory_reset": "false"}) == [never["event_id"]]


def _with_id(path: tuple[str, ...], **siblings: Any) -> Callable[[str], dict[str, Any]]:
    """The field at `path` holding a value, with the siblings the schema requires."""

    def make(value: str) -> dict[str, Any]:
        parent = {path[-1]: value, **siblings}
        return nested(path[:-1], parent) if len(path) > 1 else parent

    return make


_TEXT_FILTERS = {
    "linked_id": _with_id(("linked_id",)),
    "url": _with_id(("url",)),
    "high_recall_id": _with_id(("supplementary_id_high_recall", "visitor_id"), visitor_found=True),
    "bundle_id": _with_id(("bundle_id",)),
    "package_name": _with_id(("package_name",)),
    "proximity_id": _with_id(("proximity", "id"), precision_radius=10, confidence=0.9),
    "sdk_version": _with_id(("sdk", "version"), platform="js"),
}


@pytest.mark.parametrize("name", sorted(_TEXT_FILTERS))
async def test_text_filters_match_exactly(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents, name: str
) -> None:
    field = _TEXT_FILTERS[name]
    match, other, without = make_events(3)
    pinned.add_events([{**match, **field("Value-1")}, {**other, **field("Value-10")}, without])
    assert await ids(api, {name: "Value-1"}) == [match["event_id"]]
    assert await ids(api, {name: "value-1"}) == []
    assert await refusal(api, {name: ""}) == f"invalid {name}"
    assert "given 2 times" in await refusal(api, [(name, "a"), (name, "b")])


async def test_visitor_id_searches_that_visitor_and_an_unknown_one_is_404(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    mine = make_events(4)
    theirs = make_events(3, visitor_id="SomeoneElse000000000", tag="Th")
    pinned.add_events(mine + theirs)
    assert await ids(api, {"visitor_id": EVENT_VISITOR}) == [e["event_id"] for e in mine]
    response = await api.get("/v4/events", params={"visitor_id": "NeverSeen"})
    assert response.status_code == 404
    example = V4_EXAMPLES / "errors" / "404_visitor_not_found.json"
    if example.exists():
        assert response.json() == json.loads(example.read_bytes())
    assert await refusal(api, {"visitor_id": ""}) == "invalid visitor id"


async def test_a_linked_id_longer_than_256_characters_is_refused(api: httpx.AsyncClient) -> None:
    assert await refusal(api, {"linked_id": "x" * 257}) == (
        "linked_id can't be greater than 256 characters long"
    )


async def test_origin_is_the_scheme_and_host_of_the_url(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    shop, other, port = make_events(3)
    pinned.add_events(
        [
            {**shop, "url": "https://shop.example.com/cart?x=1"},
            {**other, "url": "https://www.example.com/"},
            {**port, "url": "http://localhost:8080/login"},
        ]
    )
    assert await ids(api, {"origin": "https://shop.example.com"}) == [shop["event_id"]]
    assert await ids(api, {"origin": "http://localhost:8080"}) == [port["event_id"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("82.118.30.68", [0]),
        ("82.118.30.0/24", [0, 1]),
        ("82.118.0.0/16", [0, 1, 2]),
        ("82.118.30.68/32", [0]),
        ("2a02:8308:a0:7d00::/64", [3]),
        ("2a02:8308:a0:7d00:1::1", [3]),
        ("10.0.0.0/8", []),
    ],
)
async def test_ip_address_takes_an_address_or_a_cidr_range(
    pinned: FakeServerAPI,
    api: httpx.AsyncClient,
    make_events: MakeEvents,
    query: str,
    expected: list[int],
) -> None:
    addresses = ["82.118.30.68", "82.118.30.7", "82.118.99.1", "2a02:8308:a0:7d00:1::1", None]
    events = make_events(len(addresses))
    for event, address in zip(events, addresses, strict=True):
        if address is not None:
            event["ip_address"] = address
    pinned.add_events(events)
    assert await ids(api, {"ip_address": query}) == [events[i]["event_id"] for i in expected]


@pytest.mark.parametrize("query", ["82.118.30", "300.1.1.1", "82.118.30.0/33", "host.example.com"])
async def test_a_bad_ip_address_is_refused(api: httpx.AsyncClient, query: str) -> None:
    assert await refusal(api, {"ip_address": query}) == "invalid ip address"


async def test_asn_is_either_address_family(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    on_v4, on_v6, other = make_events(3)
    pinned.add_events(
        [
            {**on_v4, "ip_info": {"v4": {"address": "1.2.3.4", "asn": "7922"}}},
            {**on_v6, "ip_info": {"v6": {"address": "2601::1", "asn": "7922"}}},
            {**other, "ip_info": {"v4": {"address": "1.2.3.5", "asn": "3320"}}},
        ]
    )
    assert await ids(api, {"asn": "7922"}) == [on_v4["event_id"], on_v6["event_id"]]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("all", [0, 1]), ("good", [1]), ("bad", [0]), ("none", [2])],
)
async def test_bot_takes_all_good_bad_or_none_and_leaves_out_events_without_a_result(
    pinned: FakeServerAPI,
    api: httpx.AsyncClient,
    make_events: MakeEvents,
    value: str,
    expected: list[int],
) -> None:
    events = make_events(4)
    for event, bot in zip(events, ["bad", "good", "not_detected"], strict=False):
        event["bot"] = bot
    pinned.add_events(events)
    assert await ids(api, {"bot": value}) == [events[i]["event_id"] for i in expected]


async def test_an_unknown_bot_type_is_refused(api: httpx.AsyncClient) -> None:
    assert await refusal(api, {"bot": "evil"}) == "invalid bot type"


async def test_bot_info_filters_take_repeated_keys_and_any_of_them_matches(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    agent, crawler, human = make_events(3)
    info = {"provider": "OpenAI", "identity": "signed", "confidence": "high"}
    agent_info = {**info, "category": "ai_agent", "name": "ChatGPT Agent"}
    crawler_info = {**info, "category": "ai_crawler", "name": "GPTBot", "identity": "verified"}
    pinned.add_events(
        [
            {**agent, "bot": "good", "bot_info": agent_info},
            {**crawler, "bot": "good", "bot_info": crawler_info},
            {**human, "bot": "not_detected"},
        ]
    )
    both = [agent["event_id"], crawler["event_id"]]
    assert (
        await ids(api, [("bot_info_category", "ai_agent"), ("bot_info_category", "ai_crawler")])
        == both
    )
    assert await ids(api, {"bot_info_category": "ai_agent"}) == [agent["event_id"]]
    assert await ids(api, {"bot_info_identity": "verified"}) == [crawler["event_id"]]
    assert await ids(api, {"bot_info_confidence": "high"}) == both
    assert await ids(api, {"bot_info_provider": "OpenAI"}) == both
    assert await ids(api, [("bot_info_name", "GPTBot"), ("bot_info_name", "Nope")]) == [
        crawler["event_id"]
    ]
    assert await ids(api, {"bot_info": "all"}) == both
    assert await ids(api, {"bot_info": "none"}) == [human["event_id"]]
    # Commas are part of a value, and no category is called that.
    assert (
        await refusal(api, {"bot_info_category": "ai_agent,ai_crawler"})
        == "invalid bot_info_category"
    )
    assert await refusal(api, {"bot_info_identity": "friendly"}) == "invalid bot_info_identity"
    assert await refusal(api, {"bot_info": "some"}) == "invalid bot_info"


_ENUM_FILTERS = {
    "vpn_confidence": (_with_id(("vpn_confidence",)), "medium", "sure"),
    "sdk_platform": (_with_id(("sdk", "platform"), version="1.0"), "android", "windows"),
    "incremental_identification_status": (
        _with_id(("incremental_identification_status",)),
        "partially_completed",
        "done",
    ),
    "rare_device_percentile_bucket": (
        _with_id(("rare_device_percentile_bucket",)),
        "p99.9+",
        "p50",
    ),
}


@pytest.mark.parametrize("name", sorted(_ENUM_FILTERS))
async def test_enum_filters_match_their_value_and_refuse_others(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents, name: str
) -> None:
    field, value, bad = _ENUM_FILTERS[name]
    match, other = make_events(2)
    pinned.add_events([{**match, **field(value)}, other])
    assert await ids(api, {name: value}) == [match["event_id"]]
    assert await refusal(api, {name: bad}) == f"invalid {name}"


async def test_environment_takes_repeated_keys(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    production, staging, none = make_events(3)
    pinned.add_events(
        [{**production, "environment_id": "ae_1"}, {**staging, "environment_id": "ae_2"}, none]
    )
    assert await ids(api, [("environment", "ae_1"), ("environment", "ae_2")]) == [
        production["event_id"],
        staging["event_id"],
    ]
    assert await ids(api, {"environment": "ae_2"}) == [staging["event_id"]]


async def test_min_suspect_score_is_a_threshold_included(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    events = make_events(4)
    for event, score in zip(events, [12, 7, 0], strict=False):
        event["suspect_score"] = score
    pinned.add_events(events)
    assert await ids(api, {"min_suspect_score": "7"}) == [
        events[0]["event_id"],
        events[1]["event_id"],
    ]
    assert await ids(api, {"min_suspect_score": "7.5"}) == [events[0]["event_id"]]
    assert len(await ids(api, {"min_suspect_score": "0"})) == 3
    for bad in ("high", "nan", "inf", ""):
        assert await refusal(api, {"min_suspect_score": bad}) == "invalid min_suspect_score"


async def test_without_source_only_device_events_and_with_it_only_edge_ones(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    device, unsaid = make_events(2, source="device")
    del unsaid["source"]
    edge = {"event_id": "edge.1", "timestamp": NOW - 10, "source": "edge", "vpn": False}
    pinned.add_events([device, unsaid, edge])
    assert await ids(api) == [device["event_id"], unsaid["event_id"]]
    assert await ids(api, {"source": "edge"}) == ["edge.1"]
    assert await refusal(api, {"source": "device"}) == "invalid source"
    assert await refusal(api, [("source", "edge"), ("source", "edge")]) == (
        "invalid source: at most 1 value(s)"
    )


async def test_filters_combine(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    events = make_events(8)
    for i, event in enumerate(events):
        event.update(vpn=i % 2 == 0, incognito=i % 4 == 0, linked_id=f"order-{i % 3}")
    pinned.add_events(events)
    expected = [e["event_id"] for i, e in enumerate(events) if i % 4 == 0 and i % 3 == 0]
    assert await ids(api, {"vpn": "true", "incognito": "true", "linked_id": "order-0"}) == expected


async def test_an_unknown_parameter_is_refused_by_name(api: httpx.AsyncClient) -> None:
    assert await refusal(api, {"visitorId": "x"}) == "unknown query parameter 'visitorId'"
    assert await refusal(api, {"ruleset_id": "x"}) == "unknown query parameter 'ruleset_id'"
    assert await refusal(api, {"bot_info_category[]": "ai_agent"}) == (
        "unknown query parameter 'bot_info_category[]'"
    )


async def test_a_filter_the_emulator_cannot_evaluate_is_refused_by_name(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    lacking = {k: v for k, v in _filters.EVALUATED_FILTERS.items() if k != "asn"}
    monkeypatch.setattr(search_module, "EVALUATED_FILTERS", lacking)
    assert await refusal(api, {"asn": "7922"}) == "the emulator cannot evaluate the filter asn"


def test_every_filter_of_the_client_is_evaluated() -> None:
    read_by_the_search = {"visitor_id", "start", "end", "reverse"}
    evaluated = set(_filters.EVALUATED_FILTERS) | read_by_the_search
    assert set(EventFilters.__annotations__) <= evaluated


def _valid_value(parameter: dict[str, Any]) -> str:
    schema = parameter["schema"]
    schema = schema.get("items", schema) if schema.get("type") == "array" else schema
    if "enum" in schema:
        return str(schema["enum"][0])
    if "oneOf" in schema:  # start and end
        return "2025-12-31T00:00:00Z"
    if parameter["name"] == "pagination_key":
        return ""
    if parameter["name"] == "ip_address":
        return "10.0.0.0/8"
    return {"boolean": "true", "integer": "10", "number": "1.5"}.get(schema.get("type"), "x")


async def test_every_query_parameter_of_the_schema_is_accepted(
    pinned: FakeServerAPI, api: httpx.AsyncClient, make_events: MakeEvents
) -> None:
    bundled = require(V4_SPEC / "bundled.json")
    parameters = json.loads(bundled.read_bytes())["paths"]["/events"]["get"]["parameters"]
    pinned.add_events(make_events(1, identification={"visitor_id": "x", "visitor_found": True}))
    accepted = []
    for parameter in parameters:
        value = _valid_value(parameter)
        if not value:
            continue
        response = await api.get("/v4/events", params={parameter["name"]: value})
        assert response.status_code == 200, (parameter["name"], response.text)
        accepted.append(parameter["name"])
    assert len(accepted) == len(parameters) - 1


async def test_the_session_searches_the_emulator(
    pinned: FakeServerAPI, make_events: MakeEvents
) -> None:
    events = make_events(35, linked_id="order-7", vpn=True)
    pinned.add_events(events + make_events(5, tag="Other", vpn=False))
    async with pinned.session() as session:
        page = await session.search_events(vpn=True, linked_id="order-7", limit=10, total_hits=100)
        walked = [
            event.event_id
            async for event in session.iter_events(
                vpn=True, start=datetime.fromtimestamp((NOW - DAY_MS) / 1000, timezone.utc), limit=4
            )
        ]
    assert [event.event_id for event in page.events] == [e["event_id"] for e in events[:10]]
    assert page.total_hits == 35
    assert page.pagination_key is not None
    assert walked == [event["event_id"] for event in events]
    assert all(r.params.get("vpn") == "true" for r in pinned.requests)
    assert timedelta(milliseconds=NOW - events[-1]["timestamp"]) < timedelta(days=1)
