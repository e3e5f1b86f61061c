"""The API server runs on its own thread and event loop. Its read endpoints of trades, money,
health and state answer from the engine's latest snapshot: while the engine's loop is
blocked they still answer, with the data of the engine's last step, and they never touch
the engine from the server's thread. What reads the journal or changes the engine still runs
on the engine's loop."""

from __future__ import annotations

import json
import math
import threading
import time
import urllib.error
import urllib.request
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
import tradewind.api.server as api_server
from tradewind.api.auth import new_token
from tradewind.api.views import HostView
from tradewind.config import load_config
from tradewind.report.metrics import funnel
from tradewind.trading.engine import Engine

from tests.host_config import host_toml

BLOCK_S = 1.5
#: The endpoints answered from the snapshot (each must answer while the engine is blocked).
SNAPSHOT_READS = (
    "/status",
    "/balance",
    "/count",
    "/trades",
    "/trade/1",
    "/profit",
    "/performance",
    "/daily",
    "/weekly",
    "/monthly",
    "/stats",
    "/health",
    "/state",
    "/equity?points=50",
    "/funnel",
)
API = '[api]\nenabled = true\nport = 0\ntoken_env = "TW_TEST_API_TOKEN"\nserve = "thread"\n'


def _get(url: str, token: str, timeout: float = 30) -> tuple[int, Any, float]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, json.loads(r.read()), time.perf_counter()


class EngineGuard:
    """The engine as the API's view sees it: every attribute read is allowed on the
    engine's thread and recorded as a violation on any other."""

    def __init__(self, engine: Engine) -> None:
        object.__setattr__(self, "_engine", engine)
        object.__setattr__(self, "_owner", threading.get_ident())
        object.__setattr__(self, "violations", [])

    def __getattr__(self, name: str) -> Any:
        if threading.get_ident() != self._owner:
            self.violations.append((threading.current_thread().name, name))
        return getattr(self._engine, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._engine, name, value)


def test_the_server_answers_while_the_engines_loop_is_blocked(tmp_path, monkeypatch):
    token = new_token()
    monkeypatch.setenv("TW_TEST_API_TOKEN", token)
    engine = Engine(load_config(host_toml(tmp_path, api=API)), run_id="thread")
    seen: dict[str, object] = {}

    @asynccontextmanager
    async def probe(eng):
        server = eng.api_server
        base = f"http://127.0.0.1:{server.port}/api/v1"
        seen["engine_thread"] = threading.get_ident()
        seen["server_thread"] = server._thread.ident
        done: dict[str, tuple] = {}

        def call(name: str, path: str) -> None:
            try:
                done[name] = _get(base + path, token, timeout=BLOCK_S * 4)
            except OSError as exc:
                done[name] = (type(exc).__name__, str(exc), time.perf_counter())

        # The engine's loop is blocked (a synchronous sleep on it) while three requests
        # come: ping and status (the snapshot) are answered during the block; signals (a
        # journal page, read on the engine's loop) waits for the loop and answers after it.
        threads = {
            name: threading.Thread(target=call, args=(name, path))
            for name, path in (("ping", "/ping"), ("status", "/status"), ("signals", "/signals"))
        }
        for t in threads.values():
            t.start()
        time.sleep(BLOCK_S)  # blocks the engine's loop: the point of the test
        unblocked = time.perf_counter()
        for t in threads.values():
            await anyio.to_thread.run_sync(t.join)
        seen.update(done)
        seen["unblocked"] = unblocked
        seen["calls"] = server.bridge.calls
        yield

    engine.services.append(probe)
    anyio.run(engine.run)
    assert seen["server_thread"] != seen["engine_thread"]
    for name in ("ping", "status"):
        code, body, at = seen[name]
        assert code == 200, (name, body)
        assert at < seen["unblocked"], f"{name} waited for the engine's loop"
    assert seen["ping"][1] == {"status": "pong"} and seen["status"][1] == []
    code, body, at = seen["signals"]
    assert code == 200 and body["total"] == 0
    assert at >= seen["unblocked"]  # the journal's page ran on the engine's loop
    assert seen["calls"] >= 1


def test_snapshot_endpoints_answer_with_the_last_steps_data_while_the_engine_blocks(
    tmp_path, monkeypatch
):
    """Mid-run, with trades made and a position open, a step's end blocks the engine's
    thread: that same thread asks every snapshot endpoint over HTTP (had one needed the
    engine's loop, it could not answer) and compares the answers with the engine's state
    at that moment. Meanwhile every read of the view's engine is checked to come from the
    engine's thread only."""
    token = new_token()
    monkeypatch.setenv("TW_TEST_API_TOKEN", token)
    engine = Engine(load_config(host_toml(tmp_path, api=API)), run_id="snap")
    guards: list[EngineGuard] = []

    def guarded_view(eng: Engine) -> HostView:
        guard = EngineGuard(eng)
        guards.append(guard)
        return HostView(guard)  # type: ignore[arg-type]

    monkeypatch.setattr(api_server, "HostView", guarded_view)
    out: dict[str, Any] = {}

    def at_step_end() -> None:
        if out or len(engine.orders.fills) < 3 or not engine.portfolio.positions():
            return
        server = engine.api_server
        base = f"http://127.0.0.1:{server.port}/api/v1"
        pf = engine.portfolio
        out["expected"] = {
            "cash": pf.cash,
            "equity": pf.equity(),
            "positions": {p.instrument: p.quantity for p in pf.positions()},
            "ticks": engine.ticks,
            "decisions": engine.decision_points,
            "fills": len(engine.orders.fills),
            "equity_points": len(engine.equity_curve),
            "last_ts": pf.ts_ns,
            "funnel": funnel(engine.figures()),
        }
        calls_before = server.bridge.calls
        answers = {}
        for path in SNAPSHOT_READS:
            try:
                answers[path] = _get(base + path, token, timeout=5)[1]
            except (urllib.error.URLError, TimeoutError) as exc:
                answers[path] = f"{type(exc).__name__}: {exc}"
        out["answers"] = answers
        out["calls"] = server.bridge.calls - calls_before
        engine.stopper.request("the test has what it needs")

    @asynccontextmanager
    async def probe(eng):
        eng.step_sinks.append(at_step_end)  # after the view's publish: the step's snapshot
        yield

    engine.services.append(probe)
    anyio.run(engine.run)
    assert out, "the run never had three fills and an open position"
    exp, got = out["expected"], out["answers"]
    for path, body in got.items():
        assert not isinstance(body, str), f"{path} did not answer while the engine blocked: {body}"
    assert out["calls"] == 0  # nothing was handed to the engine's loop
    balance = got["/balance"]
    assert Decimal(balance["cash_exact"]) == exp["cash"]
    assert Decimal(balance["equity_exact"]) == exp["equity"]
    held = {c["currency"]: c["position"] for c in balance["currencies"] if c["is_position"]}
    assert held == {k: float(abs(q)) for k, q in exp["positions"].items()}
    status = got["/status"]
    assert {t["instrument"] for t in status} == set(exp["positions"])
    assert [t["amount"] for t in status] == [float(abs(q)) for q in exp["positions"].values()]
    health = got["/health"]
    assert health["ticks"] == exp["ticks"] and health["decisions"] == exp["decisions"]
    assert health["last_process_ts"] == exp["last_ts"] // 1_000_000_000
    trades = got["/trades"]
    n_orders = sum(len(t["orders"]) for t in trades["trades"])
    assert n_orders >= exp["fills"]  # a flip's fill is in two trades
    assert trades["total_trades"] == len(trades["trades"]) >= 1
    assert got["/count"]["current"] == len(exp["positions"])
    assert got["/trade/1"]["trade_id"] == 1
    assert got["/state"]["state"] == "running" and got["/state"]["run_id"] == engine.run_id
    assert len(got["/equity?points=50"]["points"]) == min(exp["equity_points"], 51)
    assert got["/funnel"] == {"funnel": exp["funnel"], "decisions": exp["decisions"]}
    assert exp["funnel"]["candidates"] > 0
    profit = got["/profit"]
    assert profit["trade_count"] == trades["total_trades"]
    # No endpoint read the engine from another thread than the engine's.
    assert len(guards) == 1
    assert guards[0].violations == []


def test_the_snapshot_equals_the_engine_after_each_step_and_is_only_renewed_on_change(tmp_path):
    engine = Engine(load_config(host_toml(tmp_path)), run_id="eq")
    view = HostView(engine)
    checked = {"steps": 0, "with_position": 0, "republished": 0}

    def compare() -> None:
        snap = view.source.latest
        assert snap is not None
        pf, spf = engine.portfolio, snap.portfolio
        assert spf.cash == pf.cash
        assert list(spf.positions()) == list(pf.positions())
        for p in pf.positions():
            last = pf.last_price(p.instrument)
            assert spf.last_price(p.instrument) == last or math.isnan(last)
        assert spf.equity() == pf.equity()
        assert spf.starting_equity() == pf.starting_equity()
        assert spf.ts_ns == pf.ts_ns
        assert [o.client_order_id for o in spf.open_orders()] == [
            o.client_order_id for o in pf.open_orders()
        ]
        assert (snap.ticks, snap.decisions) == (engine.ticks, engine.decision_points)
        assert snap.funnel == funnel(engine.figures())
        assert view.source.fills[: snap.n_fills] == engine.orders.fills
        assert view.source.equity[: snap.n_equity] == engine.equity_curve
        # Nothing changed since: no new snapshot, the same object stays the latest.
        if view.source.publish() is not None:
            checked["republished"] += 1
        assert view.source.latest is snap
        checked["steps"] += 1
        checked["with_position"] += bool(pf.positions())

    engine.step_sinks.append(compare)  # after the view's own publish
    anyio.run(engine.run)
    assert checked["republished"] == 0
    assert checked["steps"] > 100 and checked["with_position"] > 10
    # The view's trades, folded from the snapshot's fills, are the journal's round trips.
    assert len(view.trades()) >= 1
    assert sum(len(t.orders) for t in view.trades()) >= len(engine.orders.fills)
    # The trades page sent as bytes (closed trades' JSON encoded once, then joined) is the
    # page itself, on first encoding and from the kept bytes alike.
    for limit, offset in ((500, 0), (7, 3), (500, 0), (5, 10**6)):
        body, _ = view.trades_page_json(limit, offset)
        assert json.loads(body) == view.trades_page(limit, offset)
