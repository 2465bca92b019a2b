"""fetch_many: the histories of many visitors, fetched concurrently and streamed as they complete.

A fixed set of worker tasks pulls visitor IDs from the caller's (possibly endless, possibly
async) iterable one at a time, fetches each history through `_pagination.iter_visits`, and
sends the result into a memory object stream that the caller reads. Workers wait on that
stream when the caller reads slowly, and pull no new ID while they wait: the input is
consumed at the pace of the output.

The task group is entered in `__aenter__` and left in `__aexit__` of one object, in the
caller's task, so the caller's `async with` body runs inside it: leaving the body in any way
cancels the workers before `__aexit__` returns, and a failure of a worker cancels the body.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Sized
from contextlib import aclosing
from datetime import datetime
from types import TracebackType

import anyio
import attrs
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from fpjs_async import _pagination
from fpjs_async._errors import FingerprintError
from fpjs_async._http import RequestStats
from fpjs_async._models import Visit, VisitorHistory
from fpjs_async._query import VisitsQuery, check_filters, to_epoch_ms

__all__ = ["BulkFetch", "BulkPlan", "BulkProgress", "BulkResult", "VisitorIds"]

#: What `fetch_many` accepts as visitor IDs.
VisitorIds = Iterable[str] | AsyncIterable[str]

_END = object()


@attrs.frozen
class BulkResult:
    """The outcome of one visitor of `Session.fetch_many`.

    Attributes:
        visitor_id: The visitor ID.
        visits: The visits fetched, newest first: the first page's, or every page's with
            `all_pages=True` (within `max_pages`, `max_visits` and `since`). When `error` is
            set, the visits of the pages fetched before it.
        pages: How many pages were fetched.
        error: The `FingerprintError` that ended this visitor (after retries), else `None`.
    """

    visitor_id: str
    visits: tuple[Visit, ...]
    pages: int
    error: FingerprintError | None = None

    @property
    def ok(self) -> bool:
        """Whether the visitor was fetched without error."""
        return self.error is None


@attrs.frozen
class BulkProgress:
    """How far a `fetch_many` has got, passed to its `on_progress` callback.

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


def _check_flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")


@attrs.frozen
class BulkPlan:
    """The validated options of one `fetch_many` call."""

    concurrency: int
    all_pages: bool
    request_id: str | None
    linked_id: str | None
    limit: int | None
    before_ms: int | None
    max_pages: int | None
    max_visits: int | None
    since_ms: int | None
    on_progress: Callable[[BulkProgress], object] | None
    raise_on_error: bool

    @classmethod
    def build(
        cls,
        *,
        concurrency: int,
        all_pages: bool,
        request_id: str | None,
        linked_id: str | None,
        limit: int | None,
        before: int | datetime | None,
        max_pages: int | None,
        max_visits: int | None,
        since: int | datetime | None,
        on_progress: Callable[[BulkProgress], object] | None,
        raise_on_error: bool,
    ) -> BulkPlan:
        """Check every option; `TypeError`/`ValueError` before anything is sent."""
        if concurrency is None:
            raise TypeError("concurrency must be an int >= 1, got None")
        _pagination.check_count("concurrency", concurrency)
        _check_flag("all_pages", all_pages)
        _check_flag("raise_on_error", raise_on_error)
        before_ms = check_filters(
            request_id=request_id, linked_id=linked_id, limit=limit, before=before
        )
        _pagination.check_count("max_pages", max_pages)
        if max_pages is not None and not all_pages:
            raise ValueError("max_pages needs all_pages=True (otherwise one page is fetched)")
        _pagination.check_count("max_visits", max_visits)
        since_ms = None if since is None else to_epoch_ms("since", since)
        if on_progress is not None and not callable(on_progress):
            raise TypeError(f"on_progress must be callable, got {type(on_progress).__name__}")
        return cls(
            concurrency=concurrency,
            all_pages=all_pages,
            request_id=request_id,
            linked_id=linked_id,
            limit=limit,
            before_ms=before_ms,
            max_pages=max_pages if all_pages else 1,
            max_visits=max_visits,
            since_ms=since_ms,
            on_progress=on_progress,
            raise_on_error=raise_on_error,
        )

    def query(self, visitor_id: object) -> VisitsQuery:
        """The first query of a visitor; `TypeError`/`ValueError` for an invalid ID."""
        return VisitsQuery.build(
            visitor_id,  # type: ignore[arg-type]  # checked by build
            request_id=self.request_id,
            linked_id=self.linked_id,
            limit=self.limit,
            before=self.before_ms,
        )


class _CountingFetch:
    """Wraps the session's fetch to count the pages of one visitor."""

    __slots__ = ("_fetch", "pages")

    def __init__(self, fetch: _pagination.Fetch) -> None:
        self._fetch = fetch
        self.pages = 0

    async def __call__(self, query: VisitsQuery) -> VisitorHistory:
        page = await self._fetch(query)
        self.pages += 1
        return page


class BulkFetch:
    """The async context manager returned by `Session.fetch_many`.

    Entering it starts the fetch and returns the stream of `BulkResult`, in completion
    order; the stream ends after the last visitor. Leaving it, in any way, cancels whatever
    is still in progress, and returns once nothing of the fetch is left running. It can be
    entered once.
    """

    def __init__(
        self,
        fetch: _pagination.Fetch,
        stats: RequestStats,
        visitor_ids: VisitorIds,
        plan: BulkPlan,
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
        self._fetch = fetch
        self._stats = stats
        self._plan = plan
        self._seen: set[str] = set()
        self._duplicates = 0
        self._exhausted = False
        self._pull_lock = anyio.Lock()
        self._task_group: TaskGroup | None = None
        self._receive: MemoryObjectReceiveStream[BulkResult] | None = None
        self._failure: Exception | None = None
        self._done = 0
        self._failed = 0
        self._pages = 0
        self._requests_before = 0
        self._retries_before = 0

    async def __aenter__(self) -> MemoryObjectReceiveStream[BulkResult]:
        if self._task_group is not None:
            raise RuntimeError("a fetch_many context can be entered once; call fetch_many again")
        concurrency = self._plan.concurrency
        workers = concurrency if self._length is None else min(concurrency, self._length)
        # A buffer as large as the worker count lets every worker finish its visitor while
        # the caller is busy with a result, without letting the input run far ahead.
        send, receive = anyio.create_memory_object_stream[BulkResult](concurrency)
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

    async def _work(self, send: MemoryObjectSendStream[BulkResult]) -> None:
        with send:
            try:
                while (query := await self._next_query()) is not None:
                    result = await self._fetch_visitor(query)
                    self._record(result)
                    if result.error is not None and self._plan.raise_on_error:
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

    async def _next_query(self) -> VisitsQuery | None:
        """The query of the next visitor not seen before, or `None` at the end of the input."""
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
            query = self._plan.query(item)
            if query.visitor_id in self._seen:
                self._duplicates += 1
                continue
            self._seen.add(query.visitor_id)
            return query

    async def _fetch_visitor(self, query: VisitsQuery) -> BulkResult:
        plan = self._plan
        fetch = _CountingFetch(self._fetch)
        visits: list[Visit] = []
        error = None
        try:
            async with aclosing(
                _pagination.iter_visits(
                    fetch,
                    query,
                    max_pages=plan.max_pages,
                    max_visits=plan.max_visits,
                    since_ms=plan.since_ms,
                )
            ) as stream:
                async for visit in stream:
                    visits.append(visit)
        except FingerprintError as exc:
            error = exc
        return BulkResult(query.visitor_id, tuple(visits), fetch.pages, error)

    def _record(self, result: BulkResult) -> None:
        self._done += 1
        self._pages += result.pages
        if result.error is not None:
            self._failed += 1
        if self._plan.on_progress is not None:
            self._plan.on_progress(self.progress())

    def progress(self) -> BulkProgress:
        """How far the fetch has got."""
        total = len(self._seen) if self._length is None else self._length - self._duplicates
        return BulkProgress(
            visitors_done=self._done,
            visitors_failed=self._failed,
            visitors_total_known=total,
            total_is_final=self._length is not None or self._exhausted,
            pages=self._pages,
            requests=self._stats.requests - self._requests_before,
            retries=self._stats.retries - self._retries_before,
        )
