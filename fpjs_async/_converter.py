"""The one cattrs converter between the API's JSON and the models, both ways, both versions.

Decoding is lenient about presence (unknown keys ignored, documented fields that are
missing become `None`) and strict about types: a value of the wrong JSON type raises, and
`decode_body` turns any failure into `ResponseDecodeError`, whose reason says where it
happened (`events[3].ip_info.v4.asn: expected str, got int`). The structure hooks are the
functions `_structure` generates for each model (the JSON key of a field comes from its
family, `_families`); unstructuring uses cattrs' own generated hooks. When `orjson` is
installed (the `speedups` extra) it parses the bytes, with the standard `json` module
deciding every body `orjson` reads differently.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from fpjs_async._datetimes import format_datetime
from fpjs_async._errors import ResponseDecodeError, excerpt
from fpjs_async._families import FAMILIES, FAMILY_OF
from fpjs_async._models import FrozenMapping, VisitorHistory
from fpjs_async._structure import Invalid, StructureHooks, frozen_mapping

__all__ = ["NotExact", "converter", "decode_body", "decode_history"]

T = TypeVar("T")


def _unstructure_frozen_mapping(value: FrozenMapping) -> dict[str, Any]:
    return value.thaw()


_json_hooks = StructureHooks(frozen_mapping, "json")

#: The structure function of every model, for bodies parsed by `json`.
_STRUCTURE: dict[type, Callable[[Any, Any], Any]] = {
    model: _json_hooks[model] for family in FAMILIES for model in family.models
}


def _build_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False, detailed_validation=False)
    conv.register_unstructure_hook(datetime, format_datetime)
    conv.register_unstructure_hook(FrozenMapping, _unstructure_frozen_mapping)

    def unstructure_hook(model: type) -> Callable[[Any], dict[str, Any]]:
        # Made on first use, when the hooks of the models it nests can be made too.
        family = FAMILY_OF[model]
        renames: dict[str, Any] = {
            a.name: override(rename=family.json_key(a)) for a in attrs.fields(model)
        }
        return make_dict_unstructure_fn(model, conv, _cattrs_omit_if_default=True, **renames)

    conv.register_unstructure_hook_factory(FAMILY_OF.__contains__, unstructure_hook)
    for model, structure in _STRUCTURE.items():
        conv.register_structure_hook(model, structure)
    return conv


#: Structures API JSON into the models and unstructures models back into API JSON.
converter = _build_converter()


class NotExact(Exception):
    """Raised on data from `orjson` where `json` would read the body differently."""


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


def _frozen_mapping_of_orjson_data(value: Any, path: str) -> FrozenMapping:
    # The typed fields refuse such a float by its type; a free-form object would keep it.
    if value.__class__ is dict and _holds_inexact_number(value):
        raise NotExact
    return frozen_mapping(value, path)


# --- bodies -------------------------------------------------------------------------------


def _orjson_decoder() -> Callable[[bytes, type[Any]], Any] | None:
    """Parsing with `orjson` when it is installed, else `None`."""
    try:
        import orjson
    except ImportError:
        return None
    loads = orjson.loads
    hooks = StructureHooks(_frozen_mapping_of_orjson_data, "orjson")

    def decode(content: bytes, model: type[Any]) -> Any:
        return hooks[model](loads(content), model)

    return decode


#: The fast path: `orjson` when installed. It reads some bodies differently from `json`
#: (NaN, integers beyond 64 bits, a byte order mark...): every body it fails on, and every
#: body that fails to decode from its data, is decoded again by `json`, which decides.
_fast_decode = _orjson_decoder()


def decode_body(content: bytes, model: type[T], *, status: int = 200) -> T:
    """Parse a 2xx body of the API into `model` (`Event`, `EventSearch`, `VisitorHistory`).

    Args:
        content: The body's bytes.
        model: The model of the whole body.
        status: The response's status, for the error.

    Raises:
        ResponseDecodeError: The body is not the documented JSON of `model`; its `reason`
            says what is wrong and where (`events[3].ip_info.v4.asn: expected str, got int`).
        TypeError: `model` is not a model of the API.
    """
    structure = _STRUCTURE.get(model)
    if structure is None:
        raise TypeError(f"model must be a model of the API, not {model!r}")
    if _fast_decode is not None:
        try:
            decoded: T = _fast_decode(content, model)
            return decoded
        except (ValueError, OverflowError, RecursionError, NotExact):
            pass
    try:
        data = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise ResponseDecodeError(status, excerpt(content), f"invalid JSON: {exc}") from None
    if data.__class__ is not dict:
        raise ResponseDecodeError(status, excerpt(content), "the body is not a JSON object")
    try:
        decoded = structure(data, model)
    except RecursionError:
        raise ResponseDecodeError(status, excerpt(content), "nested too deeply") from None
    except (Invalid, OverflowError) as exc:
        raise ResponseDecodeError(status, excerpt(content), str(exc)) from exc
    return decoded


def decode_history(content: bytes, *, status: int = 200) -> VisitorHistory:
    """Parse a 2xx body of `GET /visitors/:id`; `ResponseDecodeError` for anything else."""
    return decode_body(content, VisitorHistory, status=status)
