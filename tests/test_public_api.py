"""The public surface: every name shows its public path, and still pickles and resolves."""

from __future__ import annotations

import pickle
import typing

import attrs
import pytest

import fpjs_async

PUBLIC = sorted(fpjs_async.__all__)


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_lives_at_a_public_path(name: str) -> None:
    obj = getattr(fpjs_async, name)
    module = obj.__module__
    assert not any(part.startswith("_") for part in module.split(".")), module
    assert getattr(__import__(module, fromlist=[name]), name) is obj


def test_reprs_and_tracebacks_show_the_public_path() -> None:
    assert repr(fpjs_async.NotFoundError) == "<class 'fpjs_async.NotFoundError'>"
    assert fpjs_async.Session.__module__ == "fpjs_async"


@pytest.mark.parametrize("name", [n for n in PUBLIC if attrs.has(getattr(fpjs_async, n))])
def test_annotations_of_public_attrs_classes_stay_resolved(name: str) -> None:
    cls = getattr(fpjs_async, name)
    assert all(not isinstance(field.type, str) for field in attrs.fields(cls))


def test_the_filters_type_resolves_from_anywhere() -> None:
    hints = typing.get_type_hints(fpjs_async.EventFilters)
    assert hints["suspect"] is bool
    assert "visitor_id" in hints


def test_errors_and_values_pickle_by_their_public_path() -> None:
    error = fpjs_async.NotFoundError(404, "event_not_found", "no such event", path="/v4/events/x")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is fpjs_async.NotFoundError
    assert (again.code, again.path) == ("event_not_found", "/v4/events/x")
    stats = fpjs_async.SessionStats(1, 2, 3, waited=0.5, pace=4.0)
    assert pickle.loads(pickle.dumps(stats)) == stats
