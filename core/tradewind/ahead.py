"""A call started ahead on a thread of its own, its result taken once by whoever needs it.

A ``tradewind backtest`` process reads its data file (:mod:`tradewind.market.preload`) and
opens its new journal (:mod:`tradewind.journal.ahead`) this way while its main thread imports
the engine's modules and builds the engine: work that waits on the disk or on C code that
releases the GIL, on the machine's other core. It shortens the process's wall time, not its
CPU time.

Each use keeps its calls under way in a context variable for the length of a ``with`` block
(:func:`started`): only code running in that context (the engine's ``anyio.run`` inside the
block) finds them, by key (:func:`take`). What a call raised is raised where it is taken, where
the caller's own call would have raised it. Leaving the block (whatever ends it) waits for
every call still running and hands each result not taken to its ``drop``: no thread outlives
the block and nothing it made stays open.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: The interpreter's switch interval while a call runs ahead (seconds; CPython's default is
#: 0.005). A thread coming back from C code that released the GIL (pyarrow's read, DuckDB)
#: waits for the main thread to hand it over, which a busy main thread (imports, the engine's
#: build) does once per interval: the read of a 2,000,000-tick file beside a busy main thread
#: took ~0.75 s at 5 ms and ~0.17 s at 0.2 ms (~0.12 s alone; docs/performance.md).
SWITCH_INTERVAL_S = 0.0002

_switch_lock = threading.Lock()
_running = 0
_saved_interval: float | None = None


def _call_started() -> None:
    """A call starts ahead: the first one shortens the switch interval."""
    global _running, _saved_interval
    with _switch_lock:
        if _running == 0:
            _saved_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(SWITCH_INTERVAL_S, _saved_interval))
        _running += 1


def _call_ended() -> None:
    """A call ahead ended: the last one restores the switch interval it found."""
    global _running, _saved_interval
    with _switch_lock:
        _running -= 1
        if _running == 0 and _saved_interval is not None:
            sys.setswitchinterval(_saved_interval)
            _saved_interval = None


class Ahead(Generic[T]):
    """``call()`` on a daemon thread named ``name``, started at once.

    The caller imports what ``call`` needs first: two threads importing at once can meet in
    the import system's deadlock detection (a partly run module). A daemon: a second Ctrl-C
    while a block's exit waits for it still ends the process."""

    def __init__(
        self,
        name: str,
        call: Callable[[], T],
        drop: Callable[[T | None], None] | None = None,
        *,
        tag: Any = None,
    ) -> None:
        #: What the starter keeps with the call (a file's identity when it started).
        self.tag = tag
        self._call = call
        self._drop = drop
        self._result: T | None = None
        self._error: BaseException | None = None
        self._taken = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        _call_started()
        try:
            self._thread.start()
        except BaseException:
            _call_ended()
            raise

    @property
    def started(self) -> bool:
        """The thread has started (it may have ended since)."""
        return self._thread.ident is not None

    def _run(self) -> None:
        try:
            self._result = self._call()
        except BaseException as exc:  # handed to the taker, raised where its own call would
            self._error = exc
        finally:
            _call_ended()

    def wait(self) -> None:
        """Until the call has ended (returned or raised)."""
        self._thread.join()

    def result(self) -> T:
        """What the call returned, or what it raised raised here; once (then dropped)."""
        self.wait()
        error, result = self._error, self._result
        self._error = self._result = None
        self._taken = True
        if error is not None:
            try:
                raise error
            finally:
                del error  # no cycle through this frame
        return result  # type: ignore[return-value]

    def drop(self) -> None:
        """Wait for the call and, unless it was taken, let go of what it made: its ``drop``
        with what it returned (None when it raised)."""
        self.wait()
        result, self._result, self._error = self._result, None, None
        taken, self._taken = self._taken, True
        if not taken and self._drop is not None:
            self._drop(result)


@contextmanager
def started(var: ContextVar[dict[Any, Ahead[Any]] | None]) -> Iterator[dict[Any, Ahead[Any]]]:
    """``var`` set to a dict of calls under way (by key; the block adds them) for the block.
    On leaving, every call is waited for and what was not taken dropped; a drop that raises
    is raised after the others ran, unless the block itself raised."""
    under_way: dict[Any, Ahead[Any]] = {}
    token = var.set(under_way)
    try:
        yield under_way
    except BaseException:
        var.reset(token)
        _drop_all(under_way)
        raise
    var.reset(token)
    failure = _drop_all(under_way)
    if failure is not None:
        raise failure


def _drop_all(under_way: dict[Any, Ahead[Any]]) -> BaseException | None:
    """Drop every call (each waited for); the first failure of a drop, after all ran."""
    failure: BaseException | None = None
    for ahead in under_way.values():
        try:
            ahead.drop()
        except BaseException as exc:  # the others are still waited for and dropped
            failure = failure or exc
    under_way.clear()
    return failure


def take(var: ContextVar[dict[Any, Ahead[Any]] | None], key: Any) -> Ahead[Any] | None:
    """The call under way for ``key`` in this context, removed (None: there is none)."""
    under_way = var.get()
    if not under_way:
        return None
    return under_way.pop(key, None)
