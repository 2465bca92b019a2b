"""The terminal parts, drawn with rich (the `cli` extra): the progress bar and the tables.

rich is imported when a command first needs it, so that the JSON output of `visits`,
`events`, `bulk` and `search-many` works without it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from fpjs_async._bulk import BulkProgress
from fpjs_async._cli._common import CommandError
from fpjs_async._datetimes import format_datetime
from fpjs_async._models import Visit
from fpjs_async.events import Event

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = [
    "ProgressBar",
    "event_country",
    "events_table",
    "has_rich",
    "rich_console",
    "visits_table",
]


def has_rich() -> bool:
    """Whether rich can be imported."""
    try:
        return importlib.util.find_spec("rich") is not None
    except ValueError:  # rich was removed from sys.modules
        return False


def rich_console(*, stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr).

    Raises:
        CommandError: rich is not installed.
    """
    if not has_rich():
        raise CommandError("this command draws with rich: pip install 'fpjs-async[cli]'")
    from rich.console import Console

    return Console(stderr=stderr)


class ProgressBar:
    """A live bar of a `fetch_many` or `search_many`: visitors done, pages, requests, retries.

    Use it as a context manager and pass `update` as `on_progress`.

    Args:
        console: Where to draw it (stderr, so that stdout stays for the results).
        description: The label in front of the bar.
    """

    def __init__(self, console: Console, description: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._task = self._progress.add_task(description, total=None, detail="")

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def update(self, progress: BulkProgress) -> None:
        """Show `progress` (the `on_progress` callback of `fetch_many` or `search_many`)."""
        detail = (
            f"visitors  {progress.pages:,} pages  {progress.requests:,} requests  "
            f"{progress.retries:,} retries"
        )
        if progress.visitors_failed:
            detail += f"  [red]{progress.visitors_failed:,} failed[/]"
        self._progress.update(
            self._task,
            completed=progress.visitors_done,
            total=progress.visitors_total_known if progress.total_is_final else None,
            detail=detail,
        )


def _joined(*parts: object) -> str:
    return " ".join(str(part) for part in parts if part is not None)


def visits_table(visitor_id: str, visits: Sequence[Visit]) -> Table:
    """The visits of one visitor as a table, newest first."""
    from rich.table import Table

    table = Table(caption=f"{len(visits):,} visits of {visitor_id}")
    for name in ("time", "request ID", "linked ID", "browser", "OS", "IP", "country", "URL"):
        table.add_column(name, overflow="fold")
    for visit in visits:
        browser = visit.browser_details
        location = visit.ip_location
        country = location.country if location is not None else None
        table.add_row(
            "" if visit.time is None else format_datetime(visit.time),
            visit.request_id,
            _joined(visit.linked_id),
            "" if browser is None else _joined(browser.browser_name, browser.browser_major_version),
            "" if browser is None else _joined(browser.os, browser.os_version),
            _joined(visit.ip),
            "" if country is None else _joined(country.name or country.code),
            _joined(visit.url),
        )
    return table


def event_country(event: Event) -> str | None:
    """The country of the event's IP address (its IPv4 one when it has both)."""
    info = event.ip_info
    if info is None:
        return None
    for address in (info.v4, info.v6):
        if address is not None and address.geolocation is not None:
            location = address.geolocation
            if location.country_name or location.country_code:
                return location.country_name or location.country_code
    return None


def events_table(events: Sequence[Event], caption: str) -> Table:
    """Events as a table, in the order given."""
    from rich.table import Table

    table = Table(caption=caption)
    columns = (
        "time",
        "event ID",
        "visitor ID",
        "linked ID",
        "browser",
        "OS",
        "IP",
        "country",
        "URL",
    )
    for name in columns:
        table.add_column(name, overflow="fold")
    for event in events:
        browser = event.browser_details
        identification = event.identification
        table.add_row(
            format_datetime(event.time),
            event.event_id,
            "" if identification is None else identification.visitor_id,
            _joined(event.linked_id),
            "" if browser is None else _joined(browser.browser_name, browser.browser_major_version),
            "" if browser is None else _joined(browser.os, browser.os_version),
            _joined(event.ip_address),
            _joined(event_country(event)),
            _joined(event.url),
        )
    return table
