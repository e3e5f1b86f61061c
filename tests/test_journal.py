"""The journal: its tables, write-ahead fills, state read back, sessions, and the property that
positions rebuilt from journaled fills equal the portfolio's, exactly."""

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import attrs
import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tradewind.config import load_config
from tradewind.errors import ConfigError
from tradewind.journal import intent_log
from tradewind.journal.store import TABLES, Journal, OrderRecord
from tradewind.model import (
    Fill,
    FillEvent,
    Order,
    OrderReport,
    OrderStatus,
    OrderSubmitted,
    OrderType,
    OrderUpdated,
    Position,
    PositionChanged,
    Side,
    Signal,
    SignalEvent,
    SystemError,
    Veto,
    VetoEvent,
)
from tradewind.trading.orders import OrderManager
from tradewind.trading.portfolio import Portfolio

from tests.crash_runner import SessionEngine
from tests.faulty_venue import INST, Stack
from tests.test_engine import demo_config_text

D = Decimal


def test_every_table_exists_with_the_run_and_its_session(journal_at):
    j = Journal(journal_at("j"), "r1")
    j.start("backtest", "cfg.toml", 5)
    names = {r[0] for r in j.query("SELECT table_name FROM information_schema.tables")}
    assert set(TABLES) <= names
    assert set(TABLES) >= {"runs", "signals", "vetoes", "orders", "order_events", "fills"}
    assert j.query("SELECT run_id, mode, session_id, run_no FROM runs") == [
        ("r1", "backtest", "r1", 1)
    ]
    assert j.durable is False  # backtests are re-runnable: rows are written in batches
    j.close()


def test_signals_vetoes_and_warnings_have_their_own_tables(journal_at):
    j = Journal(journal_at("j"), "r1")
    j.start("paper", "cfg.toml", 0)
    sig = Signal(
        instrument=INST.key,
        side=Side.BUY,
        entry=D("50000"),
        stop=D("49750"),
        score=7.5,
        ts_ns=10,
        reasons={"orderflow.cascade": 1.0},
        quantity=D("0.02"),
    )
    j.record(SignalEvent(ts_ns=10, signal=sig))
    j.record(
        VetoEvent(ts_ns=11, veto=Veto(filter="exposure", reason="too big", signal=sig, ts_ns=11))
    )
    j.record(SystemError(ts_ns=12, source="bus:log", error="boom"))
    j.flush()
    assert j.query("SELECT instrument, side, entry, stop, quantity, score FROM signals") == [
        (INST.key, "buy", "50000", "49750", "0.02", 7.5)
    ]
    assert j.query("SELECT filter, reason, instrument FROM vetoes") == [
        ("exposure", "too big", INST.key)
    ]
    assert j.query("SELECT type, source, message FROM system_events") == [
        ("SystemError", "bus:log", "boom")
    ]
    assert j.count("events") == 3
    j.close()


def test_a_fill_is_on_disk_before_the_portfolio_sees_it(tmp_path, journal_at):
    class Spy(Journal):
        seen: list[Decimal] = []

        def record_fill(self, fill, position, rec=None, **kw):
            # The portfolio has not booked it yet while the journal writes it.
            self.seen.append(portfolio.position(fill.instrument).quantity)
            super().record_fill(fill, position, rec, **kw)

    portfolio = Portfolio({INST.key: INST}, D("1000"))
    j = Spy(journal_at("j"), "r1")
    j.start("paper", "cfg.toml", 0)
    assert j.durable is True
    om = OrderManager(portfolio, "r1", journal=j)
    fill = Fill(
        client_order_id="x-1",
        instrument=INST.key,
        side=Side.BUY,
        quantity=D("0.5"),
        price=D("100"),
        fee=D("0.02"),
        ts_ns=1,
        trade_id="t1",
    )
    om.on_fill(fill)
    assert Spy.seen == [D("0")]
    assert portfolio.position(INST.key).quantity == D("0.5")
    # "kill -9 now": copy the files as they are on disk (on PostgreSQL: read what another
    # connection sees committed) and open that.
    copy = Journal.open_readonly(journal_at.crash_copy("j", tmp_path / "crash"))
    assert copy.fills() == [fill]
    assert copy.positions()[INST.key].quantity == D("0.5")
    copy.close()
    j.close()


def test_orders_fills_and_positions_read_back(journal_at):
    s = Stack(journal_at("j"))
    buy = s.order(qty="0.020")
    s.submit(buy)
    s.trades([(1, 50_000.0, 0.015), (2, 50_100.0, 1.0)])
    rest = s.order(side=Side.SELL, qty="0.010", type_=OrderType.LIMIT, price="51000.0")
    s.submit(rest, at_ms=3)
    j = s.journal
    assert [r.client_order_id for r in j.open_orders()] == [rest.client_order_id]
    assert j.open_orders()[0].order == rest
    assert j.open_orders("other-run") == []
    assert [f.trade_id for f in j.fills()] == ["sim-fill-1", "sim-fill-2"]
    assert j.positions() == {INST.key: s.portfolio.position(INST.key)}
    assert j.last_client_order_seq() == 2
    assert j.order(buy.client_order_id).status is OrderStatus.FILLED
    j.close()


def test_a_paper_session_continues_across_runs_and_a_backtest_starts_its_own(tmp_path, journal_at):
    path = journal_at("j")
    s = Stack(path, run_id="run-a", config_path=str(tmp_path / "paper.toml"))
    for _ in range(3):
        s.submit(s.order(type_=OrderType.LIMIT, price="40000.0"))
    s.journal.close()  # no finish: as after a crash

    j = Journal(path, "run-b")
    j.start("paper", str(tmp_path / "paper.toml"), 0)
    assert j.resumed and j.session_id == "run-a"
    om = OrderManager(Portfolio({INST.key: INST}, D("10000")), "run-b")
    om.restore(j)
    assert om.next_client_order_id() == "tw-run-a-4"  # never repeats an id
    assert sorted(om.records) == ["tw-run-a-1", "tw-run-a-2", "tw-run-a-3"]
    j.close()

    bt = Journal(path, "run-c")
    bt.start("backtest", str(tmp_path / "paper.toml"), 0)
    assert not bt.resumed and bt.session_id == "run-c"
    assert bt.open_orders() == [] and bt.last_client_order_seq() == 0
    bt.close()


def test_without_an_order_manager_the_order_tables_follow_the_bus(journal_at):
    j = Journal(journal_at("j"), "r1")
    j.start("backtest", "cfg.toml", 0)
    order = Order(
        client_order_id="c-1",
        instrument=INST.key,
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=D("1"),
    )
    fill = Fill(
        client_order_id="c-1",
        instrument=INST.key,
        side=Side.BUY,
        quantity=D("1"),
        price=D("10"),
        fee=D("0"),
        ts_ns=2,
        trade_id="t",
    )
    j.record(OrderSubmitted(ts_ns=1, order=order))
    j.record(FillEvent(ts_ns=2, fill=fill))
    j.record(PositionChanged(ts_ns=2, position=Position(instrument=INST.key).apply(fill)))
    j.record(
        OrderUpdated(
            ts_ns=2,
            report=OrderReport(
                client_order_id="c-1",
                instrument=INST.key,
                status=OrderStatus.FILLED,
                ts_ns=2,
                filled_quantity=D("1"),
            ),
        )
    )
    j.flush()
    (rec,) = j.orders()
    assert rec.status is OrderStatus.FILLED and rec.order == order
    assert j.fills() == [fill]
    assert j.positions()[INST.key].quantity == D("1")
    j.close()


def test_a_journal_from_before_sessions_opens_and_gains_the_columns(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, mode VARCHAR, config_path VARCHAR, "
        "started_ts_ns BIGINT, finished_ts_ns BIGINT, summary JSON);"
        "CREATE TABLE events (run_id VARCHAR, seq BIGINT, ts_ns BIGINT, type VARCHAR, "
        "severity INTEGER, payload JSON);"
        "INSERT INTO runs VALUES ('old', 'backtest', 'x.toml', 0, 1, NULL);"
        "INSERT INTO events VALUES ('old', 41, 0, 'RunStarted', 20, '{}');"
    )
    con.close()
    j = Journal(path, "new")
    j.start("backtest", "x.toml", 0)
    assert j.query("SELECT run_id, session_id FROM runs ORDER BY run_no NULLS FIRST") == [
        ("old", None),
        ("new", "new"),
    ]
    j.record(SystemError(ts_ns=0, source="t", error="e"))
    j.flush()
    # One journal-wide sequence, continuing after the old rows.
    assert j.query("SELECT max(seq) FROM events") == [(42,)]
    assert j.query("SELECT seq FROM system_events") == [(43,)]
    j.close()


# -- the property: positions rebuilt from fills reconcile exactly ----------------------------
def _reference(fills):
    """An independent FIFO book: (quantity, realised, fees, lots)."""
    lots: list[list[Decimal]] = []  # [signed qty, price]
    realized = fees = D(0)
    for f in fills:
        q = f.quantity * f.side.sign
        fees += f.fee
        while q and lots and (lots[0][0] > 0) != (q > 0):
            take = min(abs(lots[0][0]), abs(q))
            sign = 1 if lots[0][0] > 0 else -1
            realized += (f.price - lots[0][1]) * take * sign
            lots[0][0] -= take * sign
            q += take * sign
            if lots[0][0] == 0:
                lots.pop(0)
        if q:
            lots.append([q, f.price])
    return sum((lq for lq, _ in lots), D(0)), realized, fees, [tuple(x) for x in lots]


fill_specs = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(min_value=1, max_value=3_000),  # lots of 0.001
        st.integers(min_value=90_000, max_value=110_000),  # ticks of 0.1
        st.integers(min_value=-2, max_value=10),  # fee in bp (negative: maker rebate)
    ),
    min_size=1,
    max_size=40,
)


@pytest.fixture(scope="module")
def shared_journal_path(module_journal_at):
    """One journal for every example: each example is its own session in it."""
    return module_journal_at("property")


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=fill_specs, resend=st.lists(st.integers(min_value=0, max_value=39), max_size=5))
def test_positions_reconcile_exactly_with_fills_and_with_the_journal(
    shared_journal_path, specs, resend
):
    fills = []
    for n, (side, lots, ticks, bp) in enumerate(specs):
        qty = D(lots) * D("0.001")
        price = D(ticks) * D("0.1")
        fills.append(
            Fill(
                client_order_id=f"o-{n}",
                instrument=INST.key,
                side=side,
                quantity=qty,
                price=price,
                fee=qty * price * D(bp) / D(10_000),
                ts_ns=n + 1,
                trade_id=f"t-{n}",
            )
        )
    start = D("10000")
    run = uuid.uuid4().hex
    portfolio = Portfolio({INST.key: INST}, start)
    j = Journal(shared_journal_path, run, durable=False)
    j.start("backtest", "p.toml", 0)  # a new session per example
    j.record_cash("USDT", start, ts_ns=0, reason="start")
    om = OrderManager(portfolio, run, journal=j)
    for f in fills:
        om.records[f.client_order_id] = OrderRecord(
            client_order_id=f.client_order_id,
            instrument=INST.key,
            order=Order(
                client_order_id=f.client_order_id,
                instrument=INST.key,
                side=f.side,
                type=OrderType.MARKET,
                quantity=f.quantity,
            ),
            status=OrderStatus.ACCEPTED,
        )
    for f in fills + [fills[i] for i in resend if i < len(fills)]:  # re-sent fills too
        om.on_fill(f)
    pos = portfolio.position(INST.key)
    qty, realized, fees, lots = _reference(fills)
    assert pos.quantity == qty == sum((f.quantity * f.side.sign for f in fills), D(0))
    assert pos.realized_pnl == realized
    assert pos.fees == fees == sum((f.fee for f in fills), D(0))
    assert list(pos.lots) == lots
    # Conservation, no division: realised minus open cost equals minus the net cash paid.
    assert pos.realized_pnl - pos.cost == -sum(
        (f.quantity * f.side.sign * f.price for f in fills), D(0)
    )
    if qty:
        assert pos.avg_price == pos.cost / qty
    assert portfolio.cash == start + realized - fees
    assert om.fills == fills
    rebuilt = j.positions()[INST.key]
    assert rebuilt == pos  # every field, lots included
    assert j.cash() == portfolio.cash
    assert j.fills() == fills
    j.close()


# -- end to end --------------------------------------------------------------------------------
def test_a_backtest_with_session_preparation_journals_every_order_and_fill(tmp_path, journal_at):
    cfg_path = tmp_path / "demo.toml"
    cfg_path.write_text(journal_at.config_text(demo_config_text(tmp_path)), encoding="utf-8")
    engine = SessionEngine(load_config(cfg_path), run_id="bt1")
    result = anyio.run(engine.run)
    assert result.summary["ticks"] == 9_999
    j = Journal.open_readonly(journal_at("journal"))
    assert j.session_id == "bt1"
    assert j.fills() == list(result.fills)
    assert j.positions() == {
        k: engine.portfolio.position(k) for k in j.positions()
    }  # rebuilt from fills == what the run booked
    assert j.count("orders") == sum(
        1 for e in j.query("SELECT 1 FROM events WHERE type = 'OrderSubmitted'")
    )
    assert j.query("SELECT count(*) FROM order_events WHERE kind = 'submitted'") == [
        (j.count("orders"),)
    ]
    j.close()


@pytest.mark.parametrize("mode", ["backtest", "paper"])
def test_durability_follows_the_mode_unless_set(journal_at, mode):
    j = Journal(journal_at(mode), "r")
    j.start(mode, "c.toml", 0)
    assert j.durable is (mode == "paper")
    j.close()
    forced = Journal(journal_at(f"{mode}_forced"), "r", durable=True)
    forced.start(mode, "c.toml", 0)
    assert forced.durable is True
    forced.close()


def _rec(cid: str, venue: str) -> OrderRecord:
    order = Order(
        client_order_id=cid,
        instrument=INST.key,
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=D("0.010"),
    )
    return OrderRecord(client_order_id=cid, instrument=INST.key, venue=venue, order=order)


def test_group_commit_waits_for_the_step_except_before_a_real_venue_sees_an_order(journal_at):
    j = Journal(journal_at("j"), "r1")
    j.start("paper", "cfg.toml", 0)
    j.group_commit = True
    j.simulated_venues = frozenset({"sim"})
    fill = Fill(
        client_order_id="s-1",
        instrument=INST.key,
        side=Side.BUY,
        quantity=D("0.010"),
        price=D("100"),
        fee=D("0"),
        ts_ns=1,
        trade_id="t1",
    )
    j.record_order(_rec("s-1", "sim"), ts_ns=1, kind="submitted")
    j.record_fill(fill, Position(instrument=INST.key).apply(fill))
    assert j._npending > 0  # both wait for the step's commit
    j.record_order(_rec("x-1", "binance"), ts_ns=2, kind="submitted")
    if journal_at.backend == "duckdb":
        # On disk before it is sent, in the intent log; DuckDB gets it with the step's commit.
        log_path = intent_log.intent_path(Path(j.path))
        assert [r["orders"][0] for r in intent_log.read(log_path)] == ["x-1"]
        assert j._npending > 0
    else:
        assert j._npending == 0 and not j._dirty_orders  # committed before it is sent: all of it
    j.record_fill(attrs.evolve(fill, trade_id="t2"), Position(instrument=INST.key))
    j.commit()  # the engine's end of step
    assert j._npending == 0
    assert j.count("fills") == 2 and j.count("orders") == 2
    if journal_at.backend == "duckdb":
        assert intent_log.read(log_path) == []  # carried into DuckDB: the log is empty
    j.close()


def test_a_paper_run_commits_once_per_step_not_once_per_write(tmp_path, monkeypatch, journal_at):
    """The demo as a paper run at full speed: far fewer durable commits than write-ahead
    writes, and a fill lands in the same commit as the order that caused it."""
    commits: list[dict[str, int]] = []

    def spied(real):
        def spy(self: Journal, *a: Any, **k: Any) -> None:
            if self._npending or self._dirty_orders:
                commits.append({t: len(r) for t, r in self._pending.items() if r})
            real(self, *a, **k)

        return spy

    # A durable write of staged rows: a DuckDB (or PostgreSQL) commit, or on DuckDB an
    # append to the step log.
    monkeypatch.setattr(Journal, "flush", spied(Journal.flush))
    monkeypatch.setattr(Journal, "_log_step", spied(Journal._log_step))
    text = demo_config_text(tmp_path).replace('mode = "backtest"', 'mode = "paper"')
    cfg = tmp_path / "paper.toml"
    cfg.write_text(journal_at.config_text(text))
    from tradewind.trading.engine import Engine

    result = anyio.run(Engine(load_config(cfg)).run)
    writes = sum(c.get("order_events", 0) + c.get("fills", 0) for c in commits)
    assert result.fills and writes > 2 * len(commits)
    assert any(c.get("fills") and c.get("order_events", 0) >= 2 for c in commits)


def _seq_rec(n: int | None, cid: str, status: OrderStatus) -> OrderRecord:
    return attrs.evolve(_rec(cid, "sim"), id_seq=n, status=status)


def test_an_order_state_is_one_row_whether_the_order_is_new_or_written_before(journal_at):
    """The ``orders`` upsert skips its DELETE for an order above the highest id sequence
    written (it has no row yet); every other order state replaces its row, in this run and
    in the next run of the session."""
    path = journal_at("j")
    j = Journal(path, "r1")
    j.start("paper", "cfg.toml", 0)
    j.record_order(_seq_rec(1, "tw-r1-1", OrderStatus.NEW), ts_ns=1, kind="submitted")
    j.flush()
    assert j._id_seq_written == 1
    # The written order moves on; a new one and an adopted one (no id sequence) arrive.
    j.record_order(_seq_rec(1, "tw-r1-1", OrderStatus.ACCEPTED), ts_ns=2, kind="accepted")
    j.record_order(_seq_rec(2, "tw-r1-2", OrderStatus.NEW), ts_ns=2, kind="submitted")
    j.record_order(_seq_rec(None, "adopted-1", OrderStatus.ACCEPTED), ts_ns=2, kind="adopted")
    j.flush()
    j.record_order(_seq_rec(2, "tw-r1-2", OrderStatus.FILLED), ts_ns=3, kind="filled")
    j.record_order(_seq_rec(None, "adopted-1", OrderStatus.CANCELLED), ts_ns=3, kind="cancelled")
    j.flush()
    assert j._id_seq_written == 2
    j.close()

    # The next run of the session reads the highest sequence written from the table.
    k = Journal(path, "r2")
    k.start("paper", "cfg.toml", 0)
    assert k.resumed and k.session_id == "r1"
    k.record_order(_seq_rec(1, "tw-r1-1", OrderStatus.FILLED), ts_ns=4, kind="filled")
    k.record_order(_seq_rec(3, "tw-r1-3", OrderStatus.NEW), ts_ns=4, kind="submitted")
    k.flush()
    assert k._id_seq_written == 3
    rows = k._con.execute(
        "SELECT client_order_id, status FROM orders WHERE session_id = 'r1' "
        "ORDER BY client_order_id"
    ).fetchall()
    k.close()
    assert rows == [
        ("adopted-1", "cancelled"),
        ("tw-r1-1", "filled"),
        ("tw-r1-2", "filled"),
        ("tw-r1-3", "new"),
    ]


def test_positions_are_journaled_with_their_pnl_currency(journal_at):
    """Every position row names the currency its P&L is in, as the host gave it; a resumed
    session that gives an instrument another is refused before anything is journaled."""
    path = journal_at("j")
    j = Journal(path, "r1")
    j.start("paper", "cfg.toml", 0)
    j.set_pnl_currencies({INST.key: "USDT"})
    f = Fill(
        client_order_id="c-1", instrument=INST.key, side=Side.BUY, quantity=D("1"),
        price=D("100"), fee=D("0.1"), ts_ns=1, trade_id="t1",
    )  # fmt: skip
    pos = Position(instrument=INST.key).apply(f)
    j.record_fill(f, pos)
    j.record_position(attrs.evolve(pos, quantity=D("0.5")), ts_ns=2, reason="correction")
    assert j.query("SELECT reason, pnl_currency FROM positions ORDER BY seq") == [
        ("fill", "USDT"),
        ("correction", "USDT"),
    ]
    j.close()
    k = Journal(path, "r2")
    k.start("paper", "cfg.toml", 0)
    assert k.resumed and k.journaled_pnl_currencies() == {INST.key: "USDT"}
    with pytest.raises(ConfigError) as err:
        k.set_pnl_currencies({INST.key: "BTC"})
    assert f"instrument {INST.key}: journaled in USDT, the config now settles it in BTC" in str(
        err.value
    )
    k.set_pnl_currencies({INST.key: "USDT"})  # the same currency resumes
    k.close()


def test_record_derives_and_makes_durable_by_each_events_own_severity(journal_at):
    """``record``: with an order manager writing ahead, an event below a warning and without
    a table of its own is one ``events`` row; a signal, a veto and every warning get their
    own table too; a warning (a veto is one) is made durable at once (appended to the step
    log on DuckDB with group commit, flushed on PostgreSQL), the others wait for the step's
    commit; without write-ahead, the order tables are derived."""
    sig = Signal(
        instrument=INST.key,
        side=Side.BUY,
        entry=D("50000"),
        stop=D("49750"),
        score=1.0,
        ts_ns=10,
        reasons={},
        quantity=D("0.02"),
    )
    order = Order(
        client_order_id="c-1",
        instrument=INST.key,
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=D("0.02"),
    )
    veto = Veto(filter="f", reason="r", signal=sig, ts_ns=11)
    events = [  # (event, a warning, its own tables with write-ahead, without)
        (OrderSubmitted(ts_ns=9, order=order), False, set(), {"order_events"}),
        (SignalEvent(ts_ns=10, signal=sig), False, {"signals"}, {"signals"}),
        (VetoEvent(ts_ns=11, veto=veto), True, {"vetoes"}, {"vetoes"}),
        (SystemError(ts_ns=12, source="x", error="boom"), True, {"system_events"}, None),
        (
            PositionChanged(ts_ns=13, position=Position(instrument=INST.key)),
            False,
            set(),
            {"positions"},
        ),
    ]
    for write_ahead in (True, False):
        j = Journal(journal_at(f"wa{write_ahead}"), "r1")
        j.start("paper", "cfg.toml", 0)
        j.group_commit = True
        j.write_ahead = write_ahead
        # DuckDB: a step log (a warning appended to it at once); PostgreSQL: none (a warning
        # flushed at once with what was staged).
        logs = journal_at.backend == "duckdb"
        assert j.logs_steps is logs
        for event, warning, ahead, derived in events:
            logged = j.steps_logged
            staged = dict(j._pending)
            before = {t: len(rows) for t, rows in staged.items()}
            j.record(event)
            assert j.steps_logged == logged + (1 if warning and logs else 0)
            if warning:  # appended or flushed with what was staged: nothing left staged
                assert not j._npending and not j._pending
                continue
            grew = {t for t, rows in j._pending.items() if len(rows) > before.get(t, 0)}
            own = ahead if write_ahead or derived is None else derived
            assert grew == {"events"} | own
        j.commit()
        assert j.count("events") == len(events)
        assert j.count("system_events") == 1 and j.count("vetoes") == j.count("signals") == 1
        assert j.count("order_events") == (0 if write_ahead else 1)
        j.close()
