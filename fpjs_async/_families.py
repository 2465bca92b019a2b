"""The two families of models, and the JSON key each gives a field.

v3's models (`_models.py`) name their JSON keys in camelCase, v4's (`events.py`) as their
fields are named; a field whose key no rule gives (v4's `5_minutes`) names it in its
`JSON_KEY` metadata. The converter reads these keys both ways.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from fpjs_async import _models, events
from fpjs_async._models import JSON_KEY

__all__ = ["FAMILIES", "FAMILY_OF", "V3", "V4", "Family", "to_camel"]


def to_camel(name: str) -> str:
    """`ip_location` -> `ipLocation`; a trailing `_` (as in `global_`) is dropped."""
    first, *rest = name.rstrip("_").split("_")
    return first + "".join(word.capitalize() for word in rest)


def _same_name(name: str) -> str:
    return name


@attrs.frozen
class Family:
    """Models whose JSON keys follow one rule.

    Attributes:
        label: Names the family in generated code (`v3`, `v4`).
        models: Every model of the family.
        key_rule: The JSON key of a field, from its name.
        interned: The models whose equal instances decode into one shared instance.
    """

    label: str
    models: tuple[type, ...]
    key_rule: Callable[[str], str]
    interned: frozenset[type] = frozenset()

    def json_key(self, field: attrs.Attribute[Any]) -> str:
        """The JSON key of `field`: its `JSON_KEY` metadata, else the family's rule."""
        key: str | None = field.metadata.get(JSON_KEY)
        return self.key_rule(field.name) if key is None else key


_V3_MODELS: tuple[type, ...] = (
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

# v3 interns every model but the two that are unique to each visit and each page.
V3 = Family(
    "v3",
    _V3_MODELS,
    to_camel,
    interned=frozenset(_V3_MODELS) - {_models.Visit, _models.VisitorHistory},
)

# Every public class of `events` is a model of the schema. v4 interns none: measured on pages
# of 100 events, interning the device, network and SDK objects saved 14% when every event had
# the same device and cost 40% when none did, while holding thousands of large objects.
V4 = Family("v4", tuple(getattr(events, name) for name in events.__all__), _same_name)

FAMILIES = (V3, V4)
FAMILY_OF = {model: family for family in FAMILIES for model in family.models}
