"""`populate` makes v4 events too: the visits again, with consistent, realistic smart signals."""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from _events_data import DAY_MS, NOW
from _shared import V4_SPEC, require

from fpjs_async._converter import converter
from fpjs_async.events import Event
from fpjs_async.testing import FakeServerAPI

pytestmark = pytest.mark.anyio

KEY = "k"
MakeVisits = Callable[..., list[dict[str, Any]]]
HOUR_MS = 3_600_000
STAGING = "ae_9c2d51f0b7e8a314"  # the environment of a tenth of the synthetic visitors


def response_schema(path: str) -> Any:
    """The schema of the 200 answer of `GET <path>` (v4); the test skips without the spec."""
    paths = json.loads(require(V4_SPEC / "bundled.json").read_bytes())["paths"]
    return paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]


def populated(now: int = NOW, **options: Any) -> tuple[FakeServerAPI, list[str]]:
    fake = FakeServerAPI(KEY, now=now)
    ids = fake.populate(**{"visitors": 40, "visits_per_visitor": (1, 250), "seed": 3, **options})
    return fake, ids


@pytest.fixture(scope="module")
def world() -> tuple[FakeServerAPI, list[str]]:
    """40 synthetic visitors (seed 3), the clock pinned at `NOW`."""
    return populated()


@pytest.fixture(scope="module")
def everything(world: tuple[FakeServerAPI, list[str]]) -> list[dict[str, Any]]:
    """Every event of `world`, newest first, as a search sends them."""
    return anyio.run(every_event, world[0])


async def every_event(fake: FakeServerAPI, **params: Any) -> list[dict[str, Any]]:
    """Every event of the retention window matching `params`, newest first, off the wire."""
    found: list[dict[str, Any]] = []
    query = {"start": fake.now - fake.retention_days * DAY_MS, "limit": 100, **params}
    async with httpx.AsyncClient(
        transport=fake.transport(),
        base_url="https://api.fpjs.io",
        headers={"Authorization": f"Bearer {KEY}"},
    ) as client:
        while True:
            response = await client.get("/v4/events", params=query)
            assert response.status_code == 200, response.text
            body = response.json()
            found += body["events"]
            if "pagination_key" not in body:
                return found
            query["pagination_key"] = body["pagination_key"]


def test_each_visit_is_an_event_with_the_same_id_visitor_time_and_details(
    world: tuple[FakeServerAPI, list[str]],
) -> None:
    fake, ids = world
    assert fake.count_events() == fake.count_visits()
    for visitor_id in ids:
        visits, events = fake.visits_of(visitor_id), fake.events_of(visitor_id)
        assert len(visits) == len(events) == fake.count_events(visitor_id)
        for visit, event in zip(visits, events, strict=True):
            assert event.event_id == visit.request_id
            assert event.timestamp == visit.timestamp
            assert event.linked_id == visit.linked_id
            assert event.url == visit.url
            assert dict(event.tags or {}) == dict(visit.tag or {})
            assert event.incognito == visit.incognito
            assert event.ip_address == visit.ip
            assert event.identification is not None
            assert event.identification.visitor_id == visitor_id
            assert event.identification.visitor_found == visit.visitor_found
            assert visit.confidence is not None
            assert event.identification.confidence is not None
            assert event.identification.confidence.score == visit.confidence.score
            assert event.browser_details is not None
            assert visit.browser_details is not None
            assert event.browser_details.browser_name == visit.browser_details.browser_name
            assert event.user_agent == visit.browser_details.user_agent
        oldest_first = events[::-1]
        assert oldest_first[0].identification is not None
        first_seen = oldest_first[0].timestamp
        for previous, event in zip([None, *oldest_first], oldest_first, strict=False):
            assert event.identification is not None
            assert event.identification.first_seen_at == first_seen
            expected = first_seen if previous is None else previous.timestamp
            assert event.identification.last_seen_at == expected


def test_histories_end_at_the_clock_and_span_the_retention_window(
    world: tuple[FakeServerAPI, list[str]],
) -> None:
    fake, ids = world
    newest = [fake.events_of(v)[0].timestamp for v in ids]
    oldest = [fake.events_of(v)[-1].timestamp for v in ids]
    assert all(NOW - 2 * DAY_MS <= t <= NOW for t in newest)
    assert all(t >= NOW - 30 * DAY_MS for t in oldest)
    assert min(oldest) < NOW - 20 * DAY_MS  # long histories reach far back
    assert max(len(fake.events_of(v)) for v in ids) > 100


async def test_a_search_without_start_finds_every_visitors_recent_week(
    world: tuple[FakeServerAPI, list[str]],
) -> None:
    fake, ids = world
    async with httpx.AsyncClient(
        transport=fake.transport(),
        base_url="https://api.fpjs.io",
        headers={"Authorization": "Bearer k"},
    ) as client:
        for visitor_id in ids[:10]:
            body = (await client.get("/v4/events", params={"visitor_id": visitor_id})).json()
            week = [e for e in fake.events_of(visitor_id) if e.timestamp >= NOW - 7 * DAY_MS]
            assert [e["event_id"] for e in body["events"]] == [e.event_id for e in week[:10]]
            assert week  # every history ends in the last two days


def test_same_seed_and_clock_same_events_and_another_clock_only_moves_them() -> None:
    first, ids = populated(visitors=8)
    again, same_ids = populated(visitors=8)
    later, later_ids = populated(NOW + 3 * DAY_MS, visitors=8)
    assert ids == same_ids == later_ids

    def wire(fake: FakeServerAPI) -> list[dict[str, Any]]:
        return [converter.unstructure(event) for v in ids for event in fake.events_of(v)]

    assert json.dumps(wire(first)) == json.dumps(wire(again))
    shift = 3 * DAY_MS
    for before, after in zip(wire(first), wire(later), strict=True):
        assert after["timestamp"] - before["timestamp"] == shift
        assert after["event_id"].split(".")[1] == before["event_id"].split(".")[1]
        moved = dict(before, event_id=after["event_id"], timestamp=after["timestamp"])
        moved["identification"] = {
            **before["identification"],
            "first_seen_at": before["identification"]["first_seen_at"] + shift,
            "last_seen_at": before["identification"]["last_seen_at"] + shift,
        }
        if "proxy_details" in before:
            moved["proxy_details"] = {
                **before["proxy_details"],
                "last_seen_at": before["proxy_details"]["last_seen_at"] + shift,
            }
        assert moved == after


def test_every_synthetic_event_follows_the_schema_and_decodes(
    world: tuple[FakeServerAPI, list[str]], everything: list[dict[str, Any]]
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = response_schema("/events/{event_id}")
    validator = jsonschema.Draft202012Validator(schema)
    fake, _ = world
    # One event of each shape: the signals shared by a device, a network and a visitor, with
    # or without a linked ID, a suspect flag, a geolocation.
    shapes: dict[str, dict[str, Any]] = {}
    for raw in everything:
        stripped = {k: v for k, v in raw.items() if k not in ("event_id", "timestamp")}
        shapes.setdefault(json.dumps(_shape(stripped), sort_keys=True), raw)
    assert len(shapes) > 20
    for raw in shapes.values():
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(raw)]
        assert errors == [], raw["event_id"]
    for raw in everything:
        assert converter.structure(raw, Event) == fake.event(raw["event_id"])


def _shape(value: Any) -> Any:
    """The keys and the enum-like strings and flags of a JSON value, not its numbers."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value[:1]]
    if isinstance(value, bool):
        return value
    return type(value).__name__


async def test_a_search_page_follows_the_schema(world: tuple[FakeServerAPI, list[str]]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = response_schema("/events")
    fake, _ = world
    async with httpx.AsyncClient(
        transport=fake.transport(),
        base_url="https://api.fpjs.io",
        headers={"Authorization": "Bearer k"},
    ) as client:
        body = (await client.get("/v4/events", params={"limit": 100, "total_hits": 500})).json()
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
    assert len(body["events"]) == 100


def test_smart_signals_come_in_realistic_proportions_and_agree(
    world: tuple[FakeServerAPI, list[str]], everything: list[dict[str, Any]]
) -> None:
    fake, ids = world
    events = everything
    assert len(events) == fake.count_events()
    count = len(events)
    by_visitor: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_visitor.setdefault(event["identification"]["visitor_id"], []).append(event)
    assert len(by_visitor) == len(ids)

    bots = Counter(e["bot"] for e in events)
    assert set(bots) <= {"not_detected", "good", "bad"}
    assert bots["not_detected"] > 0.8 * count
    for visitor_events in by_visitor.values():  # a visitor is a bot or not, throughout
        assert len({e["bot"] for e in visitor_events}) == 1
    assert all("bot_info" in e for e in events if e["bot"] == "good")
    assert all("bot_info" not in e for e in events if e["bot"] == "not_detected")

    def share(flag: Callable[[dict[str, Any]], bool]) -> float:
        return sum(map(flag, events)) / count

    assert 0 < share(lambda e: e["incognito"]) < 0.5
    assert 0 < share(lambda e: e["vpn"]) < 0.3
    assert 0 < share(lambda e: ipaddress.ip_address(e["ip_address"]).version == 6) < 0.6
    assert 0 < share(lambda e: "suspect" in e) < 0.2
    assert share(lambda e: e["tampering"]) < 0.1
    assert share(lambda e: e["suspect_score"] > 0) > 0
    for event in events:
        assert event["source"] == "device"
        (version,) = event["ip_info"]
        info = event["ip_info"][version]
        address = ipaddress.ip_address(info["address"])
        assert info["address"] == event["ip_address"]
        assert f"v{address.version}" == version
        assert address in ipaddress.ip_network(info["asn_network"])
        assert info["datacenter_result"] is event["vpn"]
        assert event["vpn_methods"]["timezone_mismatch"] is event["vpn"]
        if event["vpn"]:
            assert event["vpn_origin_timezone"] != info.get("geolocation", {}).get("timezone")
        assert ("proxy_details" in event) is event["proxy"]
        assert event["rare_device"] is (
            event["rare_device_percentile_bucket"] not in ("<p95", "p95-p99")
        )
        if event.get("suspect") is True:
            assert event["suspect_score"] >= 8
        velocity = event["velocity"]
        for name, counts in velocity.items():
            assert 0 <= counts["5_minutes"] <= counts["1_hour"] <= counts["24_hours"], name
        assert velocity["events"]["5_minutes"] >= 1
        assert velocity["distinct_ip"]["24_hours"] <= velocity["events"]["24_hours"]
        assert velocity["ip_events"]["24_hours"] <= velocity["events"]["24_hours"]
        assert ("distinct_ip_by_linked_id" in velocity) is ("linked_id" in event)
    located = share(lambda e: "geolocation" in next(iter(e["ip_info"].values())))
    assert 0.9 < located < 1


def test_velocity_counts_the_visitors_own_recent_events(
    world: tuple[FakeServerAPI, list[str]], everything: list[dict[str, Any]]
) -> None:
    fake, ids = world
    visitor_id = max(ids, key=fake.count_events)
    events = [e for e in everything if e["identification"]["visitor_id"] == visitor_id]
    times = sorted(e["timestamp"] for e in events)
    for event in events[:50]:
        moment = event["timestamp"]
        for window, span in (("5_minutes", 300_000), ("1_hour", HOUR_MS), ("24_hours", DAY_MS)):
            expected = sum(1 for t in times if moment - span < t <= moment)
            assert event["velocity"]["events"][window] == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"bot": "bad"}, lambda e: e["bot"] == "bad"),
        ({"bot": "all"}, lambda e: e["bot"] in ("good", "bad")),
        ({"vpn": "true"}, lambda e: e["vpn"]),
        ({"proxy": "false"}, lambda e: not e["proxy"]),
        ({"incognito": "true"}, lambda e: e["incognito"]),
        ({"tor_node": "true"}, lambda e: e["ip_blocklist"]["tor_node"]),
        ({"developer_tools": "true"}, lambda e: e["developer_tools"]),
        ({"suspect": "true"}, lambda e: e.get("suspect") is True),
        ({"suspect": "false"}, lambda e: e.get("suspect") is False),
        ({"min_suspect_score": "5"}, lambda e: e["suspect_score"] >= 5),
        ({"vpn_confidence": "medium"}, lambda e: e["vpn_confidence"] == "medium"),
        ({"ip_address": "2000::/3"}, lambda e: ":" in e["ip_address"]),
        ({"asn": "3320"}, lambda e: next(iter(e["ip_info"].values()))["asn"] == "3320"),
        ({"origin": "https://www.example.com"}, lambda e: e["url"].startswith("https://www.")),
        ({"environment": STAGING}, lambda e: e["environment_id"] == STAGING),
        ({"rare_device": "true"}, lambda e: e["rare_device"]),
        ({"factory_reset": "false"}, lambda e: True),
        ({"sdk_platform": "js"}, lambda e: True),
        ({"sdk_platform": "ios"}, lambda e: False),
    ],
)  # fmt: skip
async def test_filters_on_synthetic_data_find_what_the_data_says(
    world: tuple[FakeServerAPI, list[str]],
    everything: list[dict[str, Any]],
    params: dict[str, str],
    expected: Callable[[dict[str, Any]], bool],
) -> None:
    fake, _ = world
    found = await every_event(fake, **params)
    assert [e["event_id"] for e in found] == [e["event_id"] for e in everything if expected(e)]


async def test_linked_high_recall_and_proximity_ids_find_their_events(
    world: tuple[FakeServerAPI, list[str]], everything: list[dict[str, Any]]
) -> None:
    fake, _ = world
    sample = next(e for e in everything if "linked_id" in e)
    for name, value, read in [
        ("linked_id", sample["linked_id"], lambda e: e.get("linked_id")),
        (
            "high_recall_id",
            sample["supplementary_id_high_recall"]["visitor_id"],
            lambda e: e["supplementary_id_high_recall"]["visitor_id"],
        ),
        ("proximity_id", sample["proximity"]["id"], lambda e: e["proximity"]["id"]),
        ("sdk_version", sample["sdk"]["version"], lambda e: e["sdk"]["version"]),
    ]:
        found = await every_event(fake, **{name: value})
        assert found
        assert [e["event_id"] for e in found] == [
            e["event_id"] for e in everything if read(e) == value
        ]


def test_add_visits_as_events_makes_an_event_of_each_visit(make_visits: MakeVisits) -> None:
    visits = make_visits(3, newest=NOW - 60_000, linked_id="order-7")
    visits[0].update(
        ip="61.127.217.15",
        incognito=True,
        tag={"campaign": "spring"},
        confidence={"score": 0.97},
        browserDetails={"browserName": "Chrome", "os": "Windows", "userAgent": "Mozilla/5.0"},
        ipLocation={
            "city": {"name": "Seoul"},
            "country": {"code": "KR", "name": "South Korea"},
            "timezone": "Asia/Seoul",
            "subdivisions": [{"isoCode": "11", "name": "Seoul"}],
        },
    )
    minimal = {"requestId": "1.Minimal", "timestamp": NOW - 3_600_000}
    fakes = [FakeServerAPI(KEY, now=NOW), FakeServerAPI(KEY, now=NOW)]
    for fake in fakes:
        fake.add_visits("Mixed", [*visits, minimal], as_events=True)
    fake = fakes[0]
    assert fake.events_of("Mixed") == fakes[1].events_of("Mixed")  # seeded by the visitor
    newest, second, third, oldest = fake.events_of("Mixed")
    assert [newest.event_id, second.event_id, third.event_id, oldest.event_id] == [
        *(visit["requestId"] for visit in visits),
        "1.Minimal",
    ]
    assert (newest.linked_id, newest.url, newest.ip_address, newest.incognito) == (
        "order-7",
        "https://shop.example.com/",
        "61.127.217.15",
        True,
    )
    assert dict(newest.tags or {}) == {"campaign": "spring"}
    assert newest.browser_details is not None
    assert (newest.browser_details.browser_name, newest.browser_details.os_version) == (
        "Chrome",
        "",
    )
    assert newest.ip_info is not None
    assert newest.ip_info.v4 is not None
    assert newest.ip_info.v4.geolocation is not None
    assert newest.ip_info.v4.geolocation.city_name == "Seoul"
    assert newest.identification is not None
    assert newest.identification.confidence is not None
    assert newest.identification.confidence.score == 0.97
    assert oldest.identification is not None
    assert (oldest.identification.visitor_found, oldest.ip_address, oldest.url) == (
        False,
        None,
        None,
    )
    assert oldest.identification.confidence is None
    assert fake.count_visits("Mixed") == 4
    with pytest.raises(ValueError, match="duplicate event_id"):
        fake.add_visits("Other", [minimal], as_events=True)


def test_events_made_of_any_visits_follow_the_schema(make_visits: MakeVisits) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = response_schema("/events/{event_id}")
    fake = FakeServerAPI(KEY, now=NOW)
    visits = make_visits(20, newest=NOW - 1000)
    for i, visit in enumerate(visits):
        visit["ip"] = "2001:db8::1" if i % 3 else "not an address"
    fake.add_visits("Handmade", visits, as_events=True)
    for event in fake._events.timeline("Handmade"):
        jsonschema.validate(
            json.loads(event.encoded()), schema, cls=jsonschema.Draft202012Validator
        )
