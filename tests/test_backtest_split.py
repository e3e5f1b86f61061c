"""Multi-instrument backtests of independent books (``[run] capital = "per_instrument"``), in
process and on a real Dask scheduler with two worker processes over TCP on 127.0.0.1: the same
journal rows and report figures; a shared-capital config of several instruments is refused."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cli
from tests.test_engine import demo_config_text
from tests.test_sweep_dask import scheduler  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow

#: Journal tables compared row for row (every table a backtest writes to).
TABLES = ("runs", "events", "signals", "vetoes", "orders", "order_events", "fills", "positions",
          "balances", "account_balances", "cash_flows", "system_events")  # fmt: skip


def two_venue_config(tmp: Path, *, capital: str | None = "per_instrument") -> str:
    """The demo config trading the shipped sample's BTCUSDT on two simulated venues with
    different fees, latency and capital: two instruments, ``sim_a:BTCUSDT`` and
    ``sim_b:BTCUSDT``, each replayed by its own replay source."""
    text = demo_config_text(tmp)
    head, tail = text.split("[[instruments]]", 1)
    inst, rest = tail.split("[venues.sim]", 1)
    replay_path = rest.split("[venues.replay]", 1)[1].split("\n\n", 1)[0]
    after = rest.split("[venues.replay]", 1)[1].split("\n\n", 1)[1]
    a = inst.replace('venue = "sim"', 'venue = "sim_a"')
    a = a.replace('data = "replay"', 'data = "replay_a"')
    b = (
        inst.replace('venue = "sim"', 'venue = "sim_b"')
        .replace('data = "replay"', 'data = "replay_b"')
        .replace('taker_fee = "0.0004"', 'taker_fee = "0.0006"')
    )
    if capital is not None:
        head = head.replace("[run]\n", f'[run]\ncapital = "{capital}"\n', 1)
    venues = (
        '[venues.sim_a]\nplugin = "sim"\nstarting_balance = "10000"\nlatency_ms = 25\n\n'
        '[venues.sim_b]\nplugin = "sim"\nstarting_balance = "5000"\nlatency_ms = 80\n\n'
        f"[venues.replay_a]{replay_path}\n\n[venues.replay_b]{replay_path}\n\n"
    )
    return f"{head}[[instruments]]{a}[[instruments]]{b}{venues}{after}"


def _backtest(cfg: Path, out: Path, *extra: str) -> tuple[dict, str]:
    proc = run_cli("backtest", str(cfg), "--report-dir", str(out), *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "report.json").read_text()), proc.stdout


def _rows(journal: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(journal), read_only=True)
    try:
        out = {}
        for t in TABLES:
            cur = con.execute(f"SELECT * FROM {t}")
            cols = [d[0] for d in cur.description]
            out[t] = [tuple(zip(cols, r, strict=True)) for r in cur.fetchall()]
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    """The in-process run of the two-book config; its journal is then moved aside, so a run
    of the same config file (same run ids) starts a fresh journal."""
    tmp = tmp_path_factory.mktemp("split")
    cfg = tmp / "two.toml"
    cfg.write_text(two_venue_config(tmp), encoding="utf-8")
    report, _ = _backtest(cfg, tmp / "local")
    (tmp / "journal.duckdb").rename(tmp / "local.duckdb")
    return tmp, report, _rows(tmp / "local.duckdb")


def test_a_per_instrument_backtest_on_a_dask_scheduler_with_two_workers_equals_the_in_process_run(
    in_process,
    scheduler,  # noqa: F811
):
    tmp, local_report, local_rows = in_process
    report, _ = _backtest(tmp / "two.toml", tmp / "dask", "--cluster", scheduler)
    rows = _rows(tmp / "journal.duckdb")
    (tmp / "journal.duckdb").rename(tmp / "dask.duckdb")
    # Both books traded: the comparison is about real orders and fills.
    fills = [dict(r) for r in rows["fills"]]
    assert {f["instrument"] for f in fills} == {"sim_a:BTCUSDT", "sim_b:BTCUSDT"}
    assert len(rows["orders"]) >= 4 and len(rows["signals"]) >= 2
    # Every journal row identical, table by table, in the same order.
    for table in TABLES:
        assert rows[table] == local_rows[table], table
    # Every report figure identical: summary, metrics, equity curve, trades.
    assert report == local_report
    s = report["summary"]
    assert s["instruments"] == ["sim_a:BTCUSDT", "sim_b:BTCUSDT"]
    assert Decimal(s["starting_equity"]) == Decimal("15000")  # 10000 + 5000, one per book
    # The runs went to the cluster: one run_group task per instrument.
    from distributed import Client

    with Client(scheduler, timeout="30s") as client:
        counts = client.run_on_scheduler(
            lambda dask_scheduler: {
                str(k): sum(v.state_counts.values())
                for k, v in dask_scheduler.task_prefixes.items()
            }
        )
    assert counts.get("run_group", 0) >= 2


def test_each_book_is_the_single_instrument_backtest_of_its_instrument(in_process, tmp_path):
    """A book of the split run trades exactly as a plain backtest of its instrument alone."""
    _, _, local_rows = in_process
    cfg_text = two_venue_config(tmp_path, capital=None)
    # Only sim_b's instrument, venue and replay source: a one-instrument config.
    head, rest = cfg_text.split("[[instruments]]", 1)
    insts = rest.split("[[instruments]]")
    b_inst = insts[1].split("[venues.sim_a]", 1)[0]
    venues = "[venues.sim_a]" + insts[1].split("[venues.sim_a]", 1)[1]
    venues = venues.replace(venues.split("[venues.sim_b]", 1)[0], "")  # drop [venues.sim_a]
    replay_a = "[venues.replay_a]" + venues.split("[venues.replay_a]", 1)[1].split("\n\n", 1)[0]
    venues = venues.replace(replay_a + "\n\n", "")
    single = tmp_path / "b.toml"
    single.write_text(f"{head}[[instruments]]{b_inst}{venues}", encoding="utf-8")
    _backtest(single, tmp_path / "reports")
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    plain = con.execute(
        "SELECT instrument, side, quantity, price, fee, ts_ns FROM fills ORDER BY seq"
    ).fetchall()
    con.close()
    split_b = [
        (f["instrument"], f["side"], f["quantity"], f["price"], f["fee"], f["ts_ns"])
        for f in map(dict, local_rows["fills"])
        if f["instrument"] == "sim_b:BTCUSDT"
    ]
    assert plain and split_b == plain


def test_several_instruments_sharing_capital_are_refused_on_a_cluster(tmp_path):
    cfg = tmp_path / "shared.toml"
    cfg.write_text(two_venue_config(tmp_path, capital=None), encoding="utf-8")
    proc = run_cli("backtest", str(cfg), "--cluster", "local")
    assert proc.returncode != 0
    assert "share one portfolio" in proc.stderr
    assert "would change the result" in proc.stderr
    assert 'capital = "per_instrument"' in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_book_reading_another_instrument_is_refused(tmp_path):
    text = two_venue_config(tmp_path).replace('leader = ""', 'leader = "sim_a:BTCUSDT"')
    cfg = tmp_path / "leader.toml"
    cfg.write_text(text, encoding="utf-8")
    proc = run_cli("backtest", str(cfg))
    assert proc.returncode != 0
    assert '[exits.guard] leader = "sim_a:BTCUSDT"' in proc.stderr
    assert "not independent books" in proc.stderr


def test_the_same_split_backtest_again_into_the_same_journal_gets_new_run_ids(tmp_path):
    cfg = tmp_path / "two.toml"
    cfg.write_text(two_venue_config(tmp_path), encoding="utf-8")
    first, _ = _backtest(cfg, tmp_path / "r1")
    second, _ = _backtest(cfg, tmp_path / "r2")
    base = first["summary"]["run_id"]
    assert second["summary"]["run_id"] == f"{base}-2"
    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    runs = [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY run_id").fetchall()]
    assert runs == sorted([f"g0-{base}", f"g1-{base}", f"g0-{base}-2", f"g1-{base}-2"])
    # Both runs' rows are whole: the second's fills equal the first's, book by book.
    fills = {
        run: con.execute(
            "SELECT instrument, side, quantity, price, fee, ts_ns FROM fills WHERE run_id = ? "
            "ORDER BY seq", [run]
        ).fetchall()
        for run in runs
    }  # fmt: skip
    con.close()
    assert fills[f"g0-{base}"] and fills[f"g0-{base}"] == fills[f"g0-{base}-2"]
    assert fills[f"g1-{base}"] and fills[f"g1-{base}"] == fills[f"g1-{base}-2"]
    # The report figures of the same backtest are the same, but for its run id.
    assert {k: v for k, v in first["summary"].items() if k != "run_id"} == {
        k: v for k, v in second["summary"].items() if k != "run_id"
    }
