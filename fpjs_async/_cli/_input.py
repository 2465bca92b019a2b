"""Visitor IDs read lazily, one per line, from a file or stdin.

A pipe or a terminal can keep a read waiting for any length of time, and a read must never
hold up the event loop (the requests in flight would time out) nor Ctrl-C. So a daemon
thread reads the stream chunk by chunk (a chunk is whatever one read returns, so a slow
producer's lines are taken as they come), and hands the chunks over through a small queue:
the input is read only as fast as the IDs are used. A daemon thread still waiting for input
when the command ends does not keep the process alive.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import os
import queue
import sys
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import BinaryIO

import anyio

from fpjs_async._cli._common import EXIT_USAGE, CommandError, open_file

__all__ = ["open_input", "read_visitor_ids"]

#: The most bytes one read takes.
CHUNK_BYTES = 64 * 1024
#: Chunks read ahead of the IDs in use.
CHUNKS_AHEAD = 4
# How often a reader blocked on a full queue checks whether it should stop.
_STOP_POLL_SECONDS = 0.1

_Chunk = bytes | Exception | None  # data, a read error, or the end


@contextlib.contextmanager
def open_input(path: str) -> Iterator[BinaryIO]:
    """The file at `path`, or stdin for `-`, as bytes; a file is closed when the block ends.

    Raises:
        CommandError: The file cannot be opened (status 2).
    """
    if path == "-":
        yield sys.stdin.buffer
        return
    with open_file(path, "rb") as file:
        yield file


def _put(chunks: queue.Queue[_Chunk], item: _Chunk, stop: threading.Event) -> bool:
    """Put `item`, waiting for room unless told to stop; whether it was put."""
    while not stop.is_set():
        try:
            chunks.put(item, timeout=_STOP_POLL_SECONDS)
        except queue.Full:
            continue
        return True
    return False


def _read_chunks(
    read: Callable[[int], bytes], chunks: queue.Queue[_Chunk], stop: threading.Event
) -> None:
    """The reading thread: chunks until the end of the input, an error, or `stop`."""
    while not stop.is_set():
        try:
            chunk: _Chunk = read(CHUNK_BYTES) or None
        except (OSError, ValueError) as exc:  # ValueError: a closed file
            chunk = exc
        if not _put(chunks, chunk, stop) or not isinstance(chunk, bytes):
            return


def _start_reading(stream: BinaryIO, chunks: queue.Queue[_Chunk], stop: threading.Event) -> None:
    """Start the thread that reads `stream` into `chunks`.

    A file is read through its own duplicate of the descriptor, with `os.read`: a thread
    blocked in a read of the buffered file (stdin waiting for a line) would hold the file's
    lock, and the interpreter aborts when it cannot take that lock at exit; and the
    duplicate stays valid, whoever closes the file meanwhile.
    """
    try:
        descriptor: int | None = os.dup(stream.fileno())
    except (OSError, ValueError):  # not backed by a descriptor (io.UnsupportedOperation)
        descriptor = None

    def target() -> None:
        if descriptor is None:
            _read_chunks(getattr(stream, "read1", stream.read), chunks, stop)
            return
        try:
            _read_chunks(functools.partial(os.read, descriptor), chunks, stop)
        finally:
            os.close(descriptor)

    threading.Thread(target=target, name="fpjs-async-input", daemon=True).start()


async def read_visitor_ids(stream: BinaryIO, name: str) -> AsyncGenerator[str, None]:
    """The non-blank lines of `stream` (UTF-8), stripped of surrounding whitespace.

    Args:
        stream: The open input.
        name: What to call it in an error message.

    Raises:
        CommandError: The input cannot be read or is not UTF-8 text (status 2).
    """
    chunks: queue.Queue[_Chunk] = queue.Queue(CHUNKS_AHEAD)
    stop = threading.Event()
    _start_reading(stream, chunks, stop)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    rest = ""
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(chunks.get, abandon_on_cancel=True)
            if isinstance(chunk, Exception):
                raise CommandError(f"cannot read {name}: {chunk}", EXIT_USAGE)
            try:
                text = rest + decoder.decode(chunk or b"", final=chunk is None)
            except UnicodeDecodeError as exc:
                raise CommandError(
                    f"cannot read {name}: not UTF-8 text ({exc})", EXIT_USAGE
                ) from None
            *lines, rest = text.split("\n")
            if chunk is None:
                lines.append(rest)
            for line in lines:
                visitor_id = line.strip()
                if visitor_id:
                    yield visitor_id
            if chunk is None:
                return
    finally:
        stop.set()
        # A worker thread abandoned by a cancellation may still be waiting for a chunk.
        with contextlib.suppress(queue.Full):
            chunks.put_nowait(None)
