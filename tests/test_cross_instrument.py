"""No cross-instrument look-ahead: BTCUSDT replayed alone and beside a second instrument trades
identically (signals, orders, fills, exit reasons).

The second instrument is (a) the same tape under another symbol, in the same data file, and
(b) a different tape (synthetic trades calibrated on the sample, same hours) from a second
replay venue. Filters and exits that read the whole portfolio (max positions, exposure, daily
drawdown, the portfolio guard) are left out, and ``max_notional`` caps every order, so nothing
in the config itself makes BTCUSDT depend on the other instrument: any difference would come
from the engine letting one instrument see the other's data.

Every test runs with the event scheduler on (several instruments: blocks reaching past the
feed's interval batches, quiet closes the short way) and off (every close stepped).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.market.importers import load
from tradewind.market.synth import calibrate, generate
from tradewind.trading.engine import Engine

from tests.test_engine import SAMPLE, demo_config_text

BTC = "sim:BTCUSDT"
HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"


def _without(text: str, section: str) -> str:
    """``text`` without the TOML table ``[section]`` (up to the next table)."""
    return re.sub(rf"\n\[{re.escape(section)}\]\n(?:(?!\n\[).)*", "\n", text, flags=re.S)


@pytest.fixture(scope="module", params=[True, False], ids=["scheduler", "stepped"])
def scheduler(request: pytest.FixtureRequest) -> bool:
    """``[run] event_scheduler``."""
    return bool(request.param)


def _with_scheduler(text: str, on: bool) -> str:
    return text.replace("[run]\n", f"[run]\nevent_scheduler = {'true' if on else 'false'}\n", 1)


def _config(
    tmp_path: Path, name: str, data: Path, first: str = "", venue: str = "", *, scheduler: bool
) -> Path:
    """The demo config on ``data``; ``first`` is replayed before BTCUSDT (listed first)."""
    text = demo_config_text(tmp_path).replace(SAMPLE.as_posix(), data.as_posix())
    text = _with_scheduler(text, scheduler)
    for section in ("filters.drawdown", "filters.maxpositions", "filters.exposure", "exits.guard"):
        text = _without(text, section)
    text = text.replace("risk_pct = 0.01\n", 'risk_pct = 0.01\nmax_notional = "1000"\n')
    text = text.replace("journal.duckdb", f"{name}.duckdb")
    text = text.replace("[[instruments]]", first + "[[instruments]]", 1)
    text = text.replace("[venues.sim]", venue + "[venues.sim]", 1)
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _instrument(symbol: str, data: str = "replay") -> str:
    return (
        f'[[instruments]]\nsymbol = "{symbol}"\nvenue = "sim"\ndata = "{data}"\nkind = "perp"\n'
        'tick_size = "0.01"\nlot_size = "0.001"\nmin_notional = "5"\n'
        'maker_fee = "0.0002"\ntaker_fee = "0.0004"\n\n'
    )


def _btc_run(tmp_path: Path, cfg: Path, name: str) -> dict[str, list]:
    result = anyio.run(Engine(load_config(cfg), run_id=name).run)
    con = duckdb.connect(str(tmp_path / f"{name}.duckdb"))
    rows = con.execute(
        "SELECT type, ts_ns, payload FROM events WHERE type IN "
        "('SignalEvent', 'OrderSubmitted', 'VetoEvent') ORDER BY seq"
    ).fetchall()
    con.close()
    signals, orders, vetoes = [], [], []
    for kind, ts, payload in rows:
        body = json.loads(payload)
        if kind == "SignalEvent" and body["signal"]["instrument"] == BTC:
            s = body["signal"]
            signals.append((ts, s["side"], s["entry"], s["stop"], s["score"], s["quantity"]))
        elif kind == "VetoEvent" and body["veto"]["signal"]["instrument"] == BTC:
            vetoes.append((ts, body["veto"]["filter"], body["veto"]["reason"]))
        elif kind == "OrderSubmitted" and body["order"]["instrument"] == BTC:
            o = body["order"]
            orders.append(
                (o["created_ts_ns"], o["side"], o["quantity"], o["reduce_only"], o["tag"])
            )
    fills = [
        (f.ts_ns, f.side, f.quantity, f.price, f.fee) for f in result.fills if f.instrument == BTC
    ]
    exits = [o[4] for o in orders if o[3]]
    trades = [(ts, pnl) for ts, key, pnl in result.closed_trades if key == BTC]
    return {
        "signals": signals,
        "orders": orders,
        "vetoes": vetoes,
        "fills": fills,
        "exits": exits,
        "trades": trades,
        "other_fills": [f for f in result.fills if f.instrument != BTC],
    }


@pytest.fixture(scope="module")
def alone(tmp_path_factory: pytest.TempPathFactory, scheduler: bool) -> dict[str, list]:
    tmp = tmp_path_factory.mktemp("alone")
    return _btc_run(tmp, _config(tmp, "alone", SAMPLE, scheduler=scheduler), "alone")


def test_btcusdt_trades_the_same_beside_its_own_tape_under_another_symbol(
    tmp_path, alone, scheduler
):
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    both = tmp_path / "both.csv"
    copy = [ln.replace(",BTCUSDT,", ",BTCCOPY,") for ln in lines[1:]]
    both.write_text(lines[0] + "".join(copy) + "".join(lines[1:]), encoding="utf-8")
    cfg = _config(tmp_path, "twin", both, _instrument("BTCCOPY"), scheduler=scheduler)
    twin = _btc_run(tmp_path, cfg, "twin")
    assert alone["signals"] and alone["fills"] and alone["exits"]
    for key in ("signals", "orders", "vetoes", "fills", "exits", "trades"):
        assert twin[key] == alone[key], key
    # The twin really traded beside it (its own fills interleave with BTCUSDT's in time).
    assert twin["other_fills"]


def test_btcusdt_trades_the_same_beside_a_different_tape_from_another_venue(
    tmp_path, alone, scheduler
):
    sample = load(SAMPLE).batches["BTCUSDT"]
    other = generate(calibrate(sample), hours=2.2, seed=7, instrument="ETHSYN")
    rows = [
        f"binance-futures,ETHSYN,{t // 1000},{t // 1000},{i},{'buy' if s > 0 else 'sell'},{p},{q}\n"
        for t, p, q, s, i in zip(
            other.ts_ns.tolist(),
            other.price.tolist(),
            other.size.tolist(),
            other.side.tolist(),
            other.trade_id.tolist(),
            strict=True,
        )
    ]
    path = tmp_path / "ethsyn.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    venue = f'[venues.replay2]\nplugin = "replay"\npath = "{path.as_posix()}"\n\n'
    cfg = _config(
        tmp_path, "beside", SAMPLE, _instrument("ETHSYN", "replay2"), venue, scheduler=scheduler
    )
    beside = _btc_run(tmp_path, cfg, "beside")
    for key in ("signals", "orders", "vetoes", "fills", "exits", "trades"):
        assert beside[key] == alone[key], key
    assert beside["other_fills"]


SPY_SRC = '''
import attrs
from tradewind import hookimpl

SEEN = []

@attrs.frozen(kw_only=True)
class Cfg:
    pass

class Spy:
    """Records what B's exit monitor is shown of A while B's trades are processed."""
    name = "spy"
    config_class = Cfg
    capabilities = frozenset({"ticks"})

    def __init__(self, config):
        pass

    def on_ticks(self, position, batch, ctx):
        if position.instrument == "sim:B":
            SEEN.append((int(batch.ts_ns[0]), ctx.last_price("sim:A"), ctx.position("sim:A"),
                         ctx.equity(), ctx.ts_ns))
        return None

    def on_candle(self, position, candle, values, ctx):
        return None

    def forget(self, instrument):
        pass

@hookimpl
def tradewind_register_exits(registry):
    registry.add(Spy)
'''

SPY_CONFIG = """
mode = "backtest"
timeframes = ["1m"]
[run]
journal = "{dir}/spy.duckdb"
[[instruments]]
symbol = "A"
venue = "sim"
data = "replay"
kind = "perp"
tick_size = "0.001"
lot_size = "0.001"
[[instruments]]
symbol = "B"
venue = "sim"
data = "replay"
kind = "perp"
tick_size = "0.001"
lot_size = "0.001"
[venues.sim]
starting_balance = "10000"
latency_ms = 0
[venues.replay]
path = "{dir}/ab.csv"
[strategy]
timeframe = "1m"
long = [{{ value = "close", op = ">", threshold = 0.0 }}]
max_notional = "1000"
[filters.existing]
[exits.spy]
plugin = "spy"
"""


def test_exit_monitors_never_see_another_instruments_later_trades(tmp_path, fake_dists, scheduler):
    """A's price encodes its time (1000 + seconds); B's exits must only ever be shown A's
    price from a trade at or before the B trades they are looking at."""
    import sys

    fake_dists.add(
        "tradewind-exit-spy", "1.0", {"tradewind.exits": {"spy": "tw_spy"}}, {"tw_spy": SPY_SRC}
    )
    t0 = 1_577_865_600  # 2020-01-01 08:00:00 UTC, seconds
    rows = []
    for sec in range(0, 600, 2):  # A every 2 s, B every 3 s: both trade through each minute
        rows.append((t0 + sec, "A", 1000 + sec, "buy" if sec % 4 else "sell"))
    for sec in range(1, 600, 3):
        rows.append((t0 + sec, "B", 50.0, "buy" if sec % 2 else "sell"))
    lines = [HEADER.strip()] + [
        f"binance-futures,{sym},{ts * 1_000_000},{ts * 1_000_000},{i},{side},{px},1"
        for i, (ts, sym, px, side) in enumerate(sorted(rows))
    ]
    (tmp_path / "ab.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "spy.toml").write_text(
        _with_scheduler(SPY_CONFIG.format(dir=tmp_path.as_posix()), scheduler)
    )
    result = anyio.run(Engine(load_config(tmp_path / "spy.toml"), run_id="spy").run)
    seen = sys.modules["tw_spy"].SEEN
    sys.modules.pop("tw_spy")
    assert {f.instrument for f in result.fills} == {"sim:A", "sim:B"}  # both hold positions
    assert len(seen) >= 8  # once per interval while B is held
    for ts, a_price, a_pos, equity, now in seen:
        a_time_ns = (t0 + round(a_price - 1000)) * 1_000_000_000
        assert a_time_ns <= ts, (ts, a_price)  # never A's price from after B's trade
        assert now == ts and equity > 0
        if ts >= (t0 + 120) * 1_000_000_000:
            # A's entry (filled in the first minute) is known from the next decision time on;
            # within the interval of the fill, B sees the portfolio of that interval's start.
            assert not a_pos.is_flat
