"""The `fpjs-async` command: its parser, and failures turned into one line and an exit status."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence

from fpjs_async import __version__
from fpjs_async._cli._bulk import add_bulk_command, add_search_many_command
from fpjs_async._cli._common import (
    ENV_API_KEY,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CommandError,
    Parser,
    Secrets,
)
from fpjs_async._cli._demo import add_demo_command
from fpjs_async._cli._events import add_events_command
from fpjs_async._cli._options import connection_options, event_filter_options, filter_options
from fpjs_async._cli._visits import add_visits_command
from fpjs_async._errors import AuthenticationError, FingerprintError
from fpjs_async.testing._serve_cli import add_serve_arguments, run_serve

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The parser of `fpjs-async` and its commands."""
    parser = Parser(
        prog="fpjs-async",
        description=(
            "The Fingerprint Server API from the command line: v4 event searches (events, "
            "search-many) and the v3 visitor history (visits, bulk)."
        ),
        epilog=f"The secret API key is read from ${ENV_API_KEY} unless --api-key is given.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    v4 = connection_options(v3=False)
    add_events_command(commands, [v4, event_filter_options()])
    add_search_many_command(commands, [v4, event_filter_options(per_visitor=True)])
    v3 = [connection_options(), filter_options()]
    add_visits_command(commands, v3)
    add_bulk_command(commands, v3)
    add_demo_command(commands)
    serve = commands.add_parser(
        "serve",
        help="serve the API emulator on loopback (as python -m fpjs_async.testing serve)",
        description="Serve the API emulator with uvicorn until Ctrl-C or SIGTERM.",
    )
    add_serve_arguments(serve, api_key_default=os.environ.get(ENV_API_KEY) or None)
    serve.set_defaults(run=run_serve)
    for command in commands.choices.values():
        command.allow_abbrev = False  # `--api` must not stand for `--api-key`
    return parser


def _failure(error: Exception) -> CommandError:
    """The message and exit status of an error raised by a command."""
    if isinstance(error, CommandError):
        return error
    if isinstance(error, AuthenticationError):
        return CommandError(
            f"the API refused the key: {error}. Check the key (--api-key or {ENV_API_KEY}) "
            "and the region (--region): a key works only in the region of its application",
            EXIT_FAILURE,
        )
    if isinstance(error, FingerprintError):
        return CommandError(str(error), EXIT_FAILURE)
    if isinstance(error, (ValueError, TypeError)):
        # The library checks every argument before sending anything.
        return CommandError(str(error), EXIT_USAGE)
    return CommandError(f"{type(error).__name__}: {error}", EXIT_FAILURE)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `fpjs-async` with `argv` (default: the process's arguments).

    Returns:
        The exit status: 0 done, 1 the API or the network failed (or some visitors of
        `bulk` or `search-many` did), 2 a bad argument or a missing key or input, 130 interrupted.
    """
    arguments = sys.argv[1:] if argv is None else list(argv)
    secrets = Secrets.of_process(arguments)
    try:
        args = build_parser().parse_args(arguments)
        status: int = args.run(args)
    except SystemExit as exit_:  # --help and --version
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    except (KeyboardInterrupt, asyncio.CancelledError):
        # On Python 3.10, anyio's stand-in for asyncio.Runner lets the Ctrl-C cancellation of
        # the command's task out as CancelledError, not KeyboardInterrupt; nothing else
        # cancels that outermost task.
        secrets.report("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): nothing more to say to anyone.
        _silence_stdout()
        return EXIT_FAILURE
    except Exception as error:
        failure = _failure(error)
        secrets.report(failure.message)
        return failure.status
    return status


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit cannot fail again."""
    with contextlib.suppress(OSError, ValueError):  # not a file (captured, replaced)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
