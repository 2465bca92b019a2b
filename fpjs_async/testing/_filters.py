"""How the emulator reads each filter of `GET /v4/events`: values as sent, to a predicate.

Each filter gets every value sent for it (booleans are `true`/`false`, arrays are repeated
keys, other parameters are given once) and gives the predicate its events must satisfy, or
refuses the request with the API's 400.
"""

from __future__ import annotations

import functools
import ipaddress
import math
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import urlsplit

from fpjs_async import _validate
from fpjs_async.testing._event_store import StoredEvent

__all__ = [
    "EVALUATED_FILTERS",
    "FLAGS",
    "FilterParser",
    "Predicate",
    "Refused",
    "boolean",
    "invalid",
    "single",
]

Predicate = Callable[[StoredEvent], bool]
# A filter: its name and every value sent for it, to a predicate (or `Refused`).
FilterParser = Callable[[str, list[str]], Predicate]

_BOOLEANS = {"true": True, "false": False}
# The API's own words for a bad value, where the schema's examples give them.
_INVALID = {
    "visitor_id": "invalid visitor id",
    "ip_address": "invalid ip address",
    "bot": "invalid bot type",
    "reverse": "invalid reverse param",
    "start": "invalid start time",
    "end": "invalid end time",
    "limit": "invalid limit",
    "pagination_key": "invalid pagination key",
}
_MAX_LINKED_ID = 256


class Refused(Exception):
    """A request the API answers 400: the message says why."""


def invalid(name: str) -> Refused:
    """The 400 of a bad value of `name`, in the API's words where they are known."""
    return Refused(_INVALID.get(name, f"invalid {name}"))


def single(name: str, values: list[str]) -> str:
    """The one value of a parameter that takes one, non-empty."""
    if len(values) > 1:
        raise Refused(f"invalid {name}: given {len(values)} times, it takes one value")
    if not values[0]:
        raise invalid(name)
    return values[0]


def boolean(name: str, values: list[str]) -> bool:
    """The one value of a boolean parameter: `true` or `false`."""
    value = _BOOLEANS.get(single(name, values))
    if value is None:
        raise invalid(name)
    return value


# --- filters ------------------------------------------------------------------------------


def _text(*path: str, longest: int | None = None) -> FilterParser:
    def parse(name: str, values: list[str]) -> Predicate:
        wanted = single(name, values)
        if longest is not None and len(wanted) > longest:
            raise Refused(f"{name} can't be greater than {longest} characters long")
        return lambda event: event.lookup(path) == wanted

    return parse


def _flag(*path: str) -> FilterParser:
    def parse(name: str, values: list[str]) -> Predicate:
        wanted = boolean(name, values)
        # An event without the signal has neither value, so it never matches.
        return lambda event: event.lookup(path) is wanted

    return parse


def _choice(path: tuple[str, ...], allowed: Iterable[str]) -> FilterParser:
    choices = frozenset(allowed)

    def parse(name: str, values: list[str]) -> Predicate:
        wanted = single(name, values)
        if wanted not in choices:
            raise invalid(name)
        return lambda event: event.lookup(path) == wanted

    return parse


def _any_of(
    path: tuple[str, ...], allowed: Iterable[str] | None = None, *, most: int | None = None
) -> FilterParser:
    choices = None if allowed is None else frozenset(allowed)

    def parse(name: str, values: list[str]) -> Predicate:
        if most is not None and len(values) > most:
            raise Refused(f"invalid {name}: at most {most} value(s)")
        if not all(values) or (choices is not None and not choices.issuperset(values)):
            raise invalid(name)
        wanted = frozenset(values)
        return lambda event: event.lookup(path) in wanted

    return parse


_BOT_RESULTS = {
    "all": frozenset({"good", "bad"}),
    "good": frozenset({"good"}),
    "bad": frozenset({"bad"}),
    "none": frozenset({"not_detected"}),
}


def _bot(name: str, values: list[str]) -> Predicate:
    results = _BOT_RESULTS.get(single(name, values))
    if results is None:
        raise invalid(name)
    return lambda event: event.get("bot") in results


def _bot_info(name: str, values: list[str]) -> Predicate:
    wanted = single(name, values)
    if wanted == "all":
        return lambda event: event.get("bot_info") is not None
    if wanted == "none":
        return _no_bot_info
    raise invalid(name)


def _no_bot_info(event: StoredEvent) -> bool:
    return event.get("bot_info") is None and event.get("bot") not in ("good", "bad")


@functools.lru_cache(maxsize=65_536)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _ip_address(name: str, values: list[str]) -> Predicate:
    try:
        network = ipaddress.ip_network(single(name, values), strict=False)
    except ValueError:
        raise invalid(name) from None

    def match(event: StoredEvent) -> bool:
        text = event.get("ip_address")
        address = _address(text) if isinstance(text, str) else None
        return address is not None and address in network

    return match


_ASN_V4 = ("ip_info", "v4", "asn")
_ASN_V6 = ("ip_info", "v6", "asn")


def _asn(name: str, values: list[str]) -> Predicate:
    wanted = single(name, values)

    def match(event: StoredEvent) -> bool:
        return wanted in (event.lookup(_ASN_V4), event.lookup(_ASN_V6))

    return match


@functools.lru_cache(maxsize=4096)
def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _origin(name: str, values: list[str]) -> Predicate:
    wanted = single(name, values)

    def match(event: StoredEvent) -> bool:
        url = event.get("url")
        return isinstance(url, str) and _origin_of(url) == wanted

    return match


def _factory_reset(name: str, values: list[str]) -> Predicate:
    wanted = boolean(name, values)

    def match(event: StoredEvent) -> bool:
        moment = event.get("factory_reset_timestamp")
        return _validate.is_int(moment) and (moment > 0) is wanted

    return match


def _min_suspect_score(name: str, values: list[str]) -> Predicate:
    try:
        least = float(single(name, values))
    except ValueError:
        raise invalid(name) from None
    if not math.isfinite(least):
        raise invalid(name)

    def match(event: StoredEvent) -> bool:
        score = event.get("suspect_score")
        return _validate.is_number(score) and score >= least

    return match


_BOT_INFO_CATEGORIES = (
    "advertising_and_marketing", "aggregator", "ai_agent", "ai_assistant", "ai_browser",
    "ai_crawler", "ai_search", "browser_automation", "ecommerce", "monitoring_and_analytics",
    "other", "scraping", "security", "search_engine_crawler", "search_engine_optimization",
    "unknown",
)  # fmt: skip
#: The boolean filters that read the signal of their own name.
FLAGS = (
    "suspect", "vpn", "virtual_machine", "tampering", "incognito", "privacy_settings",
    "jailbroken", "frida", "cloned_app", "emulator", "root_apps", "developer_tools",
    "location_spoofing", "mitm_attack", "rare_device", "proxy", "simulator", "active_call",
)  # fmt: skip

#: How the emulator evaluates each filter of `GET /v4/events` but those of `_SELF_READ`.
EVALUATED_FILTERS: Mapping[str, FilterParser] = {
    "high_recall_id": _text("supplementary_id_high_recall", "visitor_id"),
    "linked_id": _text("linked_id", longest=_MAX_LINKED_ID),
    "ip_address": _ip_address,
    "asn": _asn,
    "url": _text("url"),
    "origin": _origin,
    "bundle_id": _text("bundle_id"),
    "package_name": _text("package_name"),
    "proximity_id": _text("proximity", "id"),
    "sdk_version": _text("sdk", "version"),
    "bot": _bot,
    "bot_info": _bot_info,
    "vpn_confidence": _choice(("vpn_confidence",), ("high", "medium", "low")),
    "sdk_platform": _choice(("sdk", "platform"), ("js", "android", "ios")),
    "incremental_identification_status": _choice(
        ("incremental_identification_status",), ("partially_completed", "completed")
    ),
    "rare_device_percentile_bucket": _choice(
        ("rare_device_percentile_bucket",),
        ("<p95", "p95-p99", "p99-p99.5", "p99.5-p99.9", "p99.9+", "not_seen"),
    ),
    "bot_info_category": _any_of(("bot_info", "category"), _BOT_INFO_CATEGORIES),
    "bot_info_identity": _any_of(
        ("bot_info", "identity"), ("verified", "signed", "spoofed", "unknown")
    ),
    "bot_info_confidence": _any_of(("bot_info", "confidence"), ("low", "medium", "high")),
    "bot_info_provider": _any_of(("bot_info", "provider")),
    "bot_info_name": _any_of(("bot_info", "name")),
    "environment": _any_of(("environment_id",)),
    "source": _any_of(("source",), ("edge",), most=1),
    **{name: _flag(name) for name in FLAGS},
    "anti_detect_browser": _flag("tampering_details", "anti_detect_browser"),
    "tor_node": _flag("ip_blocklist", "tor_node"),
    "factory_reset": _factory_reset,
    "min_suspect_score": _min_suspect_score,
}
