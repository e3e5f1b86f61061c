"""The run's lifecycle around the engine: deterministic run ids, stop signals, orderly stop
and shielded shutdown.

- :func:`backtest_run_id`: a backtest's run id is a hash of its config and its data, so two
  backtests of the same config and data write identical journals (client order ids derive
  from the run id).
- :class:`StopControl`: SIGINT/SIGTERM (or :meth:`StopControl.request`) end a paper or live
  run between two engine steps — never in the middle of one, so an order being sent is
  resolved first.
- :func:`stop_orders`: what a stopping run does with its orders: resting entry orders are
  cancelled (``[run] cancel_entries_on_stop``; each cancel settled, retried until
  ``[run] cancel_deadline_s``: :mod:`tradewind.trading.order_cancel`), positions are kept unless
  ``[run] flatten_on_stop``, and every order still in flight is resolved or reported.
- :func:`close_quietly`: venues and notifiers are closed in ``finally``, shielded from
  cancellation, each on its own (one failing close does not skip the others).
- :func:`finish_journal`: the journal's end-of-run write, in the run's shutdown or (a
  backtest's, ``Engine.defer_finish``) by the CLI on a thread of its own.
"""

from __future__ import annotations

import hashlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from tradewind.model import ExitDecision, SystemError
from tradewind.trading.order_cancel import CancelUnsettledError

if TYPE_CHECKING:
    from tradewind.config import Config
    from tradewind.journal.store import Journal
    from tradewind.trading.engine import Engine

log = logging.getLogger("tradewind.trading.lifecycle")

#: The signals that stop a paper or live run cleanly.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: Seconds a venue or notifier may take to close before the run ends without it.
CLOSE_TIMEOUT_S = 10.0


# -- deterministic run ids ------------------------------------------------------------------
def finish_journal(journal: Journal, ts_ns: int, summary: dict[str, Any]) -> None:
    """``journal.finish``: the run's buffered rows, its end at ``ts_ns`` and its ``summary``
    written and checkpointed; when that fails, the :class:`JournalError` the run raises, naming
    what was not written (the journal left open: the caller closes it)."""
    import duckdb

    from tradewind.errors import JournalError
    from tradewind.journal.errors import journal_error

    try:
        journal.finish(ts_ns, summary)
    except JournalError as exc:
        error = exc
    except duckdb.Error as exc:
        error = journal_error(journal.path, exc, doing="finish the run in")
    else:
        return
    raise JournalError(f"{error}; {journal.unjournaled()}") from None


def _files(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
    elif path.is_dir():
        yield from sorted(p for p in path.rglob("*") if p.is_file())


def _hash_file(h: Any, path: Path) -> None:
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)


def backtest_run_id(config: Config, venues: Iterable[Any]) -> str:
    """A run id derived from the config file's text and the content of every data file the
    venues replay (a venue declaring ``replay`` says which through ``data_files()``, or gives
    a digest of data held in a database through ``data_digest()``): 32 hex digits."""
    h = hashlib.blake2b(digest_size=16)
    h.update(config.path.read_bytes() if config.path.is_file() else str(config.path).encode())
    for venue in venues:
        if "replay" not in venue.capabilities:
            continue
        for path in venue.data_files():
            for f in _files(Path(path)):
                h.update(f.name.encode())
                _hash_file(h, f)
        h.update(venue.data_digest())  # data in a database (a market store on PostgreSQL)
    return h.hexdigest()


# -- stop signals ---------------------------------------------------------------------------
class StopControl:
    """Asks a run to stop between two engine steps.

    The engine waits for its next feed batch inside :meth:`waiting`; a stop request cancels
    that wait only (a step in progress finishes: an order being sent is resolved first).
    """

    def __init__(self) -> None:
        self.reason: str | None = None
        self._scope: anyio.CancelScope | None = None
        #: Cancelled by a second signal: the run stops at once (its shutdown still runs).
        self.force_scope: anyio.CancelScope | None = None

    @property
    def requested(self) -> bool:
        """True once a stop was asked for."""
        return self.reason is not None

    def request(self, reason: str) -> None:
        """Stop the run after the current step."""
        if self.reason is None:
            self.reason = reason
            log.info("stopping the run: %s", reason)
        if self._scope is not None:
            self._scope.cancel()

    def waiting(self) -> anyio.CancelScope:
        """The scope to wait for the next batch in (cancelled by a stop request)."""
        scope = anyio.CancelScope()
        if self.reason is not None:
            scope.cancel()
        self._scope = scope
        return scope

    def done_waiting(self) -> None:
        """The wait is over: a stop request now waits for the step to end."""
        self._scope = None

    async def watch_signals(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """Turn SIGINT/SIGTERM into a stop request (run in a task group; cancel to end)."""
        with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
            task_status.started()
            async for signum in signals:
                name = signal.Signals(signum).name
                if self.requested and self.force_scope is not None:
                    log.warning("%s received again: stopping now", name)
                    self.force_scope.cancel()
                self.request(f"{name} received")


# -- stopping orders ------------------------------------------------------------------------
async def stop_orders(engine: Engine, *, cancel_entries: bool, flatten: bool) -> None:
    """Bring the run's orders to rest before it ends (a stop signal or the end of the feed).

    Resting entry orders (not reduce-only) are cancelled when ``cancel_entries``; with
    ``flatten`` every open position is closed at the last price; then every order whose
    outcome is unknown is looked up once more. Orders left open are reported (a warning in
    the log and a SystemError event), never silently left "accepted".
    """
    om = engine.orders
    ts = engine.clock.now_ns()
    if cancel_entries:
        # Each cancel settles on its own (retries and lookups, bounded by the cancel
        # deadline), all at once: N resting entries take one deadline at most, not N.
        async with anyio.create_task_group() as tg:
            for order in list(engine.portfolio.open_orders()):
                if order.reduce_only:
                    continue
                rec = om.records.get(order.client_order_id)
                st = engine.state.get(order.instrument)
                if rec is None or st is None or not rec.is_open:
                    continue
                tg.start_soon(_cancel_entry, engine, st.exec_venue, order.client_order_id, ts)
    if flatten:
        for st in engine.state.values():
            pos = engine.portfolio.position(st.instrument.key)
            if pos.is_flat:
                continue
            decision = ExitDecision(
                monitor="stop",
                reason="flatten_on_stop",
                ts_ns=ts,
                price=engine.portfolio.last_price(st.instrument.key),
            )
            await engine._close_position(st, decision)
    try:
        await om.poll()
    except Exception as exc:  # the venue is gone: the orders are reported below
        log.warning("could not resolve orders at stop: %s: %s", type(exc).__name__, exc)
    in_flight = [cid for cid, rec in om.records.items() if rec.is_open]
    if in_flight:
        detail = ", ".join(
            f"{cid} ({om.records[cid].status.value}"
            + (", outcome unknown" if cid in om.unresolved() else "")
            + ")"
            for cid in in_flight
        )
        om.pending.append(
            SystemError(
                ts_ns=ts,
                source="lifecycle",
                error=f"run ended with {len(in_flight)} order(s) open at the venue: {detail}; "
                "the next run of this session reconciles them",
            )
        )


async def _cancel_entry(engine: Engine, venue: object, cid: str, ts: int) -> None:
    om = engine.orders
    try:
        await om.cancel(venue, cid, ts)
    except CancelUnsettledError:
        pass  # a critical event names the order already
    except Exception as exc:
        om.pending.append(
            SystemError(
                ts_ns=ts,
                source="lifecycle",
                error=f"could not cancel entry order {cid} at stop: {type(exc).__name__}: {exc}",
            )
        )


# -- closing --------------------------------------------------------------------------------
async def close_quietly(
    what: str,
    closers: Iterable[tuple[str, Callable[[], Awaitable[Any]]]],
    *,
    timeout_s: float = CLOSE_TIMEOUT_S,
) -> list[str]:
    """Await every closer, shielded from cancellation and bounded by ``timeout_s`` each; a
    failure or a timeout is logged and returned as a message, and the others still run."""
    problems: list[str] = []
    with anyio.CancelScope(shield=True):
        for name, close in closers:
            msg = ""
            try:
                with anyio.move_on_after(timeout_s) as scope:
                    await close()
                if scope.cancelled_caught:
                    msg = f"closing {what} '{name}' took longer than {timeout_s} s; left open"
            except Exception as exc:
                msg = f"closing {what} '{name}' failed: {type(exc).__name__}: {exc}"
            if msg:
                log.error("%s", msg)
                problems.append(msg)
    return problems
