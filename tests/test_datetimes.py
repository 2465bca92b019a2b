"""One date-time parser, the same texts accepted and refused on every Python from 3.10.

The table below runs on each Python of `nox -s tests`: any text whose fate depended on the
version's `datetime.fromisoformat` would fail on one of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from fpjs_async._datetimes import format_datetime, parse_datetime

UTC = timezone.utc

ACCEPTED = [
    # The API's forms.
    ("2019-05-21T16:40:13Z", datetime(2019, 5, 21, 16, 40, 13, tzinfo=UTC)),
    ("2022-06-16T10:03:00.912Z", datetime(2022, 6, 16, 10, 3, 0, 912000, tzinfo=UTC)),
    ("2022-06-16T10:03:00.43Z", datetime(2022, 6, 16, 10, 3, 0, 430000, tzinfo=UTC)),
    ("2022-06-16T10:03:00.1Z", datetime(2022, 6, 16, 10, 3, 0, 100000, tzinfo=UTC)),
    ("2022-06-16T10:03:00.123456Z", datetime(2022, 6, 16, 10, 3, 0, 123456, tzinfo=UTC)),
    ("2022-06-16T10:03:00.123456789Z", datetime(2022, 6, 16, 10, 3, 0, 123456, tzinfo=UTC)),
    ("2022-06-16T12:03:00+02:00", datetime(2022, 6, 16, 10, 3, tzinfo=UTC)),
    ("2022-06-16T04:33:00.5-05:30", datetime(2022, 6, 16, 10, 3, 0, 500000, tzinfo=UTC)),
    ("2022-06-16T10:03:00+00:00", datetime(2022, 6, 16, 10, 3, tzinfo=UTC)),
    # What a user types: no zone (UTC), no seconds, a bare date, a space, either case.
    ("2022-06-16T10:03:00", datetime(2022, 6, 16, 10, 3, tzinfo=UTC)),
    ("2022-06-16 10:03:00Z", datetime(2022, 6, 16, 10, 3, tzinfo=UTC)),
    ("2024-05-01T12:00Z", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
    ("2024-05-01T12:00", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
    ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
    ("2024-05-01t12:00:00z", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
    ("2024-05-01T14:00:00+0200", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
    ("2024-05-01T14:00+02", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
]

REFUSED = [
    "",
    "yesterday",
    " 2024-05-01",
    "2024-05-01 ",
    "2024-5-1",
    "20240501",
    "2024-W18-3",
    "2024-05-01T12",
    "2024-05-01T12:00:00.Z",
    "2024-05-01T12:00:00.1234567890Z",
    "2024-05-01Z",
    "2024-05-01T12:00:00+2",
    "2024-05-01T12:00:00 +02:00",
    "2024-05-01T12:00:00UTC",
    "\uff12\uff10\uff12\uff14-05-01",  # full-width digits: \d takes them without re.ASCII
]

OUT_OF_RANGE = [
    "2022-13-16T10:03:00Z",
    "2024-02-30",
    "2024-05-01T24:00:00Z",
    "2024-05-01T12:60:00Z",
    "2024-05-01T12:00:00+24:00",
    "2024-05-01T12:00:00+02:60",
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepted_texts_become_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("text", REFUSED)
def test_other_texts_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an ISO 8601 date-time"):
        parse_datetime(text)


@pytest.mark.parametrize("text", OUT_OF_RANGE)
def test_dates_and_times_out_of_range_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"out of range|must be in"):
        parse_datetime(text)


@pytest.mark.parametrize("value", [None, 1655373953, b"2022-06-16T10:03:00Z"])
def test_parse_datetime_wants_text(value: Any) -> None:
    with pytest.raises(TypeError, match="expected an ISO 8601 string"):
        parse_datetime(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2022, 6, 16, 10, 3, tzinfo=UTC), "2022-06-16T10:03:00Z"),
        (datetime(2022, 6, 16, 10, 3, 0, 912000, tzinfo=UTC), "2022-06-16T10:03:00.912Z"),
        (datetime(2022, 6, 16, 10, 3, 0, 123456, tzinfo=UTC), "2022-06-16T10:03:00.123456Z"),
        (
            datetime(2022, 6, 16, 12, 3, tzinfo=timezone(timedelta(hours=2))),
            "2022-06-16T10:03:00Z",
        ),
    ],
)
def test_format_datetime_round_trips(value: datetime, text: str) -> None:
    assert format_datetime(value) == text
    assert parse_datetime(text) == value
