"""The argument checks every public call shares: TypeError for a type, ValueError for a value."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from fpjs_async import _validate

AWARE_MS = 1708095355327


def test_text_takes_a_non_empty_str_and_none_only_when_optional() -> None:
    assert _validate.text("visitor_id", "v") == "v"
    assert _validate.text("linked_id", None, optional=True) is None
    with pytest.raises(TypeError, match=r"^visitor_id must be a non-empty str, got NoneType$"):
        _validate.text("visitor_id", None)
    with pytest.raises(TypeError, match=r"^linked_id must be a non-empty str or None, got int$"):
        _validate.text("linked_id", 5, optional=True)
    with pytest.raises(ValueError, match=r"^visitor_id must be a non-empty str$"):
        _validate.text("visitor_id", "")
    with pytest.raises(ValueError, match=r"^visitor_id must be encodable as UTF-8"):
        _validate.text("visitor_id", "a\ud800")


def test_flag_takes_a_bool_only() -> None:
    assert _validate.flag("dedupe", False) is False
    for value in (0, 1, "yes", None):
        with pytest.raises(TypeError, match=r"^dedupe must be a bool, got "):
            _validate.flag("dedupe", value)


@pytest.mark.parametrize(
    ("options", "value", "error", "message"),
    [
        ({}, 0, ValueError, "limit must be an int >= 1, got 0"),
        ({"high": 500}, 501, ValueError, "limit must be an int from 1 to 500, got 501"),
        ({"low": 0}, -1, ValueError, "limit must be an int >= 0, got -1"),
        ({}, True, TypeError, "limit must be an int >= 1, got bool"),
        ({}, 2.0, TypeError, "limit must be an int >= 1, got float"),
        ({}, None, TypeError, "limit must be an int >= 1, got NoneType"),
        ({"optional": True}, "3", TypeError, "limit must be an int >= 1 or None, got str"),
    ],
)
def test_count_refuses(
    options: dict[str, object], value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        _validate.count("limit", value, **options)  # type: ignore[call-overload]
    assert str(caught.value) == message


def test_count_accepts_its_bounds_and_none_when_optional() -> None:
    assert _validate.count("limit", 1, high=500) == 1
    assert _validate.count("limit", 500, high=500) == 500
    assert _validate.count("times", 0, low=0) == 0
    assert _validate.count("max_pages", None, optional=True) is None


@pytest.mark.parametrize(
    ("options", "value", "error", "message"),
    [
        ({}, math.nan, ValueError, "rate must be a finite number, got nan"),
        ({}, math.inf, ValueError, "rate must be a finite number, got inf"),
        ({"above": 0}, 0, ValueError, "rate must be a finite number > 0, got 0"),
        ({"at_least": 1, "finite": False}, 0.5, ValueError, "rate must be a number >= 1, got 0.5"),
        ({"at_least": 0, "finite": False}, -1, ValueError, "rate must be a number >= 0, got -1"),
        ({"finite": False}, math.nan, ValueError, "rate must be a number, got nan"),
        ({}, True, TypeError, "rate must be a finite number, got bool"),
        ({}, "5", TypeError, "rate must be a finite number, got str"),
    ],
)  # fmt: skip
def test_number_refuses(
    options: dict[str, object], value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        _validate.number("rate", value, **options)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_number_takes_an_int_beyond_any_float_as_infinite() -> None:
    with pytest.raises(ValueError, match=r"^rate must be a finite number, got 1000"):
        _validate.number("rate", 10**400)
    assert _validate.number("wait", 10**400, finite=False) == math.inf


def test_number_gives_a_float() -> None:
    assert _validate.number("rate", 5, above=0) == 5.0
    assert isinstance(_validate.number("rate", 5), float)
    assert _validate.number("wait", math.inf, at_least=0, finite=False) == math.inf
    assert _validate.number("score", -2.5) == -2.5


def test_span_takes_an_ordered_pair_of_non_negative_numbers() -> None:
    assert _validate.span("latency", (0, 1.5), float) == (0.0, 1.5)
    assert _validate.span("visits", (3, 3), int) == (3, 3)
    with pytest.raises(ValueError, match=r"^latency must be a \(min, max\) pair of floats"):
        _validate.span("latency", (2.0, 1.0), float)
    with pytest.raises(ValueError, match=r"^visits must be"):
        _validate.span("visits", (-1, 3), int)
    for value in ((1.5, 2), [1, 2], (1, 2, 3), (True, 2), "12"):
        with pytest.raises(TypeError, match=r"^visits must be a \(min, max\) pair of ints"):
            _validate.span("visits", value, int)


def test_choice_and_instance() -> None:
    assert _validate.choice("auth", "query", ("header", "query")) == "query"
    with pytest.raises(ValueError, match=r"^auth must be one of 'header', 'query', got 'cookie'$"):
        _validate.choice("auth", "cookie", ("header", "query"))
    with pytest.raises(TypeError, match=r"^auth must be one of 'header', 'query', got int$"):
        _validate.choice("auth", 1, ("header", "query"))
    assert _validate.instance("body", b"x", bytes) == b"x"
    with pytest.raises(TypeError, match=r"^body must be bytes, got str$"):
        _validate.instance("body", "x", bytes, what="bytes")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (datetime(1970, 1, 1, tzinfo=timezone.utc), 0),
        (datetime(2024, 2, 16, 16, 55, 55, 327000, tzinfo=timezone(timedelta(hours=2))), AWARE_MS),
        (datetime(2024, 2, 16, 14, 55, 55, 327000, tzinfo=timezone.utc), AWARE_MS),
        # "strictly older than" a moment inside a millisecond includes that millisecond.
        (datetime(2024, 2, 16, 14, 55, 55, 327001, tzinfo=timezone.utc), AWARE_MS + 1),
        (datetime(2024, 2, 16, 14, 55, 55, 327400, tzinfo=timezone.utc), AWARE_MS + 1),
        (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc), 253402300799999),
    ],
)
def test_epoch_ms(value: int | datetime, expected: int) -> None:
    assert _validate.epoch_ms("before", value) == expected


def test_epoch_ms_refuses() -> None:
    with pytest.raises(ValueError, match=r"^start must be an aware datetime"):
        _validate.epoch_ms("start", datetime(2024, 1, 1))
    with pytest.raises(ValueError, match=r"^start must be from 0 to "):
        _validate.epoch_ms("start", -1)
    with pytest.raises(ValueError, match=r"^start must be from 0 to "):
        _validate.epoch_ms("start", _validate.MAX_EPOCH_MS + 1)
    for value in (True, 1.5, "1708095355327", None):
        with pytest.raises(TypeError, match=r"^start must be an int \(ms since the epoch\)"):
            _validate.epoch_ms("start", value)
