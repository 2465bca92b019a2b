"""`fpjs-async visits VISITOR_ID`: one visitor's v3 history on stdout."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import aclosing

import anyio

from fpjs_async._cli._common import Commands, Parser
from fpjs_async._cli._options import request_logging, session_from
from fpjs_async._cli._output import open_output
from fpjs_async._cli._ui import rich_console, visits_table
from fpjs_async._converter import converter
from fpjs_async._models import Visit, VisitorHistory

__all__ = ["add_visits_command"]

FORMATS = ("jsonl", "json", "table")


def add_visits_command(
    commands: Commands,
    parents: list[Parser],
) -> None:
    """Add `visits` to the subcommands."""
    parser = commands.add_parser(
        "visits",
        parents=parents,
        help="one visitor's history (Server API v3)",
        description="Print one visitor's history: the first page, or every page with --all.",
    )
    parser.add_argument("visitor_id", metavar="VISITOR_ID")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="jsonl",
        help="jsonl: one visit per line; json: one document shaped like the API's "
        "response; table: for reading (default: %(default)s)",
    )
    parser.set_defaults(run=run_visits)


def run_visits(args: argparse.Namespace) -> int:
    """Fetch and print the history; returns the exit status."""
    visits: list[Visit] = []
    if args.format == "table":
        console = rich_console()
        _run(args, visits.append)
        console.print(visits_table(args.visitor_id, visits))
        return 0
    with open_output(None) as writer:
        if args.format == "jsonl":
            _run(args, lambda visit: writer.line(converter.unstructure(visit)))
        else:
            _run(args, visits.append)
            history = VisitorHistory(args.visitor_id, tuple(visits))
            writer.document(converter.unstructure(history))
    return 0


def _run(args: argparse.Namespace, on_visit: Callable[[Visit], object]) -> None:
    """Walk the history, passing each visit to `on_visit` as it arrives."""
    with request_logging(args.verbose):
        anyio.run(_walk, args, on_visit)


async def _walk(args: argparse.Namespace, on_visit: Callable[[Visit], object]) -> None:
    async with session_from(args) as session:
        stream = session.iter_visits(
            args.visitor_id,
            request_id=args.request_id,
            linked_id=args.linked_id,
            limit=args.limit,
            before=args.before,
            max_pages=None if args.all_pages else 1,
            max_visits=args.max_visits,
            since=args.since,
        )
        async with aclosing(stream):
            async for visit in stream:
                on_visit(visit)
