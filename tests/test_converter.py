"""The converter: lenient about presence, strict about types, datetimes on every Python."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from _bodies import FULL_VISIT, HTML_PAGE, MINIMAL_VISIT, VISITOR_ID, encode, history, visit

from fpjs_async import (
    BrowserDetails,
    City,
    Confidence,
    Continent,
    Country,
    IPLocation,
    ResponseDecodeError,
    SeenAt,
    Subdivision,
    Visit,
    VisitorHistory,
)
from fpjs_async._converter import converter, decode_history
from fpjs_async._errors import EXCERPT_CHARS
from fpjs_async._families import to_camel

UTC = timezone.utc


def test_a_full_body_decodes_into_every_model() -> None:
    page = decode_history(encode(history(visit(), MINIMAL_VISIT, lastTimestamp=5)))
    assert page == VisitorHistory(
        visitor_id=VISITOR_ID,
        visits=(
            Visit(
                request_id="1708102555327.NLOjmg",
                timestamp=1708102555327,
                time=datetime(2024, 2, 16, 16, 55, 55, 327000, tzinfo=UTC),
                incognito=False,
                linked_id="order-7",
                url="https://shop.example/checkout",
                ip="203.0.113.7",
                ip_location=IPLocation(
                    accuracy_radius=20,
                    latitude=48.8566,
                    longitude=2.3522,
                    postal_code="75001",
                    timezone="Europe/Paris",
                    city=City("Paris"),
                    country=Country("FR", "France"),
                    continent=Continent("EU", "Europe"),
                    subdivisions=(Subdivision("IDF", "Ile-de-France"),),
                ),
                browser_details=BrowserDetails(
                    browser_name="Firefox",
                    browser_major_version="122",
                    browser_full_version="122.0.1",
                    os="Linux",
                    os_version="6.1",
                    device="Other",
                    user_agent=FULL_VISIT["browserDetails"]["userAgent"],
                    bot_probability=0.25,
                ),
                tag=FULL_VISIT["tag"],  # type: ignore[arg-type]
                confidence=Confidence(0.97, "v1.1", "steady"),
                visitor_found=True,
                first_seen_at=SeenAt(
                    datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC),
                    datetime(2023, 5, 6, 7, 8, 9, 500000, tzinfo=UTC),
                ),
                last_seen_at=SeenAt(datetime(2024, 2, 16, 16, 50, 0, 430000, tzinfo=UTC), None),
                components=FULL_VISIT["components"],  # type: ignore[arg-type]
            ),
            Visit(request_id="1708100000000.AbCdEf", timestamp=1708100000000),
        ),
        last_timestamp=5,
        pagination_key=None,
    )


def test_unknown_keys_are_ignored_at_every_level() -> None:
    body = visit(newVisitField=1)
    body["ipLocation"]["city"]["geonameId"] = 2988507
    body["ipLocation"]["subdivisions"][0]["extra"] = [1]
    body["browserDetails"]["engine"] = "Gecko"
    body["confidence"]["calibrated"] = True
    body["firstSeenAt"]["regional"] = "2024-01-01T00:00:00Z"
    with_extras = decode_history(encode(history(body, newTopLevel={"x": 1})))
    assert with_extras == decode_history(encode(history(visit())))


def test_documented_but_missing_fields_are_none() -> None:
    page = decode_history(
        encode({"visitorId": "v", "visits": [MINIMAL_VISIT, visit(ipLocation={})]})
    )
    assert page.last_timestamp is None
    assert page.pagination_key is None
    assert page.visits[0] == Visit(MINIMAL_VISIT["requestId"], MINIMAL_VISIT["timestamp"])
    assert page.visits[1].ip_location == IPLocation()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"visits": []}, "visitorId: required, but missing"),
        ({"visitorId": "v"}, "visits: required, but missing"),
        (
            {"visitorId": "v", "visits": [{"timestamp": 1}]},
            "visits[0].requestId: required, but missing",
        ),
        (
            {"visitorId": "v", "visits": [MINIMAL_VISIT, {"requestId": "r"}]},
            "visits[1].timestamp: required, but missing",
        ),
    ],
)
def test_required_fields_missing(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(ResponseDecodeError) as caught:
        decode_history(encode(body))
    assert caught.value.reason == reason
    assert caught.value.status == 200


#: Bodies with a value of the wrong JSON type, and the start of the reason the error gives.
WRONG_TYPES: list[tuple[dict[str, Any], str]] = [
    (history(visitorId=None), "visitorId: expected str, got NoneType"),
    (history(visitorId=5), "visitorId: expected str, got int"),
    (history(visits=None), "visits: expected an array, got NoneType"),
    (history(visits={"0": MINIMAL_VISIT}), "visits: expected an array, got dict"),
    (history(visits="[]"), "visits: expected an array, got str"),
    (history(None), "visits[0]: expected an object, got NoneType"),
    (history("visit"), "visits[0]: expected an object, got str"),
    (history(lastTimestamp="1655373953086"), "lastTimestamp: expected int, got str"),
    (history(lastTimestamp=1.5), "lastTimestamp: expected int, got float"),
    (history(paginationKey=1655373953086), "paginationKey: expected str, got int"),
    (history(visit(requestId=None)), "visits[0].requestId: expected str, got NoneType"),
    (history(visit(requestId=1708102555327)), "visits[0].requestId: expected str, got int"),
    (history(visit(timestamp="1708102555327")), "visits[0].timestamp: expected int, got str"),
    (history(visit(timestamp=True)), "visits[0].timestamp: expected int, got bool"),
    (history(visit(timestamp=1708102555327.5)), "visits[0].timestamp: expected int, got float"),
    (history(visit(timestamp=None)), "visits[0].timestamp: expected int, got NoneType"),
    (history(visit(incognito=1)), "visits[0].incognito: expected bool, got int"),
    (history(visit(incognito="false")), "visits[0].incognito: expected bool, got str"),
    (history(visit(visitorFound=0)), "visits[0].visitorFound: expected bool, got int"),
    (history(visit(time=1708102555)), "visits[0].time: expected str, got int"),
    (history(visit(time="yesterday")), "visits[0].time: "),
    (history(visit(time="2024-13-01T00:00:00Z")), "visits[0].time: "),
    (history(visit(time="2024-02-16T16:55:55+25:00")), "visits[0].time: "),
    (history(visit(time="0001-01-01T00:00:00+01:00")), "visits[0].time: "),
    (history(visit(ipLocation="Paris")), "visits[0].ipLocation: expected an object, got str"),
    (history(visit(ipLocation=[])), "visits[0].ipLocation: expected an object, got list"),
    (
        history(visit(ipLocation={"accuracyRadius": "20"})),
        "visits[0].ipLocation.accuracyRadius: expected int, got str",
    ),
    (
        history(visit(ipLocation={"accuracyRadius": True})),
        "visits[0].ipLocation.accuracyRadius: expected int, got bool",
    ),
    (
        history(visit(ipLocation={"latitude": "48.8"})),
        "visits[0].ipLocation.latitude: expected a number, got str",
    ),
    (
        history(visit(ipLocation={"subdivisions": {"isoCode": "IDF"}})),
        "visits[0].ipLocation.subdivisions: expected an array, got dict",
    ),
    (
        history(visit(ipLocation={"subdivisions": [None]})),
        "visits[0].ipLocation.subdivisions[0]: expected an object, got NoneType",
    ),
    (
        history(visit(ipLocation={"city": "Paris"})),
        "visits[0].ipLocation.city: expected an object, got str",
    ),
    (
        history(visit(browserDetails={"botProbability": False})),
        "visits[0].browserDetails.botProbability: expected a number, got bool",
    ),
    (
        history(visit(browserDetails={"browserMajorVersion": 122})),
        "visits[0].browserDetails.browserMajorVersion: expected str, got int",
    ),
    (
        history(visit(confidence={"score": "1"})),
        "visits[0].confidence.score: expected a number, got str",
    ),
    (history(visit(tag=["a"])), "visits[0].tag: expected an object, got list"),
    (history(visit(tag="a")), "visits[0].tag: expected an object, got str"),
    (history(visit(components=[])), "visits[0].components: expected an object, got list"),
    (
        history(visit(firstSeenAt="2022-02-04T11:31:20Z")),
        "visits[0].firstSeenAt: expected an object, got str",
    ),
    (
        history(visit(lastSeenAt={"global": 1})),
        "visits[0].lastSeenAt.global: expected str, got int",
    ),
    (
        history(visit(), visit(), visit(ipLocation={"city": {"name": 75001}})),
        "visits[2].ipLocation.city.name: expected str, got int",
    ),
]


@pytest.mark.parametrize(("body", "reason"), WRONG_TYPES)
def test_wrong_json_types_raise_response_decode_error(body: dict[str, Any], reason: str) -> None:
    content = encode(body)
    with pytest.raises(ResponseDecodeError) as caught:
        decode_history(content, status=203)
    error = caught.value
    assert type(error) is ResponseDecodeError
    assert error.status == 203
    assert error.excerpt == content[:EXCERPT_CHARS].decode()
    assert "HTTP 203" in str(error)
    # Where the value is, then what is wrong with it (a datetime's parser words its own).
    assert error.reason.startswith(reason)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "invalid JSON"),
        (b"   ", "invalid JSON"),
        (b"not json", "invalid JSON"),
        (HTML_PAGE, "invalid JSON"),
        (b'{"visitorId": "v", "visits": [', "invalid JSON"),
        (b"\xff\xfe{}", "invalid JSON"),
        (b"[]", "not a JSON object"),
        (encode([history()]), "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (b"null", "not a JSON object"),
        (b"42", "not a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, ""),
        (b'{"visitorId": "v", "visits": [], "tag": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", ""),
        # Deep enough for freezing `tag` to exhaust the stack, shallow enough for `json`.
        (
            b'{"visitorId": "v", "visits": [{"requestId": "r", "timestamp": 1, "tag": {"deep": '
            + b"[" * 600
            + b"]" * 600
            + b"}}]}",
            "nested too deeply",
        ),
    ],
)
def test_bodies_that_are_not_the_documented_json(content: bytes, reason: str) -> None:
    with pytest.raises(ResponseDecodeError) as caught:
        decode_history(content)
    error = caught.value
    assert reason in error.reason
    assert error.status == 200
    assert error.excerpt == content[:EXCERPT_CHARS].decode("utf-8", "replace")
    assert len(str(error)) < EXCERPT_CHARS + 200


def test_round_trip_structure_unstructure_structure() -> None:
    original = history(visit(), MINIMAL_VISIT, lastTimestamp=1708100000000, paginationKey="pk")
    page = decode_history(encode(original))
    unstructured = converter.unstructure(page)
    assert converter.structure(unstructured, VisitorHistory) == page
    # Back to the API's own JSON: camelCase names, `Z` times, missing fields left out.
    assert unstructured["visits"][1] == MINIMAL_VISIT
    first = unstructured["visits"][0]
    assert first["time"] == "2024-02-16T16:55:55.327Z"
    assert first["firstSeenAt"] == {
        "global": "2023-01-02T03:04:05Z",
        "subscription": "2023-05-06T07:08:09.500Z",
    }
    assert first["tag"] == original["visits"][0]["tag"]
    assert type(first["tag"]) is dict
    assert unstructured["lastTimestamp"] == 1708100000000
    assert unstructured["paginationKey"] == "pk"


@pytest.mark.parametrize(
    ("name", "camel"),
    [("ip_location", "ipLocation"), ("global_", "global"), ("url", "url"), ("iso_code", "isoCode")],
)
def test_to_camel(name: str, camel: str) -> None:
    assert to_camel(name) == camel
