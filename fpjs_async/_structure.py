"""The structure functions of the models: generated at import, one per model and array type.

Decoding is the library's hot path (a page of 100 events is over half a megabyte of JSON),
so each model gets one structure function, generated from its attrs fields: the JSON key of
a field comes from its family and its check from its annotation; the function reads the
dict, checks every value inline (nested models included) and fills the slots of a new
instance. Knowing where a failure happened costs nothing until one does: a function knows
the path of every value it checks inline, and an array item's index is read, after a
failure, from how far `map` got. The sources are registered with `linecache`, so that a
traceback shows their lines. Sub-objects that repeat across the visits of a v3 page (a
visitor's device, network, first visit) are interned: equal ones decode into one shared
instance, which their immutability allows.
"""

from __future__ import annotations

import linecache
import operator
import types
import typing
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import attrs

from fpjs_async._datetimes import parse_datetime
from fpjs_async._families import FAMILY_OF
from fpjs_async._models import FrozenMapping

__all__ = [
    "Invalid",
    "StructureHooks",
    "frozen_mapping",
    "item_kind",
    "split_optional",
]

# How many distinct datetime texts, and instances of each interned model, are remembered.
# The bound keeps a long-running process from holding everything it ever decoded.
_MEMO_SIZE = 4096


# --- datetimes ----------------------------------------------------------------------------

# The `lastSeenAt` of a visit is the `time` of the one before, and `firstSeenAt` is the same
# on every visit of a visitor: each text is parsed once.
_DATETIMES: dict[str, datetime] = {}


def _parse_and_remember_datetime(text: str, path: str) -> datetime:
    try:
        parsed = parse_datetime(text)
    except (ValueError, OverflowError) as exc:
        raise Invalid(path, str(exc)) from exc
    if len(_DATETIMES) >= _MEMO_SIZE:
        _DATETIMES.clear()
    _DATETIMES[text] = parsed
    return parsed


# --- failures -----------------------------------------------------------------------------


class Invalid(ValueError):
    """A JSON value that is not what the schema documents, and where it is.

    Args:
        path: Where the value is, from the object being decoded (`ip_info.v4.asn`,
            `visits[2].ipLocation`); empty for that object itself.
        problem: What is wrong with it.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)
        self.path = path
        self.problem = problem

    def within(self, prefix: str) -> Invalid:
        """This failure, its path now starting at what held the value (at `prefix`)."""
        if not self.path or self.path.startswith("["):
            self.path = prefix + self.path
        else:
            self.path = f"{prefix}.{self.path}"
        self.args = (self.path, self.problem)
        return self

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}" if self.path else self.problem


class _Absent:
    """What a generated function reads for a required key that is not there."""

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()


def _wrong_type(path: str, expected: str, value: Any) -> Invalid:
    if value is _ABSENT:
        return Invalid(path, "required, but missing")
    return Invalid(path, f"expected {expected}, got {type(value).__name__}")


def _wrong_item(path: str, expected: type, items: list[Any]) -> Invalid:
    """The failure of the first item of `items` that is not exactly of class `expected`."""
    index, item = next((i, x) for i, x in enumerate(items) if x.__class__ is not expected)
    return _wrong_type(f"{path}[{index}]", expected.__name__, item)


def _at_item(failure: Invalid, path: str, items: list[Any], rest: Iterator[Any]) -> Invalid:
    """`failure` of an item of the array `items` at `path`; `rest` is what `map` left of it."""
    # `map` took the failing item from `rest` before decoding it: the item is the last taken.
    index = len(items) - operator.length_hint(rest) - 1
    return failure.within(f"{path}[{index}]")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --- structuring: one generated function per model ----------------------------------------


_EMPTY_MAPPING = FrozenMapping()


def frozen_mapping(value: Any, path: str) -> FrozenMapping:
    if value.__class__ is not dict:
        raise _wrong_type(path, "an object", value)
    # Most tags are `{}`; an empty FrozenMapping is immutable, so one instance serves all.
    return FrozenMapping(value) if value else _EMPTY_MAPPING


def split_optional(annotation: Any) -> tuple[bool, Any]:
    """`(True, X)` for `X | None`, `(False, X)` for `X`."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = (arg for arg in args if arg is not type(None))
        return True, inner
    return False, annotation


def item_kind(kind: Any) -> Any:
    """The item type of `tuple[X, ...]`, else `None`."""
    if typing.get_origin(kind) is tuple and typing.get_args(kind)[1:] == (Ellipsis,):
        return typing.get_args(kind)[0]
    return None


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
    var: str, path: str, optional: bool, kind: Any, structure_item: Callable[[Any], str]
) -> _ValueCode:
    """The code that decodes the JSON value in `var`, at `path`, into a field of `kind`."""
    or_none = f" and {var} is not None" if optional else ""
    if kind in (str, int, bool, datetime):
        # An exact class test: bool is an int subclass but never an int of the API.
        name = "str" if kind is datetime else kind.__name__
        check = [
            f"if {var}.__class__ is not {name}{or_none}:",
            f"    raise _wrong_type({path!r}, {name!r}, {var})",
        ]
        if kind is not datetime:
            return _ValueCode(check, var)
        # Keyed by its text, so that an interned instance is found before any parsing.
        parse = f"{var} = _datetimes_get({var}) or _parse_and_remember_datetime({var}, {path!r})"
        return _ValueCode(check, var, _when_present(var, optional, [parse]))
    if kind is float:
        # JSON does not tell 1 from 1.0: an integer is a number too (a bool is not). In a
        # key, 0.0 and -0.0 are told apart by their text: they are equal but not the same.
        check = [
            f"if {var}.__class__ is not float:",
            f"    if {var}.__class__ is int:",
            f"        {var} = float({var})",
            f"    elif {var} is not None:" if optional else "    else:",
            f"        raise _wrong_type({path!r}, 'a number', {var})",
        ]
        return _ValueCode(check, f"(None if {var} is None else {var} or repr({var}))")
    if kind is FrozenMapping:
        freeze = f"{var} = _frozen_mapping({var}, {path!r})"
        return _ValueCode(_when_present(var, optional, [freeze]), f"id({var})")
    item = item_kind(kind)
    if item is None:
        raise TypeError(f"no decoding rule for {kind!r}")
    not_an_array = [
        f"elif {var} is not None:" if optional else "else:",
        f"    raise _wrong_type({path!r}, 'an array', {var})",
    ]
    if item in (str, int, bool):
        # The classes of all the items at once, in C; exact classes, as for a single value.
        check = [
            f"if {var}.__class__ is list:",
            f"    if not {{*map(type, {var})}} <= {{{item.__name__}}}:",
            f"        raise _wrong_item({path!r}, {item.__name__}, {var})",
            f"    {var} = tuple({var})",
            *not_an_array,
        ]
        return _ValueCode(check, var)
    structure = structure_item(item)
    rest = f"{var}_rest"
    check = [
        f"if {var}.__class__ is list:",
        f"    {rest} = iter({var})",
        "    try:",
        f"        {var} = tuple(map({structure}, {rest}))",
        "    except _Invalid as failure:",
        f"        raise _at_item(failure, {path!r}, {var}, {rest})",
        *not_an_array,
    ]
    # Interned items are found again by identity: an instance in a key is alive. Arrays
    # of arrays hold JSON values only, which are keys themselves.
    return _ValueCode(check, f"({var} and tuple(map(id, {var})))" if attrs.has(item) else var)


@attrs.frozen
class _Field:
    """What the generated code needs to know of one attrs field."""

    name: str
    key: str
    required: bool
    optional: bool
    kind: Any


class StructureHooks:
    """Generates, and holds, the structure function of every model and array type.

    A function decodes the models nested in its own inline, in three steps: read and check
    every value of the object, nested ones included; look up the interned instance by a key
    made of those values (so that a hit builds nothing, not even the nested instances);
    build what was not found.

    Args:
        frozen_mapping: What makes a `FrozenMapping` of a JSON object (value, path).
        variant: Names this set of functions in tracebacks (`json`, `orjson`).
    """

    def __init__(
        self,
        frozen_mapping: Callable[[Any, str], FrozenMapping],
        variant: str,
    ) -> None:
        self._variant = variant
        self._globals: dict[str, Any] = {
            "_new": object.__new__,
            "_ABSENT": _ABSENT,
            "_Invalid": Invalid,
            "_wrong_type": _wrong_type,
            "_wrong_item": _wrong_item,
            "_at_item": _at_item,
            "_datetimes_get": _DATETIMES.get,
            "_parse_and_remember_datetime": _parse_and_remember_datetime,
            "_frozen_mapping": frozen_mapping,
            "_MEMO_SIZE": _MEMO_SIZE,
        }
        self._fields: dict[type, list[_Field]] = {}

    def __getitem__(self, kind: Any) -> Callable[[Any, Any], Any]:
        """The structure function of a model or an array type (a cattrs hook: value, type)."""
        function: Callable[[Any, Any], Any] = self._globals[self.function_name(kind)]
        return function

    def function_name(self, kind: Any) -> str:
        """The global name of the structure function of `kind`, generated on first need."""
        name = f"structure_{self._label(kind)}"
        if name in self._globals:
            return name
        if attrs.has(kind):
            body = [*self._check(kind, "o", "v", ""), *self._build(kind, "v", "o", "")]
        else:
            code = _value_code("o", "", False, kind, self.function_name)
            body = [*code.check, *code.convert]
        # The second parameter is the type that cattrs passes to a hook.
        lines = [f"def {name}(o, _=None):", *("    " + line for line in body), "    return o"]
        source = "\n".join(lines) + "\n"
        filename = f"<fpjs_async {self._variant} {name}>"
        # Registered so that a traceback through the function shows its lines.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), self._globals)
        return name

    def _label(self, kind: Any) -> str:
        """A name for `kind` in generated code, unique among the models of every family."""
        family = FAMILY_OF.get(kind)
        if family is not None:
            return f"{family.label}_{kind.__name__}"
        item = item_kind(kind)
        if item is not None:
            return f"tuple_{self._label(item)}"
        if kind in (str, int, bool):
            return str(kind.__name__)
        raise TypeError(f"no decoding rule for {kind!r}")

    def _fields_of(self, model: type) -> list[_Field]:
        """The fields of `model`, its class and slot setters put in the globals once."""
        fields = self._fields.get(model)
        if fields is not None:
            return fields
        label = self._label(model)
        family = FAMILY_OF[model]
        self._globals[f"_model_{label}"] = model
        fields = self._fields[model] = []
        for field in attrs.fields(attrs.resolve_types(model)):
            if field.default is not None and field.default is not attrs.NOTHING:
                raise TypeError(f"{model.__name__}.{field.name} has a default other than None")
            optional, kind = split_optional(field.type)
            required = field.default is attrs.NOTHING
            fields.append(_Field(field.name, family.json_key(field), required, optional, kind))
            # The slot's own setter: attrs' frozen __setattr__ refuses, and its __init__
            # goes through object.__setattr__ field by field, which costs twice as much.
            # (Looked up through the class, as a subclass inherits its base's slots.)
            self._globals[f"_model_{label}_set_{field.name}"] = getattr(model, field.name).__set__
        if model in family.interned:
            interned: dict[tuple[Any, ...], Any] = {}
            self._globals[f"_model_{label}_interned"] = interned
            self._globals[f"_model_{label}_interned_get"] = interned.get
        return fields

    def _value_code(self, var: str, path: str, field: _Field) -> _ValueCode:
        return _value_code(var, path, field.optional, field.kind, self.function_name)

    def _check(self, model: type, source: str, prefix: str, path: str) -> list[str]:
        """Lines that read the JSON object `source`, at `path`, into variables `{prefix}_N`."""
        lines = [
            f"if {source}.__class__ is not dict:",
            f"    raise _wrong_type({path!r}, 'an object', {source})",
        ]
        for index, field in enumerate(self._fields_of(model)):
            var = f"{prefix}_{index}"
            where = _join(path, field.key)
            default = ", _ABSENT" if field.required else ""
            lines.append(f"{var} = {source}.get({field.key!r}{default})")
            if attrs.has(field.kind):
                check = self._check(field.kind, var, var, where)
                lines += _when_present(var, field.optional, check)
            else:
                lines += self._value_code(var, where, field).check
        return lines

    def _key(self, model: type, prefix: str) -> str:
        """The key of the interned instance for the checked variables `{prefix}_N`."""
        parts = []
        for index, field in enumerate(self._fields_of(model)):
            var = f"{prefix}_{index}"
            if not attrs.has(field.kind):
                # A key is made of checked values: no failure, no path.
                parts.append(self._value_code(var, "", field).key)
            elif field.optional:
                parts.append(f"(None if {var} is None else {self._key(field.kind, var)})")
            else:
                parts.append(self._key(field.kind, var))
        return f"({', '.join(parts)},)"

    def _build(self, model: type, prefix: str, out: str, path: str) -> list[str]:
        """Lines that leave in `out` the instance for the checked variables `{prefix}_N`.

        `path` is that of the object, for the failures of conversions (a datetime's text).
        """
        name = f"_model_{self._label(model)}"
        build: list[str] = []
        fields = self._fields_of(model)
        for index, field in enumerate(fields):
            var = f"{prefix}_{index}"
            where = _join(path, field.key)
            if attrs.has(field.kind):
                nested = self._build(field.kind, var, var, where)
                build += _when_present(var, field.optional, nested)
            else:
                build += self._value_code(var, where, field).convert
        build.append(f"{out} = _new({name})")
        build += (f"{name}_set_{f.name}({out}, {prefix}_{i})" for i, f in enumerate(fields))
        if model not in FAMILY_OF[model].interned:
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
