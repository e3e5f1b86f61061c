"""The three hosts of ``tradewind serve``: the engine split at its seams.

- The data host runs the feed venues and publishes each TickBatch (Arrow IPC) on its
  instrument's subject, in the order the one-process engine would process them.
- A strategy host consumes its shard's ticks through a durable consumer, builds candles and
  analyzer state, and publishes the strategy's decision at every strategy-timeframe close
  (``null`` when there is no signal), with the verdicts of the filters that need no account
  (:mod:`tradewind.filtering.placement`). Restarted, it replays ``warmup`` of market time
  from the stream to rebuild its state and publishes nothing it already published.
- The execution host consumes every tick and every decision: it owns the accounts, sizing,
  the account filters (taking the others' verdicts from the strategy host), the order
  manager, exits, the journal and reconciliation, and publishes its events (orders, fills,
  vetoes ...). It keeps the analyzers of every instrument too, because
  exits and filters read their values between two decisions. Decisions are deduplicated by
  id (instrument and candle close).

Every message is acknowledged after the engine step that used it, so a host that stops
resumes where it stopped.
"""

from __future__ import annotations

import collections
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio

from tradewind.cluster.link import Link
from tradewind.cluster.wire import (
    FIRST_TS,
    INSTRUMENT,
    MSG_ID,
    batch_id,
    decision_id,
    decode_batch,
    decode_decision,
    decode_decision_verdict,
    encode_batch,
    encode_decision,
    encode_event,
    untoken,
)
from tradewind.config import Config
from tradewind.errors import ConfigError
from tradewind.filtering.placement import Verdict, account_free_verdict, reads_account
from tradewind.market.gaps import parse_duration
from tradewind.model import (
    Candle,
    ConnectionLost,
    Event,
    ExitDecision,
    Order,
    RunFinished,
    RunStarted,
    Signal,
    SignalEvent,
    SystemError,
    TickBatch,
    Veto,
)
from tradewind.registry import RunInfo
from tradewind.trading.engine import Engine, RunResult, _InstrumentState

log = logging.getLogger("tradewind.cluster")


def shard_of(config: Config, shard: str) -> list[str]:
    """The instrument keys of ``shard``; ConfigError naming the shards when it is unknown."""
    shards = config.cluster.shard_map([sec.to_instrument().key for sec in config.instruments])
    if shard not in shards:
        raise ConfigError(
            f"no shard {shard!r} in [cluster] shards of {config.path.name} (shards: "
            f"{', '.join(shards)}) @ $.cluster.shards"
        )
    return shards[shard]


def _consumer_config(section: Any) -> Any:
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    return ConsumerConfig(
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=section.ack_wait_s,
        max_ack_pending=section.max_ack_pending,
    )


# -- the data host ----------------------------------------------------------------------------
async def serve_data(config: Config) -> dict[str, int]:
    """Publish the feed of every configured instrument; return counts when the feed ends."""
    engine = Engine(config)
    section = config.cluster
    shards = section.shard_map(list(engine.instruments))
    shard_by_inst = {key: shard for shard, keys in shards.items() for key in keys}

    async def report(problem: str, lost: bool) -> None:
        log.warning("%s", problem)

    link = Link(section, "tradewind-data", report)
    await link.connect()
    subjects = link.subjects
    counts = {"batches": 0, "ticks": 0, "duplicates": 0}
    data_keys = list(dict.fromkeys(st.data_venue for st in engine.state.values()))
    try:
        for key in data_keys:
            await engine.venues[key].connect()
        last_ts = 0
        async with contextlib.aclosing(engine._feed()) as feed:
            async for batch in feed:
                if not len(batch):
                    continue
                inst = batch.instrument
                ack = await link.publish(
                    subjects.ticks(shard_by_inst[inst], inst),
                    encode_batch(batch),
                    {
                        MSG_ID: batch_id(batch),
                        INSTRUMENT: inst,
                        FIRST_TS: str(int(batch.ts_ns[0])),
                    },
                    what=f"a batch of {len(batch)} trades of {inst}",
                )
                counts["batches"] += 1
                counts["ticks"] += len(batch)
                counts["duplicates"] += bool(getattr(ack, "duplicate", False))
                last_ts = max(last_ts, int(batch.ts_ns[-1]))
        for shard in shards:
            await link.publish(
                subjects.ticks_end(shard),
                str(last_ts).encode(),
                {MSG_ID: f"end|{shard}|{last_ts}"},
                what=f"the end of shard {shard}",
            )
    finally:
        for key in data_keys:
            with contextlib.suppress(Exception):
                await engine.venues[key].close()
        await link.close()
    return counts


# -- what both consuming hosts share ----------------------------------------------------------
class _ClusterEngine(Engine):
    """An engine whose feed is a durable JetStream consumer of tick batches."""

    role = "cluster"

    def __init__(self, config: Config, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.section = config.cluster
        self.link = Link(self.section, f"tradewind-{self.role}", self._report)
        self.link.on_reconnect = self._reconnected
        self.subjects = self.link.subjects
        #: The batches handed to the engine with their messages, acknowledged once processed
        #: (None for a warm-up batch, which has no message of the durable consumer).
        self._acks: collections.deque[tuple[TickBatch, Any]] = collections.deque()
        self._last_seq = 0
        self._end_ts: int | None = None
        self._end_msgs: list[Any] = []
        #: Messages used by the engine step in progress, acknowledged when it ends.
        self._step_acks: list[Any] = []
        #: Per durable consumer, the stream sequence of the next message to take, and
        #: whether it must be re-created there (after a reconnect).
        self._next_seq: dict[str, int] = {}
        self._reset: dict[str, bool] = {}
        #: Copies of taken messages delivered again after a reconnect, acknowledged with their
        #: originals; and what was acknowledged since the consumer was last (re)created.
        self._copies: dict[tuple[str, int], Any] = {}
        self._done: set[tuple[str, int]] = set()
        #: The execution host's decisions received and not used yet (none elsewhere).
        self._decisions: dict[tuple[str, int], tuple[Signal | None, Any]] = {}
        self.ends = 0
        #: Replaying the warm-up window after a restart: nothing is acted on.
        self.warming = False
        self.warmup_batches = 0
        #: Transport problems reported as events.
        self.problems: list[str] = []
        self.redelivered = 0
        self.services = [*self.services, self._cluster_service]

    async def _report(self, problem: str, lost: bool = False) -> None:
        log.warning("%s", problem)
        self.problems.append(problem)
        now = self.clock.now_ns()
        event: Event = (
            ConnectionLost(ts_ns=now, venue="nats", reason=problem)
            if lost
            else SystemError(ts_ns=now, source="nats", error=problem)
        )
        try:
            await self.bus.publish(event)
        except RuntimeError:
            pass  # the bus has closed: logged above

    def _cluster_service(self, engine: Engine) -> AbstractAsyncContextManager[Any]:
        return self._connected()

    @asynccontextmanager
    async def _connected(self) -> AsyncIterator[None]:
        await self.link.connect()
        async with anyio.create_task_group() as tg:
            await self._started(tg)
            yield
            tg.cancel_scope.cancel()

    async def run(self) -> RunResult:
        """The engine's run; the NATS connection closes after the last event has left."""
        try:
            return await super().run()
        finally:
            with anyio.CancelScope(shield=True):
                await self.link.close()

    async def _started(self, tg: anyio.abc.TaskGroup) -> None:
        """Start what runs beside the feed (the execution host's decision consumer)."""

    async def _open_consumer(self, stream: str, filter_subject: str, durable: str) -> Any:
        """Bind the durable consumer, (re)created to deliver from the first message this host
        has not taken yet: after a restart or a reconnect, what was delivered and never
        acknowledged comes first and in order, not after the server's ack wait."""
        from nats.js.api import DeliverPolicy
        from nats.js.errors import NotFoundError

        js = self.link.js
        cfg = _consumer_config(self.section)
        cfg.durable_name = durable
        cfg.filter_subject = filter_subject
        start = self._next_seq.get(durable)
        if start is not None:
            # Taken but not acknowledged yet (in the engine's hands): delivered again from
            # there, each copy acknowledged with its original (see ``_fetch``).
            start = min([start, *self._open_seqs(durable)])
            self._done = {k for k in self._done if k[0] != durable or k[1] >= start}
        else:
            try:
                info = await js.consumer_info(stream, durable)
                start = info.ack_floor.stream_seq + 1
            except NotFoundError:
                start = None
        if start is not None:
            cfg.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            cfg.opt_start_seq = start
            with contextlib.suppress(NotFoundError):
                await js.delete_consumer(stream, durable)
        await js.add_consumer(stream, cfg)
        return await js.pull_subscribe_bind(durable=durable, stream=stream)

    async def _fetch(
        self, stream: str, filter_subject: str, durable: str, batch: int
    ) -> AsyncGenerator[Any, None]:
        """Messages of a durable consumer, forever, in stream order, each once (up to
        ``batch`` per pull)."""
        from nats.errors import Error as NatsError
        from nats.errors import TimeoutError as NatsTimeout

        psub = None
        while True:
            try:
                if psub is None or self._reset.get(durable):
                    self._reset[durable] = False
                    psub = await self._open_consumer(stream, filter_subject, durable)
                # One message with a long poll (it returns as soon as one is stored; a larger
                # batch would wait out the poll for the rest), then what is already there.
                msgs = await psub.fetch(1, timeout=1.0)
                if batch > 1:
                    with contextlib.suppress(NatsTimeout, TimeoutError):
                        msgs += await psub.fetch(batch - 1, timeout=0.002)
            except (NatsTimeout, TimeoutError):
                continue  # nothing new (a lost connection is reported by the link)
            except NatsError as exc:
                await self._report(
                    f"{self.role}: reading {durable} failed ({type(exc).__name__}); retrying"
                )
                await anyio.sleep(0.25)
                psub = None
                continue
            for msg in msgs:
                seq = msg.metadata.sequence.stream
                if seq < self._next_seq.get(durable, 0):
                    # Taken already (delivered again after a reconnect): never processed
                    # twice; acknowledged now if its original was, else with it.
                    self.redelivered += 1
                    if (durable, seq) in self._done:
                        await self._ack(msg)
                    else:
                        self._copies[(durable, seq)] = msg
                    continue
                self._next_seq[durable] = seq + 1
                yield msg

    def _open_seqs(self, durable: str) -> list[int]:
        """Stream sequences this host took from ``durable`` and has not acknowledged."""
        open_msgs = [m for _, m in self._acks if m is not None]
        open_msgs += self._step_acks
        open_msgs += [m for _, m in self._decisions.values()]
        return [m.metadata.sequence.stream for m in open_msgs if self._durable_of(m) == durable]

    @staticmethod
    def _durable_of(msg: Any) -> str:
        return str(msg.metadata.consumer)

    async def _reconnected(self) -> None:
        for durable in self._next_seq:
            self._reset[durable] = True

    async def _warm_up(self, filter_subject: str, durable: str) -> AsyncGenerator[TickBatch, None]:
        """After a restart: the batches within ``warmup`` of market time before the resume
        point (what this host processed before it stopped), so candles and analyzers are
        what they were. The host acts on none of them again (``self.warming``)."""
        from nats.js.errors import NotFoundError

        js, stream = self.link.js, self.subjects.ticks_stream
        try:
            info = await js.consumer_info(stream, durable)
        except NotFoundError:
            return  # a first start
        floor = info.ack_floor.stream_seq
        if floor <= 0:
            return
        await self._before_warm_up()
        resume = await js.get_msg(stream, floor)
        resume_ts = int((resume.headers or {}).get(FIRST_TS, 0))
        since = resume_ts - parse_duration(self.section.warmup)
        seq = 0
        try:
            while seq < floor:
                try:
                    msg = await js.get_msg(stream, seq + 1, subject=filter_subject, next=True)
                except NotFoundError:
                    break
                seq = msg.seq
                if seq > floor:
                    break
                last = msg.subject.rsplit(".", 1)[1]
                if last == "end":
                    self._ended(int(msg.data))
                    continue
                if int((msg.headers or {}).get(FIRST_TS, 0)) < since:
                    continue
                batch = decode_batch(untoken(last), msg.data)
                self._acks.append((batch, None))
                self.warmup_batches += 1
                yield batch
        finally:
            self._next_seq[durable] = floor + 1

    async def _before_warm_up(self) -> None:
        """What a host reads before it warms up (the strategy host: its last decisions)."""

    def _ended(self, end_ts: int) -> None:
        self._end_ts = end_ts
        self.ends += 1

    async def _ticks(
        self, filter_subject: str, durable: str, ends: int
    ) -> AsyncGenerator[TickBatch, None]:
        """Warm-up after a restart, then the durable consumer's batches until ``ends``
        shards ended."""
        async with contextlib.aclosing(self._warm_up(filter_subject, durable)) as warm:
            async for batch in warm:
                yield batch
        stream, per_pull = self.subjects.ticks_stream, self.section.fetch_batch
        pulled = self._fetch(stream, filter_subject, durable, per_pull)
        async with contextlib.aclosing(pulled) as msgs:
            async for msg in msgs:
                last = msg.subject.rsplit(".", 1)[1]
                if last == "end":
                    self._ended(int(msg.data))
                    self._end_msgs.append(msg)
                    if self.ends >= ends:
                        return
                    continue
                batch = decode_batch(untoken(last), msg.data)
                self._acks.append((batch, msg))
                yield batch

    async def _ack(self, msg: Any) -> None:
        key = (self._durable_of(msg), msg.metadata.sequence.stream)
        copy = self._copies.pop(key, None)
        for m in (msg, copy):
            if m is None:
                continue
            try:
                await m.ack()
            except Exception as exc:  # the connection is down: redelivered later
                await self._report(f"{self.role}: acknowledging a message failed: {exc}")
        self._done.add(key)
        if len(self._done) > 8192:
            # Only what lies after the first unacknowledged message can be delivered again.
            durables = {d for d, _ in self._done}
            floor = {d: min([self._next_seq.get(d, 0), *self._open_seqs(d)]) for d in durables}
            self._done = {k for k in self._done if k[1] >= floor[k[0]]}

    async def on_batch(self, batch: TickBatch) -> None:
        fed, msg = self._acks.popleft()
        assert fed is batch, "batches are processed in the order the feed took them"
        # A warm-up batch (no message: it was processed before the restart) is replayed for
        # the market state only.
        self.warming = msg is None
        await super().on_batch(batch)
        if msg is not None:
            await self._ack(msg)
        for done in self._step_acks:
            await self._ack(done)
        self._step_acks.clear()

    async def _finish_candles(self) -> None:
        await super()._finish_candles()
        for msg in self._end_msgs:
            await self._ack(msg)

    def expected_ticks(self) -> int | None:
        return None


# -- a strategy host --------------------------------------------------------------------------
class StrategyHost(_ClusterEngine):
    """Candles, analyzers and the strategy of one shard; decisions published, never traded."""

    role = "strategy"

    def __init__(self, config: Config, shard: str, **kwargs: Any) -> None:
        self.role = f"strategy-{shard}"
        self.shard = shard
        self.members = shard_of(config, shard)
        super().__init__(config, **kwargs)
        #: Per instrument, the last decision time already on the signals stream.
        self._published_until: dict[str, int] = {}
        self.published = 0
        self.suppressed = 0
        #: Account-free filter checks run on this host (docs/deployment.md).
        self.filter_checks = 0

    async def _feed(self) -> AsyncGenerator[TickBatch, None]:
        durable = f"{self.section.durable}-strategy-{self.shard}"
        batches = self._ticks(self.subjects.ticks_of(self.shard), durable, 1)
        async with contextlib.aclosing(batches) as feed:
            async for batch in feed:
                yield batch

    async def _session(self, info: RunInfo) -> dict[str, Any]:
        """The feed and the decisions only: a strategy host never connects, reconciles or
        trades on an execution venue (that is the execution host's; a strategy host needs
        no exchange credentials and can never touch the execution host's orders)."""
        summary: dict[str, Any] = {}
        assert self.notifications is not None
        async with self.notifications, self.bus, self._services():
            try:
                await self.bus.publish(
                    RunStarted(
                        ts_ns=self.clock.now_ns(), run_id=self.run_id, mode=self.config.mode.value
                    )
                )
                await self._consume_feed()
                await self._finish_candles()
            finally:
                with anyio.CancelScope(shield=True):
                    summary = self.last_summary = {
                        "signals": self.signals,
                        "decisions_published": self.published,
                        "decisions_rederived": self.suppressed,
                        "filter_checks": self.filter_checks,
                        "ticks": self.ticks,
                    }
                    if self.stopper.requested:
                        summary["stopped"] = self.stopper.reason
                    self._commit_step()
                    self._finished = True
                    await self.bus.publish(
                        RunFinished(ts_ns=self.clock.now_ns(), run_id=self.run_id, summary={})
                    )
        return summary

    async def _maybe_reconcile(self) -> None:
        """Nothing to reconcile: a strategy host holds no account."""

    async def _before_warm_up(self) -> None:
        from nats.js.errors import NotFoundError

        for key in self.members:
            try:
                last = await self.link.js.get_last_msg(
                    self.subjects.signals_stream, self.subjects.signals(key)
                )
            except NotFoundError:
                continue
            self._published_until[key] = decode_decision(last.data)[2]

    async def _decide(self, st: _InstrumentState, candle: Candle, ts_ns: int) -> None:
        key = st.instrument.key
        if key not in self.members:
            return
        signal = self.strategy.decide(st.instrument, candle.close, ts_ns, st.values)
        if ts_ns <= self._published_until.get(key, -1):
            self.suppressed += 1  # re-derived after a restart: published before it
            return
        # The filters that need no account run here; the execution host takes their verdicts.
        verdict = None
        if signal is not None:
            verdict = account_free_verdict(self.filters, signal, self.filter_context, self.role)
            self.filter_checks += len(verdict.passed) + (verdict.veto is not None)
        await self.link.publish(
            self.subjects.signals(key),
            encode_decision(key, ts_ns, signal, verdict),
            {MSG_ID: decision_id(key, ts_ns)},
            what=f"the decision of {key} at {ts_ns}",
        )
        self._published_until[key] = ts_ns
        self.published += 1
        if signal is not None:
            self.signals += 1
            await self.bus.publish(SignalEvent(ts_ns=ts_ns, signal=signal))

    async def _finish_candles(self) -> None:
        # The feed's last trade (of any shard) brings this shard's instruments to the same
        # last decision time as the one-process engine.
        end = self._end_ts
        if self._merged and end is not None and self._barrier is not None and end >= self._barrier:
            await self._reach(end)
        await super()._finish_candles()


# -- the execution host -----------------------------------------------------------------------
class ExecutionHost(_ClusterEngine):
    """Accounts, sizing, filters, orders, exits, journal and reconciliation of every
    instrument, trading the decisions the strategy hosts publish."""

    role = "execution"

    def __init__(self, config: Config, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.shards = self.section.shard_map(list(self.instruments))
        self._shard_by_inst = {k: s for s, keys in self.shards.items() for k in keys}
        self._arrived = anyio.Event()
        self._decided: dict[str, int] = {}
        self._seen: set[str] = set()
        self.duplicates = 0
        self.late = 0
        #: The strategy hosts' account-free filter verdicts: per decision until it is taken,
        #: then per instrument for the engine step that checks its signal.
        self._verdicts: dict[tuple[str, int], Verdict] = {}
        self._verdict_of: dict[str, Verdict] = {}
        #: Filter verdicts taken from strategy hosts instead of running the filter here.
        self.remote_verdicts = 0

    async def _feed(self) -> AsyncGenerator[TickBatch, None]:
        durable = f"{self.section.durable}-execution-ticks"
        feed = self._ticks(self.subjects.ticks_of(), durable, len(self.shards))
        async with contextlib.aclosing(feed) as batches:
            async for batch in batches:
                yield batch

    # While warming up after a restart, the market state is rebuilt and nothing is acted on:
    # no decision is asked for, no exit closes, the simulated venue sees no trade again.
    def _advance(self, piece: TickBatch, simulated: bool, venue: Any) -> None:
        super()._advance(piece, simulated and not self.warming, venue)

    async def _close_position(self, st: _InstrumentState, decision: ExitDecision) -> Order | None:
        if self.warming:
            return None
        return await super()._close_position(st, decision)

    async def _started(self, tg: anyio.abc.TaskGroup) -> None:
        tg.start_soon(self._pull_decisions)
        self.bus.subscribe("cluster-events", self._publish_event)

    async def _publish_event(self, event: Event) -> None:
        # The journal is the record; this is the feed for other consumers: a failure to
        # store it is logged and the event stays in the journal.
        try:
            await self.link.js.publish(
                self.subjects.events(type(event).__name__), encode_event(event), timeout=2.0
            )
        except Exception as exc:
            log.warning("execution: event %s not published to NATS: %s", type(event).__name__, exc)

    async def _pull_decisions(self) -> None:
        durable = f"{self.section.durable}-execution-signals"
        stream, subject = self.subjects.signals_stream, self.subjects.signals_all()
        async with contextlib.aclosing(self._fetch(stream, subject, durable, 1)) as msgs:
            async for msg in msgs:
                ident, inst, ts, signal, verdict = decode_decision_verdict(msg.data)
                if ident in self._seen or ts <= self._decided.get(inst, -1):
                    self.duplicates += 1  # delivered twice, or a strategy host re-derived it
                    await self._ack(msg)
                    continue
                self._seen.add(ident)
                self._decisions[(inst, ts)] = (signal, msg)
                if verdict is not None:
                    self._verdicts[(inst, ts)] = verdict
                self._arrived.set()
                self._arrived = anyio.Event()

    async def _strategy_signal(
        self, st: _InstrumentState, candle: Candle, ts_ns: int
    ) -> Signal | None:
        if self.warming:
            return None  # decided before the restart
        key = st.instrument.key
        want = (key, ts_ns)
        with anyio.move_on_after(self.section.signal_wait_s) as scope:
            while want not in self._decisions:
                await self._arrived.wait()
        if scope.cancelled_caught:
            self.late += 1
            await self._report(
                f"execution: no decision from strategy shard {self._shard_by_inst[key]!r} for "
                f"{key} at {ts_ns} within {self.section.signal_wait_s}s; no entry there"
            )
            return None
        signal, msg = self._decisions.pop(want)
        verdict = self._verdicts.pop(want, None)
        if verdict is None:
            self._verdict_of.pop(key, None)
        else:
            self._verdict_of[key] = verdict
        self._decided[key] = ts_ns
        # Acknowledged when this engine step has been journaled (see on_batch).
        self._step_acks.append(msg)
        # Decisions of earlier closes never asked for (an order was in flight): done with.
        for old in [k for k in self._decisions if k[0] == key and k[1] < ts_ns]:
            self._step_acks.append(self._decisions.pop(old)[1])
            self._verdicts.pop(old, None)
        return signal

    def _check_filter(self, index: int, flt: Any, signal: Signal) -> Veto | None:
        """An account-free filter's verdict as the strategy host found it (the filter is not
        run here); every other filter, or one the strategy host sent no verdict for, here."""
        verdict = self._verdict_of.get(signal.instrument)
        if verdict is not None and not reads_account(flt):
            known, veto = verdict.of(index, signal)
            if known:
                self.remote_verdicts += 1
                return veto
        return super()._check_filter(index, flt, signal)


def serve(
    role: str,
    config: Config,
    *,
    shard: str | None = None,
    journal_path: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Any:
    """Build the host of ``role`` (``strategy`` needs ``shard``)."""
    if role == "strategy":
        if shard is None:
            names = ", ".join(
                config.cluster.shard_map([sec.to_instrument().key for sec in config.instruments])
            )
            raise ConfigError(f"`tradewind serve strategy` needs --shard NAME (shards: {names})")
        return StrategyHost(config, shard, journal_path=journal_path, progress=progress)
    if role == "execution":
        return ExecutionHost(config, journal_path=journal_path, progress=progress)
    raise ValueError(f"unknown host role {role!r}")
