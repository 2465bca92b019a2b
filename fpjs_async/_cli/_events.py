"""`fpjs-async events`: a v4 event search on stdout."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import aclosing

import anyio

from fpjs_async._cli._common import Commands, Parser
from fpjs_async._cli._options import event_filters, request_logging, session_from
from fpjs_async._cli._output import event_line, open_output
from fpjs_async._cli._ui import events_table, rich_console
from fpjs_async._converter import converter
from fpjs_async.events import Event, EventSearch

__all__ = ["add_events_command"]

FORMATS = ("jsonl", "json", "table")


def add_events_command(commands: Commands, parents: list[Parser]) -> None:
    """Add `events` to the subcommands."""
    parser = commands.add_parser(
        "events",
        parents=parents,
        help="search events (Server API v4): by visitor, linked ID, time, signals",
        description=(
            "Search events with GET /v4/events and print them: the first page, or every "
            "page with --all. With no filter, the latest events of the last 7 days."
        ),
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="jsonl",
        help="jsonl: one event per line; json: one document shaped like the API's search "
        "response; table: for reading (default: %(default)s)",
    )
    parser.set_defaults(run=run_events)


def run_events(args: argparse.Namespace) -> int:
    """Search and print the events; returns the exit status."""
    events: list[Event] = []
    if args.format == "table":
        console = rich_console()
        _run(args, events.append)
        console.print(events_table(events, f"{len(events):,} events"))
        return 0
    with open_output(None) as writer:
        if args.format == "jsonl":
            _run(args, lambda event: writer.line(event_line(event)))
        else:
            _run(args, events.append)
            writer.document(converter.unstructure(EventSearch(tuple(events))))
    return 0


def _run(args: argparse.Namespace, on_event: Callable[[Event], object]) -> None:
    """Walk the search, passing each event to `on_event` as it arrives."""
    with request_logging(args.verbose):
        anyio.run(_walk, args, on_event)


async def _walk(args: argparse.Namespace, on_event: Callable[[Event], object]) -> None:
    async with session_from(args) as session:
        stream = session.iter_events(
            limit=args.limit,
            max_events=args.max_events,
            max_pages=None if args.all_pages else 1,
            **event_filters(args),
        )
        async with aclosing(stream):
            async for event in stream:
                on_event(event)
