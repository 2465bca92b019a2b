"""The one cattrs converter between the API's JSON and the models, both ways.

Field names are renamed camelCase <-> snake_case by rule, once for every model. Decoding is
lenient about presence (unknown keys ignored, documented fields that are missing become
`None`) and strict about types: a value of the wrong JSON type raises, and `decode_history`
turns any failure into `ResponseDecodeError`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from fpjs_async import _models
from fpjs_async._errors import ResponseDecodeError, excerpt
from fpjs_async._models import FrozenMapping, VisitorHistory

__all__ = ["converter", "decode_history", "format_datetime", "parse_datetime", "to_camel"]

T = TypeVar("T")

_MODELS: tuple[type, ...] = (
    _models.City,
    _models.Country,
    _models.Continent,
    _models.Subdivision,
    _models.IPLocation,
    _models.BrowserDetails,
    _models.Confidence,
    _models.SeenAt,
    _models.Visit,
    _models.VisitorHistory,
)


def to_camel(name: str) -> str:
    """`ip_location` -> `ipLocation`; a trailing `_` (as in `global_`) is dropped."""
    first, *rest = name.rstrip("_").split("_")
    return first + "".join(word.capitalize() for word in rest)


# --- datetimes -------------------------------------------------------------------------

_ISO_RE = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?",
    re.IGNORECASE,
)


def _parse_datetime_portable(text: str) -> datetime:
    # Python 3.10's fromisoformat takes neither "Z" nor fractions other than 3 or 6 digits.
    match = _ISO_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"not an ISO 8601 date-time: {text!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = timezone.utc
    if offset and offset.upper() != "Z":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    parsed = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
    )
    return parsed.astimezone(timezone.utc)


def parse_datetime(text: str) -> datetime:
    """An aware UTC datetime from the API's ISO 8601 text (`…Z`, `….912Z`, or an offset)."""
    if type(text) is not str:
        raise TypeError(f"expected an ISO 8601 string, got {type(text).__name__}")
    if sys.version_info >= (3, 11):
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=timezone.utc)
        return parsed if parsed.tzinfo is timezone.utc else parsed.astimezone(timezone.utc)
    return _parse_datetime_portable(text)


def format_datetime(value: datetime) -> str:
    """The API's form of a datetime: UTC, `Z`, milliseconds only when there are some."""
    value = value.astimezone(timezone.utc)
    if value.microsecond == 0:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if value.microsecond % 1000 == 0:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- primitive hooks: JSON types checked, values passed through ----------------------------


def _expect(json_type: type[T], *, optional: bool) -> Callable[[Any, Any], T | None]:
    type_name = json_type.__name__

    def structure(value: Any, _: Any) -> T | None:
        if value.__class__ is json_type or (optional and value is None):
            return value
        raise TypeError(f"expected {type_name}, got {type(value).__name__}")

    return structure


def _expect_number(value: Any, _: Any) -> float | None:
    # JSON does not tell 1 from 1.0; bool is an int subclass but never a number here.
    cls = value.__class__
    if cls is float or value is None:
        return value  # type: ignore[no-any-return]
    if cls is int:
        return float(value)
    raise TypeError(f"expected a number, got {cls.__name__}")


def _optional_datetime(value: Any, _: Any) -> datetime | None:
    return None if value is None else parse_datetime(value)


def _optional_frozen_mapping(value: Any, _: Any) -> FrozenMapping | None:
    if value is None:
        return None
    if value.__class__ is not dict:
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return FrozenMapping(value)


def _tuple_of(cls: type[T], *, optional: bool) -> Callable[[Any, Any], tuple[T, ...] | None]:
    def structure(value: Any, _: Any) -> tuple[T, ...] | None:
        if value.__class__ is list:
            item_hook = converter.get_structure_hook(cls)
            return tuple([item_hook(item, cls) for item in value])
        if optional and value is None:
            return None
        raise TypeError(f"expected an array, got {type(value).__name__}")

    return structure


def _model_hook(cls: type[T], *, optional: bool) -> Callable[[Any, Any], T | None]:
    def structure(value: Any, _: Any) -> T | None:
        if value.__class__ is dict:
            return converter.get_structure_hook(cls)(value, cls)  # type: ignore[no-any-return]
        if optional and value is None:
            return None
        raise TypeError(f"expected an object for {cls.__name__}, got {type(value).__name__}")

    return structure


def _unstructure_frozen_mapping(value: FrozenMapping) -> dict[str, Any]:
    return value.thaw()


def _build_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False, detailed_validation=False)
    for json_type in (str, int, bool):
        conv.register_structure_hook(json_type, _expect(json_type, optional=False))
        conv.register_structure_hook(json_type | None, _expect(json_type, optional=True))
    conv.register_structure_hook(float | None, _expect_number)
    conv.register_structure_hook(datetime | None, _optional_datetime)
    conv.register_structure_hook(FrozenMapping | None, _optional_frozen_mapping)
    conv.register_unstructure_hook(datetime, format_datetime)
    conv.register_unstructure_hook(FrozenMapping, _unstructure_frozen_mapping)

    for model in _MODELS:
        renames: dict[str, Any] = {
            a.name: override(rename=to_camel(a.name)) for a in attrs.fields(model)
        }
        conv.register_structure_hook(
            model, make_dict_structure_fn(model, conv, _cattrs_forbid_extra_keys=False, **renames)
        )
        conv.register_unstructure_hook(
            model, make_dict_unstructure_fn(model, conv, _cattrs_omit_if_default=True, **renames)
        )
        conv.register_structure_hook(model | None, _model_hook(model, optional=True))
        for optional in (False, True):
            tuple_type: Any = tuple[model, ...]  # type: ignore[valid-type]
            tuple_type = tuple_type | None if optional else tuple_type
            conv.register_structure_hook_func(
                tuple_type.__eq__, _tuple_of(model, optional=optional)
            )
    return conv


#: Structures API JSON into the models and unstructures models back into API JSON.
converter = _build_converter()


def decode_history(content: bytes, *, status: int = 200) -> VisitorHistory:
    """Parse a 2xx body of `GET /visitors/:id`; `ResponseDecodeError` for anything else."""
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise ResponseDecodeError(status, excerpt(content), f"invalid JSON: {exc}") from None
    if data.__class__ is not dict:
        raise ResponseDecodeError(status, excerpt(content), "the body is not a JSON object")
    try:
        return converter.structure(data, VisitorHistory)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ResponseDecodeError(status, excerpt(content), reason) from exc
    except RecursionError:
        raise ResponseDecodeError(status, excerpt(content), "nested too deeply") from None
