"""`fpjs-async bulk [FILE|-]`: the histories of many visitors as JSON Lines."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import aclosing
from typing import BinaryIO

import anyio

from fpjs_async._bulk import BulkProgress
from fpjs_async._cli._common import EXIT_FAILURE, EXIT_OK, CommandError, Commands, Parser
from fpjs_async._cli._input import open_input, read_visitor_ids
from fpjs_async._cli._options import positive_int, request_logging, session_from
from fpjs_async._cli._output import (
    JsonWriter,
    error_line,
    history_line,
    open_output,
    visit_line,
)
from fpjs_async._cli._ui import ProgressBar, has_rich, rich_console
from fpjs_async._errors import AuthenticationError
from fpjs_async._session import DEFAULT_BULK_CONCURRENCY

__all__ = ["add_bulk_command"]


def add_bulk_command(
    commands: Commands,
    parents: list[Parser],
) -> None:
    """Add `bulk` to the subcommands."""
    parser = commands.add_parser(
        "bulk",
        parents=parents,
        help="the histories of many visitors, as JSON Lines",
        description=(
            "Fetch the history of every visitor ID read from FILE (one per line; - or "
            "nothing for stdin) concurrently, and write one JSON line per visitor as each "
            "completes. Exits with 1 when any visitor failed, after writing all the others."
        ),
    )
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
    parser.add_argument(
        "--per-visit",
        action="store_true",
        help="one line per visit, with its visitorId, instead of one per visitor",
    )
    parser.set_defaults(run=run_bulk)


def run_bulk(args: argparse.Namespace) -> int:
    """Fetch and write the histories; returns the exit status."""
    with open_input(args.input) as source, open_output(args.output) as writer:
        bar = None
        if sys.stderr.isatty() and has_rich():
            bar = ProgressBar(rich_console(stderr=True), "bulk")
        with request_logging(args.verbose):
            if bar is None:
                done, failed = anyio.run(_fetch, args, source, writer, None)
            else:
                with bar:
                    done, failed = anyio.run(_fetch, args, source, writer, bar.update)
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
    on_progress: Callable[[BulkProgress], object] | None,
) -> tuple[int, int]:
    """Fetch every visitor and write its line(s); returns (visitors done, visitors failed)."""
    done = failed = 0
    name = "stdin" if args.input == "-" else args.input
    visitor_ids = read_visitor_ids(source, name)
    session = session_from(args, max_concurrency=args.concurrency, rate_limit=args.rate_limit)
    async with session, aclosing(visitor_ids):
        fetch = session.fetch_many(
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
        async with fetch as results:
            async for result in results:
                done += 1
                if result.error is not None:
                    failed += 1
                    writer.line(error_line(result.visitor_id, result.error))
                elif args.per_visit:
                    for visit in result.visits:
                        writer.line(visit_line(result.visitor_id, visit))
                else:
                    writer.line(history_line(result))
                # Each visitor reaches the reader whole, as soon as it is known.
                writer.flush()
                if isinstance(result.error, AuthenticationError):
                    # The key or the region is wrong: every other visitor would fail alike.
                    raise result.error
    return done, failed
