"""When the watchlist drives the instrument set, the engine subscribes and unsubscribes the
market data of instruments added, removed and expired, on a data venue declaring
``subscribe`` (the replay venue with ``subscribe = true``): trades of an instrument off the
watchlist (and flat) are not streamed, nor processed."""

from __future__ import annotations

from contextlib import asynccontextmanager

import anyio
from tradewind.clock import SimClock
from tradewind.config import load_config
from tradewind.trading.engine import Engine
from tradewind.trading.watchlist import NS_PER_HOUR

from tests.host_config import INSTRUMENT, SAMPLE_START_NS, host_toml

MINUTE = 60 * 1_000_000_000
ALL_TICKS = 9_999


def _engine(tmp_path, *, subscribe: bool = True) -> Engine:
    path = host_toml(tmp_path, watchlist="[watchlist]\ndrives_instruments = true\n")
    if subscribe:
        text = path.read_text(encoding="utf-8")
        on = text.replace('plugin = "replay"\n', 'plugin = "replay"\nsubscribe = true\n')
        path.write_text(on, encoding="utf-8")
    return Engine(load_config(path), run_id="sub", clock=SimClock(SAMPLE_START_NS))


def _last_tick_ns(engine: Engine) -> int:
    return int(engine.state[INSTRUMENT].last_ts or 0)


def test_an_expired_instrument_is_unsubscribed_once_flat(tmp_path):
    engine = _engine(tmp_path)

    @asynccontextmanager
    async def operator_adds(eng):
        from tradewind.trading.operator import Operator

        Operator.of(eng).watchlist.add(
            exchange="sim", market_type="perp", symbol="BTCUSDT", caller="test", duration_hours=1
        )
        yield

    engine.services.append(operator_adds)
    anyio.run(engine.run)
    expiry = SAMPLE_START_NS + NS_PER_HOUR
    wl = (
        __import__("tradewind.trading.operator", fromlist=["Operator"])
        .Operator.of(engine)
        .watchlist
    )
    log = wl.subscriptions.log
    # Off the list at the start (unsubscribed), subscribed when added, unsubscribed after
    # the expiry once the position (2-minute max hold) was closed.
    assert [(a, k) for _, a, k in log] == [
        ("unsubscribe", INSTRUMENT),
        ("subscribe", INSTRUMENT),
        ("unsubscribe", INSTRUMENT),
    ]
    off = log[-1][0]
    assert expiry <= off <= expiry + 4 * MINUTE
    # No trade after the unsubscription was processed: the rest of the 2 h sample was skipped.
    assert engine.ticks < ALL_TICKS
    assert off - MINUTE <= _last_tick_ns(engine) < off + MINUTE
    assert engine.portfolio.positions() == []
    assert INSTRUMENT in engine.unsubscribed


def test_a_removed_instrument_is_unsubscribed_and_the_rest_skipped(tmp_path):
    engine = _engine(tmp_path)
    removed_at: list[int] = []

    @asynccontextmanager
    async def operator(eng):
        from tradewind.trading.operator import Operator

        wl = Operator.of(eng).watchlist
        wl.add(exchange="sim", market_type="perp", symbol="BTCUSDT", caller="test")

        def remove_after_30_minutes(_closed):
            now = eng.clock.now_ns()
            if not removed_at and now >= SAMPLE_START_NS + 30 * MINUTE:
                removed_at.append(now)
                wl.remove(INSTRUMENT, caller="test")

        eng.candle_sinks.append(remove_after_30_minutes)
        yield

    engine.services.append(operator)
    anyio.run(engine.run)
    from tradewind.trading.operator import Operator

    log = Operator.of(engine).watchlist.subscriptions.log
    assert [a for _, a, _ in log] == ["unsubscribe", "subscribe", "unsubscribe"]
    assert removed_at[0] <= log[-1][0] <= removed_at[0] + 4 * MINUTE
    assert _last_tick_ns(engine) < log[-1][0] + MINUTE
    assert engine.ticks < ALL_TICKS // 2


def test_without_the_capability_every_trade_is_still_streamed(tmp_path):
    engine = _engine(tmp_path, subscribe=False)

    @asynccontextmanager
    async def operator_adds(eng):
        from tradewind.trading.operator import Operator

        Operator.of(eng).watchlist.add(
            exchange="sim", market_type="perp", symbol="BTCUSDT", caller="test", duration_hours=1
        )
        yield

    engine.services.append(operator_adds)
    result = anyio.run(engine.run)
    assert result.summary["ticks"] == ALL_TICKS and not engine.unsubscribed


def test_the_replay_venue_skips_unsubscribed_intervals_and_resumes_on_subscribe():
    from tradewind.model import Instrument, InstrumentKind
    from tradewind.venues.replay import ReplayConfig, ReplayVenue

    from tests.host_config import SAMPLE

    # Two instruments replaying the same recorded symbol: "b" starts unsubscribed, is
    # subscribed after "a"'s 10th interval and unsubscribed again after its 20th.
    a = Instrument(venue="a", symbol="BTCUSDT", kind=InstrumentKind.PERP)
    b = Instrument(venue="b", symbol="BTCUSDT", kind=InstrumentKind.PERP)
    venue = ReplayVenue(ReplayConfig(path=str(SAMPLE), subscribe=True), "replay")
    assert "subscribe" in venue.capabilities
    assert "subscribe" not in ReplayVenue(ReplayConfig(path=str(SAMPLE)), "r").capabilities
    venue.add_instruments([a, b])
    venue.set_decision_step(MINUTE)
    venue.unsubscribe([b])

    async def go():
        await venue.connect()
        seen: list[tuple[str, int]] = []
        a_batches = 0
        async for batch in venue.stream_trades([a, b]):
            minute = int(batch.ts_ns[0]) // MINUTE
            assert int(batch.ts_ns[-1]) // MINUTE == minute  # one grid interval per batch
            seen.append((batch.instrument, minute))
            if batch.instrument == "a:BTCUSDT":
                a_batches += 1
                if a_batches == 10:
                    venue.subscribe([b])
                elif a_batches == 20:
                    venue.unsubscribe([b])
        return seen

    seen = anyio.run(go)
    a_minutes = [m for k, m in seen if k == "a:BTCUSDT"]
    b_minutes = [m for k, m in seen if k == "b:BTCUSDT"]
    # From each call on: "b" streamed the interval of "a"'s 10th batch (each interval yields
    # "a" then "b") through that of its 19th; in the 20th, "b" was unsubscribed already.
    assert b_minutes == a_minutes[9:19]
    assert len(a_minutes) > 100  # "a" streamed the whole 2 h sample
