"""`fpjs-async search-many [FILE|-]` (v4) and `bulk [FILE|-]` (v3): many visitors, JSON Lines.

Both commands read visitor IDs lazily, run one `BulkFetch` (`search_many` or `fetch_many`),
write each visitor's line(s) as it completes, draw a progress bar on a terminal, and end
with 1 when any visitor failed; they differ only in the call and the lines they write.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import aclosing
from typing import Any, BinaryIO, Protocol, TypeVar

import anyio

from fpjs_async._bulk import BulkFetch, BulkProgress, BulkResult, EventsResult
from fpjs_async._cli._common import EXIT_FAILURE, EXIT_OK, CommandError, Commands, Parser
from fpjs_async._cli._input import open_input, read_visitor_ids
from fpjs_async._cli._options import event_filters, positive_int, request_logging, session_from
from fpjs_async._cli._output import (
    JsonWriter,
    error_line,
    event_line,
    events_line,
    history_line,
    open_output,
    visit_line,
)
from fpjs_async._cli._ui import ProgressBar, has_rich, rich_console
from fpjs_async._config import DEFAULT_BULK_CONCURRENCY
from fpjs_async._errors import AuthenticationError, FingerprintError
from fpjs_async._session import Session

__all__ = ["add_bulk_command", "add_search_many_command"]

OnProgress = Callable[[BulkProgress], object] | None


class _Result(Protocol):
    """What the commands read of a `BulkResult` or `EventsResult`."""

    @property
    def visitor_id(self) -> str: ...

    @property
    def pages(self) -> int: ...

    @property
    def error(self) -> FingerprintError | None: ...


ResultT = TypeVar("ResultT", bound=_Result)


def _add_many_command(
    commands: Commands, name: str, parents: list[Parser], *, help: str, description: str
) -> argparse.ArgumentParser:
    """A command reading visitor IDs from FILE, with the options both bulk commands share."""
    parser = commands.add_parser(name, parents=parents, help=help, description=description)
    parser.add_argument(
        "input", nargs="?", default="-", metavar="FILE", help="visitor IDs (default: stdin)"
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=DEFAULT_BULK_CONCURRENCY,
        metavar="N",
        help="visitors fetched at once (default: %(default)s)",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        metavar="R",
        help="at most R requests per second (default: no limit of our own)",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the lines to FILE (default: stdout)"
    )
    return parser


def add_search_many_command(commands: Commands, parents: list[Parser]) -> None:
    """Add `search-many` (Server API v4) to the subcommands."""
    parser = _add_many_command(
        commands,
        "search-many",
        parents,
        help="the events of many visitors (Server API v4), as JSON Lines",
        description=(
            "Search the events of every visitor ID read from FILE (one per line; - or "
            "nothing for stdin) concurrently with GET /v4/events, and write one JSON line "
            "per visitor as each completes. Exits with 1 when any visitor failed, after "
            "writing all the others."
        ),
    )
    parser.add_argument(
        "--per-event",
        action="store_true",
        help="one line per event, with its visitor_id, instead of one per visitor",
    )
    parser.set_defaults(run=run_search_many)


def add_bulk_command(commands: Commands, parents: list[Parser]) -> None:
    """Add `bulk` (Server API v3) to the subcommands."""
    parser = _add_many_command(
        commands,
        "bulk",
        parents,
        help="the histories of many visitors (Server API v3), as JSON Lines",
        description=(
            "Fetch the history of every visitor ID read from FILE (one per line; - or "
            "nothing for stdin) concurrently with GET /visitors, and write one JSON line per "
            "visitor as each completes. Exits with 1 when any visitor failed, after writing "
            "all the others. The live API answers v3 with one visit at most: see search-many."
        ),
    )
    parser.add_argument(
        "--per-visit",
        action="store_true",
        help="one line per visit, with its visitorId, instead of one per visitor",
    )
    parser.set_defaults(run=run_bulk)


def run_search_many(args: argparse.Namespace) -> int:
    """Search and write the events of every visitor; returns the exit status."""

    def start(
        session: Session, visitor_ids: AsyncIterator[str], on_progress: OnProgress
    ) -> BulkFetch[EventsResult]:
        return session.search_many(
            visitor_ids,
            concurrency=args.concurrency,
            all_pages=args.all_pages,
            max_events=args.max_events,
            on_progress=on_progress,
            limit=args.limit,
            **event_filters(args),
        )

    def lines(result: EventsResult) -> Iterable[dict[str, Any]]:
        if result.error is not None:
            return [error_line(result.visitor_id, result.error, key="visitor_id")]
        if args.per_event:
            return [event_line(event, result.visitor_id) for event in result.events]
        return [events_line(result)]

    return _run_many(args, "search-many", start, lines)


def run_bulk(args: argparse.Namespace) -> int:
    """Fetch and write the histories of every visitor; returns the exit status."""

    def start(
        session: Session, visitor_ids: AsyncIterator[str], on_progress: OnProgress
    ) -> BulkFetch[BulkResult]:
        return session.fetch_many(
            visitor_ids,
            concurrency=args.concurrency,
            all_pages=args.all_pages,
            request_id=args.request_id,
            linked_id=args.linked_id,
            limit=args.limit,
            before=args.before,
            max_visits=args.max_visits,
            since=args.since,
            on_progress=on_progress,
        )

    def lines(result: BulkResult) -> Iterable[dict[str, Any]]:
        if result.error is not None:
            return [error_line(result.visitor_id, result.error)]
        if args.per_visit:
            return [visit_line(result.visitor_id, visit) for visit in result.visits]
        return [history_line(result)]

    return _run_many(args, "bulk", start, lines)


def _run_many(
    args: argparse.Namespace,
    label: str,
    start: Callable[[Session, AsyncIterator[str], OnProgress], BulkFetch[ResultT]],
    lines: Callable[[ResultT], Iterable[dict[str, Any]]],
) -> int:
    """Run one bulk command: input, output, progress bar, exit status."""
    with open_input(args.input) as source, open_output(args.output) as writer:
        bar = None
        if sys.stderr.isatty() and has_rich():
            bar = ProgressBar(rich_console(stderr=True), label)
        with request_logging(args.verbose):
            if bar is None:
                done, failed = anyio.run(_fetch, args, source, writer, start, lines, None)
            else:
                with bar:
                    done, failed = anyio.run(_fetch, args, source, writer, start, lines, bar.update)
    if failed:
        raise CommandError(
            f'{failed:,} of {done:,} visitors failed; their lines hold an "error"',
            EXIT_FAILURE,
        )
    return EXIT_OK


async def _fetch(
    args: argparse.Namespace,
    source: BinaryIO,
    writer: JsonWriter,
    start: Callable[[Session, AsyncIterator[str], OnProgress], BulkFetch[ResultT]],
    lines: Callable[[ResultT], Iterable[dict[str, Any]]],
    on_progress: OnProgress,
) -> tuple[int, int]:
    """Fetch every visitor and write its line(s); returns (visitors done, visitors failed)."""
    done = failed = 0
    name = "stdin" if args.input == "-" else args.input
    visitor_ids = read_visitor_ids(source, name)
    session = session_from(args, max_concurrency=args.concurrency, rate_limit=args.rate_limit)
    async with session, aclosing(visitor_ids), start(session, visitor_ids, on_progress) as results:
        async for result in results:
            done += 1
            failed += result.error is not None
            for line in lines(result):
                writer.line(line)
            # Each visitor reaches the reader whole, as soon as it is known.
            writer.flush()
            if isinstance(result.error, AuthenticationError):
                # The key or the region is wrong: every other visitor would fail alike.
                raise result.error
    return done, failed
