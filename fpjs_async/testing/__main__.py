"""`python -m fpjs_async.testing serve`: the v3 and v4 emulator on loopback, with synthetic data."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fpjs_async.testing._serve_cli import add_serve_arguments, run_serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fpjs_async.testing",
        description="An emulator of the Fingerprint Server API (v3 visitor history and v4 events).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_serve_arguments(
        commands.add_parser(
            "serve",
            help="serve GET /visitors/:id and the v4 events API over HTTP with synthetic data",
            description="Serve the emulator with uvicorn until Ctrl-C or SIGTERM.",
        )
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    return run_serve(_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
