"""The Server API v4 models: an `Event`, a page of them (`EventSearch`) and their parts.

One frozen, slotted attrs class per object of the v4 schema (`Event.yaml` and what it refers
to), named after the schema. An attribute is named as its JSON key, which v4 already writes
in snake_case; the few keys that are no Python identifier have a close name instead
(`VelocityData.five_minutes` for `5_minutes`, `Plugin.mime_types` for `mimeTypes`).

As the API sends them: times are Unix milliseconds (`int`), enum values are `str` (the
server adds values over time, and an unknown one is kept as it came), free-form objects
(`Event.tags`) are a read-only `FrozenMapping` and arrays are tuples. Only the schema's
required properties are required; every other attribute is `None` when the JSON leaves it
out, and keys the schema does not document are ignored.

    event = await fp.get_event("1708102555327.NLOjmg")
    if event.identification is not None:
        print(event.identification.visitor_id, event.time)
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from fpjs_async._models import JSON_KEY, FrozenMapping

__all__ = [
    "SDK",
    "BotInfo",
    "BrowserDetails",
    "Canvas",
    "Emoji",
    "Event",
    "EventRuleAction",
    "EventSearch",
    "FontPreferences",
    "Geolocation",
    "IPBlockList",
    "IPInfo",
    "IPInfoV4",
    "IPInfoV6",
    "Identification",
    "IdentificationConfidence",
    "Integration",
    "Label",
    "Plugin",
    "PluginMimeType",
    "Proximity",
    "ProxyDetails",
    "RawDeviceAttributes",
    "RequestHeaderModifications",
    "RuleActionHeaderField",
    "Subdivision",
    "Subintegration",
    "SupplementaryIDHighRecall",
    "TamperingDetails",
    "TouchSupport",
    "TriggeredBy",
    "Velocity",
    "VelocityData",
    "VpnMethods",
    "WebGlBasics",
    "WebGlExtensions",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _json_key(key: str, *, required: bool = False) -> Any:
    """A field whose JSON key is `key`, for keys that are no Python identifier."""
    if required:
        return attrs.field(metadata={JSON_KEY: key})
    return attrs.field(default=None, metadata={JSON_KEY: key})


# --- platform -------------------------------------------------------------------------------


@attrs.frozen
class Subintegration:
    """A framework inside an SDK integration (`preact` inside `fingerprint-pro-react`)."""

    name: str | None = None
    version: str | None = None


@attrs.frozen
class Integration:
    """An integration of the SDK that made the request (`fingerprint-pro-react`)."""

    name: str | None = None
    version: str | None = None
    subintegration: Subintegration | None = None


@attrs.frozen
class SDK:
    """The SDK that made the identification request.

    Attributes:
        platform: `js`, `android`, `ios`, `unknown`, or a value added since.
        version: The SDK's version (`3.11.10`).
        integrations: The integrations the SDK was used through.
    """

    platform: str
    version: str
    integrations: tuple[Integration, ...] | None = None


@attrs.frozen
class TriggeredBy:
    """A rule of the rule engine that triggered a webhook."""

    id: str
    name: str
    description: str


@attrs.frozen
class RuleActionHeaderField:
    """An HTTP header of a rule action: its name and value."""

    name: str
    value: str


@attrs.frozen
class RequestHeaderModifications:
    """The changes an `allow` action makes to the request's headers, applied in this order.

    Attributes:
        remove: Names of the headers to remove.
        set: Headers to set, replacing any of the same name.
        append: Headers to append.
    """

    remove: tuple[str, ...] | None = None
    set: tuple[RuleActionHeaderField, ...] | None = None
    append: tuple[RuleActionHeaderField, ...] | None = None


@attrs.frozen
class EventRuleAction:
    """What the client should do, by the rule of the ruleset that matched the event.

    Present when the event was fetched with a `ruleset_id`. The schema makes it one of two
    objects told apart by `type`; they are one class here, so that a `type` added by the
    server later still decodes: the attributes of the other kind are `None`.

    Attributes:
        ruleset_id: The ruleset that was evaluated.
        type: `allow` or `block` (or a value added since).
        rule_id: The rule that matched; `None` when none did and the default action applies.
        rule_expression: The expression of that rule.
        request_header_modifications: `allow`: how to change the request's headers.
        status_code: `block`: the HTTP status to answer with.
        headers: `block`: the headers to answer with.
        body: `block`: the body to answer with.
    """

    ruleset_id: str
    type: str
    rule_id: str | None = None
    rule_expression: str | None = None
    request_header_modifications: RequestHeaderModifications | None = None
    status_code: int | None = None
    headers: tuple[RuleActionHeaderField, ...] | None = None
    body: str | None = None


# --- identification -----------------------------------------------------------------------


@attrs.frozen
class IdentificationConfidence:
    """How sure an identification is: `score` from 0 to 1, by the method `version`."""

    score: float
    version: str | None = None
    comment: str | None = None


@attrs.frozen
class Identification:
    """The visitor an event was identified as.

    Attributes:
        visitor_id: The visitor ID.
        visitor_found: Whether the visitor had been seen before.
        confidence: How sure the identification is.
        first_seen_at: When the visitor was first seen, Unix ms.
        last_seen_at: When the visitor was seen before this event, Unix ms.
    """

    visitor_id: str
    visitor_found: bool
    confidence: IdentificationConfidence | None = None
    first_seen_at: int | None = None
    last_seen_at: int | None = None


@attrs.frozen
class SupplementaryIDHighRecall:
    """A second visitor ID that favours recall: it links more events than `Identification`."""

    visitor_id: str
    visitor_found: bool
    confidence: IdentificationConfidence | None = None
    first_seen_at: int | None = None
    last_seen_at: int | None = None


@attrs.frozen
class BrowserDetails:
    """The browser, its OS and device type, parsed from the user agent (v4's, snake_case)."""

    browser_name: str
    browser_major_version: str
    browser_full_version: str
    os: str
    os_version: str
    device: str


@attrs.frozen
class Proximity:
    """The area the device was in.

    Attributes:
        id: The proximity zone's ID.
        precision_radius: The zone's radius in meters (10, 25, 65, ... 22500).
        confidence: How likely the device is in the zone, from 0 to 1.
    """

    id: str
    precision_radius: int
    confidence: float


# --- IP intelligence ----------------------------------------------------------------------


@attrs.frozen
class Subdivision:
    """A subdivision (state, region) of a v4 IP geolocation."""

    iso_code: str
    name: str


@attrs.frozen
class Geolocation:
    """Where an IP address is located; `accuracy_radius` is in kilometers."""

    accuracy_radius: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    postal_code: str | None = None
    timezone: str | None = None
    city_name: str | None = None
    country_code: str | None = None
    country_name: str | None = None
    continent_code: str | None = None
    continent_name: str | None = None
    subdivisions: tuple[Subdivision, ...] | None = None


@attrs.frozen
class _IPVersionInfo:
    """What is known of one IP address: location, network, data center."""

    address: str
    geolocation: Geolocation | None = None
    asn: str | None = None
    asn_name: str | None = None
    asn_network: str | None = None
    asn_type: str | None = None
    datacenter_result: bool | None = None
    datacenter_name: str | None = None


@attrs.frozen
class IPInfoV4(_IPVersionInfo):
    """What is known of the request's IPv4 address: location, network, data center."""


@attrs.frozen
class IPInfoV6(_IPVersionInfo):
    """What is known of the request's IPv6 address: location, network, data center."""


@attrs.frozen
class IPInfo:
    """What is known of the request's IP addresses, one object per IP version."""

    v4: IPInfoV4 | None = None
    v6: IPInfoV6 | None = None


@attrs.frozen
class IPBlockList:
    """Whether the IP address is on block lists: spam, network attacks, Tor exit nodes."""

    email_spam: bool | None = None
    attack_source: bool | None = None
    tor_node: bool | None = None


# --- smart signals ------------------------------------------------------------------------


@attrs.frozen
class BotInfo:
    """The bot that made the request, when one was recognized.

    Attributes:
        category: What kind of bot (`ai_agent`, `search_engine_crawler`, ...).
        provider: Who runs it (`OpenAI`).
        name: Its name (`ChatGPT Agent`).
        identity: `verified`, `signed`, `spoofed` or `unknown`.
        confidence: `low`, `medium` or `high`.
        provider_url: The provider's site.
    """

    category: str
    provider: str
    name: str
    identity: str
    confidence: str
    provider_url: str | None = None


@attrs.frozen
class ProxyDetails:
    """The proxy the request came through: `proxy_type`, `provider`, last seen (Unix ms)."""

    proxy_type: str
    last_seen_at: int | None = None
    provider: str | None = None


@attrs.frozen
class VpnMethods:
    """Which methods detected a VPN."""

    timezone_mismatch: bool | None = None
    public_vpn: bool | None = None
    auxiliary_mobile: bool | None = None
    os_mismatch: bool | None = None
    relay: bool | None = None
    ml_prediction: bool | None = None


@attrs.frozen
class TamperingDetails:
    """How the request was tampered with: an anomaly score (0 to 1), an anti-detect browser."""

    anomaly_score: float | None = None
    anti_detect_browser: bool | None = None


@attrs.frozen
class VelocityData:
    """Counts over the last 5 minutes, hour and 24 hours before the event.

    Attributes:
        five_minutes: The JSON key `5_minutes`.
        one_hour: The JSON key `1_hour`.
        twenty_four_hours: The JSON key `24_hours`; left out by the server for very active
            visitors.
    """

    five_minutes: int = _json_key("5_minutes", required=True)
    one_hour: int = _json_key("1_hour", required=True)
    twenty_four_hours: int | None = _json_key("24_hours")


@attrs.frozen
class Velocity:
    """How many distinct IPs, linked IDs, countries and events a visitor, IP or linked ID had."""

    distinct_ip: VelocityData | None = None
    distinct_linked_id: VelocityData | None = None
    distinct_country: VelocityData | None = None
    events: VelocityData | None = None
    ip_events: VelocityData | None = None
    distinct_ip_by_linked_id: VelocityData | None = None
    distinct_visitor_id_by_linked_id: VelocityData | None = None


@attrs.frozen
class Label:
    """A prediction for one use case (`label`), by a model trained on the customer's data."""

    label: str
    prediction: bool | None = None
    ml_score: float | None = None


# --- raw device attributes ----------------------------------------------------------------


@attrs.frozen
class FontPreferences:
    """The widths the browser renders a text at in its default fonts."""

    default: float | None = None
    serif: float | None = None
    sans: float | None = None
    mono: float | None = None
    apple: float | None = None
    min: float | None = None
    system: float | None = None


@attrs.frozen
class Emoji:
    """The font and bounding box the browser draws an emoji with."""

    font: str | None = None
    width: float | None = None
    height: float | None = None
    top: float | None = None
    bottom: float | None = None
    left: float | None = None
    right: float | None = None
    x: float | None = None
    y: float | None = None


@attrs.frozen
class Canvas:
    """Hashes of what the browser draws on a canvas."""

    winding: bool | None = None
    geometry: str | None = None
    text: str | None = None


@attrs.frozen
class WebGlExtensions:
    """Hashes of the WebGL context's attributes, parameters and extensions."""

    context_attributes: str | None = None
    parameters: str | None = None
    shader_precisions: str | None = None
    extensions: str | None = None
    extension_parameters: str | None = None
    unsupported_extensions: tuple[str, ...] | None = None


@attrs.frozen
class WebGlBasics:
    """The WebGL version, vendor and renderer, as reported and unmasked."""

    version: str | None = None
    vendor: str | None = None
    vendor_unmasked: str | None = None
    renderer: str | None = None
    renderer_unmasked: str | None = None
    shading_language_version: str | None = None


@attrs.frozen
class TouchSupport:
    """The browser's touch support."""

    touch_event: bool | None = None
    touch_start: bool | None = None
    max_touch_points: int | None = None


@attrs.frozen
class PluginMimeType:
    """A MIME type a browser plugin handles."""

    type: str | None = None
    suffixes: str | None = None
    description: str | None = None


@attrs.frozen
class Plugin:
    """A browser plugin (`navigator.plugins`); `mime_types` is the JSON key `mimeTypes`."""

    name: str
    description: str | None = None
    mime_types: tuple[PluginMimeType, ...] | None = _json_key("mimeTypes")


@attrs.frozen
class RawDeviceAttributes:
    """A curated subset of the raw browser and device attributes the signals came from.

    Negative numbers in `audio` and negative texts in `date_time_locale` are the API's error
    statuses (the attribute could not be collected), kept as they came.
    """

    font_preferences: FontPreferences | None = None
    emoji: Emoji | None = None
    fonts: tuple[str, ...] | None = None
    device_memory: int | None = None
    timezone: str | None = None
    canvas: Canvas | None = None
    languages: tuple[tuple[str, ...], ...] | None = None
    webgl_extensions: WebGlExtensions | None = None
    webgl_basics: WebGlBasics | None = None
    screen_resolution: tuple[int, ...] | None = None
    touch_support: TouchSupport | None = None
    oscpu: str | None = None
    architecture: int | None = None
    cookies_enabled: bool | None = None
    hardware_concurrency: int | None = None
    date_time_locale: str | None = None
    vendor: str | None = None
    color_depth: int | None = None
    platform: str | None = None
    session_storage: bool | None = None
    local_storage: bool | None = None
    audio: float | None = None
    plugins: tuple[Plugin, ...] | None = None
    indexed_db: bool | None = None
    math: str | None = None
    device_model: str | None = None
    device_manufacturer: str | None = None
    font_hash: str | None = None
    timezone_offset: str | None = None
    battery_level: int | None = None
    battery_charging: bool | None = None
    battery_low_power_mode: bool | None = None
    keyboard_layout_hash: str | None = None
    keyboard_layout_name: str | None = None


# --- the event ------------------------------------------------------------------------------


@attrs.frozen
class Event:
    """One identification event with every Smart Signal the application has.

    Only `event_id` and `timestamp` are always there; a signal that is not active, or not
    available on the device's platform, is `None`. Attributes follow the schema's order:
    metadata (`source`, `linked_id`, `tags`, `sdk`, `rule_action`, ...), identification
    (`identification`, `supplementary_id_high_recall`, `browser_details`, `proximity`, the
    request's `url`, `ip_address`, `user_agent`), then the smart signals (`bot`, `ip_info`,
    `vpn`, `proxy`, `tampering`, `velocity`, `raw_device_attributes`, `labels`, ...).

    Attributes:
        event_id: The event's ID (v3's request ID).
        timestamp: When the event happened, Unix ms; `time` is the same as a `datetime`.
        tags: What the request was tagged with, read-only.
    """

    event_id: str
    timestamp: int
    source: str | None = None
    incremental_identification_status: str | None = None
    linked_id: str | None = None
    environment_id: str | None = None
    suspect: bool | None = None
    sdk: SDK | None = None
    replayed: bool | None = None
    triggered_by: tuple[TriggeredBy, ...] | None = None
    identification: Identification | None = None
    supplementary_id_high_recall: SupplementaryIDHighRecall | None = None
    tags: FrozenMapping | None = None
    url: str | None = None
    bundle_id: str | None = None
    package_name: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    device: str | None = None
    os: str | None = None
    os_version: str | None = None
    client_referrer: str | None = None
    browser_details: BrowserDetails | None = None
    proximity: Proximity | None = None
    active_call: bool | None = None
    bot: str | None = None
    bot_type: str | None = None
    bot_info: BotInfo | None = None
    cloned_app: bool | None = None
    developer_tools: bool | None = None
    emulator: bool | None = None
    factory_reset_timestamp: int | None = None
    frida: bool | None = None
    ip_blocklist: IPBlockList | None = None
    ip_info: IPInfo | None = None
    proxy: bool | None = None
    proxy_confidence: str | None = None
    proxy_details: ProxyDetails | None = None
    proxy_ml_score: float | None = None
    incognito: bool | None = None
    jailbroken: bool | None = None
    location_spoofing: bool | None = None
    mitm_attack: bool | None = None
    privacy_settings: bool | None = None
    root_apps: bool | None = None
    rule_action: EventRuleAction | None = None
    simulator: bool | None = None
    suspect_score: int | None = None
    tampering: bool | None = None
    tampering_confidence: str | None = None
    tampering_ml_score: float | None = None
    tampering_details: TamperingDetails | None = None
    velocity: Velocity | None = None
    virtual_machine: bool | None = None
    virtual_machine_ml_score: float | None = None
    vpn: bool | None = None
    vpn_confidence: str | None = None
    vpn_ml_score: float | None = None
    vpn_origin_timezone: str | None = None
    vpn_origin_country: str | None = None
    vpn_methods: VpnMethods | None = None
    high_activity_device: bool | None = None
    rare_device: bool | None = None
    rare_device_percentile_bucket: str | None = None
    raw_device_attributes: RawDeviceAttributes | None = None
    labels: tuple[Label, ...] | None = None

    @property
    def time(self) -> datetime:
        """`timestamp` as an aware UTC `datetime`, exact to the millisecond."""
        return _EPOCH + timedelta(milliseconds=self.timestamp)


@attrs.frozen
class EventSearch:
    """One page of an event search (`GET /v4/events`).

    Attributes:
        events: The events of the page, newest first unless the search was `reverse`. A page
            may hold fewer events than its `limit`, even none, and still have a next one.
        pagination_key: The cursor to the next page; present exactly while more match.
        total_hits: How many events match, up to the search's `total_hits`; present only
            when the search asked for it.
    """

    events: tuple[Event, ...]
    pagination_key: str | None = None
    total_hits: int | None = None

    @property
    def has_more(self) -> bool:
        """Whether more events match beyond this page."""
        return self.pagination_key is not None

    def next_page_params(self) -> dict[str, Any] | None:
        """The cursor to the next page as keyword arguments of `Session.search_events`.

        `None` on the last page. The result is plain JSON data, so a web app can hand it to
        its own client and resume on a later request, with the same filters:

            cursor = page.next_page_params()
            ...
            next_page = await session.search_events(visitor_id=visitor_id, **cursor)
        """
        if self.pagination_key is None:
            return None
        return {"pagination_key": self.pagination_key}
