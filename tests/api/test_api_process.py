"""The API in a process of its own (``[api] serve = "process"``, the default): a real paper host
(``tradewind run``) and its API process, seen through /proc and over HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import time
from decimal import Decimal
from pathlib import Path

import pytest
from tradewind.affinity import machine_cpus
from tradewind.api.snapshot import fill_from_row
from tradewind.api.views import JOURNAL_PAGES, journal_item, journal_page, rebuild_trades
from tradewind.api.wire import WireError, decode, encode
from tradewind.config import load_config
from tradewind.errors import ConfigError

from tests.api import conftest
from tests.api.conftest import WEBHOOK_SECRET, PaperHost
from tests.host_config import host_toml

START = Decimal("10000")  # the sim venue's starting balance in tests/host_config.py


def _gone(pid: int) -> bool:
    """The process ended (gone, or a zombie its new parent has not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return _gone(pid)


def _open_files(pid: int) -> list[str]:
    out = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            out.append(os.readlink(fd))
        except OSError:
            continue
    return out


def _nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[16])


def test_the_api_process_never_opens_the_journal_and_holds_no_secret(paper_host: PaperHost):
    paper_host.wait_for("a fill", lambda: paper_host.get("/api/v1/trades")["trades"])
    # Journal pages and the signals are answered (by the host, on the API process's behalf).
    paper_host.wait_for(
        "journaled signals and fills",
        lambda: (
            paper_host.get("/api/v1/signals?limit=5")["total"] >= 1
            and paper_host.get("/api/v1/fills?limit=5")
        ),
    )
    child = paper_host.api_pid()
    journal = str(paper_host.tmp_path / "journal.duckdb")
    host_files = _open_files(paper_host.proc.pid)
    assert any(f.startswith(journal) for f in host_files)  # the host has it open
    child_files = _open_files(child)
    assert not [f for f in child_files if "journal" in f or f.endswith((".duckdb", ".wal"))]
    # Its environment holds neither the token nor any other secret of the host's.
    environ = Path(f"/proc/{child}/environ").read_bytes().decode(errors="replace")
    assert paper_host.token not in environ and WEBHOOK_SECRET not in environ
    assert "TW_TEST_API_TOKEN" not in environ and "TW_TEST_WEBHOOK_SECRET" not in environ
    # It runs at [api] nice (10) above the host's niceness.
    assert _nice(child) == min(19, _nice(paper_host.proc.pid) + 10)
    # ... and in the batch class: a request waking it does not preempt the engine.
    assert os.sched_getscheduler(child) == os.SCHED_BATCH
    # /logs answers from its copy of the host's lines (the host logged where it listens).
    lines = paper_host.get("/api/v1/logs")["logs"]
    assert any(f"API process {child})" in row[4] for row in lines), lines


def test_what_the_api_answers_equals_what_the_journal_holds(paper_host: PaperHost):
    h = paper_host
    h.wait_for(
        "two closed trades",
        lambda: sum(not t["is_open"] for t in h.get("/api/v1/trades")["trades"]) >= 2,
        timeout=90,
    )
    assert h.request("POST", "/api/v1/pause")[0] == 200
    h.flatten()
    time.sleep(1.0)  # the last fill's update reaches the API process (within ~10 ms)
    status = h.get("/api/v1/status")
    trades = h.get("/api/v1/trades")
    count = h.get("/api/v1/count")
    profit = h.get("/api/v1/profit")
    balance = h.get("/api/v1/balance")
    # Answered by the API process from its newest journal rows (and so never lagging the
    # host's DuckDB loads): the journal's rows up to the newest one answered, paged.
    pages = {
        (table, limit, offset): h.get(f"/api/v1/{table}?limit={limit}&offset={offset}")
        for table in ("signals", "vetoes")
        for limit, offset in ((1000, 0), (3, 2))
    }
    fills = h.get("/api/v1/fills?limit=1000")
    assert h.stop() == 0
    j = h.journal()  # one session: the host's journal is fresh
    for (table, limit, offset), page in pages.items():
        newest = pages[table, 1000, 0][table][0]["seq"]
        cols = ", ".join(JOURNAL_PAGES[table])
        held = j.query(f"SELECT {cols} FROM {table} WHERE seq <= ? ORDER BY seq DESC", [newest])
        want = journal_page(table, held[offset : offset + limit], len(held), limit, offset)
        assert page == json.loads(json.dumps(want)), (table, limit, offset)
    assert len(pages["signals", 1000, 0]["signals"]) >= 2
    assert len(pages["vetoes", 1000, 0]["vetoes"]) >= 1
    cols = ", ".join(JOURNAL_PAGES["fills"])
    held = j.query(f"SELECT {cols} FROM fills WHERE seq <= ? ORDER BY seq DESC", [fills[0]["seq"]])
    assert fills == json.loads(json.dumps([journal_item("fills", r) for r in held]))
    rows = j.query(
        "SELECT client_order_id, trade_id, instrument, side, quantity, price, fee, ts_ns, "
        "liquidity FROM fills ORDER BY seq"
    )
    j.close()
    journal_trades = rebuild_trades(fill_from_row(r) for r in rows)
    assert len(journal_trades) >= 2 and all(not t.is_open for t in journal_trades)
    assert status == [] and count["current"] == 0
    assert trades["total_trades"] == len(journal_trades)
    got = {t["trade_id"]: t for t in trades["trades"]}
    for t in journal_trades:
        api = got[t.trade_id]
        assert api["pair"] == t.instrument and api["is_short"] == t.is_short
        assert Decimal(str(api["amount"])) == t.amount
        assert Decimal(api["profit_exact"]) == t.realized - t.fee_open - t.fee_close
        assert api["open_timestamp"] == t.open_ts_ns // 1_000_000
        assert api["close_timestamp"] == (t.close_ts_ns or 0) // 1_000_000
        assert len(api["orders"]) == len(t.orders)
    closed = sum((t.realized - t.fee_open - t.fee_close for t in journal_trades), Decimal(0))
    assert profit["trade_count"] == profit["closed_trade_count"] == len(journal_trades)
    assert Decimal(str(profit["profit_closed_coin"])) == Decimal(str(float(closed)))
    # Flat: equity is the starting balance plus what the closed trades made, to the cent.
    assert Decimal(balance["equity_exact"]) == START + closed
    assert Decimal(balance["cash_exact"]) == START + closed


def test_sigkill_of_the_host_takes_the_api_process_with_it(tmp_path):
    host = PaperHost(tmp_path)
    try:
        child = host.api_pid()
        host.proc.kill()
        host.proc.wait()
        assert _wait_gone(child, 5.0), f"the API process {child} outlived its host"
    finally:
        host.stop()


def test_sigkill_of_the_api_process_is_reported_and_trading_goes_on(tmp_path):
    host = PaperHost(tmp_path, speed=30.0)
    host.wait_for("an open trade", lambda: host.get("/api/v1/status"))
    child = host.api_pid()
    killed_at_s = host.get("/api/v1/health")["last_process_ts"]  # market time
    os.kill(child, signal.SIGKILL)
    host.wait_for(
        "the host to report its API process gone",
        lambda: "ended (killed by SIGKILL" in host.output(),
        timeout=10,
    )
    time.sleep(10)  # 5 minutes of market time at speed 30: entries and max-hold exits
    assert host.proc.poll() is None  # the host trades on
    assert host.stop() == 0
    out = (tmp_path / "host.log").read_text(errors="replace")
    # One line from the API's logger (the event's own log line aside), one event journaled.
    assert out.count("ERROR tradewind.api: the API process") == 1, out[-3000:]
    j = host.journal()
    (n_events,) = j.query(
        "SELECT count(*) FROM events WHERE type = 'SystemError' AND payload LIKE '%API process%'"
    )[0]
    # Fills a minute of market time and more after the kill: entries and exits went on.
    after = j.query(
        "SELECT count(*) FROM fills WHERE ts_ns > ?", [(killed_at_s + 60) * 1_000_000_000]
    )[0][0]
    j.close()
    assert n_events == 1
    assert after >= 2, "no fills after the API process died"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_of_the_host_stops_both_cleanly(tmp_path, sig):
    host = PaperHost(tmp_path, speed=10.0)
    child = host.api_pid()
    assert host.get("/api/v1/count")["current"] >= 0
    host.proc.send_signal(sig)
    assert host.proc.wait(timeout=30) == 0
    assert _wait_gone(child, 5.0)
    out = host.output()
    assert "Traceback" not in out and "did not exit" not in out, out
    assert "the HTTP API is down" not in out  # a clean stop is not reported as a crash
    host.stop()


def test_the_wire_refuses_frames_that_name_code():
    import pickle
    import struct

    msg = ("update", {"cash": Decimal("1.25"), "fills": [("c1", "t1", "sim:X", "buy")]})
    frame = encode(msg)
    assert struct.unpack(">I", frame[:4])[0] == len(frame) - 4
    assert decode(frame[4:]) == msg
    evil = pickle.dumps(("call", 1, "x", (os.system,)))
    with pytest.raises(WireError, match=r"(posix|os)\.system"):
        decode(evil)
    with pytest.raises(WireError, match="not a message tuple"):
        decode(pickle.dumps(["update"]))


def test_control_through_the_api_process_is_journaled_with_its_caller(paper_host: PaperHost):
    h = paper_host
    h.wait_for("an open trade", lambda: h.get("/api/v1/status"))
    tid = h.get("/api/v1/status")[0]["trade_id"]
    status, out = h.request(
        "POST", "/api/v1/forceexit", {"tradeid": tid}, headers={"User-Agent": "desk-7"}
    )
    assert status == 200 and out["instruments"] == ["sim:BTCUSDT"], out
    # A market close takes what the next prints offer: ask again until the trade is closed.
    for _ in range(10):
        time.sleep(1.5)
        if not h.get(f"/api/v1/trade/{tid}")["is_open"]:
            break
        h.request("POST", "/api/v1/forceexit", {"tradeid": tid}, headers={"User-Agent": "desk-7"})
    assert not h.get(f"/api/v1/trade/{tid}")["is_open"], h.output()
    status, out = h.request("POST", "/api/v1/pause", headers={"User-Agent": "desk-7"})
    assert status == 200 and h.get("/api/v1/state")["state"] == "paused"
    assert h.stop() == 0
    j = h.journal()
    rows = j.query(
        "SELECT command, sender, accepted FROM control_commands WHERE source = 'api' ORDER BY ts_ns"
    )
    tags = j.query("SELECT tag FROM orders WHERE tag LIKE 'control: forceexit%'")
    events = j.query("SELECT payload FROM events WHERE type = 'ControlAction' ORDER BY seq")
    j.close()
    commands = [r[0].split()[0] for r in rows]
    assert commands[-1] == "pause" and set(commands[:-1]) == {"forceexit"}, rows
    assert all("desk-7" in r[1] and r[1].startswith("api 127.0.0.1:") and r[2] for r in rows)
    assert tags and "desk-7" in tags[0][0]
    assert [json.loads(p)["action"].split()[0] for (p,) in events] == commands


def test_a_port_in_use_fails_the_host_naming_the_key(tmp_path, monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(conftest, "free_port", lambda: port)
        with pytest.raises(RuntimeError, match=r"the host exited") as info:
            PaperHost(tmp_path)
    out = str(info.value)
    assert f"the API cannot listen on 127.0.0.1:{port}" in out and "@ $.api.port" in out, out
    assert "Traceback" not in out


def test_the_mirror_answers_what_the_host_view_answers_after_coalesced_updates(tmp_path):
    """A backtest's engine with the host's side of process mode: every few steps (updates
    skipped between, as when the API process has not read the last one) an update is built,
    sent through the wire's encoding, and applied to a mirror; the mirror's snapshot views
    then answer exactly what the host's own view answers at that step."""
    import anyio
    from tradewind.api.mirror import Mirror, MirrorView
    from tradewind.api.procserver import ApiProcess
    from tradewind.config import load_config
    from tradewind.trading.engine import Engine
    from tradewind.trading.watchlist import watchlist_service

    from tests.host_config import host_toml

    # Small chunks: the replay awaits between them, so the journal takes the bus's signals
    # and vetoes while the run goes on, as in paper and live.
    engine = Engine(load_config(host_toml(tmp_path, chunk_ticks=25)), run_id="mirror")
    engine.services = [watchlist_service]  # as a host with [api] runs it
    api = ApiProcess(engine, "t" * 32)  # not started: its pump does nothing
    host = api.view
    mirror_view = MirrorView(host.settings, host.started_ts_ns)
    mirror = Mirror(mirror_view)
    seen = {"steps": 0, "updates": 0, "with_position": 0, "watched": 0}
    # The host's log lines, as process_api_service collects them (a line every step).
    logger = logging.getLogger("tradewind.test_mirror")
    logging.getLogger("tradewind").addHandler(host.logs)

    def ship() -> None:
        seen["steps"] += 1
        logger.warning("step %d", seen["steps"])
        # Watchlist changes between updates: added, renewed, removed, some expiring.
        wl, n = api.operator.watchlist, seen["steps"]
        if n % 5 == 0:
            wl.add(
                exchange="sim",
                market_type="perp",
                symbol=f"W{n % 45}USDT",
                caller=f"test {n}",
                duration_hours=0.05 + (n % 3) * 0.5,
                priority=n % 4,
            )
        elif n % 11 == 0 and wl.get(f"sim:W{(n - 10) % 45}USDT") is not None:
            wl.renew(f"sim:W{(n - 10) % 45}USDT", caller="test", duration_hours=2)
        elif n % 13 == 0 and wl.get(f"sim:W{(n - 5) % 45}USDT") is not None:
            wl.remove(f"sim:W{(n - 5) % 45}USDT", caller="test")
        if seen["steps"] % 7:
            return  # coalesced into a later update
        snap = host.source.latest
        assert snap is not None
        # The journal's rows written (a backtest's journal writes every so many rows, paper
        # and live make each step's durable at its end): they go out with this update.
        engine.journal.flush()
        msg = decode(encode(("update", api.build_update(snap)))[4:])
        mirror.apply(msg[1])
        seen["updates"] += 1
        seen["with_position"] += bool(snap.portfolio.open_positions)
        for name, args in (
            ("status", ()),
            ("balance", ()),
            ("count", ()),
            ("profit", ()),
            ("performance", ()),
            ("stats", ()),
            ("health", ()),
            ("funnel", ()),
            ("equity", (50,)),
            ("trades_page", (500, 0)),
        ):
            assert getattr(mirror_view, name)(*args) == getattr(host, name)(*args), name
        # /logs answers from the mirror's copy: the host's lines, in order, none lost.
        for limit in (None, 3):
            assert mirror_view.logs.page(limit) == api.ops.logs(limit)
        # /watchlist answers from the mirror's copy of the host's entries.
        for include_inactive in (False, True):
            got = mirror_view.watchlist(include_inactive)
            assert got == api.ops.watchlist(include_inactive), include_inactive
        seen["watched"] += len(got["watchlist"]) > 3 and any(
            e["status"] != "active" for e in got["watchlist"]
        )
        # /signals, /vetoes and /fills answer from the mirror's newest journal rows: what the
        # host's journal holds (read by the host's own connection), paging included.
        for limit, offset in ((50, 0), (7, 3), (1000, 0), (5, 10**6)):
            for table in ("signals", "vetoes"):
                got = mirror_view.kept_page(table, limit, offset)
                assert got == getattr(host, table)(limit, offset), (table, limit, offset)
        for limit in (1, 50, 1000):
            assert mirror_view.kept_fills(limit) == host.fills(limit), limit
        for table in ("signals", "vetoes", "fills"):
            seen[table] = mirror_view.tails[table].total

    engine.step_sinks.append(ship)  # after the view's own publish
    try:
        anyio.run(engine.run)
    finally:
        logging.getLogger("tradewind").removeHandler(host.logs)
    assert seen["updates"] > 20 and seen["with_position"] > 3 and seen["watched"] > 3, seen
    assert seen["signals"] > 50 and seen["vetoes"] > 20 and seen["fills"] > 20, seen
    assert f"step {seen['steps'] - seen['steps'] % 7}" in mirror_view.logs.records[-1][4]
    assert len(mirror_view.trades()) == len(host.trades()) >= 1
    # Out of order (an update lost or applied twice) is refused, never silently merged.
    snap = host.source.latest
    api._fills_sent = 0
    with pytest.raises(WireError, match="continues fills at 0"):
        mirror.apply(api.build_update(snap))


def test_the_mirror_keeps_the_newest_journal_rows_and_leaves_older_pages_to_the_host(
    tmp_path, monkeypatch
):
    """With 10 rows kept per table and an update only every 60 steps (more rows pile up on
    the host than the mirror keeps: the update replaces the mirror's rows), a page within
    the newest 10 rows answers from the mirror exactly as the host's journal does; one
    reaching past them answers None, which the API asks of the host."""
    import anyio
    from tradewind.api import mirror as mirror_mod
    from tradewind.api import procserver
    from tradewind.api.mirror import Mirror, MirrorView
    from tradewind.api.procserver import ApiProcess
    from tradewind.trading.engine import Engine

    monkeypatch.setattr(mirror_mod, "KEPT_ROWS", 10)
    monkeypatch.setattr(procserver, "KEPT_ROWS", 10)
    engine = Engine(load_config(host_toml(tmp_path, chunk_ticks=25)), run_id="kept")
    engine.services = []
    api = ApiProcess(engine, "t" * 32)  # not started: its pump does nothing
    host = api.view
    mirror_view = MirrorView(host.settings, host.started_ts_ns)
    mirror = Mirror(mirror_view)
    seen = {"steps": 0, "resets": 0, "past": 0, "kept": 0}

    def ship() -> None:
        seen["steps"] += 1
        if seen["steps"] % 60:
            return
        engine.journal.flush()
        update = api.build_update(host.source.latest)
        seen["resets"] += sum(
            reset and start > 0 for start, _, reset in (update["journal"] or {}).values()
        )
        mirror.apply(decode(encode(("update", update))[4:])[1])
        for table in ("signals", "vetoes"):
            for limit, offset in ((10, 0), (4, 6), (3, 8), (1, 9), (11, 0), (1, 10)):
                got = mirror_view.kept_page(table, limit, offset)
                want = getattr(host, table)(limit, offset)
                if got is None:
                    assert offset + limit > 10 < want["total"], (table, limit, offset)
                    seen["past"] += 1
                else:
                    assert got == want, (table, limit, offset)
                    seen["kept"] += 1
        for limit in (1, 10, 11):
            got_fills = mirror_view.kept_fills(limit)
            if got_fills is None:
                assert limit > 10 < mirror_view.tails["fills"].total, limit
            else:
                assert got_fills == host.fills(limit), limit

    engine.step_sinks.append(ship)
    anyio.run(engine.run)
    assert seen["resets"] >= 2 and seen["past"] >= 4 and seen["kept"] >= 20, seen
    # A continuation that does not start where the mirror's rows end is refused.
    tail = mirror_view.tails["signals"]
    with pytest.raises(WireError, match="continues signals at"):
        mirror.apply(
            {
                **api.build_update(host.source.latest),
                "fills_from": len(mirror_view.source.fills),
                "fills": [],
                "equity_from": len(mirror_view.source.equity),
                "equity": [],
                "journal": {"signals": (tail.total + 1, [], False)},
            }
        )


def test_the_mirror_converts_pnl_in_two_currencies_as_the_host_does(tmp_path):
    """P&L in two currencies (USDT and BTC): the rates the engine values them at cross the
    wire, so the API process's totals are converted (or left out, with the reason, before a
    BTC price exists) exactly as the host's own view does."""
    from tradewind.api.mirror import Mirror, MirrorView
    from tradewind.api.procserver import ApiProcess

    from tests.test_pnl_currency import round_trip, two_currency_engine

    engine = two_currency_engine(tmp_path)
    api = ApiProcess(engine, "t" * 32)  # not started: updates are built and applied here
    host = api.view
    mirror_view = MirrorView(host.settings, host.started_ts_ns)
    mirror = Mirror(mirror_view)
    round_trip(engine, "sim:BTCUSDT", "0.1", "60000", "60100", 1)  # +10 USDT
    round_trip(engine, "sim:ETHBTC", "1", "0.05", "0.051", 2)  # +0.001 BTC

    def ship() -> None:
        snap = host.source.publish() or host.source.latest
        assert snap is not None
        mirror.apply(decode(encode(("update", api.build_update(snap)))[4:])[1])

    ship()
    profit = mirror_view.profit()
    assert profit == host.profit()
    assert profit["profit_closed_coin"] is None and "BTC" in profit["conversion_error"]
    engine.portfolio.mark("sim:BTCUSDT", 60000.0, 100)
    ship()
    profit = mirror_view.profit()
    assert profit == host.profit()
    assert profit["profit_closed_coin"] == 70.0 and profit["conversion_error"] is None
    assert mirror_view.performance() == host.performance()
    assert mirror_view.periodic("days", 1) == host.periodic("days", 1)


def test_the_mirror_converts_fees_in_four_currencies_as_the_host_does(tmp_path):
    """Fees in USDT, USDC, BNB and the bought BTC: the fill's fee currency, the BNB fee's
    price at its fill and the rates of the P&L currencies cross the wire, so the API
    process's fees and profits (per currency, and converted or null with the reason) equal
    the host's."""
    from tradewind.api.mirror import Mirror, MirrorView
    from tradewind.api.procserver import ApiProcess

    from tests.test_fee_currency import engine_of, trade_with_fees_in_four_currencies

    engine = engine_of(tmp_path)
    api = ApiProcess(engine, "t" * 32)  # not started: updates are built and applied here
    host = api.view
    mirror_view = MirrorView(host.settings, host.started_ts_ns)
    mirror = Mirror(mirror_view)
    trade_with_fees_in_four_currencies(engine)  # BNB at 600.5 USDT at its fee's fill

    def ship() -> None:
        snap = host.source.publish() or host.source.latest
        assert snap is not None
        mirror.apply(decode(encode(("update", api.build_update(snap)))[4:])[1])

    ship()
    profit = mirror_view.profit()
    assert profit == host.profit()
    assert profit["fees_paid"] is None and "cannot convert USDC" in profit["fees_not_converted"]
    assert profit["fees_paid_by_currency"] == {"BNB": "0.02", "USDC": "9.0000", "USDT": "5"}
    engine.portfolio.mark("sim:USDCUSDT", 0.999, 5)
    engine.portfolio.mark("sim:BNBUSDT", 650.0, 5)  # BNB's fee stays at its fill's 600.5
    ship()
    profit = mirror_view.profit()
    assert profit == host.profit()
    assert Decimal(profit["fees_paid"]) == Decimal("26.001")
    assert profit["fees_not_converted"] is None
    page = mirror_view.trades_page(10, 0)
    assert page == host.trades_page(10, 0)
    usdt = {t["pair"]: t for t in page["trades"]}["sim:BTCUSDT"]
    assert (usdt["fee_close_cost"], usdt["profit_abs"]) == (12.01, -7.01)


def _cpus_allowed(pid: int) -> set[int]:
    """A process's affinity (every thread: each must be on the configured CPUs)."""
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError, FileNotFoundError):
            out |= os.sched_getaffinity(int(task.name))
    return out


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(machine_cpus()) < 2,
    reason="CPU placement needs Linux and two CPUs",
)
def test_api_cpus_place_the_api_process_and_run_cpus_the_host(tmp_path):
    cpus = sorted(machine_cpus())
    engine_cpu, api_cpu = cpus[0], cpus[-1]
    host = PaperHost(
        tmp_path,
        api_extra=f"cpus = [{api_cpu}]\n",
        run_extra=f"cpus = [{engine_cpu}]\n",
    )
    try:
        child = host.api_pid()
        # Every thread of the API process (uvicorn's included) on [api] cpus, the host's on
        # [run] cpus: the engine keeps its core.
        assert _cpus_allowed(child) == {api_cpu}
        assert _cpus_allowed(host.proc.pid) == {engine_cpu}
        assert host.get("/api/v1/count")["current"] >= 0  # and it answers
    finally:
        assert host.stop() == 0


def test_a_cpu_that_does_not_exist_is_a_config_error_naming_the_key(tmp_path, capsys):
    from tradewind.cli import main

    missing = max(machine_cpus()) + 1
    config = host_toml(
        tmp_path,
        mode="paper",
        speed=10.0,
        api=f'[api]\nenabled = true\ntoken_env = "TW_TEST_API_TOKEN"\ncpus = [0, {missing}]\n',
    )
    with pytest.raises(ConfigError, match=rf"cpus \[{missing}\] do not exist .* @ \$\.api\.cpus"):
        load_config(config)
    assert main(["config", "check", str(config)]) != 0
    err = capsys.readouterr().err
    assert f"cpus [{missing}] do not exist on this machine" in err and "@ $.api.cpus" in err
    # [run] cpus the same way, and [api] cpus only where there is an API process to place.
    config = host_toml(tmp_path, mode="paper", run=f"cpus = [{missing}]\n")
    with pytest.raises(ConfigError, match=r"@ \$\.run\.cpus"):
        load_config(config)
    config = host_toml(tmp_path, mode="paper", api='[api]\nserve = "thread"\ncpus = [0]\n')
    with pytest.raises(ConfigError, match=r'needs serve = "process".* @ \$\.api\.cpus'):
        load_config(config)


def test_a_kept_trades_page_equals_a_fresh_one_after_fills_change_it(tmp_path):
    """The API process keeps ``trades`` pages as sent (closed trades encoded once, the page
    joined once, kept while the trades and, for a page with an open trade, the snapshot are
    the same). After every update -- new fills closing, opening and growing trades -- each
    page it sends is byte for byte the page a view with nothing kept builds, and the host's
    own page; the same ETag always means the same bytes."""
    import anyio
    from tradewind.api.mirror import Mirror, MirrorView
    from tradewind.api.procserver import ApiProcess
    from tradewind.trading.engine import Engine

    engine = Engine(load_config(host_toml(tmp_path)), run_id="pages")
    api = ApiProcess(engine, "t" * 32)  # not started: updates are built and applied here
    host = api.view
    kept_view = MirrorView(host.settings, host.started_ts_ns)
    fresh_view = MirrorView(host.settings, host.started_ts_ns)
    kept, fresh = Mirror(kept_view), Mirror(fresh_view)
    pages = ((500, 0), (3, 0), (2, 1), (1, 4), (2, 10_000))
    last: dict[tuple[int, int], tuple[bytes, str]] = {}
    seen = {"updates": 0, "same_tag": 0, "changed": 0}

    def ship() -> None:
        snap = host.source.latest
        assert snap is not None
        # The journal's rows written (a backtest's journal writes every so many rows, paper
        # and live make each step's durable at its end): they go out with this update.
        engine.journal.flush()
        msg = decode(encode(("update", api.build_update(snap)))[4:])[1]
        kept.apply(msg)
        fresh.apply(msg)
        seen["updates"] += 1
        for limit, offset in pages:
            body, tag = kept_view.trades_page_json(limit, offset)
            fresh_view._pages.clear()
            fresh_view._closed_text.clear()
            fresh_view._closed_json.clear()
            assert body == fresh_view.trades_page_json(limit, offset)[0], (limit, offset)
            assert json.loads(body) == host.trades_page(limit, offset)
            before = last.get((limit, offset))
            if before is not None:
                if before[1] == tag:
                    assert before[0] is body  # the kept page itself, not a rebuild
                    seen["same_tag"] += 1
                elif before[0] != body:
                    seen["changed"] += 1
            last[(limit, offset)] = (body, tag)

    engine.step_sinks.append(ship)  # after the view's own publish
    anyio.run(engine.run)
    assert len(kept_view.trades()) >= 5
    # Pages were both served as kept and rebuilt after fills changed them.
    assert seen["updates"] > 20 and seen["same_tag"] > 20 and seen["changed"] > 5, seen


def test_trades_answers_304_to_its_etag(paper_host: PaperHost):
    import urllib.error
    import urllib.request

    h = paper_host
    h.wait_for(
        "a closed trade",
        lambda: any(not t["is_open"] for t in h.get("/api/v1/trades")["trades"]),
        timeout=90,
    )
    auth = {"Authorization": f"Bearer {h.token}"}

    def get(headers: dict[str, str]) -> tuple[int, bytes, str | None]:
        req = urllib.request.Request(h.url + "/api/v1/trades?limit=1", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read(), r.headers.get("ETag")
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers.get("ETag")

    for _ in range(20):
        status, body, etag = get(auth)
        assert status == 200 and etag and json.loads(body)["trades"][0]["trade_id"] == 1
        again, empty, etag2 = get({**auth, "If-None-Match": f'W/"x", {etag}'})
        if again == 304:
            assert empty == b"" and etag2 == etag
            break
        # A new trade opened in between (the page's total_trades changed): a new tag.
        assert again == 200 and etag2 != etag and empty != body
    else:
        raise AssertionError("never a 304 in 20 tries")
    # Without the token, never a 304 (nor the page): 401.
    assert get({"If-None-Match": etag})[0] == 401
