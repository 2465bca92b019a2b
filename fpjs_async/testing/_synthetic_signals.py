"""What a synthetic visitor's events share: the signals of its devices, its networks, itself.

Drawn once per visitor (bots, environment), per device (tampering, virtual machines,
privacy settings, developer tools, rarity) and per network (VPN, proxy, Tor, block lists,
ASN, geolocation), so that they stay consistent across the visitor's events; the suspect
score is a weighted sum of them.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Mapping
from typing import Any

from fpjs_async.testing._synthetic import PLACES, Place, code, pick

__all__ = ["Network", "device_fields", "suspect_score", "visitor_fields"]

_HOUR = 3_600_000

_SDK_VERSIONS = ("3.11.10", "3.11.14", "3.12.1", "3.12.4")
_ENVIRONMENTS = ("ae_47abaca3db2c7c43",) * 9 + ("ae_9c2d51f0b7e8a314",)
_RARITY = ("<p95",) * 16 + ("p95-p99", "p95-p99", "p99-p99.5", "p99.5-p99.9", "p99.9+", "not_seen")
_COMMON_DEVICES = frozenset({"<p95", "p95-p99"})
_PROXIMITY_RADII = (10, 25, 65, 175, 450)
_PROXY_PROVIDERS = ("Massive", "Bright Data", "Oxylabs", "IPRoyal")
# (asn, asn_name, datacenter_name) of the hosting networks VPN exits are in.
_HOSTING = (
    ("9009", "M247 Europe SRL", "M247"),
    ("14061", "DigitalOcean, LLC", "DigitalOcean"),
    ("16276", "OVH SAS", "OVH"),
    ("60068", "Datacamp Limited", "CDN77"),
)
# (category, provider, provider_url, name, identity, confidence, bot_type)
_GOOD_BOTS = (
    ("search_engine_crawler", "Google", "https://google.com", "Googlebot", "verified", "high",
     "googlebot"),
    ("search_engine_crawler", "Microsoft", "https://bing.com", "Bingbot", "verified", "high",
     "bingbot"),
    ("ai_crawler", "OpenAI", "https://openai.com", "GPTBot", "verified", "high", "gptbot"),
    ("ai_agent", "OpenAI", "https://openai.com", "ChatGPT Agent", "signed", "high",
     "chatgpt_agent"),
    ("ai_assistant", "Anthropic", "https://anthropic.com", "Claude-User", "verified", "medium",
     "claude_user"),
    ("monitoring_and_analytics", "SolarWinds", "https://pingdom.com", "Pingdom", "verified",
     "high", "pingdom"),
)  # fmt: skip
_BAD_BOTS = (
    ("browser_automation", "Browserbase", "https://browserbase.com", "Browserbase Agent",
     "unknown", "medium", "browserbase"),
    ("browser_automation", "Unknown", None, "Puppeteer", "unknown", "high", "puppeteer"),
    ("browser_automation", "Unknown", None, "Selenium", "unknown", "medium", "selenium"),
    ("scraping", "Unknown", None, "Headless Chrome", "spoofed", "high", "headless_chrome"),
)  # fmt: skip
# The suspect score: the weight of each signal that is present.
_WEIGHTS = {
    "bad_bot": 10,
    "tor_node": 7,
    "tampering": 6,
    "vpn": 4,
    "proxy": 4,
    "anti_detect_browser": 4,
    "attack_source": 4,
    "virtual_machine": 3,
    "privacy_settings": 2,
    "developer_tools": 2,
    "high_activity_device": 2,
    "incognito": 1,
    "email_spam": 1,
}
# Mobile-only signals: a browser's events have them, always false.
_MOBILE_SIGNALS = {
    "root_apps": False,
    "emulator": False,
    "cloned_app": False,
    "factory_reset_timestamp": 0,
    "jailbroken": False,
    "frida": False,
    "simulator": False,
    "active_call": False,
}
_HIGH_RECALL_CONFIDENCE = {"score": 0, "version": "Not Supported"}


def _score(rng: random.Random, low: float, high: float) -> float:
    return round(rng.uniform(low, high), 4)


# A v3 `browserDetails` key and its v4 `browser_details` key (all required there).
_BROWSER_KEYS = (
    ("browserName", "browser_name"),
    ("browserMajorVersion", "browser_major_version"),
    ("browserFullVersion", "browser_full_version"),
    ("os", "os"),
    ("osVersion", "os_version"),
    ("device", "device"),
)


def _browser(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """The v4 fields of a v3 `browserDetails` (none without one)."""
    if details is None:
        return {}
    browser = {v4: details.get(v3) or "" for v3, v4 in _BROWSER_KEYS}
    fields: dict[str, Any] = {}
    if details.get("userAgent"):
        fields["user_agent"] = details["userAgent"]
    fields.update(device=browser["device"], os=browser["os"], os_version=browser["os_version"])
    fields["browser_details"] = browser
    return fields


def device_fields(rng: random.Random, details: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fields of a device: its browser, and the signals it always gives."""
    random_float = rng.random
    tampering = random_float() < 0.02
    anti_detect = tampering and random_float() < 0.5
    virtual_machine = random_float() < 0.03
    bucket = pick(rng, _RARITY)
    return {
        "source": "device",
        "sdk": {"platform": "js", "version": pick(rng, _SDK_VERSIONS)},
        "replayed": False,
        "incremental_identification_status": "completed",
        **_browser(details),
        "supplementary_id_high_recall": {
            "visitor_id": code(rng, 22) + "_hr",
            "visitor_found": True,
            "confidence": _HIGH_RECALL_CONFIDENCE,
        },
        "tampering": tampering,
        "tampering_confidence": "high" if not tampering else pick(rng, ("high", "medium")),
        "tampering_ml_score": _score(rng, 0.6, 0.99) if tampering else _score(rng, 0.0, 0.3),
        "tampering_details": {
            "anomaly_score": _score(rng, 0.5, 1.0) if tampering else _score(rng, 0.0, 0.4),
            "anti_detect_browser": anti_detect,
        },
        "virtual_machine": virtual_machine,
        "virtual_machine_ml_score": (
            _score(rng, 0.7, 0.99) if virtual_machine else _score(rng, 0.0, 0.3)
        ),
        "privacy_settings": random_float() < 0.05,
        "developer_tools": random_float() < 0.04,
        "rare_device": bucket not in _COMMON_DEVICES,
        "rare_device_percentile_bucket": bucket,
        "location_spoofing": False,
        "mitm_attack": False,
        **_MOBILE_SIGNALS,
    }


def _geolocation(place: Place) -> dict[str, Any]:
    location: dict[str, Any] = {
        "accuracy_radius": place.accuracy_radius,
        "latitude": place.latitude,
        "longitude": place.longitude,
        "postal_code": place.postal_code,
        "timezone": place.timezone,
        "city_name": place.city,
        "country_code": place.country_code,
        "country_name": place.country,
        "continent_code": place.continent_code,
        "continent_name": place.continent,
    }
    if place.subdivision_code is not None:
        location["subdivisions"] = [{"iso_code": place.subdivision_code, "name": place.subdivision}]
    return location


def _v3_geolocation(location: Mapping[str, Any]) -> dict[str, Any]:
    """A v3 `ipLocation` in v4's form."""
    geolocation: dict[str, Any] = {}
    for v3, v4 in (
        ("accuracyRadius", "accuracy_radius"),
        ("latitude", "latitude"),
        ("longitude", "longitude"),
        ("postalCode", "postal_code"),
        ("timezone", "timezone"),
    ):
        if location.get(v3) is not None:
            geolocation[v4] = location[v3]
    for v3, v4 in (("city", "city"), ("country", "country"), ("continent", "continent")):
        part = location.get(v3) or {}
        if part.get("name") is not None:
            geolocation[f"{v4}_name"] = part["name"]
        if v3 != "city" and part.get("code") is not None:
            geolocation[f"{v4}_code"] = part["code"]
    subdivisions = [
        {"iso_code": item["isoCode"], "name": item["name"]}
        for item in location.get("subdivisions") or ()
        if item.get("isoCode") is not None and item.get("name") is not None
    ]
    if subdivisions:
        geolocation["subdivisions"] = subdivisions
    return geolocation


def _place_of(ip: str) -> Place | None:
    """The synthetic place whose networks hold `ip`, if any."""
    for place in PLACES:
        if ip.startswith((f"{place.ipv4_prefix}.", f"{place.ipv6_prefix}:")):
            return place
    return None


class Network:
    """The fields of a network, with and without its geolocation, and its country."""

    __slots__ = ("country", "fields", "ip_info", "ip_info_unlocated")

    def __init__(
        self, rng: random.Random, ip: str, location: Mapping[str, Any] | None, last_seen_ms: int
    ) -> None:
        place = _place_of(ip)
        if place is not None:
            geolocation: dict[str, Any] | None = _geolocation(place)
        else:
            geolocation = None if location is None else _v3_geolocation(location)
        timezone = (geolocation or {}).get("timezone")
        random_float = rng.random
        vpn = random_float() < 0.06
        proxy = random_float() < 0.04
        tor = random_float() < 0.01
        version = "v6" if ":" in ip else "v4"
        operator: dict[str, Any] = {}
        if vpn:
            asn, asn_name, datacenter = pick(rng, _HOSTING)
            try:
                prefix = 48 if version == "v6" else 24
                network = str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
            except ValueError:  # not an IP address (the v3 API does not check)
                network = None
            operator = {"asn": asn, "asn_name": asn_name}
            if network is not None:
                operator["asn_network"] = network
            operator.update(asn_type="hosting", datacenter_result=True, datacenter_name=datacenter)
        elif place is not None:
            operator = {
                "asn": place.asn,
                "asn_name": place.asn_name,
                "asn_network": place.asn_network_v6 if version == "v6" else place.asn_network_v4,
                "asn_type": "isp",
                "datacenter_result": False,
            }
        info: dict[str, Any] = {"address": ip}
        if geolocation:
            info["geolocation"] = geolocation
        self.ip_info = {version: {**info, **operator}}
        self.ip_info_unlocated = {version: {"address": ip, **operator}}
        self.country: str | None = (geolocation or {}).get("country_code")
        # A VPN user's own time zone is another place's.
        origin = pick(rng, [other for other in PLACES if other.timezone != timezone])
        fields: dict[str, Any] = {
            "ip_address": ip,
            "ip_blocklist": {
                "email_spam": random_float() < 0.02,
                "attack_source": random_float() < 0.01,
                "tor_node": tor,
            },
            "proximity": {
                "id": code(rng, 11),
                "precision_radius": pick(rng, _PROXIMITY_RADII),
                "confidence": round(rng.uniform(0.5, 0.99), 2),
            },
            "vpn": vpn,
            "vpn_confidence": pick(rng, ("high", "high", "medium")) if vpn else "high",
            "vpn_ml_score": _score(rng, 0.7, 0.99) if vpn else _score(rng, 0.0, 0.3),
        }
        if vpn:
            fields.update(
                vpn_origin_timezone=origin.timezone, vpn_origin_country=origin.country_code
            )
        else:
            if timezone is not None:
                fields["vpn_origin_timezone"] = timezone
            fields["vpn_origin_country"] = "unknown"
        fields["vpn_methods"] = {
            "timezone_mismatch": vpn,
            "public_vpn": vpn and random_float() < 0.6,
            "auxiliary_mobile": False,
            "os_mismatch": False,
            "relay": False,
            "ml_prediction": vpn,
        }
        fields.update(
            proxy=proxy,
            proxy_confidence=pick(rng, ("low", "medium", "high")) if proxy else "high",
            proxy_ml_score=_score(rng, 0.6, 0.99) if proxy else _score(rng, 0.0, 0.2),
        )
        if proxy:
            fields["proxy_details"] = {
                "proxy_type": pick(rng, ("residential", "residential", "data_center")),
                "last_seen_at": last_seen_ms - last_seen_ms % _HOUR,
                "provider": pick(rng, _PROXY_PROVIDERS),
            }
        self.fields = fields


def visitor_fields(rng: random.Random, high_activity: bool) -> dict[str, Any]:
    """The fields of the visitor itself: whether it is a bot, its environment."""
    draw = rng.random()
    bot = "bad" if draw < 0.03 else "good" if draw < 0.05 else "not_detected"
    fields: dict[str, Any] = {"environment_id": pick(rng, _ENVIRONMENTS), "bot": bot}
    if bot == "good" or (bot == "bad" and rng.random() < 0.6):
        row = pick(rng, _GOOD_BOTS if bot == "good" else _BAD_BOTS)
        category, provider, provider_url, name, identity, confidence, bot_type = row
        info = {"category": category, "provider": provider}
        if provider_url is not None:
            info["provider_url"] = provider_url
        info.update(name=name, identity=identity, confidence=confidence)
        fields["bot_type"] = bot_type
        fields["bot_info"] = info
    fields["high_activity_device"] = high_activity
    return fields


def suspect_score(fields: Mapping[str, Any]) -> int:
    blocklist = fields.get("ip_blocklist", {})
    present = {
        "bad_bot": fields["bot"] == "bad",
        "tor_node": blocklist.get("tor_node"),
        "tampering": fields["tampering"],
        "vpn": fields.get("vpn"),
        "proxy": fields.get("proxy"),
        "anti_detect_browser": fields["tampering_details"]["anti_detect_browser"],
        "attack_source": blocklist.get("attack_source"),
        "virtual_machine": fields["virtual_machine"],
        "privacy_settings": fields["privacy_settings"],
        "developer_tools": fields["developer_tools"],
        "high_activity_device": fields["high_activity_device"],
        "incognito": fields.get("incognito"),
        "email_spam": blocklist.get("email_spam"),
    }
    return sum(_WEIGHTS[name] for name, on in present.items() if on)
