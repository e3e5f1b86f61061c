"""The API keeps no unbounded history in memory (issue 19): in a paper or live run its snapshot
source (and the API process's mirror) keeps the newest fills and equity points only, reads
older fills and their orders' tags back from the run's journal and older equity points from a
curve store, and every endpoint that pages fills, trades or equity answers exactly what it
answers with the whole history in memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from tradewind.api import snapshot
from tradewind.api.mirror import Mirror, MirrorView
from tradewind.api.procserver import ApiProcess
from tradewind.api.views import HostView, NotKept
from tradewind.api.window import SpilledPoints, Window
from tradewind.api.wire import decode, encode
from tradewind.trading import history, order_journal
from tradewind.trading.curves import CurveStore
from tradewind.venues.sim import SimulatedVenue

from tests.test_journal_step_loads import _bench
from tests.test_paper_history import _per_extra_fill

#: The window the tests shrink the API's (and the order manager's) to.
WINDOW = 8


@pytest.fixture
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "KEEP_RECENT", WINDOW)
    monkeypatch.setattr(order_journal, "KEEP_FINISHED", WINDOW)
    monkeypatch.setattr(SimulatedVenue, "KEEP_FINISHED", WINDOW)
    monkeypatch.setattr(snapshot, "KEEP_RECENT", WINDOW)


def _answers(view: HostView, pages: bool, host: HostView | None = None) -> dict[str, Any]:
    """Every snapshot endpoint's answer that reads fills, trades or equity; ``pages``: every
    page of ``/trades`` at a few sizes, else the first pages and the last. ``host``: the
    host's view of an API process's mirror, asked for the trades the mirror no longer keeps
    (as the API asks its host: ``/trades`` and ``/trade/{id}``)."""

    def ask(name: str, *args: Any) -> Any:
        try:
            return getattr(view, name)(*args)
        except NotKept:
            assert host is not None, name
            return getattr(host, name)(*args)

    def trade(tid: int) -> Any:
        try:
            t = view.trade_by_id(tid)
            return None if t is None else view.trade_json(t)
        except NotKept:
            assert host is not None
            t = host.trade_by_id(tid)
            return None if t is None else host.trade_json(t)

    total = ask("trades_page", 1, 0)["total_trades"]
    out: dict[str, Any] = {
        "status": view.status(),
        "count": view.count(),
        "profit": view.profit(),
        "performance": view.performance(),
        "daily": view.periodic("days", 7),
        "weekly": view.periodic("weeks", 4),
        "stats": view.stats(),
        "balance": view.balance(),
    }
    for points in (1, 2, 3, 7, 50, 500, 10_000):
        out[f"equity {points}"] = view.equity(points)
    sizes = (1, 7, 500) if pages else (7, 500)
    for limit in sizes:
        offsets = range(0, total + limit, limit) if pages else (0, max(0, total - limit))
        for offset in offsets:
            page = ask("trades_page", limit, offset)
            try:
                body, _ = view.trades_page_json(limit, offset)
            except NotKept:
                assert host is not None
                body, _ = host.trades_page_json(limit, offset)
            assert json.loads(body) == page
            out[f"trades {limit} {offset}"] = page
    # ``/trade/{id}`` of the first trade, the last, and one between.
    for tid in (1, total // 2 + 1, total) if total else ():
        out[f"trade {tid}"] = trade(tid)
    return out


@pytest.mark.usefixtures("small_windows")
def test_every_trades_and_equity_answer_is_that_of_the_whole_history(tmp_path: Path):
    """One paper session seen by four APIs: in-thread with a window of 8 fills and equity
    points and with the whole history, and in process mode (the host's side and a mirror fed
    by its updates through the wire's encoding) the same two ways. Asked every so many steps
    (the windowed host view's trades then fold fills the source no longer keeps: read back
    from the journal) and at the end, page by page, every answer is the whole history's."""
    engine = _bench().paper_engine(6_000, 100, 10, tmp_path, "1s", run_id="7" * 32)
    # The order manager keeps every order's tag (the windowed views read theirs back from
    # the journal; the whole history's take them from the order manager as before).
    engine.keep_history = True
    small, whole = HostView(engine), HostView(engine)
    whole.source.keep_recent = None
    apis = {"small": ApiProcess(engine, "t" * 32), "whole": ApiProcess(engine, "t" * 32)}
    apis["whole"].view.source.keep_recent = None
    views = [small, whole, *(api.view for api in apis.values())]
    for v in views:
        v.started_ts_ns = small.started_ts_ns
    mirrors = {
        k: Mirror(MirrorView(api.view.settings, api.view.started_ts_ns)) for k, api in apis.items()
    }
    seen = {"steps": 0, "compared": 0, "read_back": 0}

    def compare(pages: bool) -> None:
        expected = _answers(whole, pages)
        hosts = {id(m.view): apis[k].view for k, m in mirrors.items()}
        for v in (small, apis["small"].view, *(m.view for m in mirrors.values())):
            got = _answers(v, pages, hosts.get(id(v)))
            assert got.keys() == expected.keys()
            for key, value in expected.items():
                assert got[key] == value, key
        seen["compared"] += 1

    def step() -> None:
        seen["steps"] += 1
        if seen["steps"] % 10 == 0:
            # The journal's batch load now (the host's window lets go of fills only once the
            # database holds them): the windowed view's trades fall behind what it keeps.
            engine.journal.load()
        if seen["steps"] % 3:
            return
        for key, api in apis.items():
            snap = api.view.source.latest
            assert snap is not None
            msg = decode(encode(("update", api.build_update(snap)))[4:])
            mirrors[key].apply(msg[1])
        if seen["steps"] % 45 == 0:
            behind = small._book.last_seq < small.source.fills.dropped
            seen["read_back"] += behind
            compare(pages=False)

    engine.step_sinks.append(step)  # after the views' own publish
    summary = engine.summary

    def at_the_end() -> Any:
        for key, api in apis.items():  # the last update, as the API process gets it
            mirrors[key].apply(api.build_update(api.view.source.latest))
        compare(pages=True)
        src, msrc = small.source, mirrors["small"].view.source
        # The windows let go of most of the run; the whole history's kept everything.
        # (the host's drops wait for the journal's batch loads: a few more may be kept)
        assert src.fills.dropped > 50 * WINDOW and len(src.fills.kept) < 10 * WINDOW
        assert msrc.fills.dropped > 50 * WINDOW and len(msrc.fills.kept) <= 2 * WINDOW
        assert src.equity.dropped > 20 * WINDOW and len(src.equity.kept) <= 2 * WINDOW
        assert msrc.equity.dropped > 20 * WINDOW and len(msrc.equity.kept) <= 2 * WINDOW
        assert len(src.tags) <= len(src.fills.kept) and len(msrc.tags) <= 2 * WINDOW
        assert whole.source.fills.dropped == whole.source.equity.dropped == 0
        n = src.latest.n_fills if src.latest else 0
        assert len(whole.source.fills) == n == engine.orders.history.n_fills
        # Older fills read back from the journal are the fills the run booked.
        assert src.fills[0:n] == whole.source.fills[0:n]
        assert src.equity[0 : len(src.equity)] == list(engine.equity_curve)
        return summary()

    engine.summary = at_the_end
    try:
        anyio.run(engine.run)
    finally:
        for v in views:
            v.close()
    assert seen["compared"] >= 10 and seen["read_back"] >= 5, seen


def test_a_window_reads_its_older_items_back_and_samples_across_the_cut(tmp_path: Path):
    """Slices and samples (every ``step``-th item) of a window that let go of its older
    points to a curve store are those of the plain list, across the cut, from a state taken
    before later drops too; points that cannot be stored (not an int time and floats) stay."""
    spilled = SpilledPoints(lambda: CurveStore(str(tmp_path)))
    w: Window[tuple[int, float]] = Window(5, spilled.read, spilled.spill)
    points = [(i, i / 7) for i in range(103)]
    for i in range(0, 103, 4):
        w.extend(points[i : i + 4])
        if i == 40:
            early = w.state
    assert w.dropped > 80 and len(w.kept) <= 10 and len(w) == 103
    for start, stop, step in ((0, 103, 1), (3, 50, 1), (90, 103, 1), (0, 103, 7), (0, 96, 10)):
        assert w.sample(stop, step, start) == points[start:stop:step], (start, stop, step)
    assert w[10:20] == points[10:20] and w.item(102) == points[102]
    assert w.sample(44, 3, 0, early) == points[0:44:3]
    odd: Window[tuple[int, str]] = Window(2, spilled.read, spilled.spill)
    odd.extend([(i, "x") for i in range(20)])
    assert odd.dropped == 0 and len(odd.kept) == 20
    # A spill that lets none go (the journal's database behind) is asked again half a
    # window later, not at every append.
    asked: list[int] = []
    behind: Window[int] = Window(4, None, lambda first, items: asked.append(first) or 0)
    behind.extend(range(9))
    behind.extend([9])
    assert asked == [0] and behind.dropped == 0
    behind.extend([10])
    assert asked == [0, 0] and len(behind) == 11
    nowhere: Window[int] = Window(1)  # nothing to read older items back from
    nowhere.extend([1, 2, 3])
    assert nowhere[2:3] == [3] and nowhere.dropped == 2
    with pytest.raises(LookupError):
        nowhere[0:1]


@pytest.mark.usefixtures("small_windows")
def test_a_paper_runs_memory_with_the_api_does_not_grow_with_its_fills(tmp_path: Path):
    """With the API's view of the engine attached (its snapshot source publishing every step),
    what a paper run keeps at its end grows by 40 B per extra fill at most; the source kept
    every fill and equity point before (measured 814 B per extra fill, 21 B after)."""
    per_fill, fills = _per_extra_fill(tmp_path, keep_history=False, api=True)
    assert fills > 25 * WINDOW
    assert per_fill < 40, f"{per_fill:.0f} B retained per extra fill"
