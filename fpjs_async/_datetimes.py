"""Date-times as text: one parser that reads the same texts on every Python, and one format.

`datetime.fromisoformat` is no help here: Python 3.10's takes neither `Z` nor a fraction of
other than 3 or 6 digits, 3.11's takes far more of ISO 8601 (week dates, `T12` alone), and
they disagree on case. The API's times, the emulator's query parameters and what a user
types on the command line all go through `parse_datetime` instead, which accepts exactly
the texts of `_ISO_DATETIME` on 3.10 through 3.13.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = ["format_datetime", "parse_datetime"]

# RFC 3339 and the common ISO 8601 forms: a date, optionally a time to the minute or the
# second with up to 9 fraction digits (nanoseconds are cut to microseconds), optionally a
# `Z` or an offset of hours, `hh:mm` or `hhmm`. `T`, `t` and a space separate the two.
_ISO_DATETIME = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d\d)-(?P<day>\d\d)"
    r"(?:[Tt ](?P<hour>\d\d):(?P<minute>\d\d)(?::(?P<second>\d\d)(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?P<offset>[Zz]|[+-]\d\d(?::?\d\d)?)?)?",
    re.ASCII,
)


def _zone(offset: str | None) -> timezone:
    if offset is None or offset in ("Z", "z"):
        return timezone.utc
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"UTC offset out of range: {offset!r}")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_datetime(text: str) -> datetime:
    """An aware UTC datetime from ISO 8601 / RFC 3339 text, read alike on every Python.

    Accepted: `2024-05-01`, `2024-05-01T12:00`, `2024-05-01T12:00:00`, with a fraction of 1 to
    9 digits (`….912`), then `Z` or an offset (`+02:00`, `+0200`, `+02`); `T` or a space
    between date and time, letters in either case. A text without a zone is UTC, as every
    time the API sends is; a bare date is midnight UTC.

    Raises:
        TypeError: `text` is not a str.
        ValueError: Any other text, or a date or time out of range (`2024-02-30`).
    """
    if text.__class__ is not str:
        raise TypeError(f"expected an ISO 8601 string, got {type(text).__name__}")
    match = _ISO_DATETIME.fullmatch(text)
    if match is None:
        raise ValueError(f"not an ISO 8601 date-time: {text!r}")
    fraction = match["fraction"] or "0"
    parsed = datetime(
        int(match["year"]),
        int(match["month"]),
        int(match["day"]),
        int(match["hour"] or 0),
        int(match["minute"] or 0),
        int(match["second"] or 0),
        int(fraction[:6].ljust(6, "0")),
        tzinfo=_zone(match["offset"]),
    )
    return parsed if parsed.tzinfo is timezone.utc else parsed.astimezone(timezone.utc)


def format_datetime(value: datetime) -> str:
    """The API's form of a datetime: UTC, `Z`, milliseconds only when there are some."""
    value = value.astimezone(timezone.utc)
    if value.microsecond == 0:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if value.microsecond % 1000 == 0:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
