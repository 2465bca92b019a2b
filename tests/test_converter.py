"""The converter: lenient about presence, strict about types, datetimes on every Python."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
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
from fpjs_async._converter import (
    _parse_datetime_portable,
    converter,
    decode_history,
    format_datetime,
    parse_datetime,
    to_camel,
)
from fpjs_async._errors import EXCERPT_CHARS

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
    ("body", "field"),
    [
        ({"visits": []}, "visitorId"),
        ({"visitorId": "v"}, "visits"),
        ({"visitorId": "v", "visits": [{"timestamp": 1}]}, "requestId"),
        ({"visitorId": "v", "visits": [{"requestId": "r"}]}, "timestamp"),
    ],
)
def test_required_fields_missing(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ResponseDecodeError) as caught:
        decode_history(encode(body))
    assert field in str(caught.value)
    assert caught.value.status == 200


WRONG_TYPES: list[dict[str, Any]] = [
    history(visitorId=None),
    history(visitorId=5),
    history(visits=None),
    history(visits={"0": MINIMAL_VISIT}),
    history(visits="[]"),
    history(None),
    history("visit"),
    history(lastTimestamp="1655373953086"),
    history(lastTimestamp=1.5),
    history(paginationKey=1655373953086),
    history(visit(requestId=None)),
    history(visit(requestId=1708102555327)),
    history(visit(timestamp="1708102555327")),
    history(visit(timestamp=True)),
    history(visit(timestamp=1708102555327.5)),
    history(visit(timestamp=None)),
    history(visit(incognito=1)),
    history(visit(incognito="false")),
    history(visit(visitorFound=0)),
    history(visit(time=1708102555)),
    history(visit(time="yesterday")),
    history(visit(time="2024-13-01T00:00:00Z")),
    history(visit(time="2024-02-16T16:55:55+25:00")),
    history(visit(time="0001-01-01T00:00:00+01:00")),
    history(visit(ipLocation="Paris")),
    history(visit(ipLocation=[])),
    history(visit(ipLocation={"accuracyRadius": "20"})),
    history(visit(ipLocation={"accuracyRadius": True})),
    history(visit(ipLocation={"latitude": "48.8"})),
    history(visit(ipLocation={"subdivisions": {"isoCode": "IDF"}})),
    history(visit(ipLocation={"subdivisions": [None]})),
    history(visit(ipLocation={"city": "Paris"})),
    history(visit(browserDetails={"botProbability": False})),
    history(visit(browserDetails={"browserMajorVersion": 122})),
    history(visit(confidence={"score": "1"})),
    history(visit(tag=["a"])),
    history(visit(tag="a")),
    history(visit(components=[])),
    history(visit(firstSeenAt="2022-02-04T11:31:20Z")),
    history(visit(lastSeenAt={"global": 1})),
]


@pytest.mark.parametrize("body", WRONG_TYPES)
def test_wrong_json_types_raise_response_decode_error(body: dict[str, Any]) -> None:
    content = encode(body)
    with pytest.raises(ResponseDecodeError) as caught:
        decode_history(content, status=203)
    error = caught.value
    assert type(error) is ResponseDecodeError
    assert error.status == 203
    assert error.excerpt == content[:EXCERPT_CHARS].decode()
    assert "HTTP 203" in str(error)


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


DATETIMES = [
    ("2019-05-21T16:40:13Z", datetime(2019, 5, 21, 16, 40, 13, tzinfo=UTC)),
    ("2022-06-16T10:03:00.912Z", datetime(2022, 6, 16, 10, 3, 0, 912000, tzinfo=UTC)),
    ("2022-06-16T10:03:00.43Z", datetime(2022, 6, 16, 10, 3, 0, 430000, tzinfo=UTC)),
    ("2022-06-16T10:03:00.1Z", datetime(2022, 6, 16, 10, 3, 0, 100000, tzinfo=UTC)),
    ("2022-06-16T10:03:00.123456Z", datetime(2022, 6, 16, 10, 3, 0, 123456, tzinfo=UTC)),
    ("2022-06-16T10:03:00.1234567Z", datetime(2022, 6, 16, 10, 3, 0, 123456, tzinfo=UTC)),
    ("2022-06-16T12:03:00+02:00", datetime(2022, 6, 16, 10, 3, tzinfo=UTC)),
    ("2022-06-16T04:33:00.5-05:30", datetime(2022, 6, 16, 10, 3, 0, 500000, tzinfo=UTC)),
    ("2022-06-16T10:03:00+00:00", datetime(2022, 6, 16, 10, 3, tzinfo=UTC)),
    ("2022-06-16T10:03:00", datetime(2022, 6, 16, 10, 3, tzinfo=UTC)),
    ("2022-06-16 10:03:00Z", datetime(2022, 6, 16, 10, 3, tzinfo=UTC)),
]


@pytest.mark.parametrize("parse", [parse_datetime, _parse_datetime_portable])
@pytest.mark.parametrize(("text", "expected"), DATETIMES)
def test_datetimes_become_aware_utc(parse: Any, text: str, expected: datetime) -> None:
    parsed = parse(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2022-06-16",
        "2022-06-16T10:03Z",
        "2022-13-16T10:03:00Z",
        "2022-06-16T10:03:00+24:00",
    ],
)
def test_portable_parser_refuses_what_is_not_a_date_time(text: str) -> None:
    with pytest.raises(ValueError, match=r"ISO 8601|month|offset"):
        _parse_datetime_portable(text)


@pytest.mark.parametrize("value", [None, 1655373953, b"2022-06-16T10:03:00Z"])
def test_parse_datetime_wants_text(value: Any) -> None:
    with pytest.raises(TypeError):
        parse_datetime(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2022, 6, 16, 10, 3, tzinfo=UTC), "2022-06-16T10:03:00Z"),
        (datetime(2022, 6, 16, 10, 3, 0, 912000, tzinfo=UTC), "2022-06-16T10:03:00.912Z"),
        (datetime(2022, 6, 16, 10, 3, 0, 123456, tzinfo=UTC), "2022-06-16T10:03:00.123456Z"),
        (
            datetime(2022, 6, 16, 12, 3, tzinfo=timezone(timedelta(hours=2))),
            "2022-06-16T10:03:00Z",
        ),
    ],
)
def test_format_datetime(value: datetime, text: str) -> None:
    assert format_datetime(value) == text
    assert parse_datetime(text) == value
