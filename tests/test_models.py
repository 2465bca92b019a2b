"""The models: frozen values all the way down, hashable, with cursor helpers."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from _bodies import history, visit

from fpjs_async import (
    BrowserDetails,
    City,
    Confidence,
    Continent,
    Country,
    FrozenMapping,
    IPLocation,
    SeenAt,
    Subdivision,
    Visit,
    VisitorHistory,
)
from fpjs_async._converter import converter
from fpjs_async._models import freeze, thaw

PAGE = converter.structure(history(visit()), VisitorHistory)
VISIT = PAGE.visits[0]

#: Every model, reached from a decoded page, with one of its fields.
MODEL_FIELDS: list[tuple[Callable[[], Any], str]] = [
    (lambda: PAGE, "visitor_id"),
    (lambda: VISIT, "request_id"),
    (lambda: VISIT.ip_location, "latitude"),
    (lambda: VISIT.ip_location.city, "name"),
    (lambda: VISIT.ip_location.country, "code"),
    (lambda: VISIT.ip_location.continent, "name"),
    (lambda: VISIT.ip_location.subdivisions[0], "iso_code"),
    (lambda: VISIT.browser_details, "bot_probability"),
    (lambda: VISIT.confidence, "score"),
    (lambda: VISIT.first_seen_at, "global_"),
]


@pytest.mark.parametrize(("model", "field"), MODEL_FIELDS)
def test_models_are_frozen_and_slotted(model: Callable[[], Any], field: str) -> None:
    instance = model()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(instance, field, None)
    assert not hasattr(instance, "__dict__")
    hash(instance)


def test_collections_are_tuples_and_visit_is_hashable() -> None:
    assert isinstance(PAGE.visits, tuple)
    assert isinstance(VISIT.ip_location.subdivisions, tuple)
    assert {VISIT, converter.structure(visit(), Visit)} == {VISIT}
    assert VISIT in {VISIT: 1}


def test_tag_is_a_read_only_hashable_mapping_frozen_all_the_way_down() -> None:
    tag = VISIT.tag
    assert isinstance(tag, FrozenMapping)
    assert isinstance(tag["cart"], FrozenMapping)
    assert tag["cart"]["items"] == (1, 2)
    hash(tag)
    with pytest.raises(TypeError):
        tag["channel"] = "app"  # type: ignore[index]
    with pytest.raises(TypeError):
        del tag["channel"]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        tag.update({"x": 1})  # type: ignore[attr-defined]
    thawed = tag.thaw()
    assert thawed == visit()["tag"]
    assert type(thawed) is dict
    assert type(thawed["cart"]) is dict
    assert type(thawed["cart"]["items"]) is list
    thawed["cart"]["items"].append(3)
    assert tag["cart"]["items"] == (1, 2)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"a": 1},
        {"nested": {"deep": {"er": "x"}}},
        {"list": [1, [2, {"x": None}]], "flag": True},
    ],
)
def test_frozen_mapping_equals_the_json_it_came_from(data: dict[str, Any]) -> None:
    frozen = FrozenMapping(data)
    assert frozen == data
    assert data == frozen
    assert frozen == FrozenMapping(data)
    assert hash(frozen) == hash(FrozenMapping(data))
    assert frozen.thaw() == data
    assert thaw(freeze(data)) == data
    assert dict(frozen) == dict(FrozenMapping(frozen))
    assert len(frozen) == len(data)
    assert repr(frozen).startswith("FrozenMapping(")
    assert pickle.loads(pickle.dumps(frozen)) == frozen


def test_frozen_mapping_differs_from_other_values() -> None:
    frozen = FrozenMapping({"a": 1})
    assert frozen != {"a": 2}
    assert frozen != FrozenMapping({"a": 1, "b": 2})
    assert frozen != [("a", 1)]
    assert frozen != "a"


@pytest.mark.parametrize(
    ("cursor", "has_more", "params"),
    [
        ({}, False, None),
        ({"last_timestamp": 1655373953086}, True, {"before": 1655373953086}),
        ({"pagination_key": "pk"}, True, {"pagination_key": "pk"}),
        ({"last_timestamp": 1, "pagination_key": "pk"}, True, {"pagination_key": "pk"}),
    ],
)
def test_cursor_helpers(
    cursor: dict[str, Any], has_more: bool, params: dict[str, Any] | None
) -> None:
    page = VisitorHistory("v", (), **cursor)
    assert page.has_more is has_more
    assert page.next_page_params() == params


def test_every_optional_field_defaults_to_none() -> None:
    for model in (City, Country, Continent, Subdivision, IPLocation, BrowserDetails, Confidence):
        assert all(value is None for value in attrs.astuple(model(), recurse=False))
    assert SeenAt() == SeenAt(None, None)
    minimal = Visit("r", 1)
    assert [getattr(minimal, a.name) for a in attrs.fields(Visit)][2:] == [None] * 13
