"""Clocks the tests control, in place of the library's `_retry.clock` and `_retry.sleep`.

`ManualClock` records sleeps instead of waiting them: its time stands still unless a test
moves it, or moves by each sleep with `sleeps_move_time`. The tests of tasks waiting
together run `on_virtual_time`: trio's `MockClock`, which jumps to the next deadline as
soon as every task is blocked (deterministic and instant), with the `virtual_time` fixture
making it the library's clock too.
"""

from __future__ import annotations

import anyio
import anyio.lowlevel
import attrs
import pytest
import trio
import trio.testing

from fpjs_async import _retry


@attrs.define
class ManualClock:
    """The library's clock and sleep: sleeps are recorded, not waited.

    Attributes:
        now: The time, in seconds.
        sleeps: Every sleep asked for, in order.
        sleeps_move_time: Whether a sleep moves `now` on by its length.
        hold_first: When set, the first sleep blocks until this event is set.
        first_sleeping: Set once the first sleep begins.
    """

    now: float = 100.0
    sleeps: list[float] = attrs.Factory(list)
    sleeps_move_time: bool = False
    hold_first: anyio.Event | None = None
    first_sleeping: anyio.Event = attrs.Factory(anyio.Event)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> ManualClock:
        """Make this the library's clock and sleep for the test."""
        monkeypatch.setattr(_retry, "clock", self.clock)
        monkeypatch.setattr(_retry, "sleep", self.sleep)
        return self

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if not self.first_sleeping.is_set():
            self.first_sleeping.set()
            if self.hold_first is not None:
                await self.hold_first.wait()
        if self.sleeps_move_time:
            self.now += seconds
        await anyio.lowlevel.checkpoint()


def mock_clock_trio() -> tuple[str, dict[str, object]]:
    """The `anyio_backend` of trio on a fresh `MockClock`."""
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})


def on_virtual_time() -> pytest.MarkDecorator:
    """Runs a test on trio's virtual time, on a clock of its own (starting at 0)."""
    return pytest.mark.parametrize("anyio_backend", [mock_clock_trio()], ids=["trio"])
