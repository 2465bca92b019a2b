"""`fpjs-async demo`: the library's main job, end to end, against the in-process emulator.

Synthetic visitors are stored in a `FakeServerAPI`; a real `Session`, wired to it through
an in-process transport (no socket, no key of yours, no network), searches every visitor's
events of the emulator's whole retention with Server API v4 `search_many(all_pages=True)`.
A few 503 answers and a short 429 burst (without `Retry-After`, as v4 sends it) are
injected on the way, so that the retries show.
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
from fpjs_async._cli._ui import ProgressBar, event_country, rich_console
from fpjs_async.events import Event
from fpjs_async.testing import FakeServerAPI

if TYPE_CHECKING:
    from rich.columns import Columns

__all__ = ["DemoSummary", "add_demo_command", "demo_emulator", "run_demo"]

#: The key of the demo's emulator (it is nobody's secret).
DEMO_KEY = "demo-key"
#: How many events each synthetic visitor has (at most 100 per page: up to 2 pages each).
EVENTS_PER_VISITOR = (1, 200)
#: Events per page: the most the API allows.
PAGE_LIMIT = 100
#: How many requests answer 503 at the start.
FAILING_REQUESTS = 3
#: How long the 429 burst lasts, once a third of the visitors are done.
BURST_SECONDS = 0.5
#: How many browsers and countries the summary lists.
TOP = 5
_DAY_MS = 86_400_000


@attrs.frozen
class DemoSummary:
    """What the demo found, and what it took.

    Attributes:
        visitors: Visitors searched.
        failed: Visitors whose search failed (after retries).
        events: Events received.
        pages: Pages received.
        requests: HTTP requests sent, retries included.
        retries: Retries among those requests.
        rate_limited: 429 responses received.
        max_in_flight: The most requests the emulator was serving at once.
        seconds: Wall time of the searches.
        top_browsers: The most frequent browsers and their event counts.
        top_countries: The most frequent countries and their event counts.
    """

    visitors: int
    failed: int
    events: int
    pages: int
    requests: int
    retries: int
    rate_limited: int
    max_in_flight: int
    seconds: float
    top_browsers: tuple[tuple[str, int], ...]
    top_countries: tuple[tuple[str, int], ...]

    @property
    def events_per_second(self) -> float:
        """Events received per second of wall time."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


def demo_emulator(visitors: int, *, latency_ms: float, seed: int) -> FakeServerAPI:
    """The demo's emulator: `visitors` synthetic visitors, each answer after `latency_ms`.

    Its clock stands still at the moment it is made, so that a search reaching back its
    whole retention stays valid however long the demo runs.
    """
    fake = FakeServerAPI(
        DEMO_KEY,
        latency=latency_ms / 1000 if latency_ms else None,
        now=int(time.time() * 1000),
    )
    fake.populate(visitors, EVENTS_PER_VISITOR, seed)
    return fake


def oldest_searchable(fake: FakeServerAPI) -> int:
    """The `start` (Unix ms) of a search over the emulator's whole retention."""
    return fake.now - fake.retention_days * _DAY_MS


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


def _browser(event: Event) -> str | None:
    return None if event.browser_details is None else event.browser_details.browser_name


async def run_demo(
    fake: FakeServerAPI,
    *,
    concurrency: int,
    on_progress: Callable[[BulkProgress], object] | None = None,
) -> DemoSummary:
    """Search every visitor of `fake`, every page, through a real `Session`, and sum it up.

    Args:
        fake: The emulator (see `demo_emulator`); its faults are added here.
        concurrency: Visitors searched at once (and the session's request limit).
        on_progress: Called with the progress of the searches.

    Returns:
        The numbers of the run.
    """
    visitor_ids = fake.visitor_ids
    trouble = _Trouble(fake, len(visitor_ids))

    def progress(state: BulkProgress) -> None:
        trouble.after(state)
        if on_progress is not None:
            on_progress(state)

    browsers: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    failed = events = pages = 0
    async with fake.session(max_concurrency=concurrency) as session:
        started = time.perf_counter()
        search = session.search_many(
            visitor_ids,
            concurrency=concurrency,
            all_pages=True,
            limit=PAGE_LIMIT,
            start=oldest_searchable(fake),
            on_progress=progress,
        )
        async with search as results:
            async for result in results:
                failed += not result.ok
                events += len(result.events)
                pages += result.pages
                browsers.update(filter(None, map(_browser, result.events)))
                countries.update(filter(None, map(event_country, result.events)))
        seconds = time.perf_counter() - started
        stats = session.stats
    return DemoSummary(
        visitors=len(visitor_ids),
        failed=failed,
        events=events,
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
        help="search the events of synthetic visitors in the built-in emulator (no key, "
        "no network)",
        description=(
            "Start the API emulator in-process with synthetic visitors, search every "
            "visitor's events with Server API v4 Session.search_many (through a few injected "
            "503s and a short 429 burst), and sum it up."
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
        help="visitors searched at once (default: %(default)s)",
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
        f"[bold]{fake.count_events():,}[/] events over {fake.retention_days} days (seed "
        f"{args.seed}) and answers after {args.latency_ms:g} ms; it will answer "
        f"{FAILING_REQUESTS} requests 503 and rate-limit everyone (429) for "
        f"{BURST_SECONDS:g} s on the way.\n"
        f"Searching every visitor's events (Server API v4): search_many(concurrency="
        f"{args.concurrency}, all_pages=True, limit={PAGE_LIMIT}, start=<{fake.retention_days} "
        "days ago>)",
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
        ("Events", f"{summary.events:,}"),
        ("Pages", f"{summary.pages:,}"),
        ("Requests", f"{summary.requests:,}"),
        ("Retries", f"{summary.retries:,}"),
        ("Rate-limited (429)", f"{summary.rate_limited:,}"),
        ("Peak in flight", f"{summary.max_in_flight:,}"),
        ("Wall time", f"{summary.seconds:.2f} s"),
        ("Throughput", f"{summary.events_per_second:,.0f} events/s"),
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
        table.add_column("Events", justify="right")
        for name, count in counts:
            table.add_row(name, f"{count:,}")
        tables.append(table)
    return Columns(tables)
