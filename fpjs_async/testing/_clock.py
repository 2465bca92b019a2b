"""The emulator's clock: real time, or a moment pinned for deterministic tests."""

from __future__ import annotations

import time
from datetime import datetime

from fpjs_async import _validate

__all__ = ["Clock", "Moment"]

#: What a clock can be set to: Unix milliseconds, an aware `datetime`, or `None` (real time).
Moment = int | datetime | None


class Clock:
    """Unix milliseconds now: `time.time()`, or a pinned value that moves only when set."""

    __slots__ = ("_pinned",)

    def __init__(self, now: Moment = None) -> None:
        self._pinned: int | None = None
        self.set(now)

    def set(self, now: Moment) -> None:
        """Pin the clock (ms or an aware `datetime`), or follow real time again (`None`)."""
        self._pinned = None if now is None else _validate.epoch_ms("now", now)

    @property
    def pinned(self) -> bool:
        """Whether the clock is pinned rather than real time."""
        return self._pinned is not None

    def ms(self) -> int:
        """The time now, in Unix milliseconds."""
        if self._pinned is not None:
            return self._pinned
        return time.time_ns() // 1_000_000
