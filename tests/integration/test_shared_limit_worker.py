"""docs/examples/shared_limit_worker.py: three worker processes, one budget in Redis.

The workers run as the page says (`python shared_limit_worker.py ID...`), against the
emulator on loopback and a real `redis-server`. As in test_redis_limit.py, the budget is
checked from counts: together they cannot have sent their requests faster than 15 at once
and 5 a second after that, whatever the machine's speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from fpjs_async.testing import FakeServerAPI, serve_in_thread

from . import _redis
from ._redis import RedisServer

redis_server = _redis.redis_server
processes = _redis.processes

WORKER = Path(__file__).resolve().parents[2] / "docs" / "examples" / "shared_limit_worker.py"
KEY = "worker-test-key"
WORKERS = 3
HANG_GUARD = 60.0


def test_three_workers_keep_to_one_budget(
    redis_server: RedisServer, processes: list[subprocess.Popen[str]]
) -> None:
    fake = FakeServerAPI(KEY)
    visitor_ids = fake.populate(36, 1, seed=5)  # one page each
    with serve_in_thread(fake) as base_url:
        env = {
            **os.environ,
            "FPJS_API_KEY": KEY,
            "FPJS_REDIS_URL": redis_server.url,
            "FPJS_BASE_URL": base_url,
        }
        start = time.monotonic()
        for number in range(WORKERS):
            ids = visitor_ids[number::WORKERS]
            processes.append(
                subprocess.Popen(
                    [sys.executable, str(WORKER), *ids],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        reports = []
        for worker in processes:
            out, err = worker.communicate(timeout=HANG_GUARD)
            assert worker.returncode == 0, err
            assert "Redis failed" not in err  # shared all along
            reports.append(json.loads(out.splitlines()[-1]))
        elapsed = time.monotonic() - start
    assert [report["visitors"] for report in reports] == [12] * WORKERS
    assert [report["failed"] for report in reports] == [0] * WORKERS
    assert sum(report["visits"] for report in reports) == 36
    requests = sum(report["requests"] for report in reports)
    assert requests == len(fake.requests) >= 36
    # Alone, each worker's 12 requests would fit in its own burst of 15 and go at once.
    rate, burst = 5.0, 15
    assert elapsed >= (requests - burst) / rate * 0.99 - 0.005
