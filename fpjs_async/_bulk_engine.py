"""BulkFetch: the engine of `fetch_many` and `search_many`, running a job per visitor.

A fixed set of worker tasks pulls visitor IDs from the caller's (possibly endless, possibly
async) iterable one at a time, runs the job of each, and sends its result into a memory
object stream that the caller reads. Workers wait on that stream when the caller reads
slowly, and pull no new ID while they wait: the input is consumed at the pace of the output.
What a job is, the front ends of `_bulk` say.

The task group is entered in `__aenter__` and left in `__aexit__` of one object, in the
caller's task, so the caller's `async with` body runs inside it: leaving the body in any way
cancels the workers before `__aexit__` returns, and a failure of a worker cancels the body.
"""

from __future__ import annotations

from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Sized,
)
from types import TracebackType
from typing import Generic, Protocol, TypeVar

import anyio
import attrs
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from fpjs_async import _validate
from fpjs_async._errors import FingerprintError
from fpjs_async._http import RequestStats

__all__ = ["BulkFetch", "BulkOptions", "BulkProgress", "Job", "VisitorIds"]

#: What `fetch_many` and `search_many` accept as visitor IDs.
VisitorIds = Iterable[str] | AsyncIterable[str]

_END = object()


@attrs.frozen
class BulkProgress:
    """How far a `fetch_many` or `search_many` has got, passed to its `on_progress` callback.

    Attributes:
        visitors_done: Visitors completed, with or without error.
        visitors_failed: Visitors completed with an error.
        visitors_total_known: The number of distinct visitors to fetch as far as known: for
            an input with a length (a list, a set), that length less the duplicates met so
            far; otherwise the distinct IDs taken from the input so far.
        total_is_final: Whether `visitors_total_known` is the final total: the input has a
            length, or it has been read to its end.
        pages: Pages fetched for the visitors done.
        requests: HTTP requests sent by the session since the fetch began, retries included
            (requests of other calls made on the same session meanwhile count too).
        retries: Retries among those requests.
    """

    visitors_done: int
    visitors_failed: int
    visitors_total_known: int
    total_is_final: bool
    pages: int
    requests: int
    retries: int


class _Outcome(Protocol):
    """What the engine reads of a result: `BulkResult` and `EventsResult` both have it."""

    @property
    def pages(self) -> int: ...

    @property
    def error(self) -> FingerprintError | None: ...


ResultT = TypeVar("ResultT", bound=_Outcome)
#: Fetches one visitor (its ID already checked) and returns its result; never raises a
#: `FingerprintError`, which goes into the result.
Job = Callable[[str], Awaitable[ResultT]]


@attrs.frozen
class BulkOptions:
    """The validated options of a bulk run that do not depend on the API version.

    Attributes:
        concurrency: The most visitors in progress at once.
        max_pages: Pages per visitor: 1 unless `all_pages`, then the caller's `max_pages`.
        on_progress: Called with a `BulkProgress` after each visitor.
        raise_on_error: Whether the first visitor error ends the whole run.
        dedupe: Whether an ID met before is skipped (the IDs met are kept for that).
    """

    concurrency: int
    max_pages: int | None
    on_progress: Callable[[BulkProgress], object] | None
    raise_on_error: bool
    dedupe: bool = True

    @classmethod
    def build(
        cls,
        *,
        concurrency: int,
        all_pages: bool,
        max_pages: int | None,
        on_progress: Callable[[BulkProgress], object] | None,
        raise_on_error: bool,
        dedupe: bool = True,
    ) -> BulkOptions:
        """Check every option; `TypeError`/`ValueError` before anything is sent."""
        _validate.count("concurrency", concurrency)
        _validate.flag("all_pages", all_pages)
        _validate.flag("raise_on_error", raise_on_error)
        _validate.flag("dedupe", dedupe)
        _validate.count("max_pages", max_pages, optional=True)
        if max_pages is not None and not all_pages:
            raise ValueError("max_pages needs all_pages=True (otherwise one page is fetched)")
        if on_progress is not None and not callable(on_progress):
            raise TypeError(f"on_progress must be callable, got {type(on_progress).__name__}")
        return cls(concurrency, max_pages if all_pages else 1, on_progress, raise_on_error, dedupe)


class BulkFetch(Generic[ResultT]):
    """The async context manager returned by `Session.fetch_many` and `Session.search_many`.

    Entering it starts the work and returns the stream of results (`BulkResult` or
    `EventsResult`), in completion order; the stream ends after the last visitor. Leaving
    it, in any way, cancels whatever is still in progress, and returns once nothing of the
    work is left running. It can be entered once.
    """

    def __init__(
        self,
        visitor_ids: VisitorIds,
        job: Job[ResultT],
        stats: RequestStats,
        options: BulkOptions,
    ) -> None:
        if isinstance(visitor_ids, (str, bytes)):
            raise TypeError(
                "visitor_ids must be an iterable of visitor IDs, not one str; "
                "wrap a single ID in a list"
            )
        self._ids: Iterator[object] | None = None
        self._async_ids: AsyncIterator[object] | None = None
        if isinstance(visitor_ids, AsyncIterable):
            self._async_ids = aiter(visitor_ids)
        elif isinstance(visitor_ids, Iterable):
            self._ids = iter(visitor_ids)
        else:
            raise TypeError(
                "visitor_ids must be an iterable or an async iterable of str, "
                f"got {type(visitor_ids).__name__}"
            )
        self._length = len(visitor_ids) if isinstance(visitor_ids, Sized) else None
        self._job = job
        self._stats = stats
        self._options = options
        self._seen: set[str] = set()
        self._taken = 0
        self._duplicates = 0
        self._exhausted = False
        self._pull_lock = anyio.Lock()
        self._task_group: TaskGroup | None = None
        self._receive: MemoryObjectReceiveStream[ResultT] | None = None
        self._failure: Exception | None = None
        self._done = 0
        self._failed = 0
        self._pages = 0
        self._requests_before = 0
        self._retries_before = 0

    async def __aenter__(self) -> MemoryObjectReceiveStream[ResultT]:
        if self._task_group is not None:
            raise RuntimeError(
                "a fetch_many or search_many context can be entered once; call the method again"
            )
        concurrency = self._options.concurrency
        workers = concurrency if self._length is None else min(concurrency, self._length)
        # A buffer as large as the worker count lets every worker finish its visitor while
        # the caller is busy with a result, without letting the input run far ahead.
        send, receive = anyio.create_memory_object_stream[ResultT](concurrency)
        self._requests_before = self._stats.requests
        self._retries_before = self._stats.retries
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        with send:
            for _ in range(workers):
                self._task_group.start_soon(self._work, send.clone())
        self._receive = receive
        return receive

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        assert self._task_group is not None
        assert self._receive is not None
        # Whatever ended the body, nothing more is to be fetched.
        self._task_group.cancel_scope.cancel()
        try:
            if exc is not None and not isinstance(exc, anyio.get_cancelled_exc_class()):
                # The body's own exception goes out as it is: passed to the task group, it
                # would come out wrapped in an exception group.
                await self._task_group.__aexit__(None, None, None)
                return False
            # A cancellation is the task group's to absorb when it cancelled the body itself.
            suppressed = bool(await self._task_group.__aexit__(exc_type, exc, tb))
        finally:
            self._receive.close()
        if self._failure is not None and (exc is None or suppressed):
            raise self._failure
        return suppressed

    def _fail(self, error: Exception) -> None:
        """Stop everything (the caller's body too); `error` is raised from `__aexit__`."""
        if self._failure is None:
            self._failure = error
        assert self._task_group is not None
        self._task_group.cancel_scope.cancel()

    async def _work(self, send: MemoryObjectSendStream[ResultT]) -> None:
        with send:
            try:
                while (visitor_id := await self._next_visitor()) is not None:
                    result = await self._job(visitor_id)
                    self._record(result)
                    if result.error is not None and self._options.raise_on_error:
                        self._fail(result.error)
                        return
                    try:
                        # Into the buffer at once when there is room: `send` would first
                        # yield to the event loop, delaying this worker's next request.
                        send.send_nowait(result)
                    except anyio.WouldBlock:
                        await send.send(result)
            except Exception as exc:  # a bug or bad input: it ends the whole fetch
                self._fail(exc)

    async def _next_visitor(self) -> str | None:
        """The next visitor ID (not seen before, with `dedupe`), or `None` at the end.

        Raises:
            TypeError, ValueError: The input holds something other than a non-empty str.
        """
        while True:
            if self._async_ids is not None:
                # Two tasks cannot advance one async iterator at once.
                async with self._pull_lock:
                    item = await anext(self._async_ids, _END)
            else:
                assert self._ids is not None
                item = next(self._ids, _END)
            if item is _END:
                self._exhausted = True
                return None
            visitor_id = _validate.text("visitor_id", item)
            if self._options.dedupe:
                if visitor_id in self._seen:
                    self._duplicates += 1
                    continue
                self._seen.add(visitor_id)
            self._taken += 1
            return visitor_id

    def _record(self, result: ResultT) -> None:
        self._done += 1
        self._pages += result.pages
        if result.error is not None:
            self._failed += 1
        if self._options.on_progress is not None:
            self._options.on_progress(self.progress())

    def progress(self) -> BulkProgress:
        """How far the work has got."""
        total = self._taken if self._length is None else self._length - self._duplicates
        return BulkProgress(
            visitors_done=self._done,
            visitors_failed=self._failed,
            visitors_total_known=total,
            total_is_final=self._length is not None or self._exhausted,
            pages=self._pages,
            requests=self._stats.requests - self._requests_before,
            retries=self._stats.retries - self._retries_before,
        )
