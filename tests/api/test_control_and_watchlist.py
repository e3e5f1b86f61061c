"""Pause stops entries while exits still run; the watchlist over HTTP; the event websocket;
every state-changing call journaled with its caller."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from decimal import Decimal

import anyio

from tests.api.conftest import PaperHost
from tests.host_config import INSTRUMENT

MINUTE_MS = 60_000


def test_pause_stops_entries_while_exits_still_run(paper_host: PaperHost):
    paper_host.wait_for("an open trade", lambda: paper_host.get("/api/v1/status"))
    status, out = paper_host.request("POST", "/api/v1/pause", headers={"User-Agent": "ops-desk"})
    assert status == 200 and out["status"].startswith("paused")
    assert paper_host.get("/api/v1/state")["state"] == "paused"
    paused_at = paper_host.get("/api/v1/health")["last_process_ts"] * 1000
    # The open position's 2-minute max hold closes it while paused; nothing opens after.
    paper_host.wait_for(
        "the open trade to close by its exit monitor",
        lambda: not paper_host.get("/api/v1/status"),
        timeout=60,
    )
    # Let the replay run several more 1m decision points (speed 30: 2 s a minute).
    time.sleep(8)
    trades = paper_host.get("/api/v1/trades")["trades"]
    assert trades and all(t["open_timestamp"] <= paused_at for t in trades)
    last = max(trades, key=lambda t: t["close_timestamp"] or 0)
    assert last["close_timestamp"] > paused_at and last["exit_reason"].startswith("maxhold")
    now = paper_host.get("/api/v1/health")["last_process_ts"] * 1000
    assert now - paused_at >= 3 * MINUTE_MS  # decisions happened, and took no entry
    # Resume: entries come back.
    assert paper_host.request("POST", "/api/v1/start")[0] == 200
    paper_host.wait_for("a new entry", lambda: paper_host.get("/api/v1/status"), timeout=30)

    assert paper_host.stop() in (0, 1, 130)
    j = paper_host.journal()
    rows = j.query(
        "SELECT command, sender, accepted FROM control_commands WHERE source = 'api' ORDER BY ts_ns"
    )
    assert [r[0] for r in rows] == ["pause", "start"]
    assert "ops-desk" in rows[0][1] and rows[0][1].startswith("api 127.0.0.1:")
    events = j.query("SELECT payload FROM events WHERE type = 'ControlAction'")
    assert [json.loads(p)["action"] for (p,) in events] == ["pause", "start"]
    j.close()


def test_watchlist_over_http_and_events_on_the_websocket(tmp_path):
    host = PaperHost(tmp_path, drives_watchlist=True, speed=20.0)
    try:
        _watchlist_scenario(host)
    finally:
        host.stop()
    j = host.journal()
    commands = [
        r[0]
        for r in j.query("SELECT command FROM control_commands WHERE source = 'api' ORDER BY ts_ns")
    ]
    assert commands[:3] == [
        f"watchlist add {INSTRUMENT}",
        f"watchlist renew {INSTRUMENT}",
        f"watchlist remove {INSTRUMENT}",
    ]
    # Entries persisted in the journal, with who changed them last.
    (row,) = j.query("SELECT instrument, status, priority, caller FROM watchlist")
    assert row[:3] == (INSTRUMENT, "removed", 3) and row[3].startswith("api 127.0.0.1:")
    j.close()


def _watchlist_scenario(host: PaperHost) -> None:
    # The watchlist drives the instrument set: with it empty, no entry, only vetoes.
    host.wait_for("a refused signal", lambda: host.get("/api/v1/vetoes")["vetoes"])
    veto = host.get("/api/v1/vetoes")["vetoes"][0]
    assert (veto["filter"], veto["reason"]) == (
        "operator",
        f"{INSTRUMENT} is not on the active watchlist",
    )
    assert host.get("/api/v1/status") == [] and host.get("/api/v1/whitelist")["whitelist"] == []

    received: list[dict] = []

    async def listen() -> None:
        from websockets.asyncio.client import connect

        url = f"ws://127.0.0.1:{host.port}/api/v1/ws"
        async with connect(url, subprotocols=["bearer", host.token]) as ws:
            with anyio.move_on_after(20):
                async for msg in ws:
                    received.append(json.loads(msg))
                    if any(m["type"] == "FillEvent" for m in received):
                        return

    def add() -> None:
        time.sleep(1.0)  # the listener is connected by then
        status, e = host.request(
            "POST",
            "/api/v1/watchlist/add",
            {
                "exchange": "sim",
                "market_type": "perp",
                "symbol": "BTCUSDT",
                "duration_hours": 1,
                "priority": 3,
            },
        )
        assert status == 200, e
        assert e["instrument"] == INSTRUMENT and e["status"] == "active"
        assert e["expires_ts_ns"] - e["added_ts_ns"] == 3_600 * 10**9

    async def both() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(listen)
            await anyio.to_thread.run_sync(add)

    anyio.run(both)
    types = [m["type"] for m in received]
    # A one-hour entry is due its one-hour warning at once; then the strategy may enter.
    assert "WatchlistExpiring" in types and "ControlAction" in types and "FillEvent" in types
    expiring = next(m for m in received if m["type"] == "WatchlistExpiring")
    assert expiring["data"]["instrument"] == INSTRUMENT
    assert host.get("/api/v1/whitelist")["whitelist"] == [INSTRUMENT]
    host.wait_for("an entry on the watched instrument", lambda: host.get("/api/v1/status"))

    (listed,) = host.get("/api/v1/watchlist")["watchlist"]
    status, renewed = host.request(
        "POST", "/api/v1/watchlist/renew", {"instrument": INSTRUMENT, "duration_hours": 2}
    )
    assert status == 200 and renewed["expires_ts_ns"] == listed["expires_ts_ns"] + 2 * 3_600 * 10**9
    top = host.get("/api/v1/watchlist/top-liquid?n=5")["top"]
    assert top[0]["instrument"] == INSTRUMENT and top[0]["quote_volume_24h"] > 0
    status, _ = host.request("DELETE", f"/api/v1/watchlist/remove?instrument={INSTRUMENT}")
    assert status == 200 and host.get("/api/v1/watchlist")["watchlist"] == []
    status, out = host.request(
        "POST",
        "/api/v1/watchlist/add",
        {"exchange": "sim", "market_type": "perp", "symbol": "DOGEUSDT"},
    )
    assert status == 422 and "not configured on this host" in out["detail"][0]["msg"]


def test_read_endpoints_answer_in_freqtrades_shapes(shared_host: PaperHost):
    shared_host.wait_for(
        "a closed trade", lambda: shared_host.get("/api/v1/profit")["closed_trade_count"]
    )
    perf = shared_host.get("/api/v1/performance")
    assert perf[0]["pair"] == INSTRUMENT and perf[0]["count"] >= 1
    daily = shared_host.get("/api/v1/daily?timescale=3")
    assert len(daily["data"]) == 3 and daily["data"][0]["date"] == "2020-02-22"
    assert daily["data"][0]["trade_count"] >= 1 and daily["stake_currency"] == "USDT"
    assert len(shared_host.get("/api/v1/weekly")["data"]) == 4
    assert len(shared_host.get("/api/v1/monthly")["data"]) == 3
    stats = shared_host.get("/api/v1/stats")
    assert "maxhold" in stats["exit_reasons"]
    path = f"/api/v1/pair_candles?pair={INSTRUMENT}&timeframe=1m&limit=5"
    candles = shared_host.wait_for(
        "five 1m candles", lambda: (c := shared_host.get(path))["length"] == 5 and c
    )
    assert candles["columns"][:6] == ["date", "open", "high", "low", "close", "volume"]
    assert candles["length"] == 5 and candles["enter_long_signals"] >= 1
    signals = shared_host.get("/api/v1/signals?limit=2&offset=1")
    assert len(signals["signals"]) == 2 and signals["total"] >= 3 and signals["offset"] == 1
    funnel = shared_host.get("/api/v1/funnel")["funnel"]
    assert funnel["signals"] >= funnel["orders"] >= 1
    kinds = shared_host.get("/api/v1/plugins")["plugins"]
    assert {p["plugin"] for p in kinds["venues"]} == {"sim", "replay"}
    assert shared_host.get("/api/v1/health")["ticks"] > 0
    assert shared_host.get("/api/v1/equity?points=10")["points"]
    assert shared_host.request("GET", "/api/v1/trade/99999")[0] == 404


def test_the_cli_prints_a_fresh_token():
    tokens = [
        subprocess.run(
            [sys.executable, "-m", "tradewind", "api", "token"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert tokens[0] != tokens[1]
    for t in tokens:
        assert len(t) >= 43 and t.replace("-", "").replace("_", "").isalnum()


def test_forceenter_while_paused_then_stop_ends_the_run(tmp_path):
    host = PaperHost(tmp_path, max_hold_minutes=600)
    try:
        host.wait_for("the first decision", lambda: host.get("/api/v1/health")["decisions"])
        assert host.request("POST", "/api/v1/pause")[0] == 200
        host.flatten()  # the strategy's first entry: only the forced one stays open
        status, out = host.request(
            "POST", "/api/v1/forceenter", {"pair": INSTRUMENT, "side": "short", "stakeamount": 0.01}
        )
        assert status == 200 and out["order_id"].startswith("tw-")
        out_id = out["order_id"]
        # The forced entry is a market IOC order: it fills what the next prints on its side
        # offer and the rest is cancelled, so the trade is read once the order is done.
        (trade,) = host.wait_for(
            "the forced entry's fills",
            lambda: [t for t in host.get("/api/v1/status") if not t["has_open_orders"]],
        )
        assert trade["is_short"] is True and 0 < trade["amount"] <= 0.01
        forced = trade["amount"]
        status, out = host.request("POST", "/api/v1/forceenter", {"pair": "sim:NOPE"})
        assert status == 400 and "unknown instrument 'sim:NOPE'" in out["detail"]
        status, out = host.request("POST", "/api/v1/stop")
        assert status == 200 and out == {"status": "stopping trader ..."}
        host.proc.wait(timeout=30)
        assert host.proc.returncode == 0, host.output()
    finally:
        host.stop()
    j = host.journal()
    commands = [
        r[0]
        for r in j.query(
            "SELECT command FROM control_commands WHERE source = 'api' AND accepted ORDER BY ts_ns"
        )
    ]
    assert f"forceenter {INSTRUMENT} sell 0.010" in commands and commands[-1] == "stop"
    # What status showed is what the journal booked for the forced order.
    rows = j.query("SELECT quantity FROM fills WHERE client_order_id = ?", [out_id])
    assert rows and float(sum(Decimal(q) for (q,) in rows)) == forced
    (refused,) = j.query(
        "SELECT outcome FROM control_commands WHERE source = 'api' AND NOT accepted"
    )
    assert "unknown instrument 'sim:NOPE'" in refused[0]
    (summary,) = j.query("SELECT summary FROM runs")[0]
    assert json.loads(summary)["stopped"]  # the run ended on the stop, not at the data's end
    j.close()
