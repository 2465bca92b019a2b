"""`fpjs-async demo`: the library's main job, end to end, against the in-process emulator.

Synthetic visitors are stored in a `FakeServerAPI`; a real `Session`, wired to it through
an in-process transport (no socket, no key of yours, no network), fetches every visitor's
whole history with `fetch_many(all_pages=True)`. A few 503 answers and a short 429 burst
are injected on the way, so that the retries show.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
import attrs

from fpjs_async._bulk import BulkProgress
from fpjs_async._cli._common import Commands
from fpjs_async._cli._options import positive_int
from fpjs_async._cli._ui import ProgressBar, rich_console
from fpjs_async._models import Visit
from fpjs_async.testing import FakeServerAPI

if TYPE_CHECKING:
    from rich.columns import Columns

__all__ = ["DemoSummary", "add_demo_command", "demo_emulator", "run_demo"]

#: The key of the demo's emulator (it is nobody's secret).
DEMO_KEY = "demo-key"
#: How many visits each synthetic visitor has (at most 100 per page: up to 2 pages each).
VISITS_PER_VISITOR = (1, 200)
#: How many requests answer 503 at the start.
FAILING_REQUESTS = 3
#: How long the 429 burst lasts, once a third of the visitors are done.
BURST_SECONDS = 0.5
#: How many browsers and countries the summary lists.
TOP = 5


@attrs.frozen
class DemoSummary:
    """What the demo fetched, and what it took.

    Attributes:
        visitors: Visitors fetched.
        failed: Visitors whose fetch failed (after retries).
        visits: Visits received.
        pages: Pages received.
        requests: HTTP requests sent, retries included.
        retries: Retries among those requests.
        rate_limited: 429 responses received.
        max_in_flight: The most requests the emulator was serving at once.
        seconds: Wall time of the fetch.
        top_browsers: The most frequent browsers and their visit counts.
        top_countries: The most frequent countries and their visit counts.
    """

    visitors: int
    failed: int
    visits: int
    pages: int
    requests: int
    retries: int
    rate_limited: int
    max_in_flight: int
    seconds: float
    top_browsers: tuple[tuple[str, int], ...]
    top_countries: tuple[tuple[str, int], ...]

    @property
    def visits_per_second(self) -> float:
        """Visits received per second of wall time."""
        return self.visits / self.seconds if self.seconds > 0 else 0.0


def demo_emulator(visitors: int, *, latency_ms: float, seed: int) -> FakeServerAPI:
    """The demo's emulator: `visitors` synthetic visitors, each answer after `latency_ms`."""
    fake = FakeServerAPI(DEMO_KEY, latency=latency_ms / 1000 if latency_ms else None)
    fake.populate(visitors, VISITS_PER_VISITOR, seed)
    return fake


class _Trouble:
    """The faults of the demo: 503s at the start, a 429 burst a third of the way through."""

    def __init__(self, fake: FakeServerAPI, visitors: int) -> None:
        self._fake = fake
        self._burst_after = max(1, visitors // 3)
        self._burst_started = False
        fake.fail_next(FAILING_REQUESTS, 503)

    def after(self, progress: BulkProgress) -> None:
        if not self._burst_started and progress.visitors_done >= self._burst_after:
            self._burst_started = True
            self._fake.rate_limit_burst(BURST_SECONDS)


def _browser(visit: Visit) -> str | None:
    return None if visit.browser_details is None else visit.browser_details.browser_name


def _country(visit: Visit) -> str | None:
    location = visit.ip_location
    return None if location is None or location.country is None else location.country.name


async def run_demo(
    fake: FakeServerAPI,
    *,
    concurrency: int,
    on_progress: Callable[[BulkProgress], object] | None = None,
) -> DemoSummary:
    """Fetch every visitor of `fake`, every page, through a real `Session`, and sum it up.

    Args:
        fake: The emulator (see `demo_emulator`); its faults are added here.
        concurrency: Visitors fetched at once (and the session's request limit).
        on_progress: Called with the progress of the fetch.

    Returns:
        The numbers of the fetch.
    """
    visitor_ids = fake.visitor_ids
    trouble = _Trouble(fake, len(visitor_ids))

    def progress(state: BulkProgress) -> None:
        trouble.after(state)
        if on_progress is not None:
            on_progress(state)

    browsers: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    failed = visits = pages = 0
    async with fake.session(max_concurrency=concurrency) as session:
        started = time.perf_counter()
        fetch = session.fetch_many(
            visitor_ids, concurrency=concurrency, all_pages=True, on_progress=progress
        )
        async with fetch as results:
            async for result in results:
                failed += not result.ok
                visits += len(result.visits)
                pages += result.pages
                browsers.update(filter(None, map(_browser, result.visits)))
                countries.update(filter(None, map(_country, result.visits)))
        seconds = time.perf_counter() - started
        stats = session.stats
    return DemoSummary(
        visitors=len(visitor_ids),
        failed=failed,
        visits=visits,
        pages=pages,
        requests=stats.requests,
        retries=stats.retries,
        rate_limited=stats.rate_limited,
        max_in_flight=fake.max_in_flight,
        seconds=seconds,
        top_browsers=tuple(browsers.most_common(TOP)),
        top_countries=tuple(countries.most_common(TOP)),
    )


def add_demo_command(commands: Commands) -> None:
    """Add `demo` to the subcommands."""
    parser = commands.add_parser(
        "demo",
        help="bulk-fetch synthetic visitors from the built-in emulator (no key, no network)",
        description=(
            "Start the API emulator in-process with synthetic visitors, fetch every "
            "visitor's whole history with Session.fetch_many (through a few injected 503s "
            "and a short 429 burst), and sum it up."
        ),
    )
    parser.add_argument(
        "--visitors", type=positive_int, default=200, metavar="N", help="default: %(default)s"
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=20,
        metavar="N",
        help="visitors fetched at once (default: %(default)s)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=20.0,
        metavar="MS",
        help="the emulator's delay before each answer (default: %(default)g)",
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the synthetic data (default: %(default)s)"
    )
    parser.set_defaults(run=run_demo_command)


def run_demo_command(args: argparse.Namespace) -> int:
    """Run the demo with a progress bar and print its summary; returns the exit status."""
    out = rich_console()
    fake = demo_emulator(args.visitors, latency_ms=args.latency_ms, seed=args.seed)
    out.print(
        f"The emulator holds [bold]{args.visitors:,}[/] synthetic visitors with "
        f"[bold]{fake.count_visits():,}[/] visits (seed {args.seed}) and answers after "
        f"{args.latency_ms:g} ms; it will answer {FAILING_REQUESTS} requests 503 and "
        f"rate-limit everyone (429) for {BURST_SECONDS:g} s on the way.\n"
        f"Fetching every visitor's whole history: "
        f"fetch_many(concurrency={args.concurrency}, all_pages=True)",
        highlight=False,
    )
    with ProgressBar(rich_console(stderr=True), "demo") as bar:
        summary = anyio.run(
            functools.partial(run_demo, fake, concurrency=args.concurrency, on_progress=bar.update)
        )
    out.print(_summary_tables(summary))
    return 0


def _summary_tables(summary: DemoSummary) -> Columns:
    from rich.columns import Columns
    from rich.table import Table

    numbers = Table(title="Summary", show_header=False)
    numbers.add_column(style="bold")
    numbers.add_column(justify="right")
    failed = f" ({summary.failed:,} failed)" if summary.failed else ""
    rows = [
        ("Visitors", f"{summary.visitors:,}{failed}"),
        ("Visits", f"{summary.visits:,}"),
        ("Pages", f"{summary.pages:,}"),
        ("Requests", f"{summary.requests:,}"),
        ("Retries", f"{summary.retries:,}"),
        ("Rate-limited (429)", f"{summary.rate_limited:,}"),
        ("Peak in flight", f"{summary.max_in_flight:,}"),
        ("Wall time", f"{summary.seconds:.2f} s"),
        ("Throughput", f"{summary.visits_per_second:,.0f} visits/s"),
    ]
    for name, value in rows:
        numbers.add_row(name, value)
    tables = [numbers]
    for title, column, counts in (
        ("Top browsers", "Browser", summary.top_browsers),
        ("Top countries", "Country", summary.top_countries),
    ):
        table = Table(title=title)
        table.add_column(column)
        table.add_column("Visits", justify="right")
        for name, count in counts:
            table.add_row(name, f"{count:,}")
        tables.append(table)
    return Columns(tables)
