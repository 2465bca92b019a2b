"""The options the commands share: the connection, the v3 and v4 filters, `-v`."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import typing
from collections.abc import Iterator
from datetime import date, datetime, time, timezone
from typing import Any

from fpjs_async import _validate
from fpjs_async._cli._common import ENV_API_KEY, EXIT_USAGE, CommandError, Parser
from fpjs_async._config import DEFAULT_TIMEOUT, Region
from fpjs_async._datetimes import parse_datetime
from fpjs_async._events_query import EventFilters
from fpjs_async._retry import RetryPolicy
from fpjs_async._session import Session

__all__ = [
    "EVENT_FILTER_NAMES",
    "connection_options",
    "event_filter_options",
    "event_filters",
    "filter_options",
    "moment",
    "positive_int",
    "request_logging",
    "session_from",
]

# Loggers that would print request URLs, and with them the key in query-auth mode.
_URL_LOGGERS = ("httpx", "httpcore")


def moment(text: str) -> int:
    """Milliseconds since the epoch from digits (ms) or ISO 8601 text, for argparse.

    A date-time without a zone (`2024-05-01T12:00:00`) and a bare date (`2024-05-01`,
    midnight) are UTC, as every time the API sends is.
    """
    text = text.strip()
    try:
        if text.isdigit():
            return _validate.epoch_ms("time", int(text))
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return _validate.epoch_ms("time", parse_datetime(text))
        return _validate.epoch_ms("time", datetime.combine(day, time(), timezone.utc))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected ms since the epoch or an ISO 8601 date/time such as "
            f"2024-05-01T12:00:00Z, got {text!r}"
        ) from None


def positive_int(text: str) -> int:
    """An int >= 1, for argparse."""
    try:
        return _validate.count("N", int(text))
    except ValueError:  # int() refuses the text, or count() the number
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text!r}") from None


def connection_options(*, v3: bool = True) -> Parser:
    """A parent parser with the options that make the `Session`, and `-v`.

    Args:
        v3: Whether the command calls Server API v3, whose key can travel two ways
            (`--auth`); v4 sends it as a Bearer token only.
    """
    parent = Parser(add_help=False)
    group = parent.add_argument_group("connection")
    group.add_argument(
        "--api-key", metavar="KEY", help=f"the secret Server API key (default: ${ENV_API_KEY})"
    )
    group.add_argument(
        "--region",
        choices=[region.value for region in Region],
        default=Region.US.value,
        help="the region of the application (default: %(default)s)",
    )
    group.add_argument("--base-url", metavar="URL", help="another API URL (a proxy, the emulator)")
    if v3:
        group.add_argument(
            "--auth",
            choices=("header", "query"),
            default="header",
            help="send the key in the Auth-Token header or the token parameter "
            "(default: %(default)s)",
        )
    else:
        parent.set_defaults(auth="header")
    group.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="per request (default: %(default)g)",
    )
    group.add_argument(
        "--max-retries",
        type=int,
        default=RetryPolicy().max_retries,
        metavar="N",
        help="retries of a 429, a 5xx or a network failure (default: %(default)s)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log every request on stderr (the key is never logged)",
    )
    return parent


def filter_options() -> Parser:
    """A parent parser with the options that choose the visits of a history."""
    parent = Parser(add_help=False)
    group = parent.add_argument_group("visits")
    group.add_argument(
        "--limit", type=int, metavar="N", help="events the server scans per page, 1-500"
    )
    group.add_argument("--linked-id", metavar="ID", help="only visits with this linked ID")
    group.add_argument("--request-id", metavar="ID", help="only the visit of this request")
    group.add_argument("--before", type=moment, metavar="TIME", help="only visits older than this")
    group.add_argument("--since", type=moment, metavar="TIME", help="only visits at or after this")
    group.add_argument(
        "--all",
        dest="all_pages",
        action="store_true",
        help="follow the cursors through the whole history (default: the first page)",
    )
    group.add_argument(
        "--max-visits", type=int, metavar="N", help="at most this many visits per visitor"
    )
    return parent


# The event filters the commands offer, as (option, `EventFilters` key, [metavar,] help);
# the library takes more (see `EventFilters`).
_TEXT_FILTERS = (
    ("--visitor-id", "visitor_id", "ID", "only events of this visitor"),
    ("--linked-id", "linked_id", "ID", "only events with this linked ID"),
    ("--ip-address", "ip_address", "IP", "only events from this IP address or CIDR range"),
    ("--bot", "bot", "RESULT", "only events with this bot result: all, good, bad or none"),
)
_FLAG_FILTERS = (
    ("--suspect", "suspect", "only events marked suspect (--no-suspect: not marked)"),
    ("--vpn", "vpn", "only events from a VPN (--no-vpn: not from one)"),
    ("--proxy", "proxy", "only events through a proxy (--no-proxy: not through one)"),
    ("--incognito", "incognito", "only incognito events (--no-incognito: not incognito)"),
    ("--tampering", "tampering", "only events with tampering (--no-tampering: without)"),
)
#: The `EventFilters` keys that `event_filter_options` may set.
EVENT_FILTER_NAMES = (
    *(name for _, name, _, _ in _TEXT_FILTERS),
    "start",
    "end",
    "reverse",
    *(name for _, name, _ in _FLAG_FILTERS),
)


def event_filter_options(*, per_visitor: bool = False) -> Parser:
    """A parent parser with the options of a v4 event search.

    Args:
        per_visitor: The command sets `visitor_id` itself (no `--visitor-id`).
    """
    parent = Parser(add_help=False)
    group = parent.add_argument_group("events")
    group.add_argument("--limit", type=int, metavar="N", help="events per page, 1-100")
    for option, name, metavar, text in _TEXT_FILTERS:
        if not (per_visitor and name == "visitor_id"):
            group.add_argument(option, dest=name, metavar=metavar, help=text)
    group.add_argument(
        "--start", type=moment, metavar="TIME", help="only events after this (default: 7 days ago)"
    )
    group.add_argument(
        "--end", type=moment, metavar="TIME", help="only events before this (default: now)"
    )
    group.add_argument(
        "--reverse", action="store_true", default=None, help="oldest first (default: newest)"
    )
    for option, name, text in _FLAG_FILTERS:
        group.add_argument(option, dest=name, action=argparse.BooleanOptionalAction, help=text)
    group.add_argument(
        "--all",
        dest="all_pages",
        action="store_true",
        help="follow pagination_key through every page (default: the first page)",
    )
    group.add_argument("--max-events", type=int, metavar="N", help="at most this many events")
    return parent


def event_filters(args: argparse.Namespace) -> EventFilters:
    """The search filters given by the `event_filter_options` of `args`."""
    given = {name: getattr(args, name, None) for name in EVENT_FILTER_NAMES}
    return typing.cast(EventFilters, {k: v for k, v in given.items() if v is not None})


def session_from(args: argparse.Namespace, **options: Any) -> Session:
    """The `Session` the connection options describe.

    Args:
        args: Parsed arguments with the `connection_options`.
        **options: More `Session` arguments.

    Raises:
        CommandError: No key was given (status 2).
        ValueError, TypeError: An option is invalid.
    """
    api_key = args.api_key if args.api_key is not None else os.environ.get(ENV_API_KEY)
    if not api_key:
        raise CommandError(f"no API key: set {ENV_API_KEY} or pass --api-key", EXIT_USAGE)
    return Session(
        api_key,
        region=args.region,
        base_url=args.base_url,
        auth=args.auth,
        timeout=args.timeout,
        retry=RetryPolicy(max_retries=args.max_retries),
        **options,
    )


@contextlib.contextmanager
def request_logging(verbose: bool) -> Iterator[None]:
    """While the block runs, log the library's requests at DEBUG on stderr when `verbose`.

    httpx and httpcore stay at WARNING either way: their records carry request URLs.
    """
    quieted = [logging.getLogger(name) for name in _URL_LOGGERS]
    levels = [logger.level for logger in quieted]
    for logger in quieted:
        logger.setLevel(logging.WARNING)
    library = logging.getLogger("fpjs_async")
    library_level = library.level
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    if verbose:
        library.addHandler(handler)
        library.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        if verbose:
            library.removeHandler(handler)
            library.setLevel(library_level)
        for logger, level in zip(quieted, levels, strict=True):
            logger.setLevel(level)
