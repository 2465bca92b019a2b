"""The v4 models: every documented property, every published example, one decoder for both.

The schema and the example bodies live in `../shared/spec/v4` beside the repository (never
copied into it); the tests that read them skip without it. The rest use the hand-written
`EVENT` below.
"""

from __future__ import annotations

import copy
import json
import linecache
import math
import pickle
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from _shared import V4_EXAMPLES, V4_SPEC, require

from fpjs_async import FrozenMapping, ResponseDecodeError, VisitorHistory, events
from fpjs_async import _converter as converter_module
from fpjs_async._converter import converter, decode_body, decode_history
from fpjs_async._errors import EXCERPT_CHARS
from fpjs_async._families import V4
from fpjs_async._models import JSON_KEY
from fpjs_async._structure import item_kind, split_optional
from fpjs_async.events import (
    Event,
    EventRuleAction,
    EventSearch,
    Geolocation,
    IPInfo,
    IPInfoV4,
    IPInfoV6,
    Plugin,
    PluginMimeType,
    RawDeviceAttributes,
    Subdivision,
    VelocityData,
)

#: The keys of the examples that the schema does not document, on purpose.
UNKNOWN_KEYS = {"unknown_field", "unknown_sub_field"}

EVENT: dict[str, Any] = {
    "event_id": "1708102555327.NLOjmg",
    "timestamp": 1708102555327,
    "tags": {"order": {"id": 7, "items": [1, 2]}},
    "identification": {
        "visitor_id": "Ibk1527CUFmcnjLwIs4A9",
        "visitor_found": True,
        "confidence": {"score": 1, "version": "1.1"},
        "first_seen_at": 1708000000000,
    },
    "ip_info": {
        "v4": {
            "address": "94.142.239.124",
            "geolocation": {
                "latitude": 50.05,
                "subdivisions": [{"iso_code": "10", "name": "Praha"}],
            },
            "asn": "7922",
        },
        "v6": {"address": "2001:db8::1"},
    },
    "velocity": {"events": {"5_minutes": 1, "1_hour": 5}},
    "raw_device_attributes": {
        "fonts": ["Arial", "Menlo"],
        "languages": [["en-US"], ["en-US", "en"]],
        "screen_resolution": [1920, 1080],
        "plugins": [{"name": "PDF Viewer", "mimeTypes": [{"type": "application/pdf"}]}],
    },
    "rule_action": {"type": "allow", "ruleset_id": "rs_1"},
}


def _spec_file(*parts: str) -> bytes:
    """The content of a file of the v4 spec; the test skips without it."""
    return require(V4_SPEC.joinpath(*parts)).read_bytes()


def _example(*parts: str) -> bytes:
    return _spec_file("paths", "examples", *parts)


def _examples() -> list[Any]:
    """Every example body of an event or a search page, as test parameters."""
    if not V4_EXAMPLES.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{V4_EXAMPLES} is absent"))]
    files = [
        *sorted((V4_EXAMPLES / "events").rglob("get_*.json")),
        V4_EXAMPLES / "webhook" / "webhook_event.json",
    ]
    return [pytest.param(path, id=str(path.relative_to(V4_EXAMPLES))) for path in files]


def _model_of(data: dict[str, Any]) -> type:
    return Event if "event_id" in data else EventSearch


@pytest.fixture(params=["json", "orjson"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Decoding as installed by default (`json`), then with the `speedups` extra (`orjson`).

    With `orjson`, every decoding must go through `_fast_decode`: the test fails on a body
    that `orjson` should have decoded but left to `json`.
    """
    if request.param == "json":
        monkeypatch.setattr(converter_module, "_fast_decode", None)
        yield "json"
        return
    pytest.importorskip("orjson")
    fast = converter_module._fast_decode
    assert fast is not None
    outcomes: list[str] = []

    def recording(content: bytes, model: type[Any]) -> Any:
        try:
            decoded = fast(content, model)
        except Exception:
            outcomes.append("fell back")
            raise
        outcomes.append("decoded")
        return decoded

    monkeypatch.setattr(converter_module, "_fast_decode", recording)
    yield "orjson"
    assert outcomes, "the orjson path was not taken"


# --- the schema ---------------------------------------------------------------------------


def _schema(path: str) -> dict[str, Any]:
    bundled = json.loads(_spec_file("bundled.json"))
    schema: dict[str, Any] = bundled["paths"][path]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    return schema


def _properties(schema: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The properties and required names of an object schema, its `oneOf` branches merged."""
    properties = dict(schema.get("properties", {}))
    required = set(schema.get("required", []))
    branches = schema.get("oneOf", [])
    for branch in branches:
        properties.update(branch.get("properties", {}))
    # A name is required of every object when the base or each branch requires it.
    if branches:
        required |= set.intersection(*(set(b.get("required", [])) for b in branches))
    return properties, required


_SCALARS = {"string": str, "integer": int, "number": float, "boolean": bool}


def _unwrap(annotation: Any) -> Any:
    return split_optional(annotation)[1]


def _schema_mismatches(schema: dict[str, Any], kind: Any, where: str) -> Iterator[str]:
    """Every way in which `kind` does not match `schema`, at any depth."""
    item = item_kind(kind)
    if schema.get("type") == "array":
        if item is None:
            yield f"{where}: an array, but {kind!r} is no tuple"
            return
        yield from _schema_mismatches(schema["items"], item, f"{where}[]")
        return
    if schema.get("type") in _SCALARS:
        if kind is not _SCALARS[schema["type"]]:
            yield f"{where}: {schema['type']}, but the field is {kind!r}"
        return
    properties, required = _properties(schema)
    if not properties:
        # A free-form object (`tags`: additionalProperties without properties).
        if kind is not FrozenMapping:
            yield f"{where}: a free-form object, but the field is {kind!r}"
        return
    if not attrs.has(kind):
        yield f"{where}: an object, but the field is {kind!r}"
        return
    fields = {V4.json_key(field): field for field in attrs.fields(attrs.resolve_types(kind))}
    for key in properties.keys() - fields.keys():
        yield f"{where}.{key}: documented, but {kind.__name__} has no field for it"
    for key in fields.keys() - properties.keys():
        yield f"{where}.{key}: a field of {kind.__name__} that the schema does not document"
    for key in properties.keys() & fields.keys():
        field = fields[key]
        is_required = field.default is attrs.NOTHING
        if is_required != (key in required):
            yield f"{where}.{key}: required is {key in required}, the field's is {is_required}"
        yield from _schema_mismatches(properties[key], _unwrap(field.type), f"{where}.{key}")


@pytest.mark.parametrize(
    ("path", "model"), [("/events/{event_id}", Event), ("/events", EventSearch)]
)
def test_every_documented_property_is_a_field_of_its_type(path: str, model: type) -> None:
    assert list(_schema_mismatches(_schema(path), model, model.__name__)) == []


def test_the_schema_walk_reports_what_does_not_match() -> None:
    schema = {
        "type": "object",
        "required": ["address", "asn"],
        "properties": {
            "address": {"type": "string"},
            "asn": {"type": "integer"},
            "isp": {"type": "string"},
            "geolocation": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    found = set(_schema_mismatches(schema, IPInfoV4, "v4"))
    assert {
        "v4.isp: documented, but IPInfoV4 has no field for it",
        "v4.asn_name: a field of IPInfoV4 that the schema does not document",
        "v4.asn: required is True, the field's is False",
        "v4.asn: integer, but the field is <class 'str'>",
        "v4.geolocation.city: documented, but Geolocation has no field for it",
    } <= found


def test_every_public_class_of_events_is_a_frozen_slotted_model() -> None:
    for name in events.__all__:
        model = getattr(events, name)
        assert attrs.has(model), name
        assert model.__setattr__ is not object.__setattr__, name
        assert "__dict__" not in dir(model), name


# --- the published examples ---------------------------------------------------------------


def _assert_matches(value: Any, data: Any, where: str) -> None:
    """`value`, decoded from the JSON `data`, holds exactly the documented parts of it."""
    if attrs.has(type(value)):
        assert type(data) is dict, where
        fields = {V4.json_key(field): field.name for field in attrs.fields(type(value))}
        assert data.keys() - fields.keys() <= UNKNOWN_KEYS, where
        for key, name in fields.items():
            if key not in data:
                assert getattr(value, name) is None, f"{where}.{key}"
            else:
                _assert_matches(getattr(value, name), data[key], f"{where}.{key}")
    elif type(data) is list:
        assert type(value) is tuple, where
        assert len(value) == len(data), where
        for index, (item, raw) in enumerate(zip(value, data, strict=True)):
            _assert_matches(item, raw, f"{where}[{index}]")
    elif type(data) is dict:
        assert type(value) is FrozenMapping, where
        assert value == data, where
    elif type(data) is float or (type(data) is int and type(value) is float):
        # A JSON number: an integer literal in a `number` field becomes a float.
        assert type(value) is float, where
        assert value == data, where
    else:
        assert type(value) is type(data), where
        assert value == data, where


def _without_unknown_keys(data: Any) -> Any:
    if type(data) is dict:
        return {k: _without_unknown_keys(v) for k, v in data.items() if k not in UNKNOWN_KEYS}
    if type(data) is list:
        return [_without_unknown_keys(item) for item in data]
    return data


@pytest.mark.parametrize("path", _examples())
def test_example_bodies_decode_field_by_field(path: Path, parser: str) -> None:
    content = path.read_bytes()
    data = json.loads(content)
    decoded: Any = decode_body(content, _model_of(data))
    _assert_matches(decoded, data, "")
    # Back to the API's own JSON: v4's keys, documented fields only, absent ones left out.
    assert converter.unstructure(decoded) == _without_unknown_keys(data)
    assert converter.structure(converter.unstructure(decoded), type(decoded)) == decoded
    assert decode_body(json.dumps(converter.unstructure(decoded)).encode(), type(decoded)) == (
        decoded
    )


def test_example_event_spot_checks(parser: str) -> None:
    event = decode_body(_example("events", "get_event_200.json"), Event)
    assert event.event_id == "1708102555327.NLOjmg"
    assert event.time.isoformat() == "2024-02-16T16:55:55.327000+00:00"
    assert event.tags == FrozenMapping()
    assert event.identification is not None
    assert event.identification.visitor_id == "Ibk1527CUFmcnjLwIs4A9"
    assert event.identification.first_seen_at == 1708102555327
    assert event.supplementary_id_high_recall is not None
    assert event.supplementary_id_high_recall.confidence is not None
    assert event.supplementary_id_high_recall.confidence.score == 0.0
    assert type(event.supplementary_id_high_recall.confidence.score) is float
    assert event.ip_info is not None
    assert type(event.ip_info.v4) is IPInfoV4
    assert type(event.ip_info.v6) is IPInfoV6
    assert event.ip_info.v4.geolocation is not None
    assert event.ip_info.v4.geolocation.subdivisions == (Subdivision("10", "Hlavni mesto Praha"),)
    assert event.ip_info.v6.datacenter_name == ""
    assert event.velocity is not None
    assert event.velocity.distinct_linked_id == VelocityData(1, 5, 5)
    assert event.proximity is not None
    assert event.proximity.precision_radius == 10
    attributes = event.raw_device_attributes
    assert attributes is not None
    assert attributes.languages == (("en-US",),)
    assert attributes.screen_resolution == (1920, 1080)
    assert attributes.webgl_extensions is not None
    assert attributes.webgl_extensions.unsupported_extensions == ()
    assert attributes.plugins is not None
    assert attributes.plugins[0].mime_types == (
        PluginMimeType("application/pdf", "pdf"),
        PluginMimeType("text/pdf", "pdf"),
    )
    assert attributes.emoji is not None
    assert attributes.emoji.bottom == 32.0
    assert event.labels is not None
    assert event.labels[0].label == "fraud"
    assert event.rule_action is None
    assert event.bot_info is None


def test_example_rule_action_bot_info_edge_and_search(parser: str) -> None:
    ruleset = decode_body(_example("events", "get_event_ruleset_200.json"), Event)
    assert ruleset.rule_action is not None
    assert ruleset.rule_action.type == "block"
    assert ruleset.rule_action.status_code == 403
    assert ruleset.rule_action.headers is not None
    assert ruleset.rule_action.headers[0].name == "Content-Type"
    assert ruleset.rule_action.request_header_modifications is None
    bot = decode_body(_example("events", "get_event_with_bot_info_200.json"), Event)
    assert bot.bot == "good"
    assert bot.bot_type == "chatgpt_agent"
    assert bot.bot_info is not None
    assert (bot.bot_info.category, bot.bot_info.identity) == ("ai_agent", "signed")
    edge = decode_body(_example("events", "get_event_with_edge_200.json"), Event)
    assert edge.source == "edge"
    assert edge.identification is None
    assert edge.ip_info is not None
    assert edge.ip_info.v6 is None
    assert edge.vpn_methods is not None
    assert edge.vpn_methods.relay is False
    assert edge.vpn_methods.os_mismatch is None
    search = decode_body(_example("events", "search", "get_event_search_200.json"), EventSearch)
    assert len(search.events) == 1
    assert search.has_more
    assert search.next_page_params() == {"pagination_key": search.pagination_key}
    assert search.total_hits is None


def test_unknown_fields_are_ignored(parser: str) -> None:
    known = decode_body(_example("events", "get_event_200.json"), Event)
    extended = _example("events", "get_event_200_with_unknown_field.json")
    assert b"unknown_field" in extended
    assert decode_body(extended, Event) == known


# --- decoding, by hand-written bodies -----------------------------------------------------


def _search(*bodies: dict[str, Any], **fields: Any) -> bytes:
    return json.dumps({"events": list(bodies), **fields}).encode()


def _event(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(EVENT)
    event.update(changes)
    return event


def test_a_hand_written_event_decodes(parser: str) -> None:
    page = decode_body(_search(_event(), _event(event_id="2"), total_hits=2), EventSearch)
    assert page.total_hits == 2
    assert not page.has_more
    assert page.next_page_params() is None
    first = page.events[0]
    assert first.identification is not None
    assert first.identification.confidence is not None
    assert first.identification.confidence.score == 1.0
    assert first.identification.last_seen_at is None
    assert first.ip_info == IPInfo(
        IPInfoV4(
            "94.142.239.124",
            Geolocation(latitude=50.05, subdivisions=(Subdivision("10", "Praha"),)),
            asn="7922",
        ),
        IPInfoV6("2001:db8::1"),
    )
    assert first.velocity is not None
    assert first.velocity.events == VelocityData(five_minutes=1, one_hour=5)
    assert first.raw_device_attributes == RawDeviceAttributes(
        fonts=("Arial", "Menlo"),
        languages=(("en-US",), ("en-US", "en")),
        screen_resolution=(1920, 1080),
        plugins=(Plugin("PDF Viewer", mime_types=(PluginMimeType("application/pdf"),)),),
    )
    assert first.rule_action == EventRuleAction("rs_1", "allow")
    assert page.events[1].event_id == "2"


def test_only_event_id_and_timestamp_are_required(parser: str) -> None:
    event = decode_body(b'{"event_id": "e", "timestamp": 0}', Event)
    assert event == Event("e", 0)
    assert all(getattr(event, a.name) is None for a in attrs.fields(Event)[2:])
    assert converter.unstructure(event) == {"event_id": "e", "timestamp": 0}


@pytest.mark.parametrize(
    "changes",
    [
        {"bot": "very_bad"},
        {"sdk": {"platform": "windows", "version": "1"}},
        {"proximity": {"id": "p", "precision_radius": 77, "confidence": 0.5}},
        {"rule_action": {"type": "challenge", "ruleset_id": "rs_1", "status_code": 429}},
        {"rare_device_percentile_bucket": "p99.99+"},
        {
            "bot_info": dict.fromkeys(
                ("category", "provider", "name", "identity", "confidence"), "x"
            )
        },
    ],
)
def test_enum_values_the_schema_does_not_list_are_kept(
    changes: dict[str, Any], parser: str
) -> None:
    event = decode_body(json.dumps(_event(**changes)).encode(), Event)
    assert converter.unstructure(event) == _event(**changes)


WRONG_TYPES: list[tuple[dict[str, Any], str]] = [
    ({"event_id": 1}, "event_id: expected str, got int"),
    ({"timestamp": 1.5}, "timestamp: expected int, got float"),
    ({"timestamp": True}, "timestamp: expected int, got bool"),
    ({"suspect": "false"}, "suspect: expected bool, got str"),
    ({"tags": ["a"]}, "tags: expected an object, got list"),
    ({"identification": []}, "identification: expected an object, got list"),
    (
        {"identification": {"visitor_found": True}},
        "identification.visitor_id: required, but missing",
    ),
    (
        {
            "identification": {
                "visitor_id": "v",
                "visitor_found": True,
                "confidence": {"score": "1"},
            }
        },
        "identification.confidence.score: expected a number, got str",
    ),
    ({"ip_info": {"v4": {"address": "a", "asn": 7922}}}, "ip_info.v4.asn: expected str, got int"),
    (
        {"ip_info": {"v6": {"address": "a", "geolocation": {"subdivisions": [{}, {"name": "n"}]}}}},
        "ip_info.v6.geolocation.subdivisions[0].iso_code: required, but missing",
    ),
    (
        {"ip_info": {"v4": {"address": "a", "geolocation": {"subdivisions": {"iso_code": "x"}}}}},
        "ip_info.v4.geolocation.subdivisions: expected an array, got dict",
    ),
    ({"velocity": {"events": {"5_minutes": 1}}}, "velocity.events.1_hour: required, but missing"),
    (
        {"velocity": {"ip_events": {"5_minutes": 1, "1_hour": 2.0}}},
        "velocity.ip_events.1_hour: expected int, got float",
    ),
    (
        {"raw_device_attributes": {"fonts": ["Arial", 7]}},
        "raw_device_attributes.fonts[1]: expected str, got int",
    ),
    (
        {"raw_device_attributes": {"screen_resolution": [1920, True]}},
        "raw_device_attributes.screen_resolution[1]: expected int, got bool",
    ),
    (
        {"raw_device_attributes": {"languages": [["en"], ["de", None]]}},
        "raw_device_attributes.languages[1][1]: expected str, got NoneType",
    ),
    (
        {"raw_device_attributes": {"languages": ["en"]}},
        "raw_device_attributes.languages[0]: expected an array, got str",
    ),
    (
        {
            "raw_device_attributes": {
                "plugins": [{"name": "a"}, {"name": "b", "mimeTypes": [{"type": 1}]}]
            }
        },
        "raw_device_attributes.plugins[1].mimeTypes[0].type: expected str, got int",
    ),
    ({"labels": [None]}, "labels[0]: expected an object, got NoneType"),
    ({"rule_action": {"type": "allow"}}, "rule_action.ruleset_id: required, but missing"),
]


@pytest.mark.parametrize(("changes", "reason"), WRONG_TYPES)
def test_wrong_types_name_where_they_are(changes: dict[str, Any], reason: str, parser: str) -> None:
    content = _search(_event(), _event(), _event(), _event(**changes), pagination_key="pk")
    with pytest.raises(ResponseDecodeError) as caught:
        decode_body(content, EventSearch, status=203)
    assert caught.value.reason == f"events[3].{reason}"
    assert caught.value.status == 203
    assert caught.value.excerpt == content[:EXCERPT_CHARS].decode()
    with pytest.raises(ResponseDecodeError) as alone:
        decode_body(json.dumps(_event(**changes)).encode(), Event)
    assert alone.value.reason == reason


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"pagination_key": "pk"}', "events: required, but missing"),
        (b'{"events": {}}', "events: expected an array, got dict"),
        (
            b'{"events": [{"event_id": "e", "timestamp": 1}, 7]}',
            "events[1]: expected an object, got int",
        ),
        (b'{"events": [], "total_hits": "10"}', "total_hits: expected int, got str"),
        (b'{"events": [{"timestamp": 1}]}', "events[0].event_id: required, but missing"),
        (b"[]", "the body is not a JSON object"),
        (b"<html>", "invalid JSON"),
    ],
)
def test_search_pages_that_are_not_the_documented_json(
    content: bytes, reason: str, parser: str
) -> None:
    with pytest.raises(ResponseDecodeError) as caught:
        decode_body(content, EventSearch)
    assert caught.value.reason.startswith(reason)


def test_the_traceback_shows_the_generated_line() -> None:
    data = _event(ip_info={"v4": {"address": "a", "asn": 7922}})
    with pytest.raises(ValueError, match=r"ip_info\.v4\.asn: expected str") as caught:
        converter.structure(data, Event)
    frames = traceback.extract_tb(caught.value.__traceback__)
    generated = [frame for frame in frames if frame.filename.startswith("<fpjs_async")]
    assert generated
    raising = generated[-1]
    assert raising.line is not None
    assert raising.line.startswith("raise _wrong_type('ip_info.v4.asn', 'str', ")
    assert raising.lineno is not None
    assert linecache.getline(raising.filename, raising.lineno).strip() == raising.line


def test_decode_body_wants_a_model_of_the_api() -> None:
    with pytest.raises(TypeError, match="model"):
        decode_body(b"{}", dict)


def test_decode_history_is_decode_body_of_a_visitor_history() -> None:
    content = b'{"visitorId": "v", "visits": []}'
    assert decode_history(content) == decode_body(content, VisitorHistory)


# --- the orjson fast path -----------------------------------------------------------------


def test_orjson_and_json_decode_alike() -> None:
    pytest.importorskip("orjson")
    content = _search(_event(), _event(event_id="2"), pagination_key="pk")
    fast = converter_module._fast_decode
    assert fast is not None
    assert fast(content, EventSearch) == decode_body(content, EventSearch)


@pytest.mark.parametrize(
    "content",
    [
        # NaN is not JSON but `json` reads it, and `orjson` refuses it.
        b'{"event_id": "e", "timestamp": 1, "proxy_ml_score": NaN}',
        # An integer beyond 64 bits in a free-form object: `orjson` would make it a float.
        b'{"event_id": "e", "timestamp": 1, "tags": {"n": 123456789012345678901234567890}}',
    ],
)
def test_bodies_orjson_reads_differently_are_decided_by_json(content: bytes) -> None:
    pytest.importorskip("orjson")
    fast = converter_module._fast_decode
    assert fast is not None
    with pytest.raises((ValueError, converter_module.NotExact)):
        fast(content, Event)
    event = decode_body(content, Event)
    if event.tags is not None:
        assert event.tags["n"] == 123456789012345678901234567890
    else:
        assert event.proxy_ml_score is not None
        assert math.isnan(event.proxy_ml_score)


# --- the models ---------------------------------------------------------------------------


def test_tags_are_read_only_and_arrays_are_tuples(parser: str) -> None:
    event = decode_body(json.dumps(EVENT).encode(), Event)
    tags = event.tags
    assert isinstance(tags, FrozenMapping)
    assert tags["order"]["items"] == (1, 2)
    with pytest.raises(TypeError):
        tags["order"] = 1  # type: ignore[index]
    assert tags.thaw() == EVENT["tags"]
    attributes = event.raw_device_attributes
    assert attributes is not None
    assert type(attributes.fonts) is tuple
    assert attributes.languages is not None
    assert type(attributes.languages[0]) is tuple
    assert attributes.plugins is not None
    assert type(attributes.plugins[0].mime_types) is tuple
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.event_id = "x"  # type: ignore[misc]
    assert {event, decode_body(json.dumps(EVENT).encode(), Event)} == {event}


def test_events_pickle(parser: str) -> None:
    page = decode_body(_search(_event(), _event(event_id="2")), EventSearch)
    assert pickle.loads(pickle.dumps(page)) == page


def test_json_keys_that_are_no_identifiers_are_in_the_metadata() -> None:
    fields = attrs.fields_dict(VelocityData)
    assert [fields[name].metadata[JSON_KEY] for name in fields] == [
        "5_minutes",
        "1_hour",
        "24_hours",
    ]
    assert attrs.fields_dict(Plugin)["mime_types"].metadata[JSON_KEY] == "mimeTypes"
    assert converter.unstructure(VelocityData(1, 2)) == {"5_minutes": 1, "1_hour": 2}


def test_event_time_is_exact_to_the_millisecond() -> None:
    assert Event("e", 1708102555327).time.isoformat() == "2024-02-16T16:55:55.327000+00:00"
    assert Event("e", 0).time.year == 1970


@pytest.mark.parametrize(
    ("pagination_key", "has_more", "params"),
    [
        (None, False, None),
        ("pk", True, {"pagination_key": "pk"}),
        ("", True, {"pagination_key": ""}),
    ],
)
def test_search_cursor_helpers(
    pagination_key: str | None, has_more: bool, params: dict[str, Any] | None
) -> None:
    page = EventSearch((), pagination_key=pagination_key)
    assert page.has_more is has_more
    assert page.next_page_params() == params
