"""bench/bench_api.py still runs (tests/benchsmoke.py says why), at a size that takes seconds,
in both serving modes, and its requests all succeed; in process mode with its control phase
(a process that is not the API burning the API's CPU time), whose effect size is reported
beside the API loads'; with a CPU budget passed to the host's config (``--cpu-share``), whose
share per phase and counters it reports."""

from __future__ import annotations

import re

import pytest

from tests.benchsmoke import run_bench


@pytest.mark.slow
@pytest.mark.parametrize("serve", ["process", "thread"])
def test_the_api_benchmark_runs(serve: str) -> None:
    share = {"process": "0.5", "thread": "1.0"}[serve]
    args = ["--serve", serve, "--seconds", "1", "--warmup", "20", "--rounds", "1"]
    args += ["--cpu-share", share]
    if serve == "process":
        args += ["--control", "tcp"]
    out = run_bench("bench_api.py", args, "decision latency under load")
    # The budget reached the host's config and its counters came back from /health.
    budget = re.search(
        r"API CPU budget \(\[api\] cpu_share\): ([\d.]+) of one CPU.*; ([\d,]+) requests admitted",
        out,
    )
    assert budget and float(budget[1]) == float(share), out[-4000:]
    assert int(budget[2].replace(",", "")) > 0, budget[0]
    shares = re.findall(r"API CPU share ([\d.]+)", out)
    assert len(shares) == 5 + 2 * (serve == "process"), out[-4000:]
    assert all(0 <= float(x) <= 2 for x in shares), shares
    for path in ("/api/v1/status", "/api/v1/trades"):
        lines = [
            line for line in out.splitlines() if line.strip().startswith(path) and "req/s" in line
        ]
        assert lines, f"no figures for {path}:\n{out[-4000:]}"
        assert all(", 0 errors," in line for line in lines), lines
    if serve == "process":
        # The control ran on its own, sent pages, and has its A beside the API loads'.
        sent = re.search(r"control tcp +duty ([\d.]+) +cpu s ([\d.]+) .*\(([\d,]+) pages", out)
        assert sent, out[-4000:]
        duty, cpu, pages = float(sent[1]), float(sent[2]), int(sent[3].replace(",", ""))
        assert 0 < duty <= 1 and cpu > 0 and pages > 0, sent[0]
        side = re.search(r"A per round, side by side: (.*)", out)
        assert side, out[-4000:]
        for load in ("/api/v1/status", "/api/v1/trades", "control tcp"):
            assert re.search(re.escape(load) + r" [01]\.\d{3} \(", side[1]), side[1]
    else:
        assert "control" not in out


def test_the_api_trades_benchmark_runs() -> None:
    """bench/bench_api_trades.py runs a short paper session and prints each trade endpoint's
    CPU time per answer."""
    out = run_bench("bench_api_trades.py", ["--ticks", "3000"], "trades at the end:")
    for name in ("status", "profit", "stats", "daily", "trades oldest 500", "trade 1"):
        assert re.search(rf"{name}: median +\d+ µs, max +\d+ µs \(\d+ asks\)", out), name
