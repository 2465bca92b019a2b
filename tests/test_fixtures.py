"""The published example bodies of the Server API, when they sit beside the repository.

They live in `../shared/fixtures/openapi` (outside the project, never copied into it): every
200 body is decoded and compared field by field with its JSON, every error body is mapped to
its class. Without the folder these tests skip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _shared import OPENAPI_FIXTURES

from fpjs_async import (
    APIError,
    AuthenticationError,
    BadRequestError,
    IPLocation,
    NotFoundError,
    RateLimitError,
    SeenAt,
    Visit,
)
from fpjs_async._converter import decode_history
from fpjs_async._datetimes import parse_datetime
from fpjs_async._errors import api_error_from_response
from fpjs_async._families import to_camel


def _bodies(kind: str) -> list[Any]:
    if not OPENAPI_FIXTURES.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{OPENAPI_FIXTURES} is absent"))]
    files = sorted(
        path
        for path in OPENAPI_FIXTURES.glob("*/*.json")
        if ("_200_" in path.name) == (kind == "success")
    )
    return [pytest.param(path, id=f"{path.parent.name}/{path.stem}") for path in files]


def _seen_at(raw: dict[str, Any] | None) -> SeenAt | None:
    if raw is None:
        return None
    return SeenAt(
        *(
            None if raw.get(k) is None else parse_datetime(raw[k])
            for k in ("global", "subscription")
        )
    )


def _plain(value: Any) -> dict[str, Any]:
    """A model's fields by their JSON names, nested models included."""
    fields: dict[str, Any] = {}
    for name in value.__slots__:
        if name.startswith("__"):
            continue
        item = getattr(value, name)
        if isinstance(item, tuple):
            item = [_plain(element) for element in item]
        elif hasattr(item, "__attrs_attrs__"):
            item = _plain(item)
        if item is not None:
            fields[to_camel(name)] = item
    return fields


def _check_visit(visit: Visit, raw: dict[str, Any], version: str) -> None:
    assert visit.request_id == raw["requestId"]
    assert visit.timestamp == raw["timestamp"]
    assert visit.time == parse_datetime(raw["time"])
    assert visit.time is not None
    assert visit.time.utcoffset() is not None
    assert visit.incognito is raw.get("incognito")
    assert visit.linked_id == raw.get("linkedId")
    assert visit.url == raw.get("url")
    assert visit.ip == raw.get("ip")
    assert visit.visitor_found is raw.get("visitorFound")
    if "ipLocation" in raw:
        assert isinstance(visit.ip_location, IPLocation)
        assert _plain(visit.ip_location) == raw["ipLocation"]
    else:
        assert visit.ip_location is None
    details = raw["browserDetails"]
    assert visit.browser_details is not None
    assert _plain(visit.browser_details) == details
    if version == "v1.0.0":
        assert visit.browser_details.bot_probability == details["botProbability"]
    assert visit.tag == raw.get("tag")
    assert visit.confidence is not None
    assert visit.confidence.score == raw["confidence"]["score"]
    assert visit.first_seen_at == _seen_at(raw.get("firstSeenAt"))
    assert visit.last_seen_at == _seen_at(raw.get("lastSeenAt"))


@pytest.mark.parametrize("path", _bodies("success"))
def test_every_published_200_body_decodes_field_by_field(path: Path) -> None:
    raw = json.loads(path.read_bytes())
    page = decode_history(path.read_bytes())
    assert page.visitor_id == raw["visitorId"]
    assert page.last_timestamp == raw.get("lastTimestamp")
    assert page.pagination_key == raw.get("paginationKey")
    assert len(page.visits) == len(raw["visits"]) > 0
    for visit, raw_visit in zip(page.visits, raw["visits"], strict=True):
        _check_visit(visit, raw_visit, path.parent.name)


CLASS_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    403: AuthenticationError,
    404: NotFoundError,
    429: RateLimitError,
}


@pytest.mark.parametrize("path", _bodies("error"))
def test_every_published_error_body_maps_to_its_class(path: Path) -> None:
    raw = json.loads(path.read_bytes())
    # The status is in the name: 400_*.json, get_visitors_400_*.json, get_visits_403_*.json.
    status = int(path.name.removeprefix("get_visits_").removeprefix("get_visitors_")[:3])
    cls = CLASS_BY_STATUS[status]
    error = api_error_from_response(status, path.read_bytes(), method="GET", path="/visitors/v")
    assert type(error) is cls
    assert error.status == status
    if isinstance(raw["error"], dict):
        assert error.code == raw["error"]["code"]
        assert error.message == raw["error"]["message"]
    else:
        assert error.code is None
        assert error.message == raw["error"]
