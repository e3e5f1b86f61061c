"""SIGKILL at the exchange's create while the order's DuckDB commit is not done, then a restart.

A paper host (``Engine.run`` in a process of its own: cryptofeed's real ``BinanceFutures`` feed
from the local TLS server, ccxt's real ``binanceusdm`` to the local Binance USD-M server, both
of :mod:`tests.e2e.cex_local`) enters long on a 1 s candle. The exchange kills the host with
SIGKILL the moment the create arrives, then executes the order: the exchange holds a filled
order the host never heard back about.

With the intent log (as shipped) the order was handed to the venue before the step's DuckDB
commit. To make "the commit is not done yet" certain rather than a race, the host's step
commit is slowed (a slow disk: it sleeps before committing while an order is written ahead);
the kill lands before or during it, so DuckDB never got the order — only the intent log has
it. Without
the intent log (``Journal(intents=False)``, the order committed before it is sent) DuckDB
holds the order as ``new``.

The restarted host (the same config, in this process) replays the intent log, finds the order
``new``, asks the exchange and books its execution: exactly one order at the exchange, one
fill in the journal, equal to the exchange's trade (price, quantity, fee), and the position
the exchange holds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from aiohttp import web
from tradewind.config import load_config
from tradewind.journal import intent_log
from tradewind.trading.engine import Engine

for _module in ("tradewind_venue_cryptofeed", "tradewind_venue_ccxt", "tradewind_exit_maxhold"):
    pytest.importorskip(_module, reason=f"the CEX end-to-end run needs {_module}")

from tests.e2e.cex_local import (  # noqa: E402
    API_KEY,
    KEY_ENV,
    MS,
    SECRET,
    SECRET_ENV,
    LocalUsdm,
    ScriptedFeed,
    Tape,
    Trade,
)
from tests.e2e.test_paper_cryptofeed_ccxt import (  # noqa: E402
    _isolated_symbol_cache,  # noqa: F401  (autouse: cryptofeed's symbol cache per test)
    rows,
    run_engine,
)

pytestmark = pytest.mark.e2e
D = Decimal
REPO = Path(__file__).resolve().parents[2]

#: The first host: the engine as ``tradewind run`` runs it, with a slow step commit (and, for
#: the comparison, a journal without its intent log).
HOST = textwrap.dedent(
    """
    import sys, time
    from functools import partialmethod
    import anyio
    from tradewind.config import load_config
    from tradewind.journal.store import Journal
    from tradewind.trading.engine import Engine

    path, intents = sys.argv[1], sys.argv[2] == "1"
    if not intents:
        Journal.__init__ = partialmethod(Journal.__init__, intents=False)
    commit = Journal.commit

    def slow_commit(self):
        if self.written_ahead():
            print("COMMIT-WAITS", flush=True)
            time.sleep(20)  # a slow disk: the exchange's SIGKILL comes meanwhile
        commit(self)

    Journal.commit = slow_commit
    anyio.run(Engine(load_config(path)).run)
    print("NOT-KILLED", flush=True)
    """
)


class KillAtCreate(LocalUsdm):
    """Kills the host the moment its create arrives, then executes the order as usual (the
    exchange has it; the host never hears back)."""

    host_pid: int | None = None

    async def create_order(self, request: web.Request) -> web.Response:
        if self.host_pid is not None:
            os.kill(self.host_pid, signal.SIGKILL)
            self.host_pid = None
        return await super().create_order(request)


def write_config(
    folder: Path, feed: ScriptedFeed, exchange: LocalUsdm, *, max_notional: str = "100"
) -> Path:
    """1 s candles, long whenever flat at a candle's close, a maxhold exit far away."""
    path = folder / "paper.toml"
    path.write_text(
        f"""
mode = "paper"
timeframes = ["1s"]

[run]
journal = "journal.duckdb"

[[instruments]]
symbol = "BTCUSDT"
venue = "usdm"
data = "feed"
kind = "perp"
tick_size = "0.1"
lot_size = "0.001"
min_notional = "10"
maker_fee = "0.0002"
taker_fee = "0.0005"

[venues.feed]
plugin = "cryptofeed"
exchange = "BINANCE_FUTURES"
symbols = ["BTCUSDT"]
batch_ms = 1
ws_host = "{feed.wss_url}"
rest_host = "{feed.http_url}"
ca_file = "cert.pem"
max_retries = 0

[venues.usdm]
plugin = "ccxt"
exchange = "binanceusdm"
market_type = "swap"
symbols = ["BTCUSDT"]
api_key = "env:{KEY_ENV}"
secret = "env:{SECRET_ENV}"
api_host = "{exchange.url}"
order_updates = "websocket"

[exits.maxhold]
plugin = "maxhold"
max_hold_minutes = 600

[strategy]
timeframe = "1s"
max_notional = "{max_notional}"
long = [{{ value = "close", op = ">", threshold = 0 }}]
""",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("intents", [True, False], ids=["intent_log", "commit_first"])
def test_sigkill_at_the_create_before_the_commit_leaves_one_order_and_one_fill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, intents: bool
) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    tape = Tape()
    exchange = KillAtCreate(tape, fill_mode="response").start()
    t0 = (time.time_ns() // MS // 60_000 - 120) * 60_000  # a minute two hours ago
    journal = tmp_path / "journal.duckdb"
    try:
        with ScriptedFeed(tmp_path, tape) as feed:
            path = write_config(tmp_path, feed, exchange)
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
            host = subprocess.Popen(
                [sys.executable, "-c", HOST, str(path), "1" if intents else "0"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=tmp_path,
            )
            exchange.host_pid = host.pid
            feed.script(
                ("until", lambda: bool(exchange.streams), 30.0),  # ccxt.pro's user stream
                ("trade", Trade(t0, D(60000), D("0.01"), True)),
                ("trade", Trade(t0 + 1_000, D(60010), D("0.01"), True)),  # closes: entry
                ("until", lambda: exchange.creates >= 1, 30.0),
                ("close",),
            )
            out, err = host.communicate(timeout=120)
            next_id = feed.next_id
        assert host.returncode == -signal.SIGKILL, err[-3000:]
        assert tape.timeouts == 0, err[-3000:]
        with exchange.lock:
            assert exchange.creates == 1
            ((cid, order),) = exchange.orders.items()
            (trade,) = exchange.trades
            held = exchange.positions["BTCUSDT"][0]
        assert order["status"] == "FILLED" and held == D(order["origQty"]) > 0

        # What the killed host left: the order in the intent log only (the step's commit was
        # not done when the exchange had the create), or committed before it was sent.
        log_path = intent_log.intent_path(journal)
        con = duckdb.connect(str(journal), read_only=True)
        try:
            in_duckdb = rows(con, "SELECT status FROM orders WHERE client_order_id = ?", cid)
        finally:
            con.close()
        if intents:
            # Killed before its step's commit, or during it (the slow disk): either way the
            # exchange had the create first.
            assert in_duckdb == []
            assert [r["orders"][0] for r in intent_log.read(log_path)] == [cid]
        else:
            assert "COMMIT-WAITS" not in out
            assert in_duckdb == [{"status": "new"}]
            assert not log_path.exists()

        # The restart: the same config, in this process, as shipped.
        with ScriptedFeed(tmp_path, tape, first_id=next_id) as feed:
            write_config(tmp_path, feed, exchange)  # the same file: the session resumes
            second = Engine(load_config(path))
            streams_before = len(exchange.streams)
            feed.script(
                ("until", lambda: len(exchange.streams) > streams_before, 30.0),
                ("trade", Trade(t0 + 1_500, D(60020), D("0.01"), True)),  # no candle close
                ("until", lambda: second.ticks >= 1, 30.0),
                ("close",),
            )
            assert run_engine(second) is not None  # the feed's end (max_retries = 0)
    finally:
        exchange.stop()
    assert tape.timeouts == 0, "the restarted run did not book the fill in time"
    assert not log_path.exists()  # replayed into DuckDB
    with exchange.lock:
        assert exchange.creates == 1 and list(exchange.orders) == [cid]  # never re-sent
        assert exchange.positions["BTCUSDT"][0] == held
    con = duckdb.connect(str(journal), read_only=True)
    try:
        orders = rows(con, "SELECT client_order_id, status, intent FROM orders")
        assert orders == [{"client_order_id": cid, "status": "filled", "intent": "entry"}]
        fills = rows(con, "SELECT client_order_id, trade_id, quantity, price, fee FROM fills")
        assert [
            (f["client_order_id"], f["trade_id"], D(f["quantity"]), D(f["price"]), D(f["fee"]))
            for f in fills
        ] == [
            (
                cid,
                str(trade["id"]),
                D(trade["qty"]),
                D(trade["price"]),
                D(trade["commission"]),
            )
        ]
        positions = rows(con, "SELECT quantity FROM positions ORDER BY seq")
        assert D(positions[-1]["quantity"]) == held
    finally:
        con.close()
    assert second.portfolio.position("usdm:BTCUSDT").quantity == held
