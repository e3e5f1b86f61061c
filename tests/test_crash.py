"""kill -9 a paper session after fills, restart it, and find the state the journal holds.

The session runs as a subprocess (tests/crash_runner.py: ``tradewind run`` plus the
start-of-session preparation) on the shipped BTCUSDT sample, replayed at 300x real time. The
runner prints a line for every fill once the journal has it; the test kills the process with
SIGKILL at that point, opens the journal it left behind, and starts the session again.
"""

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from tradewind.journal import step_log
from tradewind.journal.store import TABLES, Journal

from tests.crash_runner import position_dict
from tests.pg import JournalAt
from tests.test_engine import demo_config_text

REPO = Path(__file__).resolve().parents[1]
RUNNER = REPO / "tests" / "crash_runner.py"

pytestmark = pytest.mark.slow


def _paper_config(tmp_path: Path, journal_at) -> Path:
    text = journal_at.config_text(demo_config_text(tmp_path))
    text = text.replace('mode = "backtest"', 'mode = "paper"')
    text = text.replace(
        'plugin = "replay"\n', 'plugin = "replay"\nspeed = 300.0\nchunk_ticks = 50\n'
    )
    path = tmp_path / "paper.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _run_until_fills(config: Path, fills: int, extra_s: float) -> list[tuple[str, str]]:
    """Start the session, wait for ``fills`` journaled fills, let it run ``extra_s`` more,
    then SIGKILL it. Returns the fills it announced."""
    proc = subprocess.Popen(
        [sys.executable, str(RUNNER), str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=config.parent,
    )
    seen: list[tuple[str, str]] = []
    deadline = time.monotonic() + 120
    try:
        assert proc.stdout is not None
        while len(seen) < fills:
            line = proc.stdout.readline()
            assert line, f"session ended before {fills} fills: {proc.stderr.read()[-2000:]}"
            if line.startswith("FILL "):
                _, cid, tid = line.split()
                seen.append((cid, tid))
            assert time.monotonic() < deadline, "no fill within 120 s"
        time.sleep(extra_s)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return seen


def _journal_state(path: Path | str) -> dict:
    j = Journal.open_readonly(path)
    try:
        counts = {t: j.count(t, session_only=False) for t in TABLES}  # every table reads
        state = {
            "session_id": j.session_id,
            "positions": {k: position_dict(p) for k, p in j.positions().items() if not p.is_flat},
            "open_orders": sorted(r.client_order_id for r in j.open_orders()),
            "cash": str(j.cash()),
            "fills": {(f.client_order_id, f.trade_id) for f in j.fills()},
            "last_seq": j.last_client_order_seq(),
            "counts": counts,
            "order_ids": [r[0] for r in j.query("SELECT client_order_id FROM orders")],
        }
    finally:
        j.close()
    return state


def _restart(config: Path, out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, str(RUNNER), str(config), "--state-out", str(out), "--stop-after-prepare"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=config.parent,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PREPARED" in proc.stdout
    return json.loads(out.read_text(encoding="utf-8"))


def _assert_resumed(after: dict, at_kill: dict) -> None:
    assert after["resumed"] and after["session_id"] == at_kill["session_id"]
    # Positions and open orders: the host, the restored venue and the journal agree.
    assert after["positions"] == at_kill["positions"]
    assert after["venue_positions"] == at_kill["positions"]
    assert after["open_orders"] == after["tracked_open"] == after["venue_open_orders"]
    assert after["open_orders"] == at_kill["open_orders"]
    assert Decimal(after["cash"]) == Decimal(at_kill["cash"])
    assert Decimal(after["venue_cash"]["USDT"]) == Decimal(at_kill["cash"])
    # Ids continue after the journal's last one.
    prefix, _, n = after["next_client_order_id"].rpartition("-")
    assert prefix == f"tw-{at_kill['session_id'][:12]}" and int(n) == at_kill["last_seq"] + 1
    # Only an order whose acknowledgement the kill cut off may differ from the journal.
    assert set(after["discrepancies"]) <= {"order_state"}


def test_a_killed_paper_session_resumes_with_the_journaled_positions_and_orders(
    tmp_path, journal_at
):
    config = _paper_config(tmp_path, journal_at)
    journal = journal_at("journal")

    announced = _run_until_fills(config, fills=1, extra_s=0.3)
    at_kill = _journal_state(journal)
    assert at_kill["counts"]["fills"] >= 1
    # Every fill the host acted on (announced on the bus) was on disk before it.
    assert set(announced) <= at_kill["fills"]
    _assert_resumed(_restart(config, tmp_path / "state1.json"), at_kill)

    # Kill the resumed session again, later, and resume once more.
    announced = _run_until_fills(config, fills=3, extra_s=0.7)
    at_kill2 = _journal_state(journal)
    assert at_kill2["session_id"] == at_kill["session_id"]
    assert set(announced) <= at_kill2["fills"]
    assert at_kill2["fills"] >= at_kill["fills"]  # nothing journaled is ever lost
    assert len(at_kill2["order_ids"]) == len(set(at_kill2["order_ids"]))  # no id reused
    _assert_resumed(_restart(config, tmp_path / "state2.json"), at_kill2)


def test_a_killed_paper_session_with_its_loads_on_the_load_thread_all_along(tmp_path):
    """A DuckDB journal loaded by its load thread every couple of rows (``[journal]
    load_rows = 2``): the kills land while loads run beside the engine, between a load's
    commit and the removal of its file, or with rows only in the step logs; each restart
    finds every fill the host acted on, once, and resumes where the journal says."""
    config = _paper_config(tmp_path, JournalAt("duckdb", tmp_path, None))
    config.write_text(
        config.read_text(encoding="utf-8") + "\n[journal]\nload_rows = 2\nload_every_s = 0.001\n",
        encoding="utf-8",
    )
    journal = tmp_path / "journal.duckdb"
    for round_, fills in enumerate((2, 4), start=1):
        announced = _run_until_fills(config, fills=fills, extra_s=0.5)
        if round_ == 1:
            # Fills reached the DuckDB tables during the run: only a load can have put them
            # there (the kill left no flush), and the due loads run on the load thread.
            con = duckdb.connect(str(journal), read_only=True)
            try:
                assert con.execute("SELECT count(*) FROM fills").fetchone()[0] >= 1
            finally:
                con.close()
        at_kill = _journal_state(journal)
        assert set(announced) <= at_kill["fills"]
        assert at_kill["counts"]["fills"] == len(at_kill["fills"])  # each fill once
        assert len(at_kill["order_ids"]) == len(set(at_kill["order_ids"]))
        _assert_resumed(_restart(config, tmp_path / f"state{round_}.json"), at_kill)
    assert not step_log.loading_path(journal).exists()  # the restarts loaded and removed it
