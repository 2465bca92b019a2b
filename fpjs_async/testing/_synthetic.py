"""Deterministic synthetic visitor histories that look like the API's real responses.

Everything is drawn from one `random.Random`, so the same seed gives the same data on every
run and platform, but for the absolute times: a history ends at the moment it is given.
Sub-objects that real visits repeat (a device's `browserDetails`, a network's `ipLocation`)
are built once per visitor and shared by its visits: the store never mutates them, and
sharing keeps 100,000 visits quick to make.
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple, TypeVar

from fpjs_async._datetimes import format_datetime

__all__ = ["PLACES", "Place", "code", "pick", "synthetic_history", "synthetic_visitor_id"]

_DAY_MS = 86_400_000
# A history's newest visit is at most this long before the moment it ends at.
_MOST_IDLE_MS = 2 * _DAY_MS
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ALPHANUMERIC = string.ascii_letters + string.digits
# Two characters at a time: a request ID's six-character suffix is three picks.
_ALPHANUMERIC_PAIRS = tuple(a + b for a in _ALPHANUMERIC for b in _ALPHANUMERIC)

T = TypeVar("T")

# (browserName, major, full, os, osVersion, device, userAgent)
_BROWSERS: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("Chrome", "124", "124.0.6367", "Windows", "10", "Other",
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.6367.91 Safari/537.36"),
    ("Chrome", "123", "123.0.6312", "Mac OS X", "10.15.7", "Other",
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/123.0.6312.122 Safari/537.36"),
    ("Safari", "17", "17.4.1", "Mac OS X", "14.4.1", "Other",
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.4.1 Safari/605.1.15"),
    ("Mobile Safari", "17", "17.4", "iOS", "17.4.1", "iPhone",
     "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"),
    ("Firefox", "125", "125.0", "Windows", "10", "Other",
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0"),
    ("Firefox", "124", "124.0", "Linux", "", "Other",
     "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0"),
    ("Edge", "124", "124.0.2478", "Windows", "11", "Other",
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67"),
    ("Chrome Mobile", "124", "124.0.6367", "Android", "14", "Pixel 8",
     "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.6367.82 Mobile Safari/537.36"),
    ("Samsung Internet", "24", "24.0", "Android", "13", "Samsung SM-S911B",
     "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36"),
    ("Chrome", "102", "102.0.5005", "Mac OS X", "10.15.7", "Other",
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/102.0.5005.61 Safari/537.36"),
)  # fmt: skip


class Place(NamedTuple):
    """A city, its geolocation, address ranges of networks there, and their operator."""

    city: str
    country_code: str
    country: str
    continent_code: str
    continent: str
    subdivision_code: str | None
    subdivision: str | None
    timezone: str
    latitude: float
    longitude: float
    postal_code: str
    accuracy_radius: int
    ipv4_prefix: str  # a /24
    ipv6_prefix: str  # a /64
    asn: str
    asn_name: str
    asn_network_v4: str
    asn_network_v6: str


_PLACE_ROWS: tuple[tuple[Any, ...], ...] = (
    ("Prague", "CZ", "Czechia", "EU", "Europe", "10", "Hlavni mesto Praha", "Europe/Prague",
     50.0805, 14.467, "130 00", 1000, "82.118.30", "2a02:8308:a0:7d00",
     "5610", "O2 Czech Republic, a.s.", "82.118.0.0/18", "2a02:8308::/32"),
    ("Dusseldorf", "DE", "Germany", "EU", "Europe", "NW", "North Rhine-Westphalia",
     "Europe/Berlin", 51.2217, 6.7762, "40213", 20, "91.64.12", "2a02:908:1e2:4b40",
     "3209", "Vodafone GmbH", "91.64.0.0/14", "2a02:908::/32"),
    ("Frankfurt am Main", "DE", "Germany", "EU", "Europe", "HE", "Hesse", "Europe/Berlin",
     50.1109, 8.6821, "60311", 10, "84.153.96", "2003:e5:7f1c:a200",
     "3320", "Deutsche Telekom AG", "84.128.0.0/10", "2003::/19"),
    ("London", "GB", "United Kingdom", "EU", "Europe", "ENG", "England", "Europe/London",
     51.5074, -0.1278, "EC1A", 50, "81.2.69", "2a00:23c7:5d8e:8e01",
     "2856", "British Telecommunications PLC", "81.2.64.0/18", "2a00:23c0::/28"),
    ("Paris", "FR", "France", "EU", "Europe", "IDF", "Ile-de-France", "Europe/Paris",
     48.8566, 2.3522, "75001", 20, "90.84.144", "2a01:e0a:2b4:6c70",
     "12322", "Free SAS", "90.84.0.0/16", "2a01:e00::/26"),
    ("New York", "US", "United States", "NA", "North America", "NY", "New York",
     "America/New_York", 40.7128, -74.006, "10001", 5, "173.56.42", "2600:4040:2d3a:f100",
     "701", "Verizon Business", "173.56.0.0/14", "2600:4040::/30"),
    ("San Francisco", "US", "United States", "NA", "North America", "CA", "California",
     "America/Los_Angeles", 37.7749, -122.4194, "94103", 5, "76.102.188", "2601:645:8300:9a10",
     "7922", "Comcast Cable Communications, LLC", "76.96.0.0/11", "2601::/20"),
    ("Toronto", "CA", "Canada", "NA", "North America", "ON", "Ontario", "America/Toronto",
     43.6532, -79.3832, "M5H", 10, "99.231.17", "2607:fea8:1f1d:7e00",
     "812", "Rogers Communications Canada Inc.", "99.224.0.0/12", "2607:fea8::/32"),
    ("Sao Paulo", "BR", "Brazil", "SA", "South America", "SP", "Sao Paulo",
     "America/Sao_Paulo", -23.5505, -46.6333, "01000-000", 100, "177.92.48", "2804:14d:5c80:8c3e",
     "28573", "Claro NXT Telecomunicacoes Ltda", "177.92.0.0/14", "2804:14c::/31"),
    ("Tokyo", "JP", "Japan", "AS", "Asia", "13", "Tokyo", "Asia/Tokyo",
     35.6762, 139.6503, "100-0001", 50, "126.209.4", "240b:10:2e60:ad00",
     "17676", "SoftBank Corp.", "126.0.0.0/8", "240b:10::/32"),
    ("Singapore", "SG", "Singapore", "AS", "Asia", None, None, "Asia/Singapore",
     1.2897, 103.8501, "018989", 50, "118.200.33", "2406:3003:2007:1c5a",
     "9506", "Singtel Fibre Broadband", "118.200.0.0/14", "2406:3003::/32"),
    ("Bengaluru", "IN", "India", "AS", "Asia", "KA", "Karnataka", "Asia/Kolkata",
     12.9716, 77.5946, "560001", 200, "49.207.52", "2401:4900:1cb8:3d2e",
     "24560", "Bharti Airtel Ltd.", "49.207.0.0/16", "2401:4900::/32"),
    ("Sydney", "AU", "Australia", "OC", "Oceania", "NSW", "New South Wales",
     "Australia/Sydney", -33.8688, 151.2093, "2000", 20, "101.191.64", "2001:8003:2c1d:6f00",
     "1221", "Telstra Limited", "101.160.0.0/11", "2001:8000::/20"),
)  # fmt: skip
#: Where synthetic networks are.
PLACES = tuple(Place(*row) for row in _PLACE_ROWS)

_URLS = (
    "https://shop.example.com/",
    "https://shop.example.com/login",
    "https://shop.example.com/cart",
    "https://shop.example.com/checkout",
    "https://shop.example.com/account/orders",
    "https://shop.example.com/search?q=running+shoes",
    "https://www.example.com/pricing",
    "https://www.example.com/signup",
)

_TAGS: tuple[dict[str, Any], ...] = (
    {"campaign": "spring-sale"},
    {"ab": {"experiment": "checkout-v2", "variant": "B"}},
    {"user": {"plan": "pro", "seats": 5}, "flags": ["beta", "dark-mode"]},
    {"source": "newsletter", "position": 3},
    {"page": {"section": "checkout", "step": 2, "guest": False}},
)

_LINKED_PREFIXES = ("order", "session", "cart", "user")
_SCORES = (1.0, 1.0, 1.0, 1.0, 0.99, 0.98, 0.96, 0.93, 0.9, 0.82, 0.67, 0.5)
_INCOGNITO_SHARES = (0.0, 0.02, 0.05, 0.1, 0.4)


def code(rng: random.Random, length: int) -> str:
    """`length` random ASCII letters and digits."""
    return "".join(rng.choices(_ALPHANUMERIC, k=length))


def synthetic_visitor_id(rng: random.Random) -> str:
    """A visitor ID in the API's form: 20 ASCII letters and digits."""
    return code(rng, 20)


def _browser_details(rng: random.Random) -> dict[str, Any]:
    name, major, full, os_name, os_version, device, user_agent = pick(rng, _BROWSERS)
    return {
        "browserName": name,
        "browserMajorVersion": major,
        "browserFullVersion": full,
        "os": os_name,
        "osVersion": os_version,
        "device": device,
        "userAgent": user_agent,
    }


def _network(rng: random.Random) -> tuple[str, dict[str, Any]]:
    """An IP address (v4, or v6 for about a third) and its geolocation."""
    place = pick(rng, PLACES)
    if rng.random() < 0.3:
        groups = ":".join(f"{rng.randrange(0x10000):x}" for _ in range(4))
        ip = f"{place.ipv6_prefix}:{groups}"
    else:
        ip = f"{place.ipv4_prefix}.{rng.randrange(1, 255)}"
    location: dict[str, Any] = {
        "accuracyRadius": place.accuracy_radius,
        "latitude": place.latitude,
        "longitude": place.longitude,
        "postalCode": place.postal_code,
        "timezone": place.timezone,
        "city": {"name": place.city},
        "country": {"code": place.country_code, "name": place.country},
        "continent": {"code": place.continent_code, "name": place.continent},
    }
    if place.subdivision_code is not None:
        location["subdivisions"] = [{"isoCode": place.subdivision_code, "name": place.subdivision}]
    return ip, location


class _TimeFormatter:
    """`format_datetime` of a timestamp in ms, made fast by formatting each day only once.

    A visitor's visits fall on a few dozen days, so only the time of day is formatted per
    visit; the result is the same text as `format_datetime` gives.
    """

    __slots__ = ("_days",)

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def __call__(self, timestamp_ms: int) -> str:
        day, ms_of_day = divmod(timestamp_ms, _DAY_MS)
        date = self._days.get(day)
        if date is None:
            date = self._days[day] = format_datetime(_EPOCH + timedelta(days=day))[:10]
        seconds, ms = divmod(ms_of_day, 1000)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        fraction = f".{ms:03d}Z" if ms else "Z"
        return f"{date}T{hour:02d}:{minute:02d}:{second:02d}{fraction}"


def pick(rng: random.Random, items: Sequence[T]) -> T:
    """An item of `items` drawn from `rng`: quicker than `rng.choice`, as deterministic."""
    return items[int(rng.random() * len(items))]


def synthetic_history(
    rng: random.Random, count: int, *, end_ms: int, window_ms: int
) -> list[dict[str, Any]]:
    """`count` visits of one visitor, API-shaped, newest first.

    Timestamps are unique and spread over a quarter to all of the `window_ms` before
    `end_ms`; the newest is at most two days before it. The visitor uses one to three devices
    and networks; runs of consecutive visits share a `linkedId`; a few visits have no
    `ipLocation`.

    Args:
        rng: The source of every random choice.
        count: How many visits to make (0 or more).
        end_ms: The moment the history ends at (Unix ms), usually the emulator's now.
        window_ms: How far back the history may reach (the retention of the data).

    Returns:
        The visits as the API's JSON objects.
    """
    if count <= 0:
        return []
    devices = [_browser_details(rng) for _ in range(pick(rng, (1, 1, 1, 2, 2, 3)))]
    networks = [_network(rng) for _ in range(pick(rng, (1, 1, 2, 2, 3)))]
    incognito_share = pick(rng, _INCOGNITO_SHARES)
    idle = rng.randrange(max(1, min(_MOST_IDLE_MS, window_ms // 4)))
    room = max(1, window_ms - idle)  # the oldest visit stays inside the window
    span = max(rng.randrange(max(1, room // 4), room + 1), count)
    end = end_ms - idle
    # The newest visit is at the end, so that every history reaches the recent days.
    offsets = [0, *rng.sample(range(1, span), count - 1)]
    timestamps = sorted(end - offset for offset in offsets)
    iso = _TimeFormatter()
    # Seen by the wider network some time before this subscription first saw it.
    first_seen = {
        "global": iso(timestamps[0] - rng.randrange(90 * _DAY_MS)),
        "subscription": iso(timestamps[0]),
    }

    random_float = rng.random
    pairs = _ALPHANUMERIC_PAIRS
    pair_count = len(pairs)
    visits: list[dict[str, Any]] = []
    linked_id: str | None = None
    linked_left = 0
    previous_time = ""
    for timestamp in timestamps:
        if linked_left == 0:
            linked_id = None
            if random_float() < 0.35:
                linked_id = f"{pick(rng, _LINKED_PREFIXES)}-{rng.randrange(10**6):06d}"
                linked_left = rng.randint(1, 12)
        else:
            linked_left -= 1
        precise_time = iso(timestamp)
        ip, location = pick(rng, networks)
        suffix = (
            pairs[int(random_float() * pair_count)]
            + pairs[int(random_float() * pair_count)]
            + pairs[int(random_float() * pair_count)]
        )
        visit: dict[str, Any] = {
            "requestId": f"{timestamp}.{suffix}",
            "browserDetails": pick(rng, devices),
            "incognito": random_float() < incognito_share,
            "ip": ip,
            "timestamp": timestamp,
            # The API sends `time` to the second or to the millisecond.
            "time": precise_time if random_float() < 0.3 else precise_time[:19] + "Z",
            "url": pick(rng, _URLS),
            "tag": {} if random_float() < 0.75 else pick(rng, _TAGS),
            "confidence": {"score": pick(rng, _SCORES)},
            "visitorFound": bool(previous_time),
            "firstSeenAt": first_seen,
        }
        if random_float() >= 0.03:
            visit["ipLocation"] = location
        if previous_time:
            visit["lastSeenAt"] = {"global": previous_time, "subscription": previous_time}
        if linked_id is not None:
            visit["linkedId"] = linked_id
        visits.append(visit)
        previous_time = precise_time
    visits.reverse()
    return visits
