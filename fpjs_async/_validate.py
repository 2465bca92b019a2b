"""The checks of arguments, shared by every public call: one convention for every error.

A value of the wrong type raises `TypeError`, a value of the right type out of range
`ValueError`, before anything is sent; each message names the parameter and says what it
must be (`limit must be an int from 1 to 500, got 0`). A `bool` is never taken for a
number, though Python counts it as an int: `limit=True` is a mistake, not 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Literal, TypeGuard, TypeVar, overload

__all__ = [
    "MAX_EPOCH_MS",
    "choice",
    "count",
    "epoch_ms",
    "flag",
    "instance",
    "is_int",
    "is_number",
    "number",
    "span",
    "text",
]

T = TypeVar("T")
NumberT = TypeVar("NumberT", int, float)

#: The latest moment a time parameter takes, in ms since the epoch (a signed 64-bit int).
MAX_EPOCH_MS = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MS = timedelta(milliseconds=1)


def _wrong_type(name: str, what: str, value: object) -> TypeError:
    return TypeError(f"{name} must be {what}, got {type(value).__name__}")


def is_number(value: object) -> TypeGuard[int | float]:
    """Whether `value` is an int or a float, and not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value: object) -> TypeGuard[int]:
    """Whether `value` is an int, and not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


@overload
def text(name: str, value: object, *, optional: Literal[False] = False) -> str: ...


@overload
def text(name: str, value: object, *, optional: bool) -> str | None: ...


def text(name: str, value: object, *, optional: bool = False) -> str | None:
    """`value` if it is a non-empty str that UTF-8 can encode (or `None`, if `optional`).

    The message of an empty value does not quote it, so this checks secrets too.
    """
    if value is None and optional:
        return None
    what = "a non-empty str" + (" or None" if optional else "")
    if not isinstance(value, str):
        raise _wrong_type(name, what, value)
    if not value:
        raise ValueError(f"{name} must be {what}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} must be encodable as UTF-8 (it holds a lone surrogate)") from None
    return value


def flag(name: str, value: object) -> bool:
    """`value` if it is a bool (`0`, `1` or `"yes"` are refused)."""
    if not isinstance(value, bool):
        raise _wrong_type(name, "a bool", value)
    return value


@overload
def count(
    name: str,
    value: object,
    *,
    low: int = 1,
    high: int | None = None,
    optional: Literal[False] = False,
) -> int: ...


@overload
def count(
    name: str, value: object, *, low: int = 1, high: int | None = None, optional: bool
) -> int | None: ...


def count(
    name: str, value: object, *, low: int = 1, high: int | None = None, optional: bool = False
) -> int | None:
    """`value` if it is an int from `low` to `high` (`None`: no upper bound).

    `None` is accepted too if `optional`.
    """
    if value is None and optional:
        return None
    what = f"an int >= {low}" if high is None else f"an int from {low} to {high}"
    what += " or None" if optional else ""
    if not is_int(value):
        raise _wrong_type(name, what, value)
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value


def number(
    name: str,
    value: object,
    *,
    at_least: float | None = None,
    above: float | None = None,
    finite: bool = True,
) -> float:
    """`value` as a float, if it is an int or a float within the bounds given; never NaN.

    Args:
        name: The parameter, for the messages.
        value: The value to check.
        at_least: The smallest value accepted.
        above: A bound that every value accepted is greater than.
        finite: Whether infinity is refused.
    """
    what = ("a finite number" if finite else "a number") + "".join(
        f" {sign} {bound:g}"
        for sign, bound in ((">=", at_least), (">", above))
        if bound is not None
    )
    if not is_number(value):
        raise _wrong_type(name, what, value)
    try:
        real = float(value)
    except OverflowError:  # an int beyond any float
        real = math.inf if value > 0 else -math.inf
    # Written so that NaN fails each comparison, and so every bound.
    if (
        real != real
        or (finite and not math.isfinite(real))
        or (at_least is not None and not real >= at_least)
        or (above is not None and not real > above)
    ):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return real


def span(name: str, value: object, kind: type[NumberT]) -> tuple[NumberT, NumberT]:
    """`value` if it is a `(min, max)` pair of numbers of `kind` with `0 <= min <= max`.

    An int is accepted where `kind` is float, as everywhere else a number is.
    """
    what = f"a (min, max) pair of {kind.__name__}s with 0 <= min <= max"
    if not isinstance(value, tuple) or len(value) != 2:
        raise _wrong_type(name, what, value)
    low, high = value
    accepted: Callable[[object], bool] = is_number if kind is float else is_int
    if not (accepted(low) and accepted(high)):
        raise _wrong_type(name, what, value)
    if not 0 <= low <= high:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return kind(low), kind(high)


def choice(name: str, value: object, choices: Iterable[str]) -> str:
    """`value` if it is one of the strings `choices`."""
    options = tuple(choices)
    what = "one of " + ", ".join(repr(option) for option in options)
    if not isinstance(value, str):
        raise _wrong_type(name, what, value)
    if value not in options:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value


def instance(name: str, value: object, kind: type[T], *, what: str | None = None) -> T:
    """`value` if it is an instance of `kind` (`what` names it in the message: "a str")."""
    if not isinstance(value, kind):
        raise _wrong_type(name, what or f"a {kind.__name__}", value)
    return value


def epoch_ms(name: str, value: object) -> int:
    """Milliseconds since the epoch, from an int (taken as ms) or an aware `datetime`."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be an aware datetime (with tzinfo), got a naive one")
        # Exact and rounded up: a float timestamp loses microseconds, and "older than" a
        # moment inside a millisecond must still include the events of that millisecond.
        ms = -((_EPOCH - value) // _ONE_MS)
    elif is_int(value):
        ms = value
    else:
        raise _wrong_type(name, "an int (ms since the epoch) or an aware datetime", value)
    if not 0 <= ms <= MAX_EPOCH_MS:
        raise ValueError(f"{name} must be from 0 to {MAX_EPOCH_MS} ms since the epoch, got {ms}")
    return ms
