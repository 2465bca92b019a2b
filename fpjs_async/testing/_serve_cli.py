"""The `serve` command, shared by `python -m fpjs_async.testing` and `fpjs-async serve`."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

from fpjs_async import _validate
from fpjs_async.testing._app import Latency
from fpjs_async.testing._banner import write_banner
from fpjs_async.testing._fake import FakeServerAPI
from fpjs_async.testing._server import serve

__all__ = ["SHOWN_VISITORS", "add_serve_arguments", "run_serve"]

T = TypeVar("T", int, float)

#: How many visitor IDs the start-up output shows.
SHOWN_VISITORS = 5


def _range(convert: Callable[[str], T]) -> Callable[[str], tuple[T, T]]:
    """A parser of `"20"` or `"10,50"` into a (min, max) pair of numbers, for argparse."""

    def parse(text: str) -> tuple[T, T]:
        low, _, high = text.partition(",")
        try:
            pair = (convert(low), convert(high or low))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected N or MIN,MAX, got {text!r}") from None
        try:
            return _validate.span("the range", pair, type(pair[0]))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected 0 <= MIN <= MAX, got {text!r}") from None

    return parse


def add_serve_arguments(
    serve_command: argparse.ArgumentParser, *, api_key_default: str | None = None
) -> None:
    """Add the options of `serve` to a parser.

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
    serve_command.add_argument(
        "--burst",
        type=float,
        metavar="B",
        help="requests the rate limit lets through at once (default: R; the API's is 3*R)",
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
            burst=args.burst,
        )
        visitor_ids = fake.populate(args.visitors, args.visits, args.seed)
    except (TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def announce(url: str) -> None:
        write_banner(
            sys.stdout,
            url,
            [(visitor, fake.count_visits(visitor)) for visitor in visitor_ids[:SHOWN_VISITORS]],
            total=f"{fake.count_visits()} visits of {len(visitor_ids)} visitors "
            f"(seed {args.seed}), each also a v4 event, e.g.:",
        )

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
