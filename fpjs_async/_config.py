"""A session's settings checked before it is made: the key, region, base URL and timeout."""

from __future__ import annotations

import ipaddress
import typing
from enum import Enum

import httpx

from fpjs_async import _validate
from fpjs_async._http import AuthMode

__all__ = [
    "DEFAULT_BULK_CONCURRENCY",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_TIMEOUT",
    "Region",
    "check_api_key",
    "check_auth",
    "check_base_url",
    "check_timeout",
    "is_loopback",
    "parse_region",
]

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_CONCURRENCY = 20
DEFAULT_BULK_CONCURRENCY = 10


class Region(str, Enum):
    """The Server API regions and their base URLs."""

    US = "us"
    EU = "eu"
    AP = "ap"

    @property
    def base_url(self) -> str:
        """The API's base URL in this region."""
        return _REGION_URLS[self]


_REGION_URLS = {
    Region.US: "https://api.fpjs.io",
    Region.EU: "https://eu.api.fpjs.io",
    Region.AP: "https://ap.api.fpjs.io",
}


def parse_region(region: Region | str) -> Region:
    """The `Region` of `"us"`, `"eu"`, `"ap"` (in any case) or of a `Region`."""
    choices = ", ".join(repr(r.value) for r in Region)
    if not isinstance(region, str):  # a Region is a str too
        raise TypeError(f"region must be one of {choices} or a Region, got {type(region).__name__}")
    try:
        return Region(region.lower())
    except ValueError:
        raise ValueError(f"region must be one of {choices} or a Region, got {region!r}") from None


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address) is this machine: `localhost`, 127.0.0.0/8, ::1."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_key(api_key: object) -> str:
    """`api_key` if it can go into a header as it is; the messages never quote it."""
    key = _validate.text("api_key", api_key)
    # Anything else fails in httpx or h11 with an error quoting the key (this one doesn't).
    if not (key.isascii() and key.isprintable()) or key != key.strip():
        raise ValueError("api_key must be printable ASCII without surrounding whitespace")
    return key


def check_auth(auth: object) -> AuthMode:
    """`auth` if it is one of the ways v3 calls send the key."""
    return typing.cast(AuthMode, _validate.choice("auth", auth, typing.get_args(AuthMode)))


def check_base_url(base_url: object) -> str:
    """`base_url` without a trailing `/`, if it is an https:// URL (http:// on loopback)."""
    text = _validate.instance("base_url", base_url, str)
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise ValueError(f"base_url is not a valid URL: {exc}") from None
    if url.scheme not in ("https", "http") or not url.host:
        raise ValueError(f"base_url must be an https:// URL with a host, got {text!r}")
    # httpx accepts any port number here; a bad one would only fail at connect time.
    if url.port is not None and not 0 < url.port < 65536:
        raise ValueError(f"base_url is not a valid URL: port {url.port} is out of range")
    if url.scheme == "http" and not is_loopback(url.host):
        raise ValueError(
            "base_url may use http:// only for a loopback host (localhost, 127.0.0.1, ::1); "
            "anything else must be https:// so the secret key is never sent in clear"
        )
    if url.query or url.fragment or url.userinfo:
        raise ValueError("base_url must not carry a query string, fragment or credentials")
    return str(url).rstrip("/")


def check_timeout(timeout: object) -> httpx.Timeout:
    """`timeout` as an `httpx.Timeout`: seconds > 0, or a `Timeout` as it is."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if not _validate.is_number(timeout):
        raise TypeError(
            f"timeout must be seconds (a number) or an httpx.Timeout, got {type(timeout).__name__}"
        )
    return httpx.Timeout(_validate.number("timeout", timeout, above=0, finite=False))
