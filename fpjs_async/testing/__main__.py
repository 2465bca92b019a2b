"""`python -m fpjs_async.testing serve`: the emulator on loopback, with synthetic data."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TypeVar

from fpjs_async.testing._fake import FakeServerAPI, Latency
from fpjs_async.testing._server import READY_END, READY_PREFIX, VISITOR_PREFIX, serve

T = TypeVar("T", int, float)

#: How many visitor IDs the start-up output shows.
SHOWN_VISITORS = 5


def _range(convert: Callable[[str], T]) -> Callable[[str], tuple[T, T]]:
    """A parser of `"20"` or `"10,50"` into a (min, max) pair of numbers."""

    def parse(text: str) -> tuple[T, T]:
        low, _, high = text.partition(",")
        try:
            pair = (convert(low), convert(high or low))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected N or MIN,MAX, got {text!r}") from None
        if not 0 <= pair[0] <= pair[1]:
            raise argparse.ArgumentTypeError(f"expected 0 <= MIN <= MAX, got {text!r}")
        return pair

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fpjs_async.testing",
        description="An emulator of the FingerprintJS Pro Server API visitor history.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_serve_arguments(
        commands.add_parser(
            "serve",
            help="serve GET /visitors/:id over HTTP with synthetic data",
            description="Serve the emulator with uvicorn until Ctrl-C or SIGTERM.",
        )
    )
    return parser


def add_serve_arguments(
    serve_command: argparse.ArgumentParser, *, api_key_default: str | None = None
) -> None:
    """Add the options of `serve` to a parser (this module's, and `fpjs-async serve`).

    Args:
        serve_command: The parser of the command.
        api_key_default: The key when `--api-key` is not given (never shown in the help);
            without one, `--api-key` is required.
    """
    serve_command.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    serve_command.add_argument(
        "--port", type=int, default=8080, help="0 picks a free port (default: %(default)s)"
    )
    serve_command.add_argument(
        "--api-key",
        required=api_key_default is None,
        default=api_key_default,
        help="the key clients must send",
    )
    serve_command.add_argument(
        "--visitors", type=int, default=20, help="synthetic visitors (default: %(default)s)"
    )
    serve_command.add_argument(
        "--visits",
        type=_range(int),
        default=(1, 1200),
        metavar="N|MIN,MAX",
        help="visits per visitor (default: 1,1200)",
    )
    serve_command.add_argument(
        "--seed", type=int, default=0, help="seed of the data (default: %(default)s)"
    )
    serve_command.add_argument(
        "--latency-ms", type=_range(float), metavar="L|MIN,MAX", help="delay before each answer"
    )
    serve_command.add_argument(
        "--rate-limit", type=float, metavar="R", help="requests per second, then 429"
    )
    serve_command.add_argument("--region", choices=("us", "eu", "ap"), help="bind the key")
    serve_command.add_argument(
        "--error-style",
        choices=("structured", "plain"),
        default="structured",
        help="error bodies (default: %(default)s)",
    )
    serve_command.add_argument(
        "--no-pagination-key",
        action="store_true",
        help="send lastTimestamp only, like the older API",
    )


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    return run_serve(_parser().parse_args(argv))


def run_serve(args: argparse.Namespace) -> int:
    """Serve the emulator as the options of `add_serve_arguments` say, until Ctrl-C or SIGTERM.

    Returns:
        The exit status.
    """
    latency: Latency = None
    if args.latency_ms is not None:
        low, high = args.latency_ms[0] / 1000, args.latency_ms[1] / 1000
        latency = low if low == high else (low, high)
    try:
        fake = FakeServerAPI(
            args.api_key,
            region=args.region,
            error_style=args.error_style,
            send_pagination_key=not args.no_pagination_key,
            latency=latency,
            rate_limit=args.rate_limit,
        )
        visitor_ids = fake.populate(args.visitors, args.visits, args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def announce(url: str) -> None:
        print(f"{READY_PREFIX}{url}")
        print(
            f"{fake.count_visits()} visits of {len(visitor_ids)} visitors (seed {args.seed}), e.g.:"
        )
        for visitor_id in visitor_ids[:SHOWN_VISITORS]:
            print(f"{VISITOR_PREFIX}{visitor_id}  ({fake.count_visits(visitor_id)} visits)")
        print(READY_END, flush=True)

    # SIGTERM stops the server as Ctrl-C does (uvicorn re-raises it after shutting down).
    previous_handler = signal.signal(signal.SIGTERM, _stop)
    try:
        serve(fake, host=args.host, port=args.port, on_ready=announce)
    except KeyboardInterrupt:
        pass
    except (OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
