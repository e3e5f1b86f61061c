"""Python's cyclic garbage collector run between engine steps (paper and live), not inside one.

CPython collects its youngest generation whenever 700 more container objects were allocated
than freed, wherever the interpreter happens to be: on the decision path a young collection
took ~80 µs and a middle one ~600 µs (``bench/bench_decision.py``, docs/performance.md), so a
decision that happened to allocate the 700th object paid for it. :class:`StepCollector` moves
those collections to the end of a step (after its orders left and its events were published,
where the loop would otherwise await the next feed message):

- at :meth:`~StepCollector.start`, one full collection, then :func:`gc.freeze`: what start-up
  built (modules, config, plugins, the journal's connection) is never traversed again;
- the automatic thresholds are raised to a safety net (:data:`SAFETY_NET`) that a step never
  reaches in normal running;
- :meth:`~StepCollector.between_steps` runs the collection CPython would have run by now, with
  its own thresholds (youngest at 700 net allocations, each older one after 10 collections
  of the one below, a full one only once the objects that reached the oldest generation since
  the last full collection exceed a quarter of those it kept: CPython's rule against quadratic
  full collections), so the heap is collected by CPython's rules, at a different moment. The
  engine's collector starts its youngest generation at :data:`ENGINE_YOUNG` net allocations
  instead of 700: a step of a busy paper or live run allocates far more than 700 objects that
  outlive it only briefly (its events wait in the bus's queues), and each young collection
  traversed them again (~15 µs per fill in ``bench/bench_paper_throughput.py``, ~7 at
  20,000); cycles still wait at most that many allocations (bounded memory), and every
  collection stays between steps;
- :meth:`~StepCollector.stop` restores the thresholds and unfreezes.

The collector only decides *when* cycles are freed, never what a step computes: every value
journaled is the same with or without it. It is process-wide state, so only the engine's
paper and live sessions use it, and a backtest of several instruments that reads the replay
itself, between its feed batches (``Engine._consume_direct``: ~1,600 young and 14 full
collections of CPython's schedule took ~2 s of an ~18 s run of 100 instruments; other
backtests keep CPython's own schedule); several engines of one process share one takeover
(the first start takes it, the last stop gives it back), and a process running without
automatic collection (``gc.disable()``) is left as it is.

A backtest keeps CPython's schedule but runs with start-up frozen (:class:`FrozenStart`):
its full collections, which come with the run's own allocations, then traverse what the run
built rather than every module, function and class loaded before it (at ~80 trades a minute
two full collections inside a 1,000,000-trade run cost ~0.12 s, ~0.04 s frozen). While it
runs, the oldest generation's threshold is raised to :data:`BACKTEST_OLD` middle collections
(CPython's 10): with start-up frozen the oldest generation starts nearly empty, so CPython's
rule against quadratic full collections (a quarter more long-lived objects) let a full one
run every 10 middle ones, each walking everything the run keeps (its candles, curves and
fills) to find nothing to free (four in a 2 M-tick run at ~80 trades a minute, ~0.1 s, the
last one in the run's summary). Young and middle collections keep CPython's schedule, so
short-lived cycles are freed as before; one that reached the oldest generation waits ten
times longer.
"""

from __future__ import annotations

import gc

#: The youngest generation's automatic threshold while a :class:`StepCollector` runs: a step
#: allocating this many more objects than it frees is collected inside it, as before.
SAFETY_NET = 100_000

#: The youngest generation's threshold of the engine's collector (paper and live): collected
#: between steps once this many more container objects were allocated than freed.
ENGINE_YOUNG = 20_000

#: The oldest generation's threshold while a backtest holds :class:`FrozenStart`: a full
#: collection after this many middle ones (CPython's default is 10).
BACKTEST_OLD = 100


class _Takeover:
    """The process's collector schedule while one or more :class:`StepCollector` run (several
    engines of one process may overlap): taken at the first start, given back at the last
    stop, so an engine that stops first never restores the schedule under one still running."""

    def __init__(self) -> None:
        self.saved: tuple[int, int, int] | None = None
        self.running: list[StepCollector] = []
        #: Backtests running with start-up frozen (:class:`FrozenStart`).
        self.frozen: list[FrozenStart] = []
        #: Objects were frozen by someone else (the program's start-up, ``tradewind.cli``)
        #: when the first holder or collector came: they are that owner's to give back, so
        #: the last holder leaves the freeze in place instead of unfreezing them under it.
        self.outside = False
        #: The thresholds before the first holder raised the oldest generation's (None: no
        #: holder raised it).
        self.raised: tuple[int, int, int] | None = None

    def _first(self) -> None:
        if not self.running and not self.frozen:
            self.outside = gc.get_freeze_count() > 0

    def _unfreeze(self) -> None:
        if not self.outside:
            gc.unfreeze()

    def freeze(self, holder: FrozenStart) -> None:
        """Register ``holder``; freeze what is alive now unless a holder or collector has,
        and raise the oldest generation's threshold unless a collector runs."""
        self._first()
        if not self.running and not self.frozen:
            gc.freeze()
            self.raised = gc.get_threshold()
            young, middle, old = self.raised
            gc.set_threshold(young, middle, max(old, BACKTEST_OLD))
        self.frozen.append(holder)

    def thaw(self, holder: FrozenStart) -> None:
        """Unregister ``holder``; the last of every holder and collector unfreezes and puts
        the thresholds back."""
        self.frozen.remove(holder)
        if self.frozen:
            return
        raised, self.raised = self.raised, None
        if not self.running:
            if raised is not None:
                gc.set_threshold(*raised)
            self._unfreeze()

    def take(self, collector: StepCollector) -> tuple[int, int, int]:
        """Register ``collector``; the thresholds CPython had before the first one (before a
        holder raised the oldest generation's)."""
        self._first()
        if not self.running:
            self.saved = self.raised or gc.get_threshold()
            gc.collect()
            gc.freeze()
        self.running.append(collector)
        assert self.saved is not None
        return self.saved

    def give_back(self, collector: StepCollector) -> None:
        """Unregister ``collector``; the last one restores CPython's schedule (with the
        oldest generation's threshold raised while a holder still holds)."""
        self.running.remove(collector)
        if not self.running and self.saved is not None:
            young, middle, old = self.saved
            if self.raised is not None:
                old = max(old, BACKTEST_OLD)
            gc.set_threshold(young, middle, old)
            if not self.frozen:
                self._unfreeze()
            self.saved = None


#: The collector is process state, and so is this.
_TAKEOVER = _Takeover()


class StepCollector:
    """Collects garbage between engine steps with CPython's thresholds (see the module)."""

    def __init__(
        self, thresholds: tuple[int, int, int] | None = None, *, young: int | None = None
    ) -> None:
        """``thresholds``: the collector's own (default: CPython's at :meth:`start`);
        ``young``: with CPython's, the youngest generation's threshold instead of its (never
        below CPython's)."""
        self.thresholds = thresholds
        self.young = young
        self._saved: tuple[int, int, int] | None = None
        #: Collections run by :meth:`between_steps`, per generation.
        self.collections = [0, 0, 0]
        #: Objects in the oldest generation after the last full collection.
        self._long_lived = 0

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._saved is not None

    def start(self) -> None:
        """Freeze what start-up built and take over the collector's schedule (nothing when
        the process runs without automatic collection: ``gc.disable()`` or a threshold of
        0 is left as it is)."""
        if self._saved is not None or not gc.isenabled() or gc.get_threshold()[0] == 0:
            return
        saved = _TAKEOVER.take(self)
        if self.thresholds is None:
            young = saved[0] if self.young is None else max(saved[0], self.young)
            self.thresholds = (young, saved[1] or 10, saved[2] or 10)
        self._saved = saved
        self._long_lived = 0
        t = self.thresholds
        gc.set_threshold(max(SAFETY_NET, t[0]), t[1], t[2])

    def between_steps(self) -> int | None:
        """Run the collection that is due (the generation collected), or None."""
        t = self.thresholds
        if self._saved is None or t is None:
            return None
        count = gc.get_count()
        if count[0] < t[0]:
            return None
        # CPython's rule: the oldest generation whose count passed its threshold, with the
        # younger ones (collecting a generation adds one to the next one's count).
        generation = 1 if count[1] >= t[1] else 0
        if generation == 1 and count[2] >= t[2]:
            pending = len(gc.get_objects(2)) - self._long_lived
            if pending > self._long_lived // 4:
                generation = 2
        gc.collect(generation)
        if generation == 2:
            self._long_lived = len(gc.get_objects(2))
        self.collections[generation] += 1
        return generation

    def stop(self) -> None:
        """Give the schedule back to CPython (the thresholds before the first start, once the
        last collector of the process stops)."""
        saved, self._saved = self._saved, None
        if saved is None:
            return
        _TAKEOVER.give_back(self)


class FrozenStart:
    """A backtest's hold on the collector: what start-up built is frozen (:func:`gc.freeze`)
    from :meth:`start` to :meth:`stop`, and the oldest generation's threshold is raised to
    :data:`BACKTEST_OLD` (the young and middle ones stay CPython's). A process
    running without automatic collection is left as it is; several engines of one process
    share the freeze (the last stop unfreezes, unless a :class:`StepCollector` still runs)."""

    def __init__(self) -> None:
        self.frozen = False

    def start(self) -> None:
        """Freeze what is alive now (nothing when the collector is off)."""
        if self.frozen or not gc.isenabled() or gc.get_threshold()[0] == 0:
            return
        _TAKEOVER.freeze(self)
        self.frozen = True

    def stop(self) -> None:
        """Give the frozen objects back to the oldest generation (the last holder)."""
        if self.frozen:
            self.frozen = False
            _TAKEOVER.thaw(self)
