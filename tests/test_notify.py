"""Routing, templates, digests, daily summaries, the outbox and the notifier host."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import anyio
import attrs
import duckdb
import pytest
from tradewind.clock import SimClock
from tradewind.config import load_config
from tradewind.errors import ConfigError
from tradewind.model import (
    CircuitBreaker,
    Fill,
    FillEvent,
    OrderFailed,
    Position,
    PositionClosed,
    Severity,
    Side,
    SystemError,
)
from tradewind.notify import Message, NotifierHost, NotifierOptions, Outbox, Router, Templates
from tradewind.notify.events import WatchlistExpiring
from tradewind.trading.engine import Engine

from tests.test_engine import demo_config_text

T0 = 1_700_000_000_000_000_000
S = 1_000_000_000


def fill(i: int = 0, ts: int = T0, pnl: str = "0") -> FillEvent:
    f = Fill(
        client_order_id=f"c-{i}",
        instrument="sim:BTCUSDT",
        side=Side.BUY,
        quantity=Decimal("0.01"),
        price=Decimal("50000"),
        fee=Decimal("0.2"),
        ts_ns=ts,
    )
    return FillEvent(ts_ns=ts, fill=f, realized_pnl=Decimal(pnl))


def test_a_fill_renders_as_a_readable_trade_message():
    (msg,) = Router("n", NotifierOptions()).route(fill(pnl="-3.5"), T0)
    assert msg.kind == "trade" and msg.severity == Severity.INFO
    assert msg.title == "buy 0.01 sim:BTCUSDT @ 50000"
    assert msg.text == (
        "Trade executed: buy 0.01 sim:BTCUSDT at 50000\n"
        "P&L (realised by this fill): -3.5\nFee: 0.2\nOrder: c-0"
    )
    assert dict(msg.fields) == {
        "instrument": "sim:BTCUSDT",
        "side": "buy",
        "price": "50000",
        "quantity": "0.01",
        "fee": "0.2",
        "pnl": "-3.5",
        "currency": "",
        "fee_currency": "",
        "order_id": "c-0",
    }
    assert Message.from_json(msg.to_json()) == msg


def test_money_in_a_message_names_its_currency():
    f = fill(pnl="-3.5")
    usdt = FillEvent(ts_ns=T0, fill=f.fill, realized_pnl=Decimal("-3.5"), pnl_currency="USDT")
    (msg,) = Router("n", NotifierOptions()).route(usdt, T0)
    assert "P&L (realised by this fill): -3.5 USDT\nFee: 0.2 USDT\n" in msg.text
    assert (msg.fields["pnl"], msg.fields["currency"]) == ("-3.5", "USDT")
    # a fee charged in a third currency is named as charged, not as the P&L's
    bnb = attrs.evolve(f.fill, fee=Decimal("0.0004"), fee_currency="BNB", fee_asset="other")
    (msg,) = Router("n", NotifierOptions()).route(
        FillEvent(ts_ns=T0, fill=bnb, realized_pnl=Decimal(0), pnl_currency="USDT"), T0
    )
    assert "Fee: 0.0004 BNB\n" in msg.text
    closed = PositionClosed(
        ts_ns=T0,
        position=Position(
            instrument="sim:BTCUSDT", realized_pnl=Decimal("12.5"), fees=Decimal("0.4")
        ),
        reason="trailing",
        pnl_currency="USDC",
    )
    (msg,) = Router("n", NotifierOptions()).route(closed, T0)
    assert msg.title == "Closed sim:BTCUSDT: P&L 12.5 USDC"
    assert "Realised P&L: 12.5 USDC\nFees: 0.4 USDC\n" in msg.text


def test_the_seeds_event_types_each_have_a_template():
    router = Router("n", NotifierOptions(min_severity="debug"))
    breaker = CircuitBreaker(ts_ns=T0, name="kill_switch", tripped=True, reason="loss 10.2%")
    error = SystemError(ts_ns=T0, source="venue:binance", error="timeout")
    expiring = WatchlistExpiring(
        ts_ns=T0,
        instrument="dex:PEPE/WETH",
        expires_ts_ns=T0 + 3600 * S,
        reason="liquidity below 50k",
    )
    titles = [m.title for e in (breaker, error, expiring) for m in router.route(e, T0)]
    assert titles == [
        "Risk: kill_switch on portfolio",
        "Error in venue:binance",
        "Watchlist: dex:PEPE/WETH expiring",
    ]
    (w,) = router.route(expiring, T0)
    assert (
        w.text == "dex:PEPE/WETH leaves the watchlist at 2023-11-14 23:13:20 UTC. "
        "liquidity below 50k"
    )


def test_min_severity_and_the_event_filter_choose_what_is_sent():
    router = Router("n", NotifierOptions(min_severity="warning"))
    assert router.route(fill(), T0) == []
    assert [
        m.kind
        for m in router.route(OrderFailed(ts_ns=T0, client_order_id="c", reason="rejected"), T0)
    ] == ["error"]
    only_trades = Router("n", NotifierOptions(events=["trade"]))
    assert only_trades.route(SystemError(ts_ns=T0, source="x", error="y"), T0) == []
    assert [m.kind for m in only_trades.route(fill(), T0)] == ["trade"]
    with pytest.raises(ValueError, match=r"unknown event kind.*fills"):
        NotifierOptions(events=["fills"])
    with pytest.raises(ValueError, match="min_severity must be one of"):
        NotifierOptions(min_severity="loud")


def test_info_events_within_the_window_become_one_digest_and_critical_bypasses_it():
    router = Router("n", NotifierOptions(digest_window_s=60))
    out = []
    for i in range(4):
        out += router.route(fill(i, T0 + i * 10 * S), T0 + i * 10 * S)
    assert out == [] and router.pending_digest() == 4
    crit = router.route(
        CircuitBreaker(ts_ns=T0 + 35 * S, name="drawdown", tripped=True, reason="5%"), T0 + 35 * S
    )
    assert [m.kind for m in crit] == ["risk"]  # at once, the digest still waiting
    assert router.due(T0 + 59 * S) == []
    (digest,) = router.due(T0 + 60 * S)  # the window is engine time from the first event
    assert digest.kind == "digest" and digest.title == "4 notifications"
    assert digest.text.count("• buy 0.01 sim:BTCUSDT @ 50000") == 4
    assert router.due(T0 + 200 * S) == [] and router.pending_digest() == 0


def test_the_daily_summary_is_sent_once_a_day_at_the_configured_utc_time():
    calls = []

    def figures(day_start, now):
        calls.append((day_start, now))
        return {
            "pnl": "12.50",
            "trades": "3",
            "fees": "1.20",
            "open_positions": "sim:BTCUSDT 0.01",
            "drawdown": "0.40%",
        }

    day = 86_400 * S
    d0 = (T0 // day) * day  # 2023-11-14 00:00 UTC
    router = Router("n", NotifierOptions(daily_summary_at="21:00"), summary_source=figures)
    assert router.due(d0 + 20 * 3600 * S, from_event=True) == []  # the first event
    (msg,) = router.due(d0 + 21 * 3600 * S + 5 * S)
    assert router.due(d0 + 23 * 3600 * S) == []  # once a day
    assert msg.title == "Daily summary 2023-11-14"
    assert msg.text == (
        "Daily summary for 2023-11-14 (UTC)\nP&L: 12.50\nTrades: 3\nFees: 1.20\n"
        "Open positions: sim:BTCUSDT 0.01\nDrawdown: 0.40%"
    )
    (nxt,) = router.due(d0 + day + 21 * 3600 * S)
    assert nxt.title == "Daily summary 2023-11-15" and calls[0] == (d0, d0 + 21 * 3600 * S + 5 * S)
    with pytest.raises(ValueError, match="daily_summary_at must be HH:MM"):
        NotifierOptions(daily_summary_at="9pm")


def test_templates_can_be_overridden_and_mistakes_name_the_key():
    t = Templates(
        {
            "trade": "{side} {quantity} {instrument} @ {price} (P&L {pnl})",
            "trade.title": "Fill on {instrument}",
        },
        where="$.notifiers.tg",
    )
    title, text = t.render(
        "trade", {"side": "buy", "quantity": "1", "instrument": "X", "price": "2", "pnl": "3"}
    )
    assert (title, text) == ("Fill on X", "buy 1 X @ 2 (P&L 3)")
    with pytest.raises(ConfigError, match=r"unknown template 'fil' @ \$\.notifiers\.tg\.templates"):
        Templates({"fil": "x"}, where="$.notifiers.tg")
    with pytest.raises(ConfigError, match=r"unknown field\(s\) profit @ \$\.notifiers\.tg"):
        Templates({"trade": "{profit}"}, where="$.notifiers.tg")


class Collect:
    """An outbox notifier delivering into a list."""

    name = "collect"
    config_class = NotifierOptions
    capabilities = frozenset({"text", "outbox"})

    def __init__(self, config=None, fail_first: int = 0):
        self.config = config or NotifierOptions(retry_initial_s=0.01)
        self.got: list[Message] = []
        self.fail_first = fail_first

    def rate_limit(self):
        from tradewind.notify import RateLimit

        return RateLimit(0)

    async def start(self): ...
    async def run(self): ...
    async def close(self): ...
    async def notify(self, event): ...

    async def deliver(self, message):
        if self.fail_first:
            self.fail_first -= 1
            raise ConnectionError("channel down")
        self.got.append(message)


def test_a_full_queue_never_blocks_and_loses_nothing():
    outbox = Outbox(duckdb.connect(":memory:"))
    slow = Collect(NotifierOptions(queue_size=2, retry_initial_s=0.01), fail_first=3)

    async def go():
        async with NotifierHost({"c": slow}, clock=SimClock(T0), outbox=outbox) as host:
            for i in range(50):  # far beyond the queue of 2: routed without waiting
                host.channels["c"].on_event(fill(i, T0 + i))
            assert await host.wait_idle(10)

    anyio.run(go)
    assert [m.fields["order_id"] for m in slow.got] == [f"c-{i}" for i in range(50)]
    assert [r[3] for r in outbox.rows()] == ["sent"] * 50


def test_running_out_of_attempts_journals_undelivered_with_the_reason():
    outbox = Outbox(duckdb.connect(":memory:"))
    dead = Collect(NotifierOptions(max_attempts=3, retry_initial_s=0.01), fail_first=99)

    async def go():
        async with NotifierHost({"c": dead}, clock=SimClock(T0), outbox=outbox) as host:
            host.channels["c"].on_event(fill())
            assert await host.wait_idle(10)

    anyio.run(go)
    ((_id, _n, _k, status, attempts, reason),) = outbox.rows()
    assert (status, attempts) == ("undelivered", 3)
    assert reason == "gave up after 3 attempts: ConnectionError: channel down"


BLOCKING_SRC = """
import anyio
import attrs
from tradewind import hookimpl
from tradewind.notify import NotifierOptions, OutboxNotifier

GOT = []


@attrs.frozen(kw_only=True)
class Cfg(NotifierOptions):
    block_s: float = 0.0


class Blocking(OutboxNotifier):
    name = "blocking"
    config_class = Cfg

    async def deliver(self, message):
        await anyio.sleep(self.config.block_s)  # a channel that takes block_s to answer
        GOT.append(message)


@hookimpl
def tradewind_register_notifiers(registry):
    registry.add(Blocking)
"""


def test_a_notifier_blocking_10_s_delays_neither_decisions_nor_another_notifier(
    tmp_path: Path, fake_dists
):
    fake_dists.add(
        "tradewind-notifier-blocking",
        "1.0",
        {"tradewind.notifiers": {"blocking": "tw_blocking"}},
        {"tw_blocking": BLOCKING_SRC},
    )
    base = demo_config_text(tmp_path)
    p = tmp_path / "notify.toml"
    p.write_text(
        base
        + """
[notifiers.stuck]
plugin = "blocking"
block_s = 10.0
events = ["trade"]
close_timeout_s = 0.2

[notifiers.fine]
plugin = "blocking"
events = ["trade"]
"""
    )
    engine = Engine(load_config(p), run_id="blocked")
    result = anyio.run(engine.run)
    got = sys.modules["tw_blocking"].GOT
    sys.modules.pop("tw_blocking")
    # Every decision point was processed and the same trade was taken as without notifiers.
    assert result.summary["decisions"] == 125 and engine.entries_sent == 1
    # The other notifier got every fill while the stuck one was still waiting on its first.
    assert [m.notifier for m in got] == ["fine"] * len(result.fills)
    con = duckdb.connect(str(tmp_path / "journal.duckdb"))
    rows = con.execute(
        "SELECT notifier, status, count(*) FROM outbox GROUP BY ALL ORDER BY notifier"
    ).fetchall()
    n = len(result.fills)
    # What the stuck channel could not send stays pending for the next run.
    assert rows == [("fine", "sent", n), ("stuck", "pending", n)]


def test_a_run_sends_its_daily_summary_at_the_configured_utc_time(tmp_path: Path, fake_dists):
    fake_dists.add(
        "tradewind-notifier-blocking",
        "1.0",
        {"tradewind.notifiers": {"blocking": "tw_blocking"}},
        {"tw_blocking": BLOCKING_SRC},
    )
    p = tmp_path / "summary.toml"
    # The sample runs 2020-02-22 00:00–02:05 UTC; its first bus event after the start is the
    # 01:35 signal (the summary's clock starts there), and the 01:50 summary falls before the
    # run's end at 02:05.
    p.write_text(
        demo_config_text(tmp_path)
        + '\n[notifiers.daily]\nplugin = "blocking"\nevents = ["run"]\n'
        + 'daily_summary_at = "01:50"\n'
    )
    engine = Engine(load_config(p), run_id="daily")
    anyio.run(engine.run)
    got = sys.modules["tw_blocking"].GOT
    sys.modules.pop("tw_blocking")
    summaries = [m for m in got if m.kind == "daily_summary"]
    assert [m.kind for m in got] == ["run", "daily_summary", "run"]
    (s,) = summaries
    assert s.title == "Daily summary 2020-02-22"
    assert s.ts_ns >= 1_582_336_200_000_000_000  # 01:50 UTC, engine time
    assert set(s.fields) == {"date", "pnl", "trades", "fees", "open_positions", "drawdown"}
    assert s.fields["open_positions"] in ("none", "sim:BTCUSDT -1.032")


def test_a_notifier_without_the_outbox_gets_events_in_order_and_its_overflow_is_counted():
    # A notifier without the outbox is an ordinary bus subscriber: past its queue (and the
    # channel's), events are dropped for it alone and counted (docs/architecture.md, the
    # bus); the publisher never waits for it. Notifiers that must not lose a message use
    # the outbox.
    from tradewind.bus import EventBus

    class Plain:
        name = "plain"
        capabilities = frozenset({"text"})

        def __init__(self):
            self.config = NotifierOptions()
            self.got: list[int] = []

        async def start(self): ...
        async def close(self): ...

        async def notify(self, event):
            await anyio.sleep(0)
            self.got.append(event.ts_ns)

    plain = Plain()

    dropped: dict[str, int] = {}

    async def go():
        host = NotifierHost({"plain": plain}, clock=SimClock(T0))
        async with EventBus(capacity=8) as bus:
            host.subscribe(bus)
            async with host:
                for i in range(3000):  # far beyond both queues
                    await bus.publish(fill(i, T0 + i))
                await bus.close()
                assert await host.wait_idle(10)
            dropped.update(bus.dropped)

    anyio.run(go)
    assert plain.got == sorted(plain.got) and len(set(plain.got)) == len(plain.got)  # in order
    assert len(plain.got) + dropped.get("notifier:plain", 0) == 3000  # every event accounted


def test_a_bad_template_is_refused_when_the_config_is_read(tmp_path: Path, fake_dists):
    fake_dists.add(
        "tradewind-notifier-blocking",
        "1.0",
        {"tradewind.notifiers": {"blocking": "tw_blocking"}},
        {"tw_blocking": BLOCKING_SRC},
    )
    p = tmp_path / "bad.toml"
    p.write_text(
        demo_config_text(tmp_path)
        + '\n[notifiers.ops]\nplugin = "blocking"\n[notifiers.ops.templates]\ntrade = "{profit}"\n'
    )
    try:
        with pytest.raises(ConfigError) as err:
            load_config(p)
    finally:
        sys.modules.pop("tw_blocking", None)
    # One line naming the plugin and its config table (tradewind.config_check.building).
    assert str(err.value) == (
        "notifier 'blocking' ([notifiers.ops] in bad.toml): "
        "template 'trade' uses unknown field(s) profit; fields of 'trade': currency, fee, "
        "fee_currency, instrument, order_id, pnl, price, quantity, side @ $.notifiers.ops"
    )


def test_only_an_outbox_channel_has_messages_that_come_due_on_the_clock():
    # The backtest scheduler's walk calls NotifierHost.tick at every close (and feeds the
    # simulated venue close by close for it) only when the host is ``timed``: an event
    # channel routes nothing on a timer, so a host of event channels alone is not.
    class Plain:
        name = "plain"
        capabilities = frozenset({"text"})

        def __init__(self):
            self.config = NotifierOptions()

        async def start(self): ...
        async def close(self): ...
        async def notify(self, event): ...

    outbox = Outbox(duckdb.connect(":memory:"))
    plain_only = NotifierHost({"p": Plain(), "q": Plain()}, clock=SimClock(T0))
    assert not plain_only.timed
    plain_only.tick()  # and ticking it routes nothing, whatever the clock says
    assert all(ch.outstanding == 0 for ch in plain_only.channels.values())
    assert NotifierHost({"c": Collect()}, clock=SimClock(T0), outbox=outbox).timed
    mixed = NotifierHost({"p": Plain(), "c": Collect()}, clock=SimClock(T0), outbox=outbox)
    assert mixed.timed


def test_a_notifier_without_the_outbox_is_handed_only_events_at_its_severity_by_the_bus():
    """The bus filters by class (``EventChannel.accepts``) what the channel refused per event:
    the notifier gets exactly the events at or above its ``min_severity``, in order; events of
    classes below it are not queued for it at all; a class whose severity is a field or a
    property of each event is handed over and decided per event, as before."""
    import random

    from tradewind.builtins.log_notifier import LogNotifier, LogNotifierConfig
    from tradewind.bus import EventBus
    from tradewind.model import Event, OrderUpdated, PositionChanged
    from tradewind.model.orders import OrderReport, OrderStatus
    from tradewind.notify.host import EventChannel

    @attrs.frozen(kw_only=True)
    class Graded(Event):  # severity per event, as a field
        severity: Severity = Severity.DEBUG  # type: ignore[assignment]

    @attrs.frozen(kw_only=True)
    class Computed(Event):  # severity per event, as a property
        level: int

        @property
        def severity(self) -> Severity:  # type: ignore[override]
            return Severity(self.level)

    @attrs.frozen(kw_only=True, slots=False)
    class Loose(Event):  # events with a __dict__: a severity could be set on one
        severity = Severity.DEBUG

    class Seen(LogNotifier):
        def __init__(self, config: LogNotifierConfig) -> None:
            super().__init__(config)
            self.got: list[tuple[str, int]] = []

        async def notify(self, event: Event) -> None:
            if event.severity >= self.min_severity:
                self.got.append((type(event).__name__, event.ts_ns))
            await super().notify(event)

    def make(rng: random.Random, i: int) -> Event:
        k = rng.randrange(7)
        if k == 0:
            return fill(i, T0 + i)
        if k == 1:
            return PositionChanged(
                ts_ns=T0 + i, position=Position(instrument="sim:BTCUSDT", quantity=Decimal(1))
            )
        if k == 2:
            report = OrderReport(
                client_order_id=f"c{i}",
                instrument="sim:BTCUSDT",
                status=OrderStatus.ACCEPTED,
                ts_ns=T0 + i,
            )
            return OrderUpdated(ts_ns=T0 + i, report=report)
        if k == 3:
            return SystemError(ts_ns=T0 + i, source="x", error="y")
        if k == 4:
            return OrderFailed(ts_ns=T0 + i, client_order_id=f"c{i}", reason="r")
        if k == 5:
            return Graded(ts_ns=T0 + i, severity=rng.choice(list(Severity)))
        return Computed(ts_ns=T0 + i, level=int(rng.choice(list(Severity))))

    for level in ("debug", "info", "warning", "critical"):
        rng = random.Random(level)
        events = [make(rng, i) for i in range(400)]
        notifier = Seen(LogNotifierConfig(min_severity=level))
        threshold = Severity[level.upper()]
        subs = []

        async def go(
            notifier: Seen = notifier, events: list[Event] = events, subs: list = subs
        ) -> None:
            host = NotifierHost({"log": notifier}, clock=SimClock(T0))
            async with EventBus(capacity=16) as bus:
                host.subscribe(bus)
                subs.extend(bus.subscriptions)
                async with host:
                    for at in range(0, len(events), 9):
                        await bus.publish_many(events[at : at + 9])
                        await bus.publish(events[at])
                    await bus.close()
                    assert await host.wait_idle(10)

        anyio.run(go)
        expected: list[tuple[str, int]] = []
        for at in range(0, len(events), 9):
            for e in [*events[at : at + 9], events[at]]:
                if e.severity >= threshold:
                    expected.append((type(e).__name__, e.ts_ns))
        assert notifier.got == expected and len(expected) > 50
        (sub,) = subs
        assert sub.dropped == 0
        handed = {cls.__name__: taken for cls, taken in sub.taken.items()}
        assert handed["Graded"] and handed["Computed"]  # decided per event
        assert handed["PositionChanged"] is (threshold <= Severity.DEBUG)
        assert handed["FillEvent"] is (threshold <= Severity.INFO)
        assert handed["SystemError"] and handed["OrderFailed"]
        channel = EventChannel("log", notifier)
        assert channel.accepts(PositionChanged) is (threshold <= Severity.DEBUG)
        assert channel.accepts(Loose)  # its events could carry a severity of their own
