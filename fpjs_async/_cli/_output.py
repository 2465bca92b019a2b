"""What the commands print: API-shaped JSON through the converter, as lines or documents."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import IO, Any

from fpjs_async._bulk import BulkResult, EventsResult
from fpjs_async._cli._common import open_file
from fpjs_async._converter import converter
from fpjs_async._errors import APIError, FingerprintError, ResponseDecodeError
from fpjs_async._models import Visit, VisitorHistory
from fpjs_async.events import Event

__all__ = [
    "JsonWriter",
    "error_line",
    "event_line",
    "events_line",
    "history_line",
    "open_output",
    "visit_line",
]


class JsonWriter:
    """Writes JSON values as UTF-8 to a binary stream: one per line, or indented documents.

    Args:
        stream: Where to write.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def line(self, value: Any) -> None:
        """Write `value` as one line of JSON Lines."""
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        self._stream.write(text.encode() + b"\n")

    def document(self, value: Any) -> None:
        """Write `value` as an indented JSON document."""
        text = json.dumps(value, ensure_ascii=False, indent=2)
        self._stream.write(text.encode() + b"\n")

    def flush(self) -> None:
        """Hand what was written over to the file or pipe."""
        self._stream.flush()


@contextlib.contextmanager
def open_output(path: str | None) -> Iterator[JsonWriter]:
    """A writer to the file at `path`, or to stdout when it is `None` or `-`.

    Whatever was written is flushed when the block ends, however it ends.

    Raises:
        CommandError: The file cannot be opened (status 2).
    """
    if path is None or path == "-":
        sys.stdout.flush()  # text printed before must come first
        stream: IO[bytes] = sys.stdout.buffer
        writer = JsonWriter(stream)
        try:
            yield writer
        finally:
            writer.flush()
        return
    with open_file(path, "wb") as file:
        yield JsonWriter(file)


def visit_line(visitor_id: str, visit: Visit) -> dict[str, Any]:
    """A visit as the API sends it, with the `visitorId` it belongs to first."""
    line: dict[str, Any] = {"visitorId": visitor_id}
    line.update(converter.unstructure(visit))
    return line


def history_line(result: BulkResult) -> dict[str, Any]:
    """A visitor's visits as the API's history (`visitorId`, `visits`), and its `pages`."""
    line: dict[str, Any] = converter.unstructure(VisitorHistory(result.visitor_id, result.visits))
    line["pages"] = result.pages
    return line


def event_line(event: Event, visitor_id: str | None = None) -> dict[str, Any]:
    """An event as the API sends it; with `visitor_id`, that is added first as `visitor_id`."""
    line: dict[str, Any] = {} if visitor_id is None else {"visitor_id": visitor_id}
    line.update(converter.unstructure(event))
    return line


def events_line(result: EventsResult) -> dict[str, Any]:
    """A visitor's events shaped like the API's search (`events`), plus `visitor_id`, `pages`."""
    return {
        "visitor_id": result.visitor_id,
        "events": [converter.unstructure(event) for event in result.events],
        "pages": result.pages,
    }


def error_line(
    visitor_id: str, error: FingerprintError, *, key: str = "visitorId"
) -> dict[str, Any]:
    """A visitor that failed: `{"visitorId", "error": {"type", "status", "code", "message"}}`.

    `status` and `code` are `null` when the failure was not an HTTP error response. `key`
    names the visitor ID as the API version does (`visitor_id` in v4).
    """
    status = error.status if isinstance(error, (APIError, ResponseDecodeError)) else None
    return {
        key: visitor_id,
        "error": {
            "type": type(error).__name__,
            "status": status,
            "code": error.code if isinstance(error, APIError) else None,
            "message": error.message if isinstance(error, APIError) else str(error),
        },
    }
