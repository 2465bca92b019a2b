"""Running a `serve` command in a subprocess until the test interrupts it, as a user would."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence

import attrs

from fpjs_async.testing._banner import Banner, read_banner

#: The longest a served command may live, whatever the test does.
LIFETIME_SECONDS = 60


@attrs.define
class Served:
    """A command serving the emulator: its banner, then what it printed once interrupted."""

    banner: Banner
    rest: str = ""
    status: int | None = None

    @property
    def output(self) -> str:
        """Everything it printed on stdout."""
        return "\n".join(self.banner.lines) + "\n" + self.rest


@contextlib.contextmanager
def served(command: Sequence[str], env: Mapping[str, str] | None = None) -> Iterator[Served]:
    """Start `command`, yield once its banner is read, then Ctrl-C it and wait for it to end.

    The process is killed if it is still running when the block ends (a failure), or when
    it outlives `LIFETIME_SECONDS`.
    """
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        watchdog = threading.Timer(LIFETIME_SECONDS, process.kill)
        watchdog.start()
        try:
            assert process.stdout is not None
            running = Served(read_banner(process.stdout))
            yield running
            process.send_signal(signal.SIGINT)
            running.rest = process.stdout.read()
            running.status = process.wait(timeout=30)
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
