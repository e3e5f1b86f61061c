"""StepCollector: garbage collected between engine steps, not inside them (paper and live)."""

from __future__ import annotations

import gc
import weakref

import pytest
from tradewind.trading.collector import SAFETY_NET, StepCollector


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def collections():
    seen: list[int] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(on_gc)
    yield seen
    gc.callbacks.remove(on_gc)


def test_a_step_allocating_more_than_the_threshold_is_not_collected_inside_it(collections):
    collector = StepCollector((700, 10, 10))
    before = gc.get_threshold()
    collector.start()
    try:
        assert gc.get_threshold() == (SAFETY_NET, 10, 10)
        assert gc.get_freeze_count() > 0  # start-up's objects are out of every collection
        collections.clear()
        step = [_cycle() for _ in range(2_000)]  # 2,000 cycles: ~6,000 tracked objects
        assert collections == []  # CPython would have collected ~8 times by now
        assert all(ref() is not None for ref in step)
        assert collector.between_steps() is not None
        assert collections and all(ref() is None for ref in step)  # freed after the step
    finally:
        collector.stop()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_between_steps_collects_only_what_is_due_with_cpythons_thresholds(collections):
    collector = StepCollector((700, 10, 10))
    collector.start()
    try:
        gc.collect()  # counts start from zero
        collections.clear()
        assert collector.between_steps() is None  # nothing allocated: nothing due
        assert collections == []
        ran = []
        for _ in range(25):
            keep = [[] for _ in range(800)]  # 800 net allocations: a young collection is due
            ran.append(collector.between_steps())
            del keep
        # Every step collected the youngest generation; every 10th one the middle one too.
        assert ran.count(None) == 0
        assert ran.count(1) == 2 and ran.count(0) == 23
        assert collector.collections[:2] == [23, 2]
        assert collections == ran
    finally:
        collector.stop()


def _due_for_the_oldest(keep: list[object]) -> None:
    """Counts at which CPython's count rule alone collects the oldest generation (thresholds
    of 1): survivors in it, one middle collection counted, young objects allocated."""
    gc.collect(1)  # ``keep`` reaches the oldest generation; its count becomes 1
    gc.collect(0)  # the middle generation's count becomes 1
    keep.append([[] for _ in range(10)])  # young allocations


def test_a_full_collection_waits_for_a_quarter_more_long_lived_objects(collections):
    collector = StepCollector((1, 1, 1))
    collector.start()
    try:
        keep: list[object] = [[] for _ in range(1_000)]
        _due_for_the_oldest(keep)
        collector._long_lived = 1_000_000  # as if a full collection had kept a million
        collections.clear()
        assert collector.between_steps() == 1  # 1,000 new ones are not a quarter more
        assert collections == [1]
        _due_for_the_oldest(keep)
        collector._long_lived = 100
        collections.clear()
        assert collector.between_steps() == 2  # 1,000 new ones are 10 times more
        assert collections == [2]
        # What the full collection kept is the new base.
        assert 1_000 <= collector._long_lived <= len(gc.get_objects(2)) + 1
    finally:
        collector.stop()


def test_stop_without_start_and_a_second_start_change_nothing():
    collector = StepCollector()
    before = gc.get_threshold()
    collector.stop()
    assert gc.get_threshold() == before and not collector.running
    collector.start()
    try:
        collector.start()  # already running: the saved thresholds stay the original ones
        assert collector.thresholds == before
    finally:
        collector.stop()
    assert gc.get_threshold() == before
    assert collector.between_steps() is None  # stopped: CPython's schedule again


def test_a_paper_run_collects_between_batches_and_never_inside_one(
    tmp_path, collections, monkeypatch
):
    import anyio
    from tradewind.config import load_config
    from tradewind.trading import engine as engine_module
    from tradewind.trading.engine import Engine

    # This short run allocates too little for the engine's young threshold (ENGINE_YOUNG):
    # CPython's 700 here, so that it collects at all.
    monkeypatch.setattr(engine_module, "ENGINE_YOUNG", 700)

    from tests.test_engine import demo_config_text

    text = demo_config_text(tmp_path).replace('mode = "backtest"', 'mode = "paper"')
    paper = tmp_path / "paper.toml"
    # 2 h of market time at 3,000x is about 2.5 s of wall time, in batches of 200 trades.
    paper.write_text(
        text.replace(
            'plugin = "replay"\n', 'plugin = "replay"\nspeed = 3000.0\nchunk_ticks = 200\n'
        )
    )
    backtest = tmp_path / "backtest.toml"
    backtest.write_text(demo_config_text(tmp_path))
    assert Engine(load_config(backtest), run_id="b").collector is None  # CPython's schedule

    engine = Engine(load_config(paper), run_id="p")
    assert engine.collector is not None
    inside: list[int] = []
    during: list[bool] = []
    on_batch = engine.on_batch

    async def stepped(batch):  # type: ignore[no-untyped-def]
        inside.append(len(collections))
        await on_batch(batch)
        during.append(len(collections) > inside[-1])

    engine.on_batch = stepped  # type: ignore[method-assign]
    before = gc.get_threshold()
    result = anyio.run(engine.run)
    assert result.summary["ticks"] == 9_999 and len(during) >= 50
    assert not any(during)  # no collection inside a batch's step
    assert sum(engine.collector.collections) > 0  # between them instead
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_overlapping_collectors_give_the_schedule_back_once_the_last_stops():
    before = gc.get_threshold()
    first, second = StepCollector(), StepCollector()
    first.start()
    second.start()
    try:
        assert second.thresholds == first.thresholds == before  # not the safety net
        first.stop()  # the second still runs: its schedule stays
        assert gc.get_threshold()[0] == SAFETY_NET and gc.get_freeze_count() > 0
        assert second.running
    finally:
        second.stop()
        first.stop()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_process_without_automatic_collection_is_left_alone():
    before = gc.get_threshold()
    collector = StepCollector()
    gc.disable()
    try:
        collector.start()
        assert not collector.running and gc.get_freeze_count() == 0
        assert gc.get_threshold() == before
        keep = [[] for _ in range(2_000)]
        assert collector.between_steps() is None and keep
    finally:
        gc.enable()
        collector.stop()


def test_a_backtest_runs_with_start_up_frozen_and_gives_it_back(tmp_path):
    """A backtest keeps CPython's young and middle thresholds, raises the oldest one's to
    BACKTEST_OLD, freezes what start-up built for the run (its full collections then skip
    it) from the journal's open to its close — the batches, the summary and the journal's
    end-of-run write — and gives both back at the end; a collector that is off stays off and
    nothing is frozen."""
    import anyio
    from tradewind.config import load_config
    from tradewind.journal.store import Journal
    from tradewind.trading.collector import BACKTEST_OLD
    from tradewind.trading.engine import Engine

    from tests.test_engine import demo_config_text

    cfg = tmp_path / "run.toml"
    cfg.write_text(demo_config_text(tmp_path))
    thresholds = gc.get_threshold()
    raised = (*thresholds[:2], max(thresholds[2], BACKTEST_OLD))
    finish = Journal.finish
    for enabled in (True, False):
        seen: list[tuple[int, tuple[int, int, int]]] = []
        ends: list[tuple[str, int, tuple[int, int, int]]] = []

        def note(what: str, ends=ends) -> None:
            ends.append((what, gc.get_freeze_count(), gc.get_threshold()))

        engine = Engine(load_config(cfg), run_id=f"frozen-{enabled}")
        engine.progress = lambda n, total, seen=seen: seen.append(
            (gc.get_freeze_count(), gc.get_threshold())
        )
        engine.summary = lambda s=engine.summary: (note("summary"), s())[1]  # type: ignore[method-assign]

        def finished(journal, *a, **k):  # type: ignore[no-untyped-def]
            note("finish")
            return finish(journal, *a, **k)

        if not enabled:
            gc.disable()
        Journal.finish = finished  # type: ignore[method-assign]
        try:
            result = anyio.run(engine.run)
        finally:
            Journal.finish = finish  # type: ignore[method-assign]
            gc.enable()
        assert result.summary["ticks"] > 0 and seen
        assert [what for what, _, _ in ends] == ["summary", "finish"]
        if enabled:
            assert all(count > 0 and t == raised for count, t in seen)
            assert all(count > 0 and t == raised for _, count, t in ends)
        else:
            assert all(count == 0 for count, _ in seen)
            assert all(count == 0 for _, count, _ in ends)
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == thresholds


def test_a_collector_started_under_a_backtests_hold_takes_cpythons_thresholds():
    """A step collector that starts while a backtest holds the freeze takes the thresholds
    from before the hold raised the oldest one's; whichever stops last puts them back."""
    from tradewind.trading.collector import BACKTEST_OLD, FrozenStart

    before = gc.get_threshold()
    raised = (*before[:2], max(before[2], BACKTEST_OLD))
    for holder_first_out in (True, False):
        holder, collector = FrozenStart(), StepCollector()
        holder.start()
        try:
            assert gc.get_threshold() == raised and gc.get_freeze_count() > 0
            collector.start()
            assert collector.thresholds == before
            assert gc.get_threshold() == (SAFETY_NET, *before[1:])
            if holder_first_out:
                holder.stop()
                assert gc.get_threshold() == (SAFETY_NET, *before[1:])
                assert gc.get_freeze_count() > 0
            else:
                collector.stop()
                assert gc.get_threshold() == raised and gc.get_freeze_count() > 0
        finally:
            collector.stop()
            holder.stop()
        assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_backtests_and_a_step_collector_in_one_process_share_the_freeze():
    from tradewind.trading.collector import FrozenStart

    first, second, collector = FrozenStart(), FrozenStart(), StepCollector((700, 10, 10))
    first.start()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    second.start()
    collector.start()
    try:
        first.stop()
        assert gc.get_freeze_count() >= frozen  # the second backtest still runs
        collector.stop()
        assert gc.get_freeze_count() >= frozen  # and still does
    finally:
        second.stop()
        first.stop()  # a second stop does nothing
    assert gc.get_freeze_count() == 0


def test_the_engine_collects_its_youngest_generation_at_engine_young():
    from tradewind.trading.collector import ENGINE_YOUNG

    before = gc.get_threshold()
    collector = StepCollector(young=ENGINE_YOUNG)
    collector.start()
    try:
        assert collector.thresholds == (max(before[0], ENGINE_YOUNG), before[1], before[2])
        assert gc.get_threshold()[0] == max(SAFETY_NET, ENGINE_YOUNG)
        keep = [[] for _ in range(ENGINE_YOUNG // 2)]
        gc.collect(0)  # counts from here
        assert collector.between_steps() is None and keep  # not due yet
        keep += [[] for _ in range(ENGINE_YOUNG)]
        assert collector.between_steps() is not None  # due
    finally:
        collector.stop()
    assert gc.get_threshold() == before
