"""Peak memory of `iter_visits` over a long history: 1 page of 500 visits vs 200 pages.

The emulator serves one visitor with 100,000 visits from its own process; each measurement
runs in a fresh client process, so its peak RSS (`ru_maxrss`) belongs to that walk alone.
The stream holds one page at a time, so 200 pages should cost about what one page does.

    python benchmarks/memory.py
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import anyio

import fpjs_async
from fpjs_async.testing import serve_in_subprocess

API_KEY = "bench-key"
VISITS = 100_000
PAGE = 500


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def walk(url: str, visitor_id: str, pages: int) -> tuple[int, float]:
    """Iterate `pages` pages of the visitor's history; the visit count and the seconds taken."""
    count = 0
    started = time.perf_counter()
    async with fpjs_async.Session(API_KEY, base_url=url) as fp:
        async for _ in fp.iter_visits(visitor_id, limit=PAGE, max_pages=pages):
            count += 1
    return count, time.perf_counter() - started


def client(url: str, visitor_id: str, pages: int) -> None:
    """Entry point of a measuring process: prints `visits seconds baseline_mib peak_mib`."""
    baseline = peak_rss_mib()
    count, seconds = anyio.run(walk, url, visitor_id, pages)
    print(count, f"{seconds:.3f}", f"{baseline:.1f}", f"{peak_rss_mib():.1f}")


def measure(url: str, visitor_id: str, pages: int) -> list[str]:
    command = [sys.executable, __file__, "--client", url, visitor_id, str(pages)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()


def main() -> None:
    extra = ["--visits", str(VISITS)]
    with serve_in_subprocess(API_KEY, visitors=1, seed=3, extra_args=extra) as server:
        visitor_id = server.visitor_ids[0]
        measure(server.url, visitor_id, VISITS // PAGE)  # warm the server's encoding cache
        rows = [(pages, measure(server.url, visitor_id, pages)) for pages in (1, VISITS // PAGE)]
    print(f"iter_visits, pages of {PAGE} visits, one client process per row")
    print(f"{'pages':>6} {'visits':>8} {'seconds':>8} {'RSS before MiB':>15} {'peak RSS MiB':>13}")
    for pages, (visits, seconds, baseline, peak) in rows:
        print(f"{pages:>6} {visits:>8} {seconds:>8} {baseline:>15} {peak:>13}")
    one, many = (float(row[1][3]) - float(row[1][2]) for row in rows)
    print(f"growth over the walk: 1 page {one:.1f} MiB, {VISITS // PAGE} pages {many:.1f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", nargs=3, metavar=("URL", "VISITOR_ID", "PAGES"))
    args = parser.parse_args()
    if args.client:
        client(args.client[0], args.client[1], int(args.client[2]))
    else:
        main()
