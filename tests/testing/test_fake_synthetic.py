"""Synthetic data: deterministic, realistic, and a faithful round trip through the models."""

from __future__ import annotations

import ipaddress
import itertools
import json
import random
import re
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

import pytest

from fpjs_async import Visit
from fpjs_async._converter import converter
from fpjs_async._datetimes import parse_datetime
from fpjs_async.testing import FakeServerAPI
from fpjs_async.testing._synthetic import synthetic_history

REQUEST_ID = re.compile(r"(\d{13})\.[A-Za-z0-9]{6}")
VISITOR_ID = re.compile(r"[A-Za-z0-9]{20}")
NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
WINDOW = timedelta(days=30)


def history_of(seed: int, count: int) -> list[dict[str, Any]]:
    window_ms = int(WINDOW / timedelta(milliseconds=1))
    return synthetic_history(random.Random(seed), count, end_ms=NOW, window_ms=window_ms)


@pytest.fixture(scope="module")
def history() -> list[dict[str, Any]]:
    """One long synthetic history, API-shaped, newest first."""
    return history_of(2024, 3000)


def dump(fake: FakeServerAPI, visitor_ids: list[str]) -> str:
    data = {v: [converter.unstructure(x) for x in fake.visits_of(v)] for v in visitor_ids}
    return json.dumps(data)


def test_same_seed_same_data_other_seed_other_data() -> None:
    first, again, other = FakeServerAPI(now=NOW), FakeServerAPI(now=NOW), FakeServerAPI(now=NOW)
    ids = first.populate(visitors=6, visits_per_visitor=(1, 80), seed=7)
    assert again.populate(visitors=6, visits_per_visitor=(1, 80), seed=7) == ids
    other_ids = other.populate(visitors=6, visits_per_visitor=(1, 80), seed=8)
    assert dump(first, ids) == dump(again, ids)
    assert set(other_ids).isdisjoint(ids)


def test_populate_counts_and_ids() -> None:
    fake = FakeServerAPI()
    ids = fake.populate(visitors=30, visits_per_visitor=(3, 9), seed=1)
    assert len(set(ids)) == 30
    assert all(VISITOR_ID.fullmatch(v) for v in ids)
    assert fake.visitor_ids == ids
    counts = [fake.count_visits(v) for v in ids]
    assert all(3 <= c <= 9 for c in counts)
    assert len(set(counts)) > 1
    assert fake.count_visits() == sum(counts)
    fixed = FakeServerAPI()
    assert [fixed.count_visits(v) for v in fixed.populate(4, 12, seed=3)] == [12] * 4
    empty = FakeServerAPI()
    assert [empty.count_visits(v) for v in empty.populate(3, 0)] == [0, 0, 0]


def test_populate_refuses_bad_counts_and_a_seed_used_twice() -> None:
    fake = FakeServerAPI()
    with pytest.raises(ValueError, match="visits_per_visitor"):
        fake.populate(visitors=2, visits_per_visitor=(5, 1))
    with pytest.raises(ValueError, match="visitors"):
        fake.populate(visitors=-1)
    fake.populate(visitors=2, visits_per_visitor=1, seed=5)
    with pytest.raises(ValueError, match="another seed"):
        fake.populate(visitors=2, visits_per_visitor=1, seed=5)


def test_json_models_json_round_trip_is_exact(history: list[dict[str, Any]]) -> None:
    for raw in history:
        model = converter.structure(raw, Visit)
        assert json.loads(json.dumps(converter.unstructure(model))) == raw
        assert converter.structure(converter.unstructure(model), Visit) == model


def test_timestamps_are_unique_newest_first_over_the_retention_window(
    history: list[dict[str, Any]],
) -> None:
    timestamps = [v["timestamp"] for v in history]
    assert timestamps == sorted(timestamps, reverse=True)
    assert len(set(timestamps)) == len(timestamps)
    assert timedelta(0) <= timedelta(milliseconds=NOW - timestamps[0]) < timedelta(days=2)
    assert timedelta(milliseconds=NOW - timestamps[-1]) <= WINDOW
    assert timedelta(milliseconds=timestamps[0] - timestamps[-1]) >= WINDOW / 4 - timedelta(days=2)


def test_request_ids_and_time_agree_with_the_timestamp(history: list[dict[str, Any]]) -> None:
    forms = Counter()
    for visit in history:
        match = REQUEST_ID.fullmatch(visit["requestId"])
        assert match is not None
        assert int(match.group(1)) == visit["timestamp"]
        time_ms = parse_datetime(visit["time"]).timestamp() * 1000
        with_ms = "." in visit["time"]
        forms[with_ms] += 1
        # `time` is the timestamp to the millisecond, or to the second rounded down.
        expected = visit["timestamp"] if with_ms else visit["timestamp"] // 1000 * 1000
        assert round(time_ms) == expected
        assert visit["time"].endswith("Z")
    assert forms[True] > 100
    assert forms[False] > 100


def test_seen_at_follows_the_history(history: list[dict[str, Any]]) -> None:
    oldest_first = history[::-1]
    assert oldest_first[0]["visitorFound"] is False
    assert "lastSeenAt" not in oldest_first[0]
    for previous, visit in itertools.pairwise(oldest_first):
        assert visit["visitorFound"] is True
        seen = parse_datetime(visit["lastSeenAt"]["subscription"]).timestamp() * 1000
        assert round(seen) == previous["timestamp"]
    first = parse_datetime(history[0]["firstSeenAt"]["subscription"]).timestamp() * 1000
    assert round(first) == oldest_first[0]["timestamp"]
    assert history[0]["firstSeenAt"]["global"] <= history[0]["firstSeenAt"]["subscription"]


def test_looks_like_real_traffic() -> None:
    many = FakeServerAPI()
    visits = [
        converter.unstructure(v)
        for visitor_id in many.populate(visitors=40, visits_per_visitor=(20, 60), seed=3)
        for v in many.visits_of(visitor_id)
    ]
    browsers = Counter(v["browserDetails"]["browserName"] for v in visits)
    assert len(browsers) >= 5
    assert all("Mozilla/5.0" in v["browserDetails"]["userAgent"] for v in visits)
    versions = {ipaddress.ip_address(v["ip"]).version for v in visits}
    assert versions == {4, 6}
    incognito = sum(v["incognito"] for v in visits) / len(visits)
    assert 0 < incognito < 0.5
    scores = {v["confidence"]["score"] for v in visits}
    assert all(0 <= s <= 1 for s in scores)
    assert len(scores) > 3
    without_location = [v for v in visits if "ipLocation" not in v]
    assert 0 < len(without_location) < len(visits) * 0.1
    tags = [v["tag"] for v in visits]
    assert tags.count({}) > len(tags) / 2
    assert any(isinstance(value, dict) for tag in tags for value in tag.values())
    continents = {v["ipLocation"]["continent"]["code"] for v in visits if "ipLocation" in v}
    assert len(continents) >= 4


def test_geolocation_matches_the_address() -> None:
    visits = [converter.unstructure(v) for seed in range(5) for v in history_of(seed, 200)]
    city_of_network: dict[str, set[str]] = defaultdict(set)
    for visit in visits:
        if "ipLocation" not in visit:
            continue
        address = ipaddress.ip_address(visit["ip"])
        network = ipaddress.ip_network(
            f"{address}/{24 if address.version == 4 else 64}", strict=False
        )
        location = visit["ipLocation"]
        city_of_network[str(network)].add(location["city"]["name"])
        assert location["timezone"].count("/") >= 1
        assert -90 <= location["latitude"] <= 90
        assert -180 <= location["longitude"] <= 180
    assert all(len(cities) == 1 for cities in city_of_network.values())


def test_linked_ids_are_shared_by_runs_of_visits(history: list[dict[str, Any]]) -> None:
    linked = Counter(v["linkedId"] for v in history if "linkedId" in v)
    assert any(count >= 2 for count in linked.values())
    assert 0 < sum(linked.values()) < len(history)
    positions: dict[str, list[int]] = defaultdict(list)
    for i, visit in enumerate(history):
        if "linkedId" in visit:
            positions[visit["linkedId"]].append(i)
    # A group is a run of consecutive visits.
    for indexes in positions.values():
        assert indexes == list(range(indexes[0], indexes[0] + len(indexes)))
