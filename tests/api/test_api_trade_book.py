"""The API's trades in a paper or live run (issue 19): a view keeps the open trades and the
newest closed ones, walks its statistics on from running totals of the older ones, reads older
trades back from the journal (an API process's mirror asks its host), and answers exactly
what it answers with every trade in memory; a view built on a resumed session reads the
session's earlier fills through the journal's own reads (rows its step log holds and its
database does not yet included)."""

from __future__ import annotations

import json
import math
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from tradewind.api import views as api_views
from tradewind.api.mirror import MirrorView
from tradewind.api.snapshot import FILL_COLUMNS, PortfolioSnapshot, Snapshot, fill_from_row
from tradewind.api.totals import FloatSum
from tradewind.api.views import HostView, NotKept, ViewSettings, _dumps
from tradewind.model import Fill, Position

from tests.api.test_api_window import WINDOW, small_windows  # noqa: F401  (a fixture)
from tests.test_journal_step_loads import _bench

#: The journal's loads into DuckDB put off past the run's end: every step's rows stay in the
#: step log (durable) until the journal is read through its own reads or closed.
NO_LOADS = "\n[journal]\nload_rows = 1000000\nload_every_s = 3600.0\n"


def _paper_engine(work: Path, run_id: str, ticks: int = 3_000) -> Any:
    bench = _bench()
    bench.CONFIG += NO_LOADS
    return bench.paper_engine(ticks, 100, 10, work, run_id=run_id)


def test_a_view_built_while_the_step_log_holds_the_sessions_fills_reads_them_all(
    tmp_path: Path,
):
    """The second run of a paper session: the API's view is built after the run booked fills
    whose rows are in the step log only (not loaded into DuckDB yet). Its trades and fills are
    those of every fill of the session the journal holds, and its closed trades' exit
    reasons are their orders' tags (a raw query of DuckDB missed this run's fills)."""
    work = tmp_path / "run"
    work.mkdir()
    anyio.run(_paper_engine(work, "1" * 32).run)
    engine = _paper_engine(work, "2" * 32)
    seen: dict[str, Any] = {"steps": 0}

    def step() -> None:
        seen["steps"] += 1
        j = engine.journal
        if "view" in seen or engine.orders.history.n_fills < 20:
            return
        # What DuckDB holds of the session now (the step log holds more).
        cur = j.cursor()
        try:
            seen["raw"] = cur.execute(
                "SELECT count(*) FROM fills WHERE session_id = ?", [j.session_id]
            ).fetchone()[0]
        finally:
            cur.close()
        seen["booked"] = engine.orders.history.n_fills
        seen["view"] = HostView(engine)

    engine.step_sinks.append(step)
    summary = engine.summary

    def at_the_end() -> Any:
        view: HostView = seen["view"]
        j = engine.journal
        assert j.resumed
        rows = j.query(
            f"SELECT {FILL_COLUMNS} FROM fills WHERE session_id = ? ORDER BY seq", [j.session_id]
        )
        fills = [fill_from_row(r) for r in rows]
        tags = dict(
            j.query(
                "SELECT DISTINCT client_order_id, tag FROM orders WHERE session_id = ? AND "
                "tag IS NOT NULL",
                [j.session_id],
            )
        )
        # The first run's fills and this run's before the view: not all in DuckDB then.
        assert seen["raw"] < len(fills) - engine.orders.history.n_fills + seen["booked"]
        snap = view.snap
        assert snap.n_fills == len(fills)
        assert view.source.fills[0 : len(fills)] == fills
        reference = HostView(engine)  # built now: the journal holds everything
        try:
            for v in (view, reference):
                v.started_ts_ns = 0
            assert view.trades_page(10_000, 0) == reference.trades_page(10_000, 0)
            assert view.profit() == reference.profit()
            assert view.stats() == reference.stats()
        finally:
            reference.close()
        page = view.trades_page(10_000, 0)["trades"]
        assert page[0]["orders"][0]["order_id"] == fills[0].client_order_id
        closed = [t for t in view.trades() if not t.is_open]
        assert len(closed) > 20
        for t in closed:
            assert t.exit_reason == (tags.get(t.orders[-1].client_order_id) or "")
        assert sum(len(t["orders"]) for t in page) >= len(fills)
        return summary()

    engine.summary = at_the_end
    try:
        anyio.run(engine.run)
    finally:
        if "view" in seen:
            seen["view"].close()
    assert "view" in seen


# -- the trade book's window and the statistics' running totals ----------------------------


def test_a_float_sum_fed_one_at_a_time_is_pythons_sum_of_the_list():
    """:class:`FloatSum` gives the very float :func:`sum` gives for the whole list (on this
    interpreter: plain or compensated), at every length, empty included (an int 0), and a
    copy walks on from where it was."""
    rng = random.Random(7)
    xs = [rng.choice([1e16, -1e16, 1.0, 0.1, -0.3, 1e-9]) * rng.random() for _ in range(2_000)]
    xs[5:5] = [1e100, 1.0, -1e100, -0.0]
    s = FloatSum()
    assert s.value() == 0 and type(s.value()) is int and s.mean() == 0.0
    for i, x in enumerate(xs):
        s.add(x)
        want = sum(xs[: i + 1])
        assert s.value() == want and math.copysign(1, s.value()) == math.copysign(1, want), i
        assert s.mean() == want / (i + 1)
        if i == 1_000:
            half = s.copy()
    for x in xs[1_001:]:
        half.add(x)
    assert half.value() == sum(xs) and half.n == len(xs)


SETTINGS = ViewSettings(
    currency="USDT",
    mode="paper",
    preset="test",
    max_open=3,
    drives_instruments=False,
    top_n=5,
    strategy_tf=60_000_000_000,
)


def _session_fills(n: int, seed: int) -> tuple[list[Fill], dict[str, str]]:
    """``n`` fills in three USDT instruments traded at once (trades open and close out of id
    order, some flip, some lose, some win, some are even), over five weeks; a few fees in a
    third currency without a price (those trades' profit is unknown); then one instrument
    whose P&L is in BTC. The third-currency fees come in the last fifth (before it every
    profit is known, after it the answers null what is unknown). The orders' tags (exit
    reasons), some missing."""
    rng = random.Random(seed)
    fills, tags = [], {}
    held = {"sim:BTCUSDT": 0, "sim:ETHUSDT": 0, "sim:SOLUSDT": 0}
    ts = 1_700_000_000_000_000_000
    for i in range(n):
        inst = rng.choice(list(held)) if i < n - 12 else "sim:ETHBTC"
        pos = held.get(inst, 0)
        if pos and rng.random() < 0.5:
            side, qty = ("sell", pos) if pos > 0 else ("buy", -pos)  # close
            if rng.random() < 0.2:
                qty *= 2  # flip
        else:
            side, qty = rng.choice(["buy", "sell"]), rng.choice([1, 2, 3])
        held[inst] = pos + (qty if side == "buy" else -qty)
        ts += rng.randrange(1, 6 * 3_600) * 1_000_000_000
        price = Decimal(rng.randrange(900, 1_100)) / 10 + rng.choice([0, Decimal("0.5")])
        other = i > n * 0.8 and rng.random() < 0.03
        cid = f"c{i}"
        fills.append(
            fill_from_row(
                (
                    cid,
                    f"t{i}",
                    inst,
                    side,
                    str(Decimal(qty) / 1000),
                    str(price),
                    "0.25" if other else str(price * qty / 1000 * Decimal("0.0004")),
                    ts,
                    "taker",
                    "BNB" if other else "",
                    "other" if other else "quote",
                    None,
                )
            )
        )
        tag = rng.choice(["stop", "take:2", "max_hold", "", None])
        if tag is not None:
            tags[cid] = tag
    return fills, tags


def _mirror_answers(keep: int | None, fills: list[Fill], tags: dict[str, str]) -> list[Any]:
    """A mirror keeping ``keep`` fills (and trades) fed ``fills`` a few at a time, its
    snapshot moved each time; every statistic's JSON asked every few updates and at the end,
    with the newest page of ``trades``. Also asserts how much it kept."""
    view = MirrorView(SETTINGS, 0)
    out: list[Any] = []

    def ask(last: bool) -> None:
        total = view.profit()["trade_count"]
        answers = [
            view.status(),
            view.count(),
            view.profit(),
            view.performance(),
            view.stats(),
            *(view.periodic(u, c) for u, c in (("days", 7), ("days", 40), ("weeks", 3))),
            view.periodic("months", 2),
            view.trades_page(2, max(0, total - 2)),
            view.trades_page_json(2, max(0, total - 2))[0],
        ]
        out.append([_dumps(a) if not isinstance(a, bytes) else a for a in answers])

    _feed(view, keep, fills, tags, ask)
    book = view._book
    if keep is not None:
        # The fold stopped at the first trade in BTC only: before it, at most 2 * keep of
        # the closed trades are kept besides those after the first open one.
        assert view._totals.n > len(fills) // 3
        assert book.dropped >= view._totals.n - 2 * keep
        assert len(view._closed_json) <= len(book.trades)
        assert not view._marks  # (the host rebuilds what the mirror let go of)
        with pytest.raises(NotKept):
            view.trades_page(1, 0)
    else:
        assert book.dropped == view._totals.n == 0
    return out


def _feed(
    view: MirrorView,
    keep: int | None,
    fills: list[Fill],
    tags: dict[str, str],
    ask: Any = None,
) -> None:
    """Feed ``fills`` to a mirror keeping ``keep`` fills, seven at a time with their tags,
    its snapshot moved each time; ``ask(last)`` every fifth update and after the last."""
    src = view.source
    src.fills.keep = keep
    positions: dict[str, Position] = {}
    marks: dict[str, float] = {}
    for version, start in enumerate(range(0, len(fills), 7), 1):
        batch = fills[start : start + 7]
        cids = [f.client_order_id for f in batch]
        src.tags.update({c: tags[c] for c in cids if c in tags})
        src.fills.extend(batch)
        for f in batch:
            positions[f.instrument] = (
                positions.get(f.instrument) or Position(instrument=f.instrument)
            ).apply(f)
            marks[f.instrument] = float(f.price)
        src.latest = Snapshot(
            version=version,
            now_ns=batch[-1].ts_ns,
            ticks=version,
            decisions=version,
            state="running",
            run_id="r",
            portfolio=PortfolioSnapshot(
                ts_ns=batch[-1].ts_ns,
                cash=Decimal(100_000),
                open_positions=tuple(p for p in positions.values() if not p.is_flat),
                marks=dict(marks),
                orders=(),
                start=Decimal(100_000),
                rates={"USDT": Decimal(1), "BTC": Decimal("41234.5")},
            ),
            instruments={},
            n_fills=len(src.fills),
            n_equity=0,
        )
        last = start + 7 >= len(fills)
        if ask is not None and (last or version % 5 == 0):
            ask(last)


def test_every_statistic_of_a_mirror_that_keeps_a_few_trades_is_that_of_every_trade():
    """Three instruments traded at once (open trades interleaved with closed ones by id,
    flips, unknown profits, five weeks of closes), then one in BTC: ``status``, ``count``,
    ``profit``, ``performance``, ``stats``, the periods and the newest trades, asked as the
    fills come, are the same JSON whether the view keeps 2 trades, 5, or every one."""
    fills, tags = _session_fills(700, seed=3)
    whole = _mirror_answers(None, fills, tags)
    assert len(whole) >= 20
    known = json.loads(whole[len(whole) // 2][2])
    assert known["winning_trades"] > 20 and known["losing_trades"] > 20
    assert known["max_drawdown_abs"] > 0 and known["profit_all_ratio_sum"] != 0
    profit = json.loads(whole[-1][2])
    assert profit["trade_count"] > 200 and profit["winning_trades"] is None  # unknown fees
    for keep in (2, 5):
        assert _mirror_answers(keep, fills, tags) == whole, keep


def _book_answers(view: HostView) -> dict[str, Any]:
    """Every endpoint that reads trades, as the JSON sent: the pages of ``trades`` (every one
    at sizes 7 and 500, some at size 1; as built and as sent), trades by id (the first, the
    middle, the last, and ids with no trade), the statistics."""
    total = view.profit()["trade_count"]
    out: dict[str, Any] = {
        name: _dumps(fn())
        for name, fn in (
            ("status", view.status),
            ("count", view.count),
            ("profit", view.profit),
            ("performance", view.performance),
            ("stats", view.stats),
            ("daily", lambda: view.periodic("days", 7)),
            ("weekly", lambda: view.periodic("weeks", 4)),
            ("monthly", lambda: view.periodic("months", 3)),
        )
    }
    for limit in (1, 7, 500):
        offsets = list(range(0, total + limit, limit))
        if limit == 1:  # (each older page is read back: the first, the middle, the last)
            offsets = [*offsets[:3], offsets[len(offsets) // 2], *offsets[-4:]]
        for offset in offsets:
            out[f"trades {limit} {offset}"] = _dumps(view.trades_page(limit, offset))
            out[f"sent {limit} {offset}"] = view.trades_page_json(limit, offset)[0]
    for tid in (0, 1, 2, total // 2, total - 2, total - 1, total, total + 1):
        t = view.trade_by_id(tid)
        out[f"trade {tid}"] = None if t is None else _dumps(view.trade_json(t))
    return out


def test_every_trade_answer_of_a_paper_session_is_the_same_at_any_keep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """One paper session (~200 round trips) seen by three views keeping 2, 5 and every
    trade: the pages of ``/trades``, trades by id and every statistic are the same JSON,
    asked as the run goes and at its end; the small views let go of most trades (the older
    read back from the journal, from the book's mark before them: one every 7 trades here)."""
    monkeypatch.setattr(api_views, "MARK_EVERY", 7)
    engine = _bench().paper_engine(3_000, 100, 10, tmp_path, run_id="7" * 32)
    views = {keep: HostView(engine) for keep in (2, 5, None)}
    for keep, v in views.items():
        v.source.keep_recent = keep
        v.started_ts_ns = 0
    seen = {"steps": 0, "compared": 0}

    def compare() -> None:
        want = _book_answers(views[None])
        for keep in (2, 5):
            got = _book_answers(views[keep])
            assert got.keys() == want.keys()
            for key, value in want.items():
                assert got[key] == value, (keep, key)
        seen["compared"] += 1

    def step() -> None:
        seen["steps"] += 1
        if seen["steps"] % 10 == 0:
            engine.journal.load()  # (fills leave the windows once the database holds them)
            compare()

    engine.step_sinks.append(step)
    summary = engine.summary

    def at_the_end() -> Any:
        for v in views.values():
            v.source.publish()
        compare()
        small = views[2]
        assert small._book.n > 150 and small._book.dropped > small._book.n - 10
        assert len(small._book.trades) <= 6 and len(small._closed_text) <= 6
        assert views[None]._book.dropped == 0 and len(views[None]._book.trades) > 150
        assert len(small._marks) >= small._book.n // 7 and not views[None]._marks
        return summary()

    engine.summary = at_the_end
    try:
        anyio.run(engine.run)
    finally:
        for v in views.values():
            v.close()
    assert seen["compared"] >= 3


@pytest.mark.usefixtures("small_windows")
def test_a_paper_runs_memory_with_its_trades_asked_does_not_grow_with_its_round_trips(
    tmp_path: Path,
):
    """The API's view attached and its trade endpoints asked every 10 steps (a dashboard):
    what the run keeps at its end grows by less than 40 B per extra round trip (every trade
    with its fills stayed in memory before: several hundred bytes each)."""
    bench = _bench()
    kw: dict[str, Any] = {"api": True, "api_asks": 10}
    (tmp_path / "warm").mkdir()
    bench.retained(4_000, 1_000, 10, tmp_path / "warm", **kw)
    small = bench.retained(4_000, 1_000, 10, tmp_path, **kw)
    large = bench.retained(20_000, 1_000, 10, tmp_path, **kw)
    per_trip = (large[0] - small[0]) / (large[1] - small[1])  # a round trip per fill here
    assert large[1] > 25 * WINDOW
    assert per_trip < 40, f"{per_trip:.0f} B retained per extra round trip"


def test_an_api_process_asks_its_host_for_the_trades_its_mirror_no_longer_keeps():
    """The API's ``/trades`` and ``/trade/{id}`` served from a mirror keeping 2 trades: a page
    or a trade it let go of is asked of the host (here a view keeping every trade, as the
    host's reads its journal), the newer ones answered from the mirror, all as the host
    answers them; an id with no trade is 404."""
    from fastapi import HTTPException
    from starlette.requests import Request
    from tradewind.api.app import create_app
    from tradewind.api.ops import HostOps
    from tradewind.config import ApiSection

    fills, tags = _session_fills(300, seed=5)
    small, whole = MirrorView(SETTINGS, 0), MirrorView(SETTINGS, 0)
    _feed(small, 2, fills, tags)
    _feed(whole, None, fills, tags)
    ops = HostOps(whole, None)  # type: ignore[arg-type]  (the trade reads need no operator)
    asked: list[str] = []

    async def host_call(name: str, *args: Any) -> Any:
        asked.append(name)
        return getattr(ops, name)(*args)

    app = create_app(small, None, ApiSection(), "t" * 32, host_call=host_call)
    endpoint = {r.path: r.endpoint for r in app.routes if hasattr(r, "endpoint")}
    request = Request({"type": "http", "method": "GET", "headers": [], "path": "/"})
    total = whole.trades_page(1, 0)["total_trades"]
    assert total > 100 and small._book.dropped > total - 50

    async def ask() -> None:
        for offset in (0, 37, total - 2):
            response = await endpoint["/api/v1/trades"](request, limit=2, offset=offset)
            assert json.loads(response.body) == whole.trades_page(2, offset), offset
        for tid in (1, total // 2, total):
            answer = await endpoint["/api/v1/trade/{tradeid}"](tid)
            assert answer == whole.trade_json(whole.trade_by_id(tid)), tid
        with pytest.raises(HTTPException) as missing:
            await endpoint["/api/v1/trade/{tradeid}"](total + 1)
        assert missing.value.status_code == 404

    anyio.run(ask)
    # The old pages and trades were the host's answers; the newest the mirror's own.
    assert asked == ["trades_page", "trades_page", "trade", "trade"]
