"""The options shared by `visits` and `bulk`: the connection, the filters, `-v`."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from datetime import date, datetime, time, timezone
from typing import Any

from fpjs_async._cli._common import ENV_API_KEY, EXIT_USAGE, CommandError, Parser
from fpjs_async._converter import parse_datetime
from fpjs_async._query import to_epoch_ms
from fpjs_async._retry import RetryPolicy
from fpjs_async._session import DEFAULT_TIMEOUT, Region, Session

__all__ = [
    "connection_options",
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
            return to_epoch_ms("time", int(text))
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return to_epoch_ms("time", parse_datetime(text))
        return to_epoch_ms("time", datetime.combine(day, time(), timezone.utc))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected ms since the epoch or an ISO 8601 date/time such as "
            f"2024-05-01T12:00:00Z, got {text!r}"
        ) from None


def positive_int(text: str) -> int:
    """An int >= 1, for argparse."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text!r}")
    return value


def connection_options() -> Parser:
    """A parent parser with the options that make the `Session`, and `-v`."""
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
    group.add_argument(
        "--auth",
        choices=("header", "query"),
        default="header",
        help="send the key in the Auth-Token header or the token parameter (default: %(default)s)",
    )
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
