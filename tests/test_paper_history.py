"""A paper run keeps no history it does not need in memory (issue 19): the order manager keeps
the recent fills, closed trades and order tags with running aggregates, and whatever needs the
whole run (its summary and result, a control command asking further back) reads it from the
journal. The run's memory no longer grows with its fills, and every answer is the one the
whole history in memory gives (``Engine.keep_history``, the retention before)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from tradewind.report.trades import round_trips
from tradewind.trading import history, order_journal
from tradewind.venues.sim import SimulatedVenue

from tests.test_journal_step_loads import _bench

#: The windows the test shrinks so that a short run goes far beyond them.
WINDOW = 8


@pytest.fixture
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recent fills, trades and finished orders the engine and the simulated venue keep:
    ``WINDOW`` each instead of 1,000."""
    monkeypatch.setattr(history, "KEEP_RECENT", WINDOW)
    monkeypatch.setattr(order_journal, "KEEP_FINISHED", WINDOW)
    monkeypatch.setattr(SimulatedVenue, "KEEP_FINISHED", WINDOW)


def _per_extra_fill(tmp_path: Path, keep_history: bool, api: bool = False) -> tuple[float, int]:
    """Bytes retained per extra fill between a paper run of 4,000 and one of 20,000 ticks
    (bench_paper_throughput's ``--retained``: one flipping order per 10 ticks), after a run
    that warms imports and caches up; and the larger run's fills. ``api``: with the HTTP
    API's view of the engine attached (``--api``)."""
    bench = _bench()
    (tmp_path / "warm").mkdir()
    bench.retained(4_000, 1_000, 10, tmp_path / "warm", keep_history, api=api)
    small = bench.retained(4_000, 1_000, 10, tmp_path, keep_history, api=api)
    large = bench.retained(20_000, 1_000, 10, tmp_path, keep_history, api=api)
    return (large[0] - small[0]) / (large[1] - small[1]), large[1]


@pytest.mark.usefixtures("small_windows")
def test_a_paper_runs_memory_does_not_grow_with_its_fills(tmp_path: Path):
    """Five times the ticks and fills, and what the engine keeps at the end of the run is the
    same within 40 B per extra fill (the whole history in memory kept ~700 B per fill; the
    test below sees > 200 B). Measured 16-19 B: the run's curves, a point per decision, are
    still in memory at this length, and a run alone allocates a little differently than in
    the suite, so the bound leaves room for that without coming near the history's bytes."""
    per_fill, fills = _per_extra_fill(tmp_path, keep_history=False)
    assert fills > 25 * WINDOW
    assert per_fill < 40, f"{per_fill:.0f} B retained per extra fill"


@pytest.mark.usefixtures("small_windows")
def test_the_measure_sees_the_whole_history_kept(tmp_path: Path):
    """The same measure with every fill, trade and tag kept in memory (as before): hundreds of
    bytes per fill, so the bound above is the history's doing."""
    per_fill, _ = _per_extra_fill(tmp_path, keep_history=True)
    assert per_fill > 200, f"{per_fill:.0f} B retained per extra fill"


def _paper_run(
    work: Path, keep_history: bool, run_id: str = "7" * 32
) -> tuple[Any, Any, dict[str, Any]]:
    """A 6,000-tick paper run (one flipping order per 10 ticks) with a fixed run id; the
    control commands' answers at its end (before its summary, with the journal open). A
    second run in the same ``work`` resumes the first one's session."""
    work.mkdir(exist_ok=True)
    engine = _bench().paper_engine(6_000, 1_000, 10, work, run_id=run_id)
    engine.keep_history = keep_history
    answers: dict[str, Any] = {}
    summary = engine.summary

    def answering() -> dict[str, Any]:
        c = engine.control
        every = engine.orders.history.all_fills()
        now = engine.clock.now_ns()
        answers.update(
            profit=c.profit(),
            last_5=c.trades(5),
            last_all=c.trades(100_000),
            last_0=c.trades(0),  # ``[-0:]``: every trade, as the list always answered
            # A day that starts before the fills kept in memory, one that starts among them.
            day_early=c.daily_figures(every[10].ts_ns, now),
            day_late=c.daily_figures(every[-5].ts_ns, now),
            day_none=c.daily_figures(now + 1, now + 2),
        )
        return summary()  # type: ignore[no-any-return]

    engine.summary = answering
    result = anyio.run(engine.run)
    return engine, result, answers


@pytest.mark.usefixtures("small_windows")
def test_a_paper_runs_result_and_answers_are_those_of_the_whole_history(tmp_path: Path):
    """The run's fills, closed trades, order tags, summary and report trades, and the
    ``profit``, ``trades`` and ``daily_figures`` answers, are the same as with every fill kept
    in memory, while the bounded run dropped most of them from memory."""
    bounded, result, answers = _paper_run(tmp_path / "bounded", keep_history=False)
    whole, expected, expected_answers = _paper_run(tmp_path / "whole", keep_history=True)

    h = bounded.orders.history
    assert h.fills_dropped > 5 * WINDOW and h.trades_dropped > 2 * WINDOW and h.tags_dropped
    assert len(bounded.orders.fills) < 2 * WINDOW and len(bounded.orders.closed_trades) < 2 * WINDOW
    assert len(bounded.orders.order_tags) <= WINDOW + 1
    assert whole.orders.history.complete and len(whole.orders.fills) == len(expected.fills)

    assert len(result.fills) == h.n_fills == len(expected.fills) > 10 * WINDOW
    assert list(result.fills) == list(expected.fills)
    assert list(result.closed_trades) == list(expected.closed_trades)
    assert len(result.closed_trades) == h.n_trades > 5 * WINDOW
    assert dict(result.order_tags) == dict(expected.order_tags)
    assert {f.client_order_id for f in result.fills} <= set(result.order_tags)
    assert len(result.order_tags) > 10 * len(bounded.orders.order_tags)
    assert result.summary == expected.summary
    assert round_trips(result.fills, result.order_tags) == round_trips(
        expected.fills, expected.order_tags
    )

    assert answers == expected_answers
    assert int(answers["profit"]["closed_trades"]) == h.n_trades
    assert len(answers["last_all"]) == len(answers["last_0"]) == h.n_trades
    assert len(answers["last_5"]) == 5
    assert int(answers["day_early"]["trades"]) > 2 * WINDOW
    assert answers["day_none"]["trades"] == "0"


@pytest.mark.usefixtures("small_windows")
def test_a_resumed_session_reads_back_only_its_own_runs_history(tmp_path: Path):
    """The second run of a paper session (the first's open position and cash restored from
    the journal): its result and answers hold its own fills and trades — the trade that closes
    the restored position measured from where that position opened — as with the whole
    history in memory."""
    got, want = [], []
    for keep, out in ((False, got), (True, want)):
        work = tmp_path / ("whole" if keep else "bounded")
        first, before, _ = _paper_run(work, keep, run_id="1" * 32)
        assert first.portfolio.positions()  # the second run starts with a position open
        second, result, answers = _paper_run(work, keep, run_id="2" * 32)
        assert second.journal is not None and second.journal.resumed
        out.extend([result, answers, second.orders.history, before])
    result, answers, h, before = got
    expected, expected_answers, _, _ = want
    assert h.fills_dropped and h.trades_dropped and h.tags_dropped
    assert list(result.fills) == list(expected.fills) and len(result.fills) == h.n_fills
    assert not {f.trade_id for f in result.fills} & {f.trade_id for f in before.fills}
    assert list(result.closed_trades) == list(expected.closed_trades)
    assert dict(result.order_tags) == dict(expected.order_tags)
    assert result.summary == expected.summary
    assert answers == expected_answers


def test_a_backtest_keeps_its_history_in_memory(tmp_path: Path):
    """A backtest's journal is not durable while it runs (one batch at the end): its order
    manager keeps every fill and trade, and its result is those very lists."""
    from tradewind.config import load_config
    from tradewind.trading.engine import Engine

    from tests.test_engine import demo_config_text

    cfg_path = tmp_path / "bt.toml"
    cfg_path.write_text(demo_config_text(tmp_path))
    engine = Engine(load_config(cfg_path))
    result = anyio.run(engine.run)
    h = engine.orders.history
    assert h.keep is None and h.complete and h.n_fills == len(result.fills) > 0
    assert result.fills is h.fills and result.closed_trades is h.trades


def test_a_paper_runs_curves_keep_their_newest_points_in_memory(tmp_path: Path):
    """Decisions every second: the equity, price and candle curves let go of their older
    points (written to the run's curve store) and keep at most twice ``curve_keep`` in
    memory, while the run's curves, summary and report are those of every point kept."""
    from tradewind.report.metrics import write_report

    from tests.test_report_arrays import _digests

    runs = {}
    for keep in (False, True):
        bench = _bench()
        bench.CONFIG = (
            bench.CONFIG.replace('mode = "paper"\n', 'mode = "paper"\ntimeframes = ["1s"]\n')
            + '\n[strategy]\ntimeframe = "1s"\n'
        )
        work = tmp_path / "run"  # the same paths: the reports name them
        work.mkdir(exist_ok=True)
        for old in work.iterdir():
            old.unlink()
        engine = bench.paper_engine(6_000, 1_000, 10, work, run_id="7" * 32)
        engine.keep_history = keep
        engine.curve_keep = 20
        engine.curve_check_steps = 1
        answers: list[Any] = []
        summary = engine.summary

        def answering(engine: Any = engine, summary: Any = summary, out: Any = answers) -> Any:
            # The daily figures (drawdown over the day's equity points) from three day
            # starts: the first point, one long spilled, one among those in memory.
            now = engine.clock.now_ns()
            curve = engine.equity_curve
            for i in (0, len(curve) // 3, len(curve) - 5):
                start = curve[i][0]
                out.append((engine.control.daily_figures(start, now), start, curve.since(start)))
            return summary()

        engine.summary = answering
        result = anyio.run(engine.run)
        write_report(result, tmp_path / f"report-{keep}")
        curves = [
            engine.equity_curve,
            *engine.price_curve.values(),
            *engine.candle_curve.values(),
        ]
        runs[keep] = engine, result, curves, _digests(tmp_path / f"report-{keep}"), answers
    bounded, result, curves, digests, answers = runs[False]
    whole, expected, whole_curves, expected_digests, expected_answers = runs[True]
    assert answers == expected_answers and len(answers) == 3
    every = list(expected.equity_curve)
    for _, start, since in answers:  # the points a filter of every point keeps
        assert since == [p for p in every if p[0] >= start] and since
    assert len({len(since) for _, _, since in answers}) == 3
    assert whole.curve_store is None and all(c.in_memory == len(c) for c in whole_curves)
    assert bounded.curve_store is not None and len(curves) == 3
    assert len(bounded.equity_curve) > 200
    assert all(c.in_memory <= 40 for c in curves)
    assert bounded.curve_store.points == sum(len(c) - c.in_memory for c in curves)
    assert list(result.equity_curve) == list(expected.equity_curve)
    for got, want in (
        (result.price_curve, expected.price_curve),
        (result.candles, expected.candles),
    ):
        assert {k: list(v) for k, v in got.items()} == {k: list(v) for k, v in want.items()}
    assert result.summary == expected.summary
    assert digests == expected_digests
