"""Backtests are reproducible bit for bit: run ids and client order ids derive from the config
and the data, and nothing the engine owns reads the wall clock or really sleeps."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import anyio
import duckdb
import pytest
from tradewind.config import load_config
from tradewind.journal.store import TABLES
from tradewind.trading.engine import Engine

from tests.faulty_venue import FaultyVenue
from tests.test_engine import demo_config_text


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo_config_text(tmp_path))
    return cfg


def _rows(path: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}
    finally:
        con.close()


def test_two_backtests_of_the_same_config_and_data_write_identical_journals(demo, tmp_path):
    first = anyio.run(Engine(load_config(demo), journal_path=str(tmp_path / "a.duckdb")).run)
    second = anyio.run(Engine(load_config(demo), journal_path=str(tmp_path / "b.duckdb")).run)
    assert first.run_id == second.run_id and len(first.run_id) == 32
    a, b = _rows(tmp_path / "a.duckdb"), _rows(tmp_path / "b.duckdb")
    assert a["orders"] and a["fills"]  # the run traded: ids are in the rows compared
    assert all(cid.startswith(f"tw-{first.run_id[:12]}-") for cid, *_ in a["orders"])
    for table in TABLES:
        assert a[table] == b[table], table


def test_the_run_id_follows_the_config_and_the_data(demo, tmp_path):
    base = Engine(load_config(demo)).run_id
    other_cfg = tmp_path / "other.toml"
    other_cfg.write_text(demo.read_text().replace("risk_pct = 0.01", "risk_pct = 0.02"))
    assert Engine(load_config(other_cfg)).run_id != base
    # The same config over other data: one trade less.
    text = demo.read_text()
    sample = Path(text.split('path = "', 1)[1].split('"', 1)[0])
    lines = sample.read_text().splitlines(keepends=True)
    (tmp_path / "less.csv").write_text("".join(lines[:-1]))
    less = tmp_path / "less.toml"
    less.write_text(text.replace(sample.as_posix(), (tmp_path / "less.csv").as_posix()))
    fewer = Engine(load_config(less))
    assert fewer.run_id != base


def test_the_same_backtest_twice_into_one_journal_gets_a_second_derived_id(demo, tmp_path):
    path = str(tmp_path / "j.duckdb")
    one = anyio.run(Engine(load_config(demo), journal_path=path).run)
    two = anyio.run(Engine(load_config(demo), journal_path=path).run)
    assert two.run_id == f"{one.run_id}-2"


class WallClockGuard:
    """Records every wall-clock read made by tradewind code and every real sleep."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.violations: list[str] = []
        for name in ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter"):
            monkeypatch.setattr(time, name, self._clock(name, getattr(time, name)))
        real_sleep = asyncio.sleep
        real_anyio_sleep = anyio.sleep

        def thread_sleep(seconds: float) -> None:
            self.violations.append(f"time.sleep({seconds})")

        async def aio_sleep(seconds: float, *args: object) -> object:
            if seconds > 0:
                self.violations.append(f"asyncio.sleep({seconds}) from {_caller(2)}")
            return await real_sleep(0, *args)

        async def anyio_sleep(seconds: float) -> None:
            if seconds > 0:
                self.violations.append(f"anyio.sleep({seconds}) from {_caller(2)}")
            await real_anyio_sleep(0)

        monkeypatch.setattr(time, "sleep", thread_sleep)
        monkeypatch.setattr(asyncio, "sleep", aio_sleep)
        monkeypatch.setattr(anyio, "sleep", anyio_sleep)

    def _clock(self, name: str, real):  # type: ignore[no-untyped-def]
        def read(*args: object) -> object:
            caller = _caller(2)
            if caller.startswith("tradewind"):
                self.violations.append(f"time.{name}() read by {caller}")
            return real(*args)

        return read


def _caller(depth: int) -> str:
    return str(sys._getframe(depth).f_globals.get("__name__", "?"))


def test_a_backtest_reads_no_wall_clock_and_never_really_sleeps(demo, monkeypatch):
    """The venue refuses the first order twice (connection refused): the order manager backs
    off 0.25 s and 0.5 s in engine time, and its circuit breaker reads engine time."""
    guard = WallClockGuard(monkeypatch)
    engine = Engine(load_config(demo))
    faulty = FaultyVenue(engine.venues["sim"])
    faulty.set_sink(engine.orders)
    engine.venues["sim"] = faulty
    for st in engine.state.values():
        st.exec_venue = faulty
    faulty.fail("submit_order", "unavailable", "unavailable")
    result = anyio.run(engine.run)
    assert faulty.calls["submit_order"] >= 3  # the retries happened
    assert faulty.faults["submit_order"] == []
    assert result.fills  # and the order went through after them
    assert guard.violations == []
