"""The one cattrs converter between the API's JSON and the models, both ways.

Field names are renamed camelCase <-> snake_case by rule, once for every model. Decoding is
lenient about presence (unknown keys ignored, documented fields that are missing become
`None`) and strict about types: a value of the wrong JSON type raises, and `decode_history`
turns any failure into `ResponseDecodeError`.

Decoding is the library's hot path (a page of 500 visits is half a megabyte of JSON), so
each model gets one structure function, generated at import from its attrs fields: the
JSON key of a field comes from `to_camel` and its check from its annotation; the function
reads the dict, checks every value inline (nested models included) and fills the slots of a
new instance. Sub-objects that repeat across the visits of a page (a visitor's device,
network, first visit) are interned: equal ones decode into one shared instance, which their
immutability allows. These functions are the converter's structure hooks; unstructuring
uses cattrs' own generated hooks. When `orjson` is installed (the `speedups` extra) it
parses the bytes, with the standard `json` module deciding every body `orjson` reads
differently.
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


def _when_present(var: str, optional: bool, lines: list[str]) -> list[str]:
    """`lines`, run only when `var` is not `None` if the field is optional."""
    if not optional:
        return lines
    return [f"if {var} is not None:", *("    " + line for line in lines)]


@attrs.frozen
class _ValueCode:
    """The generated code of a field that holds a JSON value (not a model) in `var`.

    Attributes:
        check: Lines that check the value (and convert it where the key needs that).
        key: The expression that stands for the value in the key of an interned instance.
        convert: Lines that convert the checked value, run only to build a new instance.
    """

    check: list[str]
    key: str
    convert: list[str] = attrs.Factory(list)


def _value_code(
    var: str, key: str, optional: bool, kind: Any, structure_item: Callable[[type], str]
) -> _ValueCode:
    """The code that decodes the JSON value in `var`, from `key`, into a field of `kind`."""
    or_none = f" and {var} is not None" if optional else ""
    if kind in (str, int, bool, datetime):
        # An exact class test: bool is an int subclass but never an int of the API.
        name = "str" if kind is datetime else kind.__name__
        check = [
            f"if {var}.__class__ is not {name}{or_none}:",
            f"    raise _wrong_type({key!r}, {name!r}, {var})",
        ]
        if kind is not datetime:
            return _ValueCode(check, var)
        # Keyed by its text, so that an interned instance is found before any parsing.
        parse = f"{var} = _datetimes_get({var}) or _parse_and_remember_datetime({var})"
        return _ValueCode(check, var, _when_present(var, optional, [parse]))
    if kind is float:
        # JSON does not tell 1 from 1.0: an integer is a number too (a bool is not). In a
        # key, 0.0 and -0.0 are told apart by their text: they are equal but not the same.
        check = [
            f"if {var}.__class__ is not float:",
            f"    if {var}.__class__ is int:",
            f"        {var} = float({var})",
            f"    elif {var} is not None:" if optional else "    else:",
            f"        raise _wrong_type({key!r}, 'a number', {var})",
        ]
        return _ValueCode(check, f"(None if {var} is None else {var} or repr({var}))")
    if kind is FrozenMapping:
        freeze = f"{var} = _frozen_mapping({var})"
        return _ValueCode(_when_present(var, optional, [freeze]), f"id({var})")
    if typing.get_origin(kind) is tuple and typing.get_args(kind)[1:] == (Ellipsis,):
        structure = structure_item(typing.get_args(kind)[0])
        check = [
            f"if {var}.__class__ is list:",
            f"    {var} = tuple(map({structure}, {var}))",
            f"elif {var} is not None:" if optional else "else:",
            f"    raise _wrong_type({key!r}, 'an array', {var})",
        ]
        # Interned items are found again by identity: an instance in a key is alive.
        return _ValueCode(check, f"({var} and tuple(map(id, {var})))")
    raise TypeError(f"no decoding rule for {kind!r}")


@attrs.frozen
class _Field:
    """What the generated code needs to know of one attrs field."""

    name: str
    key: str
    required: bool
    optional: bool
    kind: Any


class _StructureHooks:
    """Generates, and holds, the structure function of every model.

    A function decodes the models nested in its own inline, in three steps: read and check
    every value of the object, nested ones included; look up the interned instance by a key
    made of those values (so that a hit builds nothing, not even the nested instances);
    build what was not found.

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
        self._fields: dict[type, list[_Field]] = {}

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

    def _fields_of(self, model: type) -> list[_Field]:
        """The fields of `model`, its class and slot setters put in the globals once."""
        fields = self._fields.get(model)
        if fields is not None:
            return fields
        if not attrs.has(model):
            raise TypeError(f"no decoding rule for {model!r}")
        self._globals[f"_model_{model.__name__}"] = model
        fields = self._fields[model] = []
        for field in attrs.fields(attrs.resolve_types(model)):
            if field.default is not None and field.default is not attrs.NOTHING:
                raise TypeError(f"{model.__name__}.{field.name} has a default other than None")
            optional, kind = _split_optional(field.type)
            required = field.default is attrs.NOTHING
            fields.append(_Field(field.name, to_camel(field.name), required, optional, kind))
            # The slot's own setter: attrs' frozen __setattr__ refuses, and its __init__
            # goes through object.__setattr__ field by field, which costs twice as much.
            setter = model.__dict__[field.name].__set__
            self._globals[f"_model_{model.__name__}_set_{field.name}"] = setter
        if model in _INTERNED:
            interned: dict[tuple[Any, ...], Any] = {}
            self._globals[f"_model_{model.__name__}_interned"] = interned
            self._globals[f"_model_{model.__name__}_interned_get"] = interned.get
        return fields

    def _value_code(self, var: str, field: _Field) -> _ValueCode:
        return _value_code(var, field.key, field.optional, field.kind, self.function_name)

    def _check(self, model: type, source: str, prefix: str) -> list[str]:
        """Lines that read the JSON object `source` into checked variables `{prefix}_N`."""
        lines = [
            f"if {source}.__class__ is not dict:",
            f"    raise _not_an_object(_model_{model.__name__}, {source})",
        ]
        for index, field in enumerate(self._fields_of(model)):
            var = f"{prefix}_{index}"
            get = f"{source}[{field.key!r}]" if field.required else f"{source}.get({field.key!r})"
            lines.append(f"{var} = {get}")
            if attrs.has(field.kind):
                lines += _when_present(var, field.optional, self._check(field.kind, var, var))
            else:
                lines += self._value_code(var, field).check
        return lines

    def _key(self, model: type, prefix: str) -> str:
        """The key of the interned instance for the checked variables `{prefix}_N`."""
        parts = []
        for index, field in enumerate(self._fields_of(model)):
            var = f"{prefix}_{index}"
            if not attrs.has(field.kind):
                parts.append(self._value_code(var, field).key)
            elif field.optional:
                parts.append(f"(None if {var} is None else {self._key(field.kind, var)})")
            else:
                parts.append(self._key(field.kind, var))
        return f"({', '.join(parts)},)"

    def _build(self, model: type, prefix: str, out: str) -> list[str]:
        """Lines that leave in `out` the instance for the checked variables `{prefix}_N`."""
        name = f"_model_{model.__name__}"
        build: list[str] = []
        fields = self._fields_of(model)
        for index, field in enumerate(fields):
            var = f"{prefix}_{index}"
            if attrs.has(field.kind):
                build += _when_present(var, field.optional, self._build(field.kind, var, var))
            else:
                build += self._value_code(var, field).convert
        build.append(f"{out} = _new({name})")
        build += (f"{name}_set_{f.name}({out}, {prefix}_{i})" for i, f in enumerate(fields))
        if model not in _INTERNED:
            return build
        key = f"{prefix}_key"
        return [
            f"{key} = {self._key(model, prefix)}",
            f"{out} = {name}_interned_get({key})",
            f"if {out} is None:",
            *("    " + line for line in build),
            f"    if len({name}_interned) >= _MEMO_SIZE:",
            f"        {name}_interned.clear()",
            f"    {name}_interned[{key}] = {out}",
        ]


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
