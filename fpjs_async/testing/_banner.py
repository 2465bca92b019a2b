"""What `python -m fpjs_async.testing serve` prints once it accepts connections, written and read.

The command writes it; `serve_in_subprocess` (and anything else that starts the command)
reads the URL and the sample visitor IDs back from it:

    Serving the Server API emulator at http://127.0.0.1:8080
    2981 visits of 20 visitors (seed 0), each also a v4 event, e.g.:
      visitor Ibk1527CUFmcnjLwIs4A9  (214 visits)
    Press Ctrl-C to stop.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TextIO

import attrs

__all__ = ["READY_END", "READY_PREFIX", "VISITOR_PREFIX", "Banner", "read_banner", "write_banner"]

#: The line that says the server accepts connections, before its URL.
READY_PREFIX = "Serving the Server API emulator at "
#: The prefix of each sample visitor's line.
VISITOR_PREFIX = "  visitor "
#: The line that ends the banner.
READY_END = "Press Ctrl-C to stop."


@attrs.frozen
class Banner:
    """The banner as read.

    Attributes:
        url: The base URL served, e.g. `http://127.0.0.1:54321`.
        visitor_ids: The sample visitor IDs it shows.
        lines: The lines read, up to the banner's last (any before it included).
    """

    url: str
    visitor_ids: tuple[str, ...]
    lines: tuple[str, ...]


def write_banner(out: TextIO, url: str, visitors: Sequence[tuple[str, int]], *, total: str) -> None:
    """Print the banner to `out`, flushed.

    Args:
        out: Where to print it.
        url: The base URL served.
        visitors: The sample visitors: (visitor ID, visits).
        total: The line between the URL and the samples, saying what is served.
    """
    print(f"{READY_PREFIX}{url}", file=out)
    print(total, file=out)
    for visitor_id, visits in visitors:
        print(f"{VISITOR_PREFIX}{visitor_id}  ({visits} visits)", file=out)
    print(READY_END, file=out, flush=True)


def read_banner(lines: Iterable[str]) -> Banner:
    """Read the banner from the command's output, line by line, up to its last line.

    Lines before it (a warning) are passed over; nothing after its last line is read.

    Raises:
        RuntimeError: The output ended before the banner did.
    """
    url = None
    visitor_ids: list[str] = []
    seen: list[str] = []
    for raw in lines:
        line = raw.rstrip("\n")
        seen.append(line)
        if line.startswith(READY_PREFIX):
            url = line.removeprefix(READY_PREFIX).strip()
        elif url is not None and line.startswith(VISITOR_PREFIX):
            visitor_ids.append(line.removeprefix(VISITOR_PREFIX).split()[0])
        elif url is not None and line == READY_END:
            return Banner(url, tuple(visitor_ids), tuple(seen))
    raise RuntimeError("the emulator exited before it was ready")
