"""The API in a process of its own (``[api] serve = "process"``): the host's side.

The host spawns ``python -m tradewind.api.process`` (tradewind.api.process), connected to it by
a socket pair, niced by ``[api] nice``, in Linux's ``SCHED_BATCH`` class and on the CPUs of
``[api] cpus`` when given. The API process
runs the same FastAPI app on uvicorn, with the same routes and the same token check, so HTTP
parsing, routing, validation, authentication and JSON encoding never hold the host's GIL.

What the host sends (tradewind.api.wire): its latest snapshot and what grew since the last one
(new fills and their tags, new equity points, new log lines, the watchlist's entries when they
changed, the journal's new durable rows of ``signals``, ``vetoes`` and ``fills`` with their
sequence numbers, bus events while websocket clients listen), as
an ``update`` at most every :data:`MIN_INTERVAL_S` and only once the API process acknowledged
the previous one. Sends never block the engine: an update is written to the socket's
transport and a step that finds the previous update unacknowledged (or not yet written)
sends nothing; the next update carries everything since the last one sent (coalesced), so
there is never a backlog. What the API process asks (tradewind.api.ops: control calls, journal
pages older than the rows it keeps, candles, watchlist changes; not ``logs``, the watchlist's
listing nor the newest journal pages, answered from its copies) comes back as ``call``
requests; the host runs them on the engine's loop, journaled with their caller, publishes what
they changed and answers.

Lifecycle: the API process dies with the host (PR_SET_PDEATHSIG, and it exits when its
socket reaches EOF); the host's ctrl-C or SIGTERM stops it cleanly (``bye``, then it exits);
if it dies on its own the host logs one line, publishes a :class:`SystemError` event and
trades on. The API process inherits no environment variable but those a Python process needs
to start (:data:`ENV_KEEP`): the token reaches it over the socket, no other secret at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from tradewind.api.mirror import KEPT_ROWS
from tradewind.api.ops import NAMES, HostOps, OpError
from tradewind.api.snapshot import Snapshot
from tradewind.api.views import JOURNAL_PAGES, HostView, event_item
from tradewind.api.wire import (
    HEADER,
    MAX_FRAME,
    WireError,
    decode,
    encode,
    fill_tuple,
    instrument_tuple,
    order_tuple,
    position_tuple,
)
from tradewind.errors import ConfigError
from tradewind.journal.store import column_names
from tradewind.model import SystemError as HostSystemError
from tradewind.trading.control import ControlError
from tradewind.trading.operator import Operator

if TYPE_CHECKING:
    from tradewind.trading.engine import Engine

log = logging.getLogger("tradewind.api")

#: The shortest time between two updates (at most about a hundred a second).
MIN_INTERVAL_S = 0.01
#: Bus events kept for the API process's websocket clients between two updates; beyond it
#: the clients lose their connection (never a silent gap).
EVENTS_CAP = 10_000
#: The only environment variables the API process inherits (what Python needs to start and
#: find the installed packages); secrets stay with the host.
ENV_KEEP = frozenset(
    {
        "PATH",
        "PYTHONPATH",
        "PYTHONHASHSEED",
        "PYTHONHOME",
        "VIRTUAL_ENV",
        "HOME",
        "LANG",
        "LANGUAGE",
        "TMPDIR",
        "TZ",
        "SYSTEMROOT",
    }
)


def child_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The API process's environment: :data:`ENV_KEEP` and the locale (``LC_*``)."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if k in ENV_KEEP or k.startswith("LC_")}


class ApiProcess:
    """The API process of one host, seen from the host: spawn, feed, answer, stop."""

    def __init__(self, engine: Engine, token: str, *, http: str = "auto") -> None:
        self.engine = engine
        self.settings = engine.config.api
        self.view = HostView(engine)
        self.operator = Operator.of(engine)
        self.ops = HostOps(self.view, self.operator)
        self._token = token
        self._http = http
        #: The port the API process listens on, once started.
        self.port: int = self.settings.port
        self.proc: subprocess.Popen[bytes] | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sent_version = 0
        self._fills_sent = 0
        self._equity_sent = 0
        self._instruments_sent: Any = None
        self._logs_sent = 0
        self._watchlist: Any = None  # the watchlist whose changes are followed
        self._watchlist_dirty = False
        self._journal: Any = None  # the journal whose rows are followed
        #: Per journal table the API pages: the session's rows so far, the rows not sent yet
        #: (the API's columns, at most KEPT_ROWS), and whether they replace the mirror's.
        self._rows: dict[str, _Rows] = {}
        self._rows_dirty = False
        self._loop_thread: int | None = None
        self._awaiting_ack = False
        self._last_sent = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._events: deque[dict[str, Any]] = deque()
        self._events_lost = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._socket_task: asyncio.Task[None] | None = None
        #: Websocket clients connected to the API process (events are kept only for them).
        self.listeners = 0
        #: True while the API process runs and its socket is open.
        self.alive = False
        self._stopping = False
        #: Updates sent, calls answered (for tests and the benchmark).
        self.updates = 0
        self.calls = 0
        #: Why the API process ended on its own (None while it runs or after a clean stop).
        self.exit_reason: str | None = None
        engine.step_sinks.append(self.pump)  # after the view's snapshot (appended first)
        self.view.logs.on_record = self._on_log

    @property
    def pid(self) -> int | None:
        """The API process's pid."""
        return None if self.proc is None else self.proc.pid

    # -- start ----------------------------------------------------------------------------
    async def start(self) -> int:
        """Spawn the API process and wait until it listens; returns its port. Runs on the
        engine's loop thread (PR_SET_PDEATHSIG follows the thread that spawned the child)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        ours, theirs = socket.socketpair()
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tradewind.api.process",
                    str(theirs.fileno()),
                    str(os.getpid()),
                ],
                pass_fds=(theirs.fileno(),),
                env=child_env(),
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            ours.close()
            raise ConfigError(f"cannot start the API process: {exc} @ $.api.serve") from exc
        finally:
            theirs.close()
        self._reader, self._writer = await asyncio.open_connection(sock=ours)
        s = self.settings
        init = {
            "token": self._token,
            "api": attrs.asdict(s),
            "view": attrs.asdict(self.view.settings),
            "started_ts_ns": self.view.started_ts_ns,
            "nice": s.nice,
            "http": self._http,
        }
        self._writer.write(encode(("init", init)))
        timeout = s.start_timeout_s
        try:
            msg = await asyncio.wait_for(self._read(), timeout)
        except TimeoutError:
            await self._end_child(terminate=True)
            raise ConfigError(
                f"the API process did not listen on {s.host}:{s.port} within {timeout:g} s "
                f"@ $.api.start_timeout_s"
            ) from None
        if msg is None or msg[0] != "ready":
            await self._end_child(terminate=True)
            why = (
                msg[1]
                if msg is not None and msg[0] == "failed"
                else f"it exited with code {self.proc.returncode} before listening "
                f"(its output is above)"
            )
            # A reason that names its key (``@ $.api.cpus``) keeps it; others name [api].
            where = "" if "@ $" in why else " @ $.api"
            raise ConfigError(f"the API process could not start: {why}{where}")
        self.port = int(msg[1])
        self.alive = True
        log.warning(
            "API listening on http://%s:%d (dashboard at /; API process %d)",
            s.host,
            self.port,
            self.proc.pid,
        )
        self._socket_task = asyncio.create_task(self._serve_socket(), name="tradewind-api-socket")
        self.pump()
        return self.port

    async def _read(self) -> tuple[Any, ...] | None:
        reader = self._reader
        assert reader is not None
        try:
            head = await reader.readexactly(HEADER.size)
            (n,) = HEADER.unpack(head)
            if n > MAX_FRAME:
                raise WireError(f"a frame of {n} bytes from the API process")
            body = await reader.readexactly(n)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        return decode(body)

    # -- the socket -----------------------------------------------------------------------
    async def _serve_socket(self) -> None:
        reason = "its socket closed"
        try:
            while True:
                msg = await self._read()
                if msg is None:
                    break
                kind = msg[0]
                if kind == "ack":
                    self._awaiting_ack = False
                    self.pump()
                elif kind == "call":
                    task = asyncio.create_task(self._call(msg[1], msg[2], msg[3]))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                elif kind == "listeners":
                    self.listeners = int(msg[1])
                    if not self.listeners:
                        self._events.clear()
                else:
                    raise WireError(f"unexpected message {kind!r} from the API process")
        except WireError as exc:
            reason = str(exc)
        except Exception as exc:  # a bug here must not leave the API hanging unreported
            log.exception("the API process's socket failed")
            reason = f"{type(exc).__name__}: {exc}"
        self.alive = False
        if not self._stopping:
            await self._gone(reason)

    async def _gone(self, reason: str) -> None:
        """The API process ended on its own: one line, one event; trading goes on."""
        proc = self.proc
        code: int | None = None
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = await anyio.to_thread.run_sync(lambda: proc.wait(timeout=5))
        how = (
            f"killed by {signal.Signals(-code).name}"
            if code is not None and code < 0
            else f"exit code {code}"
        )
        self.exit_reason = f"the API process {self.pid} ended ({how}; {reason})"
        msg = f"{self.exit_reason}: the HTTP API is down, trading continues"
        log.error(msg)
        await self.engine.bus.publish(
            HostSystemError(ts_ns=self.engine.clock.now_ns(), source="api", error=msg)
        )

    async def _call(self, cid: int, name: str, args: Any) -> None:
        self.calls += 1
        reply: tuple[Any, ...]
        try:
            if name not in NAMES or not isinstance(args, tuple | list):
                raise OpError(400, f"unknown operation {name!r}")
            out = getattr(self.ops, name)(*args)
            if inspect.isawaitable(out):
                out = await out
            reply = ("reply", cid, "ok", _plain(out))
        except ControlError as exc:
            reply = ("reply", cid, "control", str(exc))
        except OpError as exc:
            reply = ("reply", cid, "http", (exc.status, _plain(exc.detail)))
        except Exception as exc:
            log.exception("the API's call %s failed", name)
            reply = ("reply", cid, "error", f"{name} failed: {type(exc).__name__}: {exc}")
        # What the call changed reaches the mirror before its answer does.
        self.view.source.publish()
        self.pump(force=True)
        self._send(reply)

    def _send(self, message: tuple[Any, ...]) -> None:
        w = self._writer
        if w is None or not self.alive or w.is_closing():
            return
        w.write(encode(message))

    # -- updates --------------------------------------------------------------------------
    def on_event(self, event: Any) -> None:
        """The bus subscriber: events kept for the API process's websocket clients."""
        if not self.listeners or not self.alive:
            return
        if len(self._events) >= EVENTS_CAP:
            self._events_lost += 1
            return
        self._events.append(event_item(event))
        if self._timer is None and self._loop is not None:
            # Events outside the engine's steps (the watchlist's job) go out without one.
            self._timer = self._loop.call_later(MIN_INTERVAL_S, self._on_timer)

    def _on_log(self) -> None:
        # A log line outside the engine's steps (a stalled feed's warning) goes out without
        # one; logging may run on any thread.
        loop = self._loop
        # (a timer already armed sends this line too: no wake-up per line of a burst)
        if loop is not None and self.alive and self._timer is None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._arm_timer)

    def _on_watchlist(self) -> None:
        # An add, renew, remove or expiry sweep (on the engine's loop): sent with the next
        # update, which goes out without an engine step if there is none.
        self._watchlist_dirty = True
        self._arm_timer()

    def _on_rows(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        # The journal's follower: rows of a paged table made durable (at a step's commit,
        # on a warning, or at a load), sent with the next update.
        j = self._journal
        if j is None:  # stopped meanwhile
            return
        pending = self._rows[table]
        session = j.session_id
        pick, at = pending.pick, pending.session_at
        new = [tuple(r[i] for i in pick) for r in rows if r[at] == session]
        pending.total += len(new)
        pending.rows.extend(new)
        if len(pending.rows) > KEPT_ROWS:  # the mirror keeps no more: it starts again from these
            del pending.rows[:-KEPT_ROWS]
            pending.reset = True
        self._rows_dirty = True
        if threading.get_ident() == self._loop_thread:
            self._arm_timer()
        elif self._loop is not None and self.alive:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self._arm_timer)

    def _follow_journal(self) -> None:
        """Follow the engine's journal (opened before or after this API): its session's
        newest rows of the paged tables go out with the next update, the rest as written."""
        if self._journal is not None:
            self._journal.unfollow(self._on_rows)
        j = self._journal = self.engine.journal
        self._rows = {}
        if j is None:
            return
        seed = j.follow(JOURNAL_PAGES, self._on_rows, newest=KEPT_ROWS)
        for table, (total, rows) in seed.items():
            names = column_names(table)
            pending = _Rows(
                pick=tuple(names.index(c) for c in JOURNAL_PAGES[table]),
                session_at=names.index("session_id"),
            )
            pending.rows = [tuple(r[i] for i in pending.pick) for r in rows]
            pending.total = total
            pending.reset = True
            self._rows[table] = pending
        self._rows_dirty = True

    def _arm_timer(self) -> None:
        if self._timer is None and self._loop is not None and self.alive:
            self._timer = self._loop.call_later(MIN_INTERVAL_S, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.pump()

    def pump(self, force: bool = False) -> None:
        """Send an update if anything changed, the API process read the last one, and the
        last went out at least :data:`MIN_INTERVAL_S` ago (``force``: now, for a call's
        answer). Never blocks; a skipped update is coalesced into the next."""
        if not self.alive:
            return
        snap = self.view.source.latest
        if snap is None:
            return
        if (
            snap.version == self._sent_version
            and not self._events
            and not self._events_lost
            and self.view.logs.count == self._logs_sent
            and not self._watchlist_dirty
            and self.operator.watchlist is self._watchlist
            and not self._rows_dirty
            and self.engine.journal is self._journal
        ):
            return
        w = self._writer
        assert w is not None and self._loop is not None
        if not force:
            if self._awaiting_ack:
                return  # the ack pumps again
            now = time.monotonic()
            wait = self._last_sent + MIN_INTERVAL_S - now
            if wait > 0 or w.transport.get_write_buffer_size():
                if self._timer is None:
                    self._timer = self._loop.call_later(max(wait, 0.001), self._on_timer)
                return
        self._send(("update", self.build_update(snap)))
        self._awaiting_ack = True
        self._last_sent = time.monotonic()
        self.updates += 1

    def build_update(self, snap: Snapshot) -> dict[str, Any]:
        """The snapshot as plain values, and what grew since the last update."""
        src = self.view.source
        pf = snap.portfolio
        fills, tags = src.fills_and_tags(self._fills_sent, snap.n_fills)
        instruments = None
        if snap.instruments is not self._instruments_sent:
            instruments = {k: instrument_tuple(i) for k, i in snap.instruments.items()}
            self._instruments_sent = snap.instruments
        logs, self._logs_sent = self.view.logs.since(self._logs_sent)
        watchlist = None
        wl = self.operator.watchlist
        if wl is not self._watchlist:  # opened by its service (before or after this)
            self._watchlist = wl
            self._watchlist_dirty = wl is not None
            if wl is not None:
                wl.listeners.append(self._on_watchlist)
        if self._watchlist_dirty:
            watchlist = [attrs.astuple(e) for e in wl.entries(include_inactive=True)]
            self._watchlist_dirty = False
        if self.engine.journal is not self._journal:
            self._follow_journal()
        journal: dict[str, Any] | None = None
        if self._rows_dirty:
            journal = {}
            for table, pending in self._rows.items():
                if pending.rows or pending.reset:
                    start = pending.total - len(pending.rows)
                    journal[table] = (start, pending.rows, pending.reset)
                    pending.rows, pending.reset = [], False
            self._rows_dirty = False
        u = {
            "version": snap.version,
            "now_ns": snap.now_ns,
            "ticks": snap.ticks,
            "decisions": snap.decisions,
            "state": snap.state,
            "run_id": snap.run_id,
            "funnel": snap.funnel,
            "portfolio": (
                pf.ts_ns,
                pf.cash,
                [position_tuple(p) for p in pf.open_positions],
                pf.marks,
                [order_tuple(o) for o in pf.orders],
                pf.start,
                pf.valued_equity,
                pf.rates,
                pf.rate_errors,
            ),
            "instruments": instruments,
            "fills_from": self._fills_sent,
            "fills": [fill_tuple(f) for f in fills],
            "tags": {
                f.client_order_id: tags[f.client_order_id]
                for f in fills
                if f.client_order_id in tags
            },
            "keep": src.keep,
            "equity_from": self._equity_sent,
            "equity": src.equity[self._equity_sent : snap.n_equity],
            "events": list(self._events),
            "logs": logs,
            "watchlist": watchlist,
            "journal": journal,
            "events_lost": self._events_lost,
        }
        self._sent_version = snap.version
        self._fills_sent = snap.n_fills
        self._equity_sent = snap.n_equity
        self._events.clear()
        self._events_lost = 0
        return u

    # -- stop -----------------------------------------------------------------------------
    async def stop(self) -> None:
        """Ask the API process to finish and wait for it (killed if it does not within 5 s)."""
        self._stopping = True
        if self._journal is not None:
            self._journal.unfollow(self._on_rows)
            self._journal = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.alive:
            self._send(("bye",))
        self.alive = False
        w = self._writer
        if w is not None:
            # An API process that stopped reading is not waited for (it is killed below).
            with contextlib.suppress(ConnectionError, TimeoutError):
                await asyncio.wait_for(w.drain(), 2.0)
            w.close()
        await self._end_child()
        if self._socket_task is not None:
            self._socket_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._socket_task
        for task in list(self._tasks):
            task.cancel()

    async def _end_child(self, *, terminate: bool = False) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return

        def wait() -> None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log.error("the API process %d did not exit within 5 s: killed", proc.pid)
                proc.kill()
                proc.wait()

        if terminate:
            proc.terminate()
        await anyio.to_thread.run_sync(wait)


@attrs.define
class _Rows:
    """A paged journal table as the host sends it to the mirror."""

    #: The indexes of the API's columns in the journal's rows, and of the session.
    pick: tuple[int, ...]
    session_at: int
    #: The session's rows so far (sent or not).
    total: int = 0
    rows: list[tuple[Any, ...]] = attrs.Factory(list)
    #: The rows replace the mirror's (the first update, or more than it keeps piled up).
    reset: bool = False


def _plain(value: Any) -> Any:
    """A call's answer as the plain values the wire carries (what FastAPI would encode)."""
    from decimal import Decimal

    if value is None or isinstance(value, str | int | float | bool | Decimal):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)


@contextlib.asynccontextmanager
async def process_api_service(engine: Engine, *, http: str = "auto") -> AsyncIterator[ApiProcess]:
    """Serve the API from a process of its own for the length of the run."""
    from tradewind.api.server import api_token

    token = api_token(engine.config.api.token_env)
    api = ApiProcess(engine, token, http=http)
    logging.getLogger("tradewind").addHandler(api.view.logs)
    engine.bus.subscribe("api", api.on_event)
    engine.api_server = api  # type: ignore[attr-defined]
    try:
        await api.start()
        try:
            yield api
        finally:
            await api.stop()
    finally:
        api.view.close()
        logging.getLogger("tradewind").removeHandler(api.view.logs)
