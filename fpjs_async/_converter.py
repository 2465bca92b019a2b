"""The one cattrs converter between the API's JSON and the models, both ways.

Field names are renamed camelCase <-> snake_case by rule, once for every model. Decoding is
lenient about presence (unknown keys ignored, documented fields that are missing become
`None`) and strict about types: a value of the wrong JSON type raises, and `decode_history`
turns any failure into `ResponseDecodeError`.

Decoding is the library's hot path (a page of 500 visits is half a megabyte of JSON), so
each model gets one structure function, generated at import from its attrs fields: the
JSON key of a field comes from `to_camel` and its check from its annotation; the function
reads the dict, checks every value inline and fills a new instance. Sub-objects that
repeat across the visits of a page (a visitor's device, network, first visit) are
interned: equal ones decode into one shared instance, which their immutability allows.
These functions are the converter's structure hooks; unstructuring uses cattrs' own
generated hooks. When `orjson` is installed (the `speedups` extra) it parses the bytes,
with the standard `json` module deciding every body `orjson` reads differently.
"""

from __future__ import annotations

import json
import re
import sys
import types
import typing
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from fpjs_async import _models
from fpjs_async._errors import ResponseDecodeError, excerpt
from fpjs_async._models import FrozenMapping, VisitorHistory

__all__ = ["converter", "decode_history", "format_datetime", "parse_datetime", "to_camel"]

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

# Every model but the two that are unique to each visit and each page.
_INTERNED: frozenset[type] = frozenset(_MODELS) - {_models.Visit, _models.VisitorHistory}

# How many distinct datetime texts, and instances of each interned model, are remembered.
# The bound keeps a long-running process from holding everything it ever decoded.
_MEMO_SIZE = 4096


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


def _parse_datetime_fromisoformat(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed if parsed.tzinfo is timezone.utc else parsed.astimezone(timezone.utc)


# From Python 3.11 on, fromisoformat reads every form of ISO 8601 the API sends.
_parse_iso = (
    _parse_datetime_fromisoformat if sys.version_info >= (3, 11) else _parse_datetime_portable
)


def parse_datetime(text: str) -> datetime:
    """An aware UTC datetime from the API's ISO 8601 text (`…Z`, `….912Z`, or an offset)."""
    if text.__class__ is not str:
        raise TypeError(f"expected an ISO 8601 string, got {type(text).__name__}")
    return _parse_iso(text)


def format_datetime(value: datetime) -> str:
    """The API's form of a datetime: UTC, `Z`, milliseconds only when there are some."""
    value = value.astimezone(timezone.utc)
    if value.microsecond == 0:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if value.microsecond % 1000 == 0:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# The `lastSeenAt` of a visit is the `time` of the one before, and `firstSeenAt` is the same
# on every visit of a visitor: each text is parsed once.
_DATETIMES: dict[str, datetime] = {}


def _parse_and_remember_datetime(text: str) -> datetime:
    parsed = _parse_iso(text)
    if len(_DATETIMES) >= _MEMO_SIZE:
        _DATETIMES.clear()
    _DATETIMES[text] = parsed
    return parsed


# --- structuring: one generated function per model ---------------------------------------


class _NotExact(Exception):
    """Raised on data from `orjson` where `json` would read the body differently."""


_EMPTY_MAPPING = FrozenMapping()


def _frozen_mapping(value: Any) -> FrozenMapping:
    if value.__class__ is not dict:
        raise TypeError(f"expected an object, got {type(value).__name__}")
    # Most tags are `{}`; an empty FrozenMapping is immutable, so one instance serves all.
    return FrozenMapping(value) if value else _EMPTY_MAPPING


def _holds_inexact_number(value: Any) -> bool:
    """Whether `orjson` may have read an integer literal of more than 64 bits as a float."""
    cls = value.__class__
    if cls is float:
        number: float = value
        return (number >= 2**64 or number < -(2**63)) and number.is_integer()
    if cls is dict:
        return any(map(_holds_inexact_number, value.values()))
    if cls is list:
        return any(map(_holds_inexact_number, value))
    return False


def _frozen_mapping_of_orjson_data(value: Any) -> FrozenMapping:
    # The typed fields refuse such a float by its type; a free-form object would keep it.
    if value.__class__ is dict and _holds_inexact_number(value):
        raise _NotExact
    return _frozen_mapping(value)


def _wrong_type(key: str, expected: str, value: Any) -> TypeError:
    return TypeError(f"{key}: expected {expected}, got {type(value).__name__}")


def _not_an_object(model: type, value: Any) -> TypeError:
    return TypeError(f"expected an object for {model.__name__}, got {type(value).__name__}")


def _split_optional(annotation: Any) -> tuple[bool, Any]:
    """`(True, X)` for `X | None`, `(False, X)` for `X`."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = (arg for arg in args if arg is not type(None))
        return True, inner
    return False, annotation


@attrs.frozen
class _FieldCode:
    """The generated code of a field that holds no model, in templates of its variable `{v}`.

    Attributes:
        check: Lines that check the JSON value (and convert it where the key needs that).
        key: The expression that stands for the value in the key of an interned instance.
        convert: Lines that convert the checked value, run only to build a new instance.
    """

    check: tuple[str, ...]
    key: str = "{v}"
    convert: tuple[str, ...] = ()


def _if_present(optional: bool, lines: list[str]) -> list[str]:
    if not optional:
        return lines
    return ["if {v} is not None:", *("    " + line for line in lines)]


def _field_code(optional: bool, inner: Any, structure_item: Callable[[type], str]) -> _FieldCode:
    """The code that decodes a JSON value into a field of type `inner` (or `None`)."""
    or_none = " and {v} is not None" if optional else ""
    if inner in (str, int, bool, datetime):
        # An exact class test: bool is an int subclass but never an int of the API.
        name = "str" if inner is datetime else inner.__name__
        check = (
            f"if {{v}}.__class__ is not {name}{or_none}:",
            f"    raise _wrong_type({{k}}, {name!r}, {{v}})",
        )
        if inner is not datetime:
            return _FieldCode(check)
        # Keyed by its text, so that an interned instance is found before any parsing.
        parse = ["{v} = _datetimes_get({v}) or _parse_and_remember_datetime({v})"]
        return _FieldCode(check, convert=tuple(_if_present(optional, parse)))
    if inner is float:
        # JSON does not tell 1 from 1.0: an integer is a number too (a bool is not). In a
        # key, 0.0 and -0.0 are told apart by their text: they are equal but not the same.
        return _FieldCode(
            (
                "if {v}.__class__ is not float:",
                "    if {v}.__class__ is int:",
                "        {v} = float({v})",
                "    elif {v} is not None:" if optional else "    else:",
                "        raise _wrong_type({k}, 'a number', {v})",
            ),
            key="(None if {v} is None else {v} or repr({v}))",
        )
    if inner is FrozenMapping:
        return _FieldCode(tuple(_if_present(optional, ["{v} = _frozen_mapping({v})"])), "id({v})")
    if typing.get_origin(inner) is tuple and typing.get_args(inner)[1:] == (Ellipsis,):
        return _FieldCode(
            (
                "if {v}.__class__ is list:",
                f"    {{v}} = tuple(map({structure_item(typing.get_args(inner)[0])}, {{v}}))",
                "elif {v} is not None:" if optional else "else:",
                "    raise _wrong_type({k}, 'an array', {v})",
            ),
            # Interned items are found again by identity: an instance in a key is alive.
            key="({v} and tuple(map(id, {v})))",
        )
    raise TypeError(f"no decoding rule for {inner!r}")


class _StructureHooks:
    """Generates, and holds, the structure function of every model.

    A model's function decodes the models nested in it inline, in three steps: read and
    check every value of the whole object; find the interned instance by a key made of the
    checked values (a nested model's values included, so that a hit builds nothing); build
    what was not found.

    Args:
        frozen_mapping: What makes a `FrozenMapping` of a JSON object.
    """

    def __init__(self, frozen_mapping: Callable[[Any], FrozenMapping]) -> None:
        self._globals: dict[str, Any] = {
            "_new": object.__new__,
            "_wrong_type": _wrong_type,
            "_not_an_object": _not_an_object,
            "_datetimes_get": _DATETIMES.get,
            "_parse_and_remember_datetime": _parse_and_remember_datetime,
            "_frozen_mapping": frozen_mapping,
            "_MEMO_SIZE": _MEMO_SIZE,
        }

    def __getitem__(self, model: type) -> Callable[[Any, Any], Any]:
        """The structure function of `model` (a cattrs hook: value, type)."""
        function: Callable[[Any, Any], Any] = self._globals[self.function_name(model)]
        return function

    def function_name(self, model: type) -> str:
        """The global name of the structure function of `model`, generated on first need."""
        name = f"structure_{model.__name__}"
        if name not in self._globals:
            lines = [
                # The second parameter is the type that cattrs passes to a hook.
                f"def {name}(o, _=None):",
                *("    " + line for line in self._check(model, "o", "v")),
                *("    " + line for line in self._build(model, "v", "instance")),
                "    return instance",
            ]
            source = "\n".join(lines)
            exec(compile(source, f"<structure {model.__qualname__}>", "exec"), self._globals)
        return name

    def _fields(self, model: type) -> list[tuple[str, str, bool, Any]]:
        """(attribute, JSON key, optional, type) of each field of `model`."""
        if not attrs.has(model):
            raise TypeError(f"no decoding rule for {model!r}")
        model_name = f"_{model.__name__}"
        if model_name not in self._globals:
            self._globals[model_name] = model
            for field in attrs.fields(model):
                # The slot's own setter: attrs' frozen __setattr__ refuses, and its
                # __init__ goes through object.__setattr__ field by field, twice the cost.
                self._globals[f"{model_name}_set_{field.name}"] = model.__dict__[field.name].__set__
            if model in _INTERNED:
                interned: dict[tuple[Any, ...], Any] = {}
                self._globals[f"{model_name}_interned"] = interned
                self._globals[f"{model_name}_interned_get"] = interned.get
        fields = []
        for field in attrs.fields(attrs.resolve_types(model)):
            if field.default is not None and field.default is not attrs.NOTHING:
                raise TypeError(f"{model.__name__}.{field.name} has a default other than None")
            optional, inner = _split_optional(field.type)
            fields.append((field.name, to_camel(field.name), optional, inner))
        return fields

    def _code(self, optional: bool, inner: Any) -> _FieldCode:
        return _field_code(optional, inner, self.function_name)

    def _check(self, model: type, source: str, prefix: str) -> list[str]:
        """Lines that read the JSON object in `source` into checked variables `prefix_N`."""
        lines = [
            f"if {source}.__class__ is not dict:",
            f"    raise _not_an_object(_{model.__name__}, {source})",
        ]
        for index, (_, key, optional, inner) in enumerate(self._fields(model)):
            var = f"{prefix}_{index}"
            required = key if not optional and inner is not None else None
            lines.append(
                f"{var} = {source}[{key!r}]"
                if self._is_required(model, index)
                else f"{var} = {source}.get({key!r})"
            )
            del required
            if attrs.has(inner):
                nested = self._check(inner, var, var)
                lines += (line.format(v=var) for line in _if_present(optional, nested))
            else:
                lines += (line.format(v=var, k=repr(key)) for line in self._code(optional, inner).check)
        return lines
def _unstructure_frozen_mapping(value: FrozenMapping) -> dict[str, Any]:
    return value.thaw()


def _build_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False, detailed_validation=False)
    conv.register_unstructure_hook(datetime, format_datetime)
    conv.register_unstructure_hook(FrozenMapping, _unstructure_frozen_mapping)
    hooks = _StructureHooks(_frozen_mapping)
    for model in _MODELS:
        conv.register_structure_hook(model, hooks[model])
        renames: dict[str, Any] = {
            a.name: override(rename=to_camel(a.name)) for a in attrs.fields(model)
        }
        conv.register_unstructure_hook(
            model, make_dict_unstructure_fn(model, conv, _cattrs_omit_if_default=True, **renames)
        )
    return conv


#: Structures API JSON into the models and unstructures models back into API JSON.
converter = _build_converter()
_structure_history: Callable[[Any, Any], VisitorHistory] = converter.get_structure_hook(
    VisitorHistory
)


# --- bodies --------------------------------------------------------------------------------


def _orjson_decoder() -> Callable[[bytes], VisitorHistory] | None:
    """Parsing with `orjson` when it is installed, else `None`."""
    try:
        import orjson
    except ImportError:
        return None
    loads = orjson.loads
    structure = _StructureHooks(_frozen_mapping_of_orjson_data)[VisitorHistory]

    def decode(content: bytes) -> VisitorHistory:
        history: VisitorHistory = structure(loads(content), VisitorHistory)
        return history

    return decode


#: The fast path: `orjson` when installed. It reads some bodies differently from `json`
#: (NaN, integers beyond 64 bits, a byte order mark...): every body it fails on, and every
#: page that fails to decode from its data, is decoded again by `json`, which decides.
_fast_decode = _orjson_decoder()

_FAILURES = (KeyError, TypeError, ValueError, OverflowError, RecursionError)


def decode_history(content: bytes, *, status: int = 200) -> VisitorHistory:
    """Parse a 2xx body of `GET /visitors/:id`; `ResponseDecodeError` for anything else."""
    if _fast_decode is not None:
        try:
            return _fast_decode(content)
        except (*_FAILURES, _NotExact):
            pass
    try:
        data = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise ResponseDecodeError(status, excerpt(content), f"invalid JSON: {exc}") from None
    if data.__class__ is not dict:
        raise ResponseDecodeError(status, excerpt(content), "the body is not a JSON object")
    try:
        return _structure_history(data, VisitorHistory)
    except RecursionError:
        raise ResponseDecodeError(status, excerpt(content), "nested too deeply") from None
    except _FAILURES as exc:
        reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ResponseDecodeError(status, excerpt(content), reason) from exc
