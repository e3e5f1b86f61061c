"""A seeded soak of the whole ``tradewind run`` path: SIGTERM and SIGKILL at random moments,
cancels answered late or failed, and a start refused for an unknown exchange position.

The host is ``python -m tradewind run paper.toml``, a process of its own, as an operator
starts it: the cryptofeed venue on the local TLS Binance USD-M feed
(:class:`tests.e2e.cex_local.ScriptedFeed`, a script of ``aggTrade`` messages per
connection, one second of exchange time apart), the ccxt venue (``binanceusdm``) on the
first soak's exchange (:class:`tests.e2e.test_soak_faults.SoakUsdm`: every signature
verified, MARKET orders filled at once, resting LIMIT orders filled in 1-3 trades some
seconds after they arrived, the account's position following its trades). The strategy
enters long at a 1 s candle's close and ``maxhold`` exits a minute of exchange time later, so
each start enters and exits several times.

A round (its seed draws everything) is 2-4 starts of the host on one journal. Before a start
whose journal is settled (the first, or one after a clean stop), a previous run of the same
session leaves 1-3 resting LIMIT entries at the exchange (the order manager and journal as
the host has them, in this process). Each start is then stopped at a random 0.3-4 s after its
feed connected: by SIGKILL (40 %, never the round's last start), after which the exchange
fills one trade of each resting order while the host is down; or by SIGTERM. The exchange's
cancel answers are drawn too: a first cancel of an order is answered HTTP 500 or 429 without
being done (35 %), else it races the fills as the first soak's extended rounds do (the order
filled first and the cancel answered -2011, a trade just before it, the cancel done but its
answer late past the venue's timeout, or done but answered HTTP 500).

Checked after each SIGTERM: exit 0, no traceback, the run journaled as stopped by the signal,
no entry of the host left resting at the exchange, no order left open in the journal. After
the round's last start, against what the exchange holds: the journal's fills (trade id,
quantity, price, fee) equal the account's trades exactly, its position equals the
exchange's, and no client order id reached the book twice. Once per soak, a host started
on a fresh journal while the exchange holds a position must refuse: exit 5, one ``error:``
line naming the position, no traceback, nothing traded.

``TW_SOAK_CLI_ROUNDS`` (default 1: 3 starts, 2 of them stopped by SIGTERM with entries
resting, ~65 s at load 11) and ``TW_SOAK_CLI_SEED`` (default 20261303, a round that left two
entries resting at the exchange after SIGTERM before cancels were settled) choose how much
and which; a failing round prints its seed (reproduce it with ``TW_SOAK_CLI_SEED=<seed>``).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest
from aiohttp import web

for _module in ("tradewind_venue_cryptofeed", "tradewind_venue_ccxt", "tradewind_exit_maxhold"):
    pytest.importorskip(_module, reason=f"the CLI soak needs {_module}")

from tradewind.journal.store import Journal  # noqa: E402
from tradewind.model import Order, OrderType, Side, TimeInForce  # noqa: E402
from tradewind.secrets import Secret  # noqa: E402
from tradewind.trading.orders import OrderManager  # noqa: E402
from tradewind.trading.portfolio import Portfolio  # noqa: E402
from tradewind.trading.reconcile import reconcile  # noqa: E402
from tradewind_venue_ccxt import CcxtVenue, CcxtVenueConfig  # noqa: E402

from tests.e2e.cex_local import (  # noqa: E402
    API_KEY,
    KEY_ENV,
    MS,
    SECRET,
    SECRET_ENV,
    ScriptedFeed,
    Tape,
    Trade,
)
from tests.e2e.test_soak_faults import TIMEOUT_MS, Round, SoakUsdm  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

D = Decimal
KEY = "usdm:BTCUSDT"
NOT_DONE = {
    "500": (500, {"code": -1001, "msg": "Internal error; unable to process your request."}, {}),
    "429": (429, {"code": -1003, "msg": "Too many requests."}, {"Retry-After": "1"}),
}


class CliUsdm(SoakUsdm):
    """:class:`SoakUsdm` whose first cancel of an order may fail without being done."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.cancel_rng = rng
        self.first_cancel: set[str] = set()

    async def cancel_order(self, request: web.Request) -> web.Response:
        params = await self._params(request, signed=False)
        assert isinstance(params, dict)
        cid = params.get("origClientOrderId", "")
        with self.lock:
            first = cid not in self.first_cancel
            self.first_cancel.add(cid)
            fault = None
            if first and self.cancel_rng.random() < 0.35:
                fault = self.cancel_rng.choice(sorted(NOT_DONE))
        if fault is None:
            return await super().cancel_order(request)
        self.count(f"cancel {fault} not done")
        status, body, headers = NOT_DONE[fault]
        return web.json_response(body, status=status, headers=headers)


def write_config(folder: Path, feed: ScriptedFeed, exchange: SoakUsdm, updates: str) -> Path:
    path = folder / "paper.toml"
    path.write_text(
        f"""
mode = "paper"
timeframes = ["1s"]

[run]
journal = "journal.duckdb"
cancel_deadline_s = 20

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
batch_ms = 5
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
order_updates = "{updates}"
poll_interval_s = 0.3
timeout_ms = {TIMEOUT_MS}

[exits.maxhold]
plugin = "maxhold"
max_hold_minutes = 1

[strategy]
timeframe = "1s"
max_notional = "100"
risk_pct = 1.0
max_leverage = 10.0
long = [{{ value = "close", op = ">", threshold = 0 }}]
""",
        encoding="utf-8",
    )
    return path


async def _leave_resting_entries(
    url: str, journal_path: Path, cfg: Path, run_id: str, sizes: list[int]
) -> list[str]:
    """A previous run of the session: reconciled, it leaves resting LIMIT buys (the host's
    order manager and journal, as ``tradewind run`` has them)."""
    venue = CcxtVenue(
        CcxtVenueConfig(
            exchange="binanceusdm",
            market_type="swap",
            symbols=["BTCUSDT"],
            api_key=Secret(KEY_ENV),
            secret=Secret(SECRET_ENV),
            api_host=url,
            order_updates="poll",
            timeout_ms=5000,
        ),
        instance="usdm",
    )
    journal = Journal(journal_path, run_id)
    try:
        await venue.connect()
        inst = next(i for i in await venue.instruments() if i.key == KEY)
        journal.start("paper", str(cfg), 0)
        portfolio = Portfolio({KEY: inst}, D("10000"))
        orders = OrderManager(portfolio, run_id, journal=journal)
        venue.set_sink(orders)
        orders.register_venue(venue)
        await reconcile(
            venue,
            journal,
            [inst],
            portfolio,
            unknown_positions="refuse",
            unknown_orders="refuse",
            ts_ns=1,
        )
        orders.restore(journal)
        cids = []
        for n, units in enumerate(sizes):
            order = Order(
                client_order_id=orders.next_client_order_id(),
                instrument=KEY,
                side=Side.BUY,
                type=OrderType.LIMIT,
                quantity=D("0.001") * units,
                price=D("50000"),
                time_in_force=TimeInForce.GTC,
                created_ts_ns=10 + n,
                tag="entry",
            )
            await orders.submit(venue, order, 10 + n)
            cids.append(order.client_order_id)
        journal.finish(20, {})
        return cids
    finally:
        await venue.close()
        journal.close()


def _script(first_ms: int, count: int) -> list[tuple[Any, ...]]:
    """``count`` trades one second of exchange time apart, ~30 ms of real time apart."""
    out: list[tuple[Any, ...]] = []
    for k in range(count):
        price = D(50000) + D(k % 7) - 3
        out += [
            ("trade", Trade(first_ms + 1_000 * k, price, D("0.01"), k % 2 == 0)),
            ("wait", 0.03),
        ]
    return out


def _start(cfg: Path, server: SoakUsdm) -> subprocess.Popen[str]:
    env = dict(os.environ, **{KEY_ENV: API_KEY, SECRET_ENV: SECRET}, PYTHONWARNINGS="default")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradewind", "run", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cfg.parent,
    )
    server.host_pid = proc.pid
    return proc


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _resting_at_exchange(server: SoakUsdm) -> list[str]:
    return sorted(
        o["clientOrderId"]
        for o in server.orders_of()
        if o["type"] == "LIMIT" and o["status"] in ("NEW", "PARTIALLY_FILLED")
    )


def run_round(seed: int, folder: Path, seen: dict[str, int]) -> list[str]:
    """Play the round of ``seed``; the invariants it broke (empty: none)."""
    rng = random.Random(seed)
    folder.mkdir()
    updates = rng.choice(("poll", "websocket"))
    server = CliUsdm(random.Random(seed * 3)).start()
    server.plan = Round(seed, 0, {}, None, 0, False, updates, rng.choice((0.0, 0.5)), True)
    server.race_rng = random.Random(seed * 13)
    down_rng = random.Random(seed * 17)
    server.start_filler(random.Random(seed * 7), delay=(2.0, 12.0))
    problems: list[str] = []
    tape = Tape()
    journal = folder / "journal.duckdb"
    # The feed's exchange time runs ~33 times faster than the wall clock (one second per
    # trade), from a minute ago: the exchange stamps fills with its own clock, so maxhold's
    # minute passes within a few seconds of a fill.
    clock_ms = 0
    starts = rng.randint(2, 4)
    settled = True  # the journal holds what the exchange holds (first start, clean stops)
    try:
        with ScriptedFeed(folder, tape) as feed:
            cfg = write_config(folder, feed, server, updates)
            for k in range(starts):
                if settled:
                    sizes = [rng.randint(1, 3) for _ in range(rng.randint(1, 3))]
                    anyio.run(_leave_resting_entries, server.url, journal, cfg, f"seed{k}", sizes)
                    seen["resting entries left"] = seen.get("resting entries left", 0) + len(sizes)
                clock_ms = max(clock_ms, (time.time_ns() // MS // 1_000 - 60) * 1_000)
                feed.script(*_script(clock_ms, 400))
                clock_ms += 400_000
                connections = feed.connections
                proc = _start(cfg, server)
                deadline = time.monotonic() + 60
                while feed.connections == connections and proc.poll() is None:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.02)
                if proc.poll() is not None:
                    _out, err = proc.communicate()
                    problems.append(f"start {k} ended by itself ({proc.returncode}): {err[-2000:]}")
                    return problems
                time.sleep(rng.uniform(0.3, 4.0))
                kill = k < starts - 1 and rng.random() < 0.4
                if kill:
                    server._kill()
                else:
                    resting = len(_resting_at_exchange(server))
                    seen["entries resting at SIGTERM"] = (
                        seen.get("entries resting at SIGTERM", 0) + resting
                    )
                    proc.send_signal(signal.SIGTERM)
                try:
                    _out, err = proc.communicate(timeout=90)
                finally:
                    server.host_pid = None
                if os.environ.get("TW_SOAK_VERBOSE"):
                    print(f"--- seed {seed} start {k}: exit {proc.returncode}\n{err}")
                if kill:
                    seen["sigkills"] = seen.get("sigkills", 0) + 1
                    if proc.returncode != -signal.SIGKILL:
                        problems.append(f"start {k}: SIGKILL gave exit {proc.returncode}")
                    server.fill_while_down(down_rng)
                    settled = False
                    continue
                seen["sigterms"] = seen.get("sigterms", 0) + 1
                settled = True
                problems += [f"start {k}: {p}" for p in _check_stop(proc, err, server, journal)]
            server.plan = None  # no fill from now on
            server.stop_filler()
            problems += _check_journal(server, journal, seen)
        seen["exchange trades"] = seen.get("exchange trades", 0) + len(server.trades_of())
        seen["rounds"] = seen.get("rounds", 0) + 1
        for what, n in server.extra.items():
            seen[what] = seen.get(what, 0) + n
        if tape.timeouts:
            problems.append("the feed's script timed out")
    finally:
        server.stop_filler()
        server.stop()
    return [f"seed {seed}: {p}" for p in problems]


def _check_stop(
    proc: subprocess.Popen[str], err: str, server: SoakUsdm, journal: Path
) -> list[str]:
    """What a SIGTERM must leave: exit 0, the run stopped by it, no entry resting."""
    problems = []
    if proc.returncode != 0:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        problems.append(f"SIGTERM gave exit {proc.returncode}: {lines[-5:]}")
    if "Traceback" in err:
        problems.append(f"a traceback: {err[-3000:]}")
    resting = _resting_at_exchange(server)
    if resting:
        problems.append(f"entries still resting at the exchange after SIGTERM: {resting}")
    still_open = _rows(
        journal,
        "SELECT client_order_id, status FROM orders WHERE status IN "
        "('new', 'accepted', 'partially_filled') ORDER BY 1",
    )
    if still_open:
        problems.append(f"orders open in the journal after SIGTERM: {still_open}")
    last = _rows(
        journal,
        "SELECT summary->>'stopped' FROM runs WHERE run_id NOT LIKE 'seed%' "
        "ORDER BY started_ts_ns DESC LIMIT 1",
    )
    if last != [("SIGTERM received",)]:
        problems.append(f"the last run is not journaled as stopped by SIGTERM: {last}")
    return problems


def _check_journal(server: SoakUsdm, journal: Path, seen: dict[str, int]) -> list[str]:
    """The journal against the exchange, after the round's last (clean) stop."""
    problems = []
    booked = sorted(
        (c, t, D(q), D(p), D(f))
        for c, t, q, p, f in _rows(
            journal, "SELECT client_order_id, trade_id, quantity, price, fee FROM fills"
        )
    )
    cid_of = server.cid_of
    trades = server.trades_of()
    expected = sorted(
        (cid_of[t["orderId"]], str(t["id"]), D(t["qty"]), D(t["price"]), D(t["commission"]))
        for t in trades
    )
    if booked != expected:
        problems.append(f"journal fills {booked} != exchange trades {expected}")
    # The session's position as a restarted host restores it: rebuilt from the journaled
    # fills and reconciliation's corrections.
    j = Journal.open_readonly(journal)
    try:
        held = j.positions().get(KEY)
    finally:
        j.close()
    position = held.quantity if held is not None else D(0)
    if position != server.position():
        problems.append(f"journal position {position} != exchange {server.position()}")
    # The last row of the positions table (a step's snapshot, read by reports): told apart,
    # not an invariant here.
    last = _rows(
        journal,
        f"SELECT quantity FROM positions WHERE instrument = '{KEY}' ORDER BY seq DESC LIMIT 1",
    )
    if last and D(last[0][0]) != position:
        seen["positions table's last row differs"] = (
            seen.get("positions table's last row differs", 0) + 1
        )
    dup = sorted({c for c in server.cids if server.cids.count(c) > 1})
    if dup:
        problems.append(f"client order ids sent twice to the book: {dup}")
    if server.bad_signatures:
        problems.append(f"{server.bad_signatures} bad signatures")
    return problems


def refuses_an_unknown_position(folder: Path) -> list[str]:
    """A fresh journal, an exchange holding a position: the host must not start."""
    folder.mkdir()
    server = SoakUsdm().start()
    try:
        server.place_by_hand("BUY", "0.003", "50000")
        with ScriptedFeed(folder, Tape()) as feed:
            cfg = write_config(folder, feed, server, "poll")
            proc = _start(cfg, server)
            _out, err = proc.communicate(timeout=90)
        errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
        problems = []
        if proc.returncode != 5:
            problems.append(f"exit {proc.returncode}, not 5: {err[-2000:]}")
        if len(errors) != 1 or "position usdm:BTCUSDT of 0.003" not in errors[0]:
            problems.append(f"not one error line naming the position: {err[-2000:]}")
        if "Traceback" in err:
            problems.append(f"a traceback: {err[-3000:]}")
        if server.create_count():
            problems.append("the refused host sent orders")
        return problems
    finally:
        server.stop()


def test_soak_sigterm_sigkill_and_failed_cancels_of_the_tradewind_run_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, API_KEY)  # for the previous runs that leave resting entries
    monkeypatch.setenv(SECRET_ENV, SECRET)
    rounds = int(os.environ.get("TW_SOAK_CLI_ROUNDS", "1"))
    seed0 = int(os.environ.get("TW_SOAK_CLI_SEED", "20261303"))
    problems = [f"unknown position: {p}" for p in refuses_an_unknown_position(tmp_path / "u")]
    seen: dict[str, int] = {}
    for r in range(rounds):
        problems += run_round(seed0 + r, tmp_path / f"round-{seed0 + r}", seen)
    print(f"CLI soak of {rounds} rounds from seed {seed0}:", json.dumps(seen, sort_keys=True))
    assert not problems, "\n".join(problems)
    assert seen["sigterms"] >= rounds and seen["exchange trades"] > 0
