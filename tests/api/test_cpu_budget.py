"""The API's CPU budget (``[api] cpu_share``, tradewind.api.budget): the bucket driven by
injected clocks and sleep (no timed test), the config's check of the share, and a paper
host's API (its process, or its server's thread) under a load beyond its share: every request
answered 200, later, the budget's counters showing the waits, and (process mode) the API
process's CPU over the run within its share."""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from pathlib import Path

import pytest
from tradewind.api.budget import CpuBudget
from tradewind.config import load_config
from tradewind.errors import ConfigError

from tests.api.conftest import PaperHost
from tests.host_config import host_toml


class Clocks:
    """A CPU clock and a wall clock the test moves; ``sleep`` moves the wall clock only
    (waiting costs no CPU) and records how long it was asked to wait."""

    def __init__(self) -> None:
        self.cpu_s = 0.0
        self.wall_s = 100.0
        self.sleeps: list[float] = []

    def cpu(self) -> float:
        return self.cpu_s

    def wall(self) -> float:
        return self.wall_s

    async def sleep(self, seconds: float) -> None:
        # Yields as a real sleep does, so requests can wait side by side; each wakes when
        # the wall clock has reached the end of its own wait.
        self.sleeps.append(seconds)
        until = self.wall_s + seconds
        await asyncio.sleep(0)
        self.wall_s = max(self.wall_s, until)

    def budget(self, share: float, window_s: float = 0.2, **kw: float) -> CpuBudget:
        return CpuBudget(share, window_s, cpu=self.cpu, wall=self.wall, sleep=self.sleep, **kw)


def admit(budget: CpuBudget) -> float:
    return asyncio.run(budget.admit())


def test_within_the_share_no_request_waits():
    c = Clocks()
    b = c.budget(0.25)
    admit(b)
    # Exactly a quarter of the CPU, request after request, for 10 s of wall time ...
    for _ in range(1000):
        c.wall_s += 0.01
        c.cpu_s += 0.0025
        assert admit(b) == 0.0
    # ... and a burst of the whole window's share at once (0.25 × 0.2 s) after a quiet spell.
    c.wall_s += 1.0
    c.cpu_s += 0.05
    assert admit(b) == 0.0
    assert c.sleeps == []
    assert (b.admitted, b.delayed, b.waited_s) == (1002, 0, 0.0)


def test_a_burst_beyond_the_share_waits_exactly_as_long_as_the_window_requires():
    c = Clocks()
    b = c.budget(0.25)
    admit(b)  # a full bucket: 0.05 CPU s
    # 0.15 CPU s in 0.1 s of wall time: 0.05 held + 0.025 earned leaves 0.075 s overspent,
    # which a quarter of a CPU earns back in 0.3 s.
    c.wall_s += 0.1
    c.cpu_s += 0.15
    assert admit(b) == pytest.approx(0.3)
    assert c.sleeps == [pytest.approx(0.3)]
    # Paid back: the next request goes at once; then 0.01 CPU s more waits 0.04 s.
    assert admit(b) == 0.0
    c.cpu_s += 0.01
    assert admit(b) == pytest.approx(0.04)
    assert len(c.sleeps) == 2
    assert (b.admitted, b.delayed) == (4, 2)
    assert b.waited_s == pytest.approx(0.34)
    assert b.counters()["delayed"] == 2 and b.counters()["share"] == 0.25


def test_requests_waiting_together_share_the_debt_and_the_next_pays_what_they_spent():
    c = Clocks()
    b = c.budget(0.5, window_s=0.1)
    admit(b)
    c.cpu_s += 0.15  # 0.1 s of CPU beyond the 0.05 the bucket holds: 0.2 s to earn back

    async def three() -> list[float]:
        return list(await asyncio.gather(b.admit(), b.admit(), b.admit()))

    assert asyncio.run(three()) == [pytest.approx(0.2)] * 3
    # The three went ahead together and spent 0.03 CPU s: the next one waits 0.06 s for it.
    c.cpu_s += 0.03
    assert admit(b) == pytest.approx(0.06)
    assert b.delayed == 4


def test_the_debt_is_capped_so_no_request_waits_longer_than_max_wait():
    c = Clocks()
    b = c.budget(0.25, max_wait_s=1.0)
    admit(b)
    c.cpu_s += 10.0  # far beyond anything the API can be made to pay back quickly
    assert admit(b) == pytest.approx(1.0)
    # Held 0.05; owed at most 0.25 (1 s at a quarter of a CPU): the rest is forgiven.
    assert b.forgiven_cpu_s == pytest.approx(10.0 - 0.05 - 0.25)
    assert admit(b) == 0.0


def test_cpu_spent_while_a_request_waits_holds_it_at_most_max_wait():
    c = Clocks()
    b = c.budget(0.25, max_wait_s=1.0)
    admit(b)
    c.cpu_s += 0.1  # 0.05 overspent: 0.2 s to wait

    async def intake_while_waiting(seconds: float) -> None:
        # The update intake burns half a CPU while the request sleeps: more than the share.
        c.sleeps.append(seconds)
        c.wall_s += seconds
        c.cpu_s += seconds * 0.5

    b._sleep = intake_while_waiting
    assert admit(b) == pytest.approx(1.0)
    assert sum(c.sleeps) == pytest.approx(1.0) and len(c.sleeps) > 1


def test_a_share_of_one_is_no_budget_and_never_reads_a_clock():
    def never() -> float:
        raise AssertionError("a budget of 1.0 read a clock")

    async def never_sleep(seconds: float) -> None:
        raise AssertionError("a budget of 1.0 waited")

    b = CpuBudget(1.0, cpu=never, wall=never, sleep=never_sleep)
    assert b.unlimited
    for _ in range(100):
        assert admit(b) == 0.0
    assert (b.admitted, b.delayed, b.waited_s) == (100, 0, 0.0)


@pytest.mark.parametrize("bad", [0, 0.0, -0.5, 1.5, 2, math.nan, math.inf, "half", True])
def test_a_share_outside_zero_to_one_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match=r"\[api\] cpu_share must be") as info:
        CpuBudget(bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize(
    "bad, shown", [("0", "0"), ("1.25", "1.25"), ('"a quarter"', "'a quarter'")]
)
def test_a_bad_cpu_share_is_a_config_error_in_config_check(tmp_path, capsys, bad, shown):
    from tradewind.cli import main

    config = host_toml(
        tmp_path,
        mode="paper",
        speed=10.0,
        api=f'[api]\nenabled = true\ntoken_env = "TW_TEST_API_TOKEN"\ncpu_share = {bad}\n',
    )
    with pytest.raises(ConfigError, match=r"cpu_share") as info:
        load_config(config)
    assert shown in str(info.value)
    assert main(["config", "check", str(config)]) != 0
    err = capsys.readouterr().err
    assert "cpu_share" in err and shown in err
    # In range, it loads; the default is a quarter of a CPU.
    good = host_toml(tmp_path, mode="paper", api="[api]\ncpu_share = 0.1\n")
    assert load_config(good).api.cpu_share == 0.1
    assert load_config(host_toml(tmp_path, mode="paper", api="[api]\n")).api.cpu_share == 0.25


def _cpu_s(stat: Path) -> float:
    """utime + stime from a /proc stat file (a process's: all its threads; a task's: one)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads CPU time from /proc")
@pytest.mark.parametrize("serve", ["process", "thread"])
def test_requests_beyond_the_share_are_delayed_not_refused(tmp_path, serve):
    share = 0.1
    host = PaperHost(tmp_path, serve=serve, api_extra=f"cpu_share = {share}\n")
    try:
        # What the budget counts in process mode: the API process, every thread of it. (In
        # thread mode, the server's thread, which Python 3.11 does not name for /proc: there
        # the budget's own counters are the check.)
        stat = Path(f"/proc/{host.api_pid()}/stat") if serve == "process" else None
        before = host.get("/api/v1/health")["api_cpu"]
        assert before["share"] == share
        statuses: list[int] = []
        lock = threading.Lock()

        def client() -> None:
            got = []
            for i in range(50):
                path = "/api/v1/ping" if i % 4 == 0 else "/api/v1/status"
                got.append(host.request("GET", path)[0])
            with lock:
                statuses.extend(got)

        cpu0, wall0 = _cpu_s(stat) if stat else 0.0, time.monotonic()
        workers = [threading.Thread(target=client) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        cpu, wall = (_cpu_s(stat) - cpu0 if stat else 0.0), time.monotonic() - wall0
        after = host.get("/api/v1/health")["api_cpu"]
    finally:
        assert host.stop() == 0
    # Every request answered, none refused: the budget delays, it never says 429.
    assert statuses == [200] * 200, sorted(set(statuses))
    # The limiter's own counters: requests were admitted (ping among them) and many waited.
    assert after["admitted"] - before["admitted"] >= 200
    # Waits follow from the API's CPU beyond its share and its bucket. On a machine loaded by
    # other work the API process may not get that much CPU in the run (a CI run at load ~12
    # saw none): then no request had to wait, and the CPU check below still holds it.
    overspent = stat is None or cpu > share * (wall + after["window_s"]) + 0.05
    if overspent:
        assert after["delayed"] - before["delayed"] > 0, (cpu, wall, after)
        assert after["waited_s"] > before["waited_s"]
    # The API's CPU over the run (measured CPU, not the machine's speed): at most its
    # share of the wall time, plus the bucket's burst, what it forgave and two clock ticks
    # of /proc's resolution — and a generous margin on top.
    if serve == "thread":
        return
    forgiven = after["forgiven_cpu_s"] - before["forgiven_cpu_s"]
    allowed = share * wall + share * after["window_s"] + forgiven + 0.02
    assert cpu <= allowed * 1.5 + 0.05, (cpu, wall, allowed, after)
