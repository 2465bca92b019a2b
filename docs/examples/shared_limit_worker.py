"""A worker that shares one API key's rate limit with every other worker, through Redis.

Start as many as you need, on as many machines as you like: each fetches the histories of
the visitor IDs it is given, and together they keep to one budget held in Redis, the
Fingerprint Server API's default of 5 requests per second with bursts of 15. Run it with

    FPJS_API_KEY=... FPJS_REDIS_URL=redis://127.0.0.1:6379/0 python shared_limit_worker.py ID...

(`FPJS_BASE_URL` optionally points it at a proxy or at the emulator). When done it prints
one JSON line: visitors, visits, failures, requests sent and 429 answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence

import fpjs_async

#: The key's budget, for all the workers together (ask Fingerprint if your plan's differs).
RATE, BURST = 5.0, 15
#: The Redis key of the budget: the same in every worker that uses the same API key.
BUDGET = "fpjs:budget:production-key"

logger = logging.getLogger(__name__)


async def fetch_histories(
    fingerprint: fpjs_async.Session, visitor_ids: Sequence[str]
) -> dict[str, int]:
    """Fetch the whole history of each visitor; counts of what was fetched."""
    summary = {"visitors": 0, "visits": 0, "failed": 0}
    async with fingerprint.fetch_many(visitor_ids, concurrency=5, all_pages=True) as results:
        async for result in results:
            summary["visitors"] += 1
            if result.error is not None:
                logger.warning("visitor %s failed: %s", result.visitor_id, result.error)
                summary["failed"] += 1
            else:
                summary["visits"] += len(result.visits)
    return summary


async def main(visitor_ids: Sequence[str]) -> dict[str, int]:
    """Fetch the histories of `visitor_ids` within the shared budget, and report."""
    budget = fpjs_async.RedisRateLimit(
        os.environ.get("FPJS_REDIS_URL", "redis://127.0.0.1:6379/0"),
        rate=RATE,
        burst=BURST,
        name=BUDGET,
    )
    async with (
        budget,  # closes its Redis connections at the end
        fpjs_async.Session(
            os.environ["FPJS_API_KEY"],
            base_url=os.environ.get("FPJS_BASE_URL"),
            rate_limit=budget,
        ) as fingerprint,
    ):
        summary = await fetch_histories(fingerprint, visitor_ids)
        stats = fingerprint.stats
    return {**summary, "requests": stats.requests, "rate_limited": stats.rate_limited}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(json.dumps(asyncio.run(main(sys.argv[1:]))))
