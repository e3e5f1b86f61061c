"""Startup reconciliation against a real simulated venue that kept running (live-like) or was
restored from the journal (paper), with orders and fills the host missed while it was down."""

from decimal import Decimal

import anyio
import pytest
from tradewind.config import load_config
from tradewind.errors import ReconciliationError, VenueTimeoutError
from tradewind.journal.store import Journal
from tradewind.model import Order, OrderStatus, OrderType, Side, SystemError
from tradewind.trading.orders import OrderManager
from tradewind.trading.portfolio import Portfolio
from tradewind.trading.reconcile import reconcile, restore_simulated
from tradewind.venues.sim import SimulatedVenue, SimVenueConfig

from tests.crash_runner import SessionEngine, StopAfterPrepare
from tests.faulty_venue import INST, FaultyVenue, Stack, settings
from tests.test_engine import demo_config_text

D = Decimal


class Host:
    """A restarted host: a new journal object on the same file, portfolio and order manager."""

    def __init__(self, path, *, mode="live", run_id="run2", cash="10000"):
        self.journal = Journal(path, run_id)
        self.journal.start(mode, "paper.toml" if mode == "paper" else "live.toml", 0)
        self.portfolio = Portfolio({INST.key: INST}, D(cash))
        self.orders = OrderManager(self.portfolio, run_id)

    def reconcile(self, venue, **kw):
        kw.setdefault("cash_asset", "USDT")
        return anyio.run(
            lambda: reconcile(
                venue, self.journal, [INST], self.portfolio, orders=self.orders, ts_ns=99, **kw
            )
        )


def manual_limit_buy(cid, price, instrument=INST.key):
    """A LIMIT buy of 0.010 placed by hand (the host never sent it)."""
    return Order(
        client_order_id=cid,
        instrument=instrument,
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=D("0.010"),
        price=D(price),
    )


def engine_on_a_faulty_venue(cfg_path, run_id):
    """The engine of ``cfg_path`` (prepare_session before its first batch) with its simulated
    execution venue behind a :class:`FaultyVenue`."""
    engine = SessionEngine(load_config(cfg_path), run_id=run_id)
    faulty = FaultyVenue(engine.venues["sim"])
    engine.venues["sim"] = faulty
    for st in engine.state.values():
        st.exec_venue = faulty
    faulty.set_sink(engine.orders)
    return engine, faulty


def live_stack(tmp_path, **kw):
    return Stack(tmp_path / "j.duckdb", mode="live", config_path="live.toml", **kw)


def kinds(report):
    return [(d.kind, d.action) for d in report.discrepancies]


def test_a_clean_paper_restart_restores_the_venue_and_finds_nothing_to_fix(tmp_path):
    s = Stack(tmp_path / "j.duckdb")
    s.journal.record_cash("USDT", D("10000"), ts_ns=0, reason="start")
    s.submit(s.order(qty="0.030"))
    s.trades([(1, 50_000.0, 1.0)])
    resting = s.order(side=Side.SELL, qty="0.020", type_=OrderType.LIMIT, price="50100.0")
    s.submit(resting, at_ms=2)
    s.trades([(3, 50_100.1, 0.005)])  # trades through: 0.005 of 0.020 filled
    before = s.portfolio.position(INST.key)
    cash = s.portfolio.cash
    s.journal.close()  # killed: no finish

    host = Host(tmp_path / "j.duckdb", mode="paper")
    assert host.journal.resumed
    sim2 = SimulatedVenue(SimVenueConfig(latency_ms=0), instruments=[INST])
    assert restore_simulated(host.journal, {"sim": (sim2, [INST])}) == 1
    report = host.reconcile(sim2)
    assert report.ok, report.describe()
    host.orders.restore(host.journal)
    sim2.set_sink(host.orders)
    assert host.portfolio.position(INST.key) == before == anyio.run(sim2.fetch_positions)[0]
    assert host.portfolio.cash == cash == anyio.run(sim2.fetch_balances)["USDT"]
    assert [o.client_order_id for o in host.portfolio.open_orders()] == [resting.client_order_id]
    rec = host.orders.records[resting.client_order_id]
    assert rec.status is OrderStatus.PARTIALLY_FILLED and rec.filled_quantity == D("0.005")
    # The restored order keeps filling; new trade ids never collide with journaled ones.
    sim2.on_trades(_tape([(10, 50_100.2, 1.0)]))
    assert host.orders.records[resting.client_order_id].status is OrderStatus.FILLED
    assert host.orders.duplicate_fills == 0
    assert host.portfolio.position(INST.key).quantity == D("0.010")
    assert host.journal.positions()[INST.key] == host.portfolio.position(INST.key)
    host.journal.close()


def _tape(rows):
    from tradewind.model import TickBatch

    from tests.faulty_venue import MS

    return TickBatch.from_arrays(
        INST.key,
        [r[0] * MS for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [1] * len(rows),
    )


def test_an_order_filled_while_the_host_was_down_is_recorded_with_its_fills(tmp_path):
    s = live_stack(tmp_path)
    order = s.order(qty="0.020")
    s.submit(order)
    s.venue.disconnect()  # the host dies; the venue goes on
    s.journal.close()
    s.trades([(1, 50_000.0, 0.012), (2, 50_010.0, 1.0)])
    assert len(s.venue.made) == 2

    s.venue.reconnect(resend=False)
    host = Host(tmp_path / "j.duckdb")
    report = host.reconcile(s.venue)
    assert ("order_closed_at_venue", "recorded") in kinds(report)
    assert report.fills_recovered == 2
    assert "position" not in [k for k, _ in kinds(report)]  # the fills explain it
    assert host.journal.order(order.client_order_id).status is OrderStatus.FILLED
    assert host.journal.fills() == s.venue.made
    venue_pos = anyio.run(s.venue.fetch_positions)[0]
    assert host.journal.positions()[INST.key] == venue_pos
    assert host.portfolio.position(INST.key) == venue_pos
    # The venue re-sends the same fills after the reconnect: booked once.
    host.orders.restore(host.journal)
    s.venue.set_sink(host.orders)
    s.venue.reconnect(resend=True)
    assert host.orders.duplicate_fills == 2 and host.journal.count("fills") == 2
    host.journal.close()


def test_without_fills_from_the_venue_the_position_is_corrected(tmp_path):
    s = live_stack(tmp_path)
    s.journal.record_cash("USDT", D("10000"), ts_ns=0, reason="start")
    s.submit(s.order(qty="0.020"))
    s.venue.disconnect()
    s.journal.close()
    s.trades([(1, 50_000.0, 1.0)])
    s.venue.reconnect(resend=False)
    s.venue.capabilities = s.venue.capabilities - {"fills:history"}  # cannot list fills

    host = Host(tmp_path / "j.duckdb")
    report = host.reconcile(s.venue)
    assert kinds(report) == [
        ("order_closed_at_venue", "recorded"),
        ("position", "corrected"),
        ("balance", "corrected"),
    ]
    pos = host.journal.positions()[INST.key]
    assert pos.quantity == D("0.020") and pos.avg_price == D("50000.0")
    assert host.portfolio.position(INST.key) == pos
    assert host.portfolio.cash == anyio.run(s.venue.fetch_balances)["USDT"]
    assert host.journal.query("SELECT reason FROM positions WHERE reason <> 'fill'") == [
        ("correction",)
    ]
    host.journal.close()


def test_an_order_the_venue_never_saw_is_closed_as_rejected(tmp_path):
    s = live_stack(tmp_path, order_settings=settings(attempts=2))
    s.venue.fail("submit_order", "timeout_before")  # lost on the way; the host then stops
    order = s.order()
    with pytest.raises(VenueTimeoutError, match="outcome unknown"):
        s.submit(order)
    assert [r.client_order_id for r in s.journal.open_orders()] == [order.client_order_id]
    s.journal.close()

    host = Host(tmp_path / "j.duckdb")
    report = host.reconcile(s.venue)
    assert kinds(report) == [("order_not_at_venue", "recorded")]
    rec = host.journal.order(order.client_order_id)
    assert rec.status is OrderStatus.REJECTED and "never reached" in rec.reason
    assert host.journal.open_orders() == []
    host.journal.close()


@pytest.mark.parametrize("policy", ["adopt", "cancel"])
def test_an_order_unknown_to_the_journal_is_adopted_or_cancelled(tmp_path, policy):
    s = live_stack(tmp_path)
    s.journal.close()
    s.venue.set_sink(None)  # the host is gone
    anyio.run(s.venue.behind_our_back, manual_limit_buy("manual-7", "49000.0"))

    host = Host(tmp_path / "j.duckdb")
    report = host.reconcile(s.venue, unknown_orders=policy)
    action = "adopted" if policy == "adopt" else "cancelled"
    assert kinds(report) == [("order_unknown_to_journal", action)]
    rec = host.journal.order("manual-7")
    venue_open = [r.client_order_id for r in anyio.run(s.venue.fetch_open_orders)]
    if policy == "adopt":
        assert rec.origin == "adopted" and rec.status is OrderStatus.ACCEPTED
        assert venue_open == ["manual-7"]
        host.orders.restore(host.journal)
        s.venue.set_sink(host.orders)
        s.trades([(5, 48_999.0, 1.0)])  # its fill is tracked, not "unknown"
        assert host.orders.records["manual-7"].status is OrderStatus.FILLED
        assert [e for e in host.orders.take_events() if isinstance(e, SystemError)] == []
        assert host.portfolio.position(INST.key).quantity == D("0.010")
    else:
        assert rec.origin == "foreign" and rec.status is OrderStatus.CANCELLED
        at_venue = anyio.run(s.venue.fetch_order, INST.key, "manual-7")
        assert at_venue.status is OrderStatus.CANCELLED
    host.journal.close()


def test_a_position_opened_behind_the_hosts_back_is_adopted(tmp_path):
    s = live_stack(tmp_path)
    s.journal.record_cash("USDT", D("10000"), ts_ns=0, reason="start")
    s.submit(s.order(qty="0.010"))
    s.trades([(1, 50_000.0, 1.0)])
    realized_fees = s.portfolio.position(INST.key).fees
    s.journal.close()
    s.venue.set_sink(None)  # nobody listens any more
    manual = Order(
        client_order_id="manual-1",
        instrument=INST.key,
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=D("0.005"),
    )
    anyio.run(s.venue.behind_our_back, manual)
    s.trades([(2, 50_300.0, 1.0)])

    host = Host(tmp_path / "j.duckdb")
    report = host.reconcile(s.venue)
    assert kinds(report) == [("position", "corrected"), ("balance", "corrected")]
    venue_pos = anyio.run(s.venue.fetch_positions)[0]
    fixed = host.journal.positions()[INST.key]
    assert (fixed.quantity, fixed.avg_price, fixed.lots) == (
        venue_pos.quantity,
        venue_pos.avg_price,
        venue_pos.lots,
    )
    assert fixed.fees == realized_fees  # history this host booked is kept
    assert host.portfolio.cash == anyio.run(s.venue.fetch_balances)["USDT"]
    assert host.journal.cash() == host.portfolio.cash
    # A second start finds nothing more to fix.
    host.journal.close()
    again = Host(tmp_path / "j.duckdb", run_id="run3")
    assert again.reconcile(s.venue).ok
    again.journal.close()


def test_a_venue_that_cannot_be_asked_stops_the_host_and_says_why(tmp_path):
    s = live_stack(tmp_path)
    s.journal.close()
    s.venue.fail("fetch_positions", "unavailable")
    host = Host(tmp_path / "j.duckdb")
    with pytest.raises(ReconciliationError) as err:
        host.reconcile(s.venue)
    msg = str(err.value)
    assert "reconciliation with venue 'sim' failed: fetch_positions() failed" in msg
    assert "will not trade" in msg
    assert host.journal.query("SELECT type, source FROM system_events") == [
        ("ReconciliationFailed", "sim")
    ]
    host.journal.close()


def test_a_hanging_venue_times_out_as_a_reconciliation_error(tmp_path):
    s = live_stack(tmp_path)
    s.journal.close()
    s.venue.fail("fetch_open_orders", "hang_after")
    host = Host(tmp_path / "j.duckdb")
    with pytest.raises(ReconciliationError, match="TimeoutError"):
        host.reconcile(s.venue, timeout_s=0.05)
    host.journal.close()


def _flatten(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [x for e in exc.exceptions for x in _flatten(e)]
    return [exc]


def test_the_engine_refuses_to_trade_when_reconciliation_fails(tmp_path):
    cfg_path = tmp_path / "demo.toml"
    cfg_path.write_text(demo_config_text(tmp_path), encoding="utf-8")
    engine, faulty = engine_on_a_faulty_venue(cfg_path, "refused")
    faulty.disconnect()
    with pytest.raises(BaseException) as err:
        anyio.run(engine.run)
    (cause,) = _flatten(err.value)
    assert isinstance(cause, ReconciliationError) and "will not trade" in str(cause)
    j = Journal.open_readonly(tmp_path / "journal.duckdb")
    assert j.count("orders") == 0 and j.count("fills") == 0
    assert [r[0] for r in j.query("SELECT type FROM system_events")] == ["ReconciliationFailed"]
    j.close()


def test_unknown_orders_and_positions_are_refused_by_the_run_config_default(tmp_path):
    from tradewind.config import RunSection

    run = RunSection()
    assert (run.unknown_orders, run.unknown_positions) == ("refuse", "refuse")
    assert RunSection(unknown_orders="cancel").unknown_orders == "cancel"
    with pytest.raises(ValueError, match=r"unknown_positions must be .* @ \$.run"):
        RunSection(unknown_positions="cancel")

    s = live_stack(tmp_path)
    s.journal.close()
    s.venue.set_sink(None)  # the host is gone; someone trades on the account
    anyio.run(
        s.venue.behind_our_back,
        Order(
            client_order_id="manual-9",
            instrument=INST.key,
            side=Side.BUY,
            type=OrderType.MARKET,
            quantity=D("0.004"),
        ),
    )
    s.trades([(2, 50_300.0, 1.0)])
    host = Host(tmp_path / "j.duckdb")
    with pytest.raises(ReconciliationError) as err:
        host.reconcile(s.venue, unknown_positions="refuse")
    msg = str(err.value)
    assert "position sim:BTCUSDT of 0.004" in msg and "unknown to the journal" in msg
    assert 'unknown_positions = "adopt"' in msg and "does not start" in msg
    assert "\n" not in msg
    assert host.journal.positions().get(INST.key) is None  # nothing taken over
    host.journal.close()

    anyio.run(s.venue.behind_our_back, manual_limit_buy("manual-10", "40000.0"))
    again = Host(tmp_path / "j.duckdb", run_id="run3")
    with pytest.raises(ReconciliationError, match=r"order manual-10 .* unknown to the journal"):
        again.reconcile(s.venue, unknown_orders="refuse", unknown_positions="adopt")
    again.journal.close()


def test_the_engine_settles_the_cancel_of_an_unknown_order_at_start(tmp_path):
    """``[run] unknown_orders = "cancel"``: the start's cancel of an order the journal does
    not know is the order manager's settled cancel. Its first attempt is lost on the way
    (the venue never saw it), the lookup finds the order still open, the second cancels it,
    and the host starts (one bare call refused the start)."""
    cfg_path = tmp_path / "demo.toml"
    text = demo_config_text(tmp_path).replace("[run]\n", '[run]\nunknown_orders = "cancel"\n', 1)
    cfg_path.write_text(text, encoding="utf-8")
    engine, faulty = engine_on_a_faulty_venue(cfg_path, "cancels")
    engine.stop_after_prepare = True
    (inst,) = [st.instrument for st in engine.state.values()]
    manual = manual_limit_buy("manual-11", "1000.0", inst.key)
    assert anyio.run(faulty.behind_our_back, manual).status is OrderStatus.ACCEPTED
    faulty.fail("cancel_order", "timeout_before")
    with pytest.raises(BaseException) as stopped:
        anyio.run(engine.run)
    assert [type(e) for e in _flatten(stopped.value)] == [StopAfterPrepare]
    assert faulty.calls["cancel_order"] == 2 and faulty.calls["fetch_order"] == 1
    assert anyio.run(faulty.fetch_open_orders) == []
    j = Journal.open_readonly(tmp_path / "journal.duckdb")
    rec = j.order("manual-11")
    assert rec.origin == "foreign" and rec.status is OrderStatus.CANCELLED
    assert [r[0] for r in j.query("SELECT type FROM system_events")] == [
        "ReconciliationDiscrepancy"
    ]  # no ReconciliationFailed
    j.close()
