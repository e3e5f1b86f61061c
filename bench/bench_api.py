"""The HTTP API under load while the host replays at full speed, and the decision latency
beside it.

    python bench/bench_api.py [--serve process|thread] [--seconds 10] [--connections 4]
                              [--rounds 2] [--rate N] [--switch-interval SECONDS]
                              [--engine-cpus 0] [--api-cpus 1] [--client-cpus 1]
                              [--client-nice N] [--control [json|tcp|spin]]
                              [--control-duty D] [--cpu-share X]

One process runs the engine (the bench_decision set-up: four analyzers, filters, trailing stop
and max hold; every 1m close sends an order, so fills and trades keep growing) and the API as
a paper host serves it. ``--serve process`` (the default, as ``[api] serve``): the API in a
process of its own (tradewind.api.procserver), niced by 10, answering from its mirror of the
engine's snapshots. ``--serve thread``: uvicorn on its own thread and loop of the engine's
process, the read endpoints answering from the engine's latest snapshot
(tradewind.api.snapshot), the rest handed to the engine's loop
(tradewind.api.server.EngineBridge). The engine is fed synthetic minutes as
fast as it takes them (one checkpoint per batch, as the feed's queue gives). Another process
(``--client``) sends ``GET /api/v1/status`` or ``/api/v1/trades`` over keep-alive
connections for ``--seconds`` and reports requests per second, latency percentiles and its
own CPU time. Decision latency (candle-closing batch -> the venue's submit_order) is
measured with the server idle and under each load, interleaved: each round runs idle,
status, idle, trades (as many decisions idle as under the load before), and a last idle phase
closes the run, so every load phase has idle phases on both sides and a change of the
machine's load (or the engine's cost drifting as trades accumulate) shows in both. Per
load phase, the common-language effect size of the Mann-Whitney U test,
A = U / (n_load * n_idle) = P(a decision under load is slower than one of the idle phases
beside it) + P(tie) / 2, is reported: 0.5 means no difference, and the
criterion "unchanged within noise" is A < 0.56 (a small effect by Vargha and Delaney's
thresholds). The CPU time of the engine's thread, the server (its thread, or its process),
and the client process is reported per phase, and the load average before and after.

Placement: ``--engine-cpus`` places the engine's process (as ``[run] cpus``), ``--api-cpus``
the API process (as ``[api] cpus``; in thread mode the server's thread) and ``--client-cpus``
the load generator, which in a deployment runs on another machine: with the client on the
API's CPU and the engine alone on its own, the engine sees what a remote client's load costs
it. The client reads every body and does not parse it (its own cost is HTTP and the read).

Control (``--control``): each round also runs a control phase after the trades load, with
idle phases beside it like the others: a process placed on the API's CPUs (``--api-cpus``)
that is neither the API nor its client and never talks to the engine spends the CPU time
the API and the client spent in that round's load phases (their CPU over the wall, at most
one CPU; ``--control-duty`` sets it) building and encoding pages of trades as the API
answers them (``json``), sending one such page, built once, again and again over loopback
TCP to a reader thread of its own (``tcp``: the memory traffic of kept pages sent and
read), or on arithmetic with next to no memory traffic (``spin``). Its A is reported beside
the API loads': a control that slows the engine as much as the API's load says the slowdown
is the machine (caches, memory bandwidth, the hypervisor's CPUs), not the API.

CPU budget (``--cpu-share``): ``[api] cpu_share`` of the host's config, the fraction of one
CPU the API may use before its requests wait (tradewind.api.budget); without the option the
config's default. ``--cpu-share 1.0`` is no budget. Per phase the API's CPU over the wall (its
process's, or in thread mode its thread's) is reported, and at the end the budget's counters
(requests admitted and delayed, seconds waited) as ``GET /api/v1/health`` answers them.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import itertools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_decision import CONFIG  # noqa: E402
from tradewind.affinity import check_cpus, machine_cpus, parse_cpu_list, pin_process  # noqa: E402
from tradewind.api.auth import new_token  # noqa: E402
from tradewind.config import load_config  # noqa: E402
from tradewind.model import TickBatch  # noqa: E402
from tradewind.trading.engine import Engine  # noqa: E402

API = """
[api]
enabled = true
port = 0
token_env = "TW_BENCH_API_TOKEN"
rate_limit = 100000000
"""


def client(
    port: int,
    token: str,
    path: str,
    seconds: float,
    connections: int,
    nice: int = 0,
    rate: float = 0.0,
    cpus: frozenset[int] = frozenset(),
) -> None:
    """The load generator (its own process): prints one JSON line of results. ``rate`` > 0
    paces the requests (that many a second across the connections, each connection sending
    on its own schedule); 0 sends each request as soon as the last one was answered.
    ``cpus``: the CPUs it runs on (before its threads start, so they inherit them)."""
    if nice:
        os.nice(nice)
    if cpus:
        os.sched_setaffinity(0, cpus)
    lat: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    errors = [0]
    size = [0]

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        hdrs = {"Authorization": f"Bearer {token}"}
        # Counted per thread and added under the lock: ``size[0] += len(r.read())`` loads
        # size[0] before the read releases the GIL, and lost other threads' bytes.
        my_bytes = my_errors = 0
        gap = connections / rate if rate > 0 else 0.0
        due = time.perf_counter()
        while time.perf_counter() < stop:
            if gap:
                due += gap
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            t0 = time.perf_counter()
            conn.request("GET", path, headers=hdrs)
            r = conn.getresponse()
            my_bytes += len(r.read())
            mine.append(time.perf_counter() - t0)
            if r.status != 200:
                my_errors += 1
        conn.close()
        with lock:
            lat.extend(mine)
            size[0] += my_bytes
            errors[0] += my_errors

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    q = statistics.quantiles(lat, n=100)
    cpu = time.process_time()
    print(
        json.dumps(
            {
                "path": path,
                "requests": len(lat),
                "errors": errors[0],
                "rps": len(lat) / elapsed,
                "p50_ms": q[49] * 1000,
                "p99_ms": q[98] * 1000,
                "mean_bytes": size[0] / max(1, len(lat)),
                "cpu_s": cpu,
                "wall_s": elapsed,
            }
        )
    )


def _page_rows(k: int, n: int) -> list[dict[str, Any]]:
    """``n`` closed trades shaped like the API's ``trades`` rows (Freqtrade's keys, two
    orders each), their numbers varied by ``k`` so nothing is reused between pages."""
    rows = []
    for i in range(n):
        x = 50_000.0 + (k * n + i) * 0.37
        ts = 1_700_000_000_000 + (k * n + i) * 60_000
        date = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts // 1000))
        rows.append(
            {
                "trade_id": k * n + i,
                "pair": "sim:BTCUSDT",
                "instrument": "sim:BTCUSDT",
                "base_currency": "BTC",
                "quote_currency": "USDT",
                "is_open": False,
                "is_short": bool(i % 2),
                "exchange": "sim",
                "amount": 0.013 + i * 1e-6,
                "amount_requested": 0.013 + i * 1e-6,
                "stake_amount": x * 0.013,
                "strategy": "tradewind",
                "enter_tag": "entry",
                "timeframe": 1,
                "fee_open_cost": x * 0.013 * 4e-4,
                "fee_open_currency": "USDT",
                "fee_close_cost": x * 0.013 * 4e-4 + 1e-7,
                "fee_close_currency": "USDT",
                "pnl_currency": "USDT",
                "other_fees": {},
                "open_date": date,
                "open_timestamp": ts,
                "open_fill_date": date,
                "open_fill_timestamp": ts,
                "open_rate": x,
                "open_trade_value": x * 0.013,
                "close_date": date,
                "close_timestamp": ts + 120_000,
                "close_rate": x + 1.7,
                "realized_profit": 0.0221 + i * 1e-5,
                "exit_reason": "maxhold: held 2m",
                "has_open_orders": False,
                "orders": [
                    {
                        "pair": "sim:BTCUSDT",
                        "order_id": f"tw-bench-{k}-{i}-{side}",
                        "status": "closed",
                        "amount": 0.013,
                        "safe_price": x + j * 1.7,
                        "cost": (x + j * 1.7) * 0.013,
                        "filled": 0.013,
                        "ft_order_side": side,
                        "order_type": "market",
                        "is_open": False,
                        "order_timestamp": ts + j * 120_000,
                        "order_filled_timestamp": ts + j * 120_000,
                    }
                    for j, side in enumerate(("buy", "sell"))
                ],
                "leverage": 1.0,
                "trading_mode": "futures",
                "close_profit": 1.1e-4 + i * 1e-9,
                "close_profit_pct": 0.01,
                "close_profit_abs": 0.0014 + i * 1e-7,
                "profit_abs": 0.0014 + i * 1e-7,
                "profit_ratio": 1.1e-4 + i * 1e-9,
                "profit_pct": 0.01,
                "profit_exact": f"{0.0014 + i * 1e-7:.12f}",
            }
        )
    return rows


def control(seconds: float, kind: str, duty: float, cpus: frozenset[int]) -> None:
    """The control load (its own process): CPU time spent on the API's CPUs by something that
    is not the API and never talks to the engine. ``json``: builds pages of trades as the API
    answers them (dicts, ``json.dumps``, encoded to bytes) in a loop; ``tcp``: one such page
    (~800 kB), built once as the API keeps its pages, written again and again over a loopback
    TCP connection to a thread of this process that reads it (the kernel's copies, as the
    API's sends and the client's reads make them); ``spin``: integer arithmetic on a few
    registers' worth of data (CPU time with next to no memory traffic). ``duty`` (0-1]: the
    share of one CPU it burns (it sleeps between units of work to keep that ratio). Prints
    one JSON line: pages, bytes, CPU time, wall."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    import socket

    sink: socket.socket | None = None
    reader: threading.Thread | None = None
    page = b""
    if kind == "tcp":
        page = json.dumps(_page_rows(0, 500), separators=(",", ":")).encode()
        server = socket.create_server(("127.0.0.1", 0))
        sink = socket.create_connection(server.getsockname())
        conn, _ = server.accept()
        server.close()

        def drain() -> None:
            while conn.recv(1 << 20):
                pass
            conn.close()

        reader = threading.Thread(target=drain)
        reader.start()
    pages = nbytes = k = 0
    t0 = time.perf_counter()
    c0 = time.process_time()
    stop = t0 + seconds
    while (now := time.perf_counter()) < stop:
        if kind == "spin":
            x = k
            for i in range(20_000):
                x = (x * 1_103_515_245 + i) & 0xFFFFFFFF
            nbytes += x & 1
            k += 1
        elif sink is not None:
            sink.sendall(page)
            nbytes += len(page)
            k += 1
            pages = k
        else:
            # 50 trades a unit (~80 kB): ten units are one 500-trade page's work.
            nbytes += len(json.dumps(_page_rows(k, 50), separators=(",", ":")).encode())
            k += 1
            pages = k // 10
        if duty < 1.0:
            # Keep CPU / wall at ``duty``: sleep off what this unit ran ahead of it.
            ahead = (time.process_time() - c0) / duty - (time.perf_counter() - t0)
            if ahead > 0:
                time.sleep(min(ahead, max(0.0, stop - now)))
    wall = time.perf_counter() - t0
    if sink is not None and reader is not None:
        sink.close()
        reader.join()
    print(
        json.dumps(
            {
                "kind": kind,
                "duty": duty,
                "units": k,
                "pages": pages,
                "bytes": nbytes,
                "cpu_s": time.process_time(),
                "wall_s": wall,
            }
        )
    )


class Feed:
    """Synthetic minutes for the bench_decision engine."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.rng = np.random.default_rng(1)
        self.minute = 60_000_000_000
        self.t0 = 1_700_000_000 * 1_000_000_000 // self.minute * self.minute
        self.price = 50_000.0
        self.k = 0

    def next(self, n: int = 50) -> tuple[TickBatch, TickBatch]:
        k, rng, minute, t0 = self.k, self.rng, self.minute, self.t0
        self.k += 1
        ts = t0 + k * minute + np.sort(rng.integers(1, minute, n))
        prices = np.round(self.price * np.exp(np.cumsum(rng.normal(0, 3e-4, n))), 1)
        self.price = float(prices[-1])
        body = TickBatch.from_arrays(
            self.key,
            ts,
            prices,
            rng.lognormal(-3, 1, n) + 0.001,
            np.where(rng.random(n) < 0.5, 1, -1),
            np.arange(n) + k * (n + 1),
        )
        closer = TickBatch.from_arrays(
            self.key, [t0 + (k + 1) * minute], [self.price], [0.01], [1], [k * (n + 1) + n]
        )
        return body, closer


def thread_cpu_s(native_id: int) -> float:
    """CPU time (user + system, s) of one of this process's threads, from /proc."""
    return _cpu_s(f"/proc/self/task/{native_id}/stat")


def process_cpu_s(pid: int) -> float:
    """CPU time (user + system, s) of a process, from /proc."""
    return _cpu_s(f"/proc/{pid}/stat")


def _cpu_s(path: str) -> float:
    try:
        with open(path, encoding="ascii") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: The columns of /proc/stat's per-CPU lines kept per phase: time the CPU spent serving
#: interrupts and softirqs (the loopback traffic's kernel work lands there) and time the
#: hypervisor ran something else while this virtual CPU wanted to run (steal).
STAT_FIELDS = {"irq": 5, "softirq": 6, "steal": 7}


def cpu_stat() -> dict[str, tuple[int, ...]]:
    """Each CPU's :data:`STAT_FIELDS` counters (clock ticks) from /proc/stat."""
    out: dict[str, tuple[int, ...]] = {}
    try:
        with open("/proc/stat", encoding="ascii") as f:
            for line in f:
                name, _, rest = line.partition(" ")
                if name.startswith("cpu") and name != "cpu":
                    v = rest.split()
                    out[name[3:]] = tuple(int(v[i]) for i in STAT_FIELDS.values())
    except OSError:
        pass
    return out


def stat_delta(a: dict[str, tuple[int, ...]], b: dict[str, tuple[int, ...]]) -> dict[str, Any]:
    """Seconds of each :data:`STAT_FIELDS` counter per CPU between two :func:`cpu_stat`."""
    tick = os.sysconf("SC_CLK_TCK")
    return {
        cpu: {k: (b[cpu][i] - a[cpu][i]) / tick for i, k in enumerate(STAT_FIELDS)}
        for cpu in b
        if cpu in a
    }


def cpu_list(text: str) -> frozenset[int]:
    """A ``--*-cpus`` option: Linux's CPU list format, ids of this machine."""
    try:
        cpus = parse_cpu_list(text)
        check_cpus(sorted(cpus), "the option")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return cpus


def effect_size(load: list[int], idle: list[int]) -> float:
    """Mann-Whitney's common-language effect size A = U_load / (n_load * n_idle): the
    probability that a decision latency under load exceeds one idle (ties count half)."""
    if not load or not idle:
        return float("nan")
    ref = np.sort(np.asarray(idle))
    x = np.asarray(load)
    below = np.searchsorted(ref, x, side="left")
    upto = np.searchsorted(ref, x, side="right")
    return float((below + 0.5 * (upto - below)).sum() / (len(x) * len(ref)))


async def bench(
    seconds: float,
    connections: int,
    warmup: int,
    rounds: int,
    http: str = "auto",
    serve: str = "process",
    client_nice: int = 0,
    api_nice: int = 10,
    rate: float = 0.0,
    engine_cpus: frozenset[int] = frozenset(),
    api_cpus: frozenset[int] = frozenset(),
    client_cpus: frozenset[int] = frozenset(),
    control: str | None = None,
    control_duty: float | None = None,
    late_placement: bool = False,
    engine_nice: int | None = None,
    cpu_share: float | None = None,
) -> dict[str, Any]:
    from tradewind.api.procserver import ApiProcess
    from tradewind.api.server import ApiServer
    from tradewind.journal.store import Journal
    from tradewind.trading.reconcile import prepare_session

    token = new_token()
    os.environ["TW_BENCH_API_TOKEN"] = token
    tmp = Path(tempfile.mkdtemp())
    text = CONFIG.format(
        mode="backtest", data="replay", journal=(tmp / "j.duckdb").as_posix(), panes=""
    )  # bench_decision's
    placed = f"cpus = {sorted(api_cpus)}\n" if api_cpus and serve == "process" else ""
    if cpu_share is not None:
        placed += f"cpu_share = {cpu_share!r}\n"
    (tmp / "c.toml").write_text(text + API + f"nice = {api_nice}\n" + placed)
    engine = Engine(load_config(tmp / "c.toml"), run_id="bench")
    engine.services = []  # the server is started here, beside the bench's own feed loop
    sim = engine.venues["sim"]
    stamps: list[int] = []
    submit = sim.submit_order

    async def timed_submit(order):  # type: ignore[no-untyped-def]
        stamps.append(time.perf_counter_ns())
        return await submit(order)

    sim.submit_order = timed_submit
    feed = Feed(next(iter(engine.instruments)))
    engine.journal = Journal(tmp / "j.duckdb", "bench")
    engine.journal.start("backtest", str(tmp / "c.toml"), feed.t0)
    engine.journal.group_commit = True  # as a paper host: one commit per engine step
    engine.bus.subscribe("journal", engine.journal.record, lossless=True)
    await prepare_session(engine)
    server: Any
    if serve == "process":
        server = ApiProcess(engine, token, http=http)
    else:
        server = ApiServer(engine, token, engine_loop=asyncio.get_running_loop())
        server.config.http = http  # uvicorn's HTTP parser: "auto" takes httptools if installed
    engine.bus.subscribe("api", server.view.on_event)
    results: dict[str, Any] = {"load_before": os.getloadavg(), "phases": [], "serve": serve}

    async def decide(until: Any) -> list[int]:
        lat: list[int] = []
        while not until():
            body, closer = feed.next()
            await engine.on_batch(body)
            await anyio.lowlevel.checkpoint()  # the feed's queue: one await per batch
            before = len(stamps)
            start = time.perf_counter_ns()
            await engine.on_batch(closer)
            if len(stamps) > before:
                lat.append(stamps[before] - start)
            await anyio.lowlevel.checkpoint()
        return lat

    def count(limit: int) -> Any:
        n = [0]

        def done() -> bool:
            n[0] += 1
            return n[0] > limit

        return done

    def place(pid: int, cpus: frozenset[int]) -> None:
        # At once, from here: a child placing itself only after its imports would run them
        # (~0.4 CPU s) on the engine's CPUs, which it inherits, at the start of its phase.
        if cpus and not late_placement:
            os.sched_setaffinity(pid, cpus)
        if engine_nice is not None:
            os.setpriority(os.PRIO_PROCESS, pid, 0)  # not the engine thread's niceness

    engine_tid = threading.get_native_id()
    async with engine.bus:
        if serve == "process":
            await server.start()  # on this thread: the API process dies with it

            def server_cpu() -> float:
                return process_cpu_s(server.pid)
        else:
            await anyio.to_thread.run_sync(server.start)
            assert server._thread is not None and server._thread.native_id is not None
            server_tid = server._thread.native_id
            if api_cpus:
                os.sched_setaffinity(server_tid, api_cpus)

            def server_cpu() -> float:
                return thread_cpu_s(server_tid)

        if engine_nice is not None:
            # The engine's thread only (Linux keeps niceness per thread), after the API
            # process started: ahead of every other job on its CPU, as a core of its own.
            if serve == "process":
                assert server.pid is not None
                os.setpriority(os.PRIO_PROCESS, server.pid, api_nice)
            os.setpriority(os.PRIO_PROCESS, engine_tid, engine_nice)
        await decide(count(warmup))  # warm up: analyzers, caches, some trades
        last_n = warmup
        loads = ["/api/v1/status", "/api/v1/trades"] + ([f"control {control}"] if control else [])
        for rnd in range(rounds):
            for path in loads:
                for load in (None, path):
                    cpu0 = (thread_cpu_s(engine_tid), server_cpu())
                    stat0 = cpu_stat()
                    t0 = time.perf_counter()
                    out: dict[str, Any] | None = None
                    ctl: dict[str, Any] | None = None
                    if load is None:
                        lat = await decide(count(last_n))
                    elif load.startswith("control"):
                        assert control is not None
                        duty = control_duty or matched_duty(results["phases"], rnd + 1)
                        proc = await anyio.open_process(
                            [
                                sys.executable,
                                __file__,
                                "--control-run",
                                str(seconds),
                                control,
                                repr(duty),
                                ",".join(map(str, sorted(api_cpus))),
                            ]
                        )
                        place(proc.pid, api_cpus)
                        lat = await decide(lambda proc=proc: proc.returncode is not None)
                        await proc.wait()
                        assert proc.stdout is not None
                        ctl = json.loads((await proc.stdout.receive()).decode())
                        last_n = max(len(lat), 50)
                    else:
                        proc = await anyio.open_process(
                            [
                                sys.executable,
                                __file__,
                                "--client",
                                str(server.port),
                                token,
                                load,
                                str(seconds),
                                str(connections),
                                str(client_nice),
                                str(rate),
                                ",".join(map(str, sorted(client_cpus))),
                            ]
                        )
                        place(proc.pid, client_cpus)
                        lat = await decide(lambda proc=proc: proc.returncode is not None)
                        await proc.wait()
                        assert proc.stdout is not None
                        out = json.loads((await proc.stdout.receive()).decode())
                        last_n = max(len(lat), 50)
                    wall = time.perf_counter() - t0
                    results["phases"].append(
                        {
                            "round": rnd + 1,
                            "load": load or "idle",
                            "lat": lat,
                            "client": out,
                            "control": ctl,
                            "wall_s": wall,
                            "engine_cpu_s": thread_cpu_s(engine_tid) - cpu0[0],
                            "server_cpu_s": server_cpu() - cpu0[1],
                            "stat": stat_delta(stat0, cpu_stat()),
                        }
                    )
        # A closing idle phase: the last load phase has idle decisions on both sides too (the
        # engine's cost per decision drifts up as the session's trades accumulate, so a load
        # phase compared only with the idle phase before it is biased towards "slower").
        cpu0 = (thread_cpu_s(engine_tid), server_cpu())
        stat0 = cpu_stat()
        t0 = time.perf_counter()
        lat = await decide(count(last_n))
        results["phases"].append(
            {
                "round": rounds,
                "load": "idle",
                "lat": lat,
                "client": None,
                "control": None,
                "wall_s": time.perf_counter() - t0,
                "engine_cpu_s": thread_cpu_s(engine_tid) - cpu0[0],
                "server_cpu_s": server_cpu() - cpu0[1],
                "stat": stat_delta(stat0, cpu_stat()),
            }
        )
        results["budget"] = await anyio.to_thread.run_sync(health, server.port, token)
        results["cpu_share"] = engine.config.api.cpu_share
        if serve == "process":
            await server.stop()
            results["engine_calls"] = server.calls
            results["updates"] = server.updates
        else:
            server.stop()
            await anyio.to_thread.run_sync(server.join)
            results["engine_calls"] = server.bridge.calls
        results["snapshots"] = server.view.source.published
        await engine.bus.close()
    results["load_after"] = os.getloadavg()
    results["fills"] = engine.orders.history.n_fills
    engine.journal.flush()
    results["trades"] = len(server.view.trades())
    server.view.close()
    engine.journal.close()
    return results


def health(port: int, token: str) -> dict[str, Any]:
    """The API's CPU budget counters, as ``GET /api/v1/health`` answers them."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/api/v1/health", headers={"Authorization": f"Bearer {token}"})
        r = conn.getresponse()
        body = json.loads(r.read())
    finally:
        conn.close()
    if r.status != 200:
        raise RuntimeError(f"GET /api/v1/health answered {r.status}: {body}")
    return dict(body["api_cpu"])


def matched_duty(phases: list[dict[str, Any]], rnd: int) -> float:
    """The control's share of a CPU: what the API (its process or thread) and the client
    used of the wall time in this round's API load phases (at most 1)."""
    used = wall = 0.0
    for ph in phases:
        if ph["round"] == rnd and ph["client"] is not None:
            used += ph["server_cpu_s"] + ph["client"]["cpu_s"]
            wall += ph["wall_s"]
    return min(1.0, max(0.01, used / wall)) if wall else 1.0


def pct(lat: list[int]) -> str:
    us = sorted(x / 1000 for x in lat)
    q = statistics.quantiles(us, n=100)
    return f"p50 {q[49]:,.0f} µs  p99 {q[98]:,.0f} µs  ({len(us):,} decisions)"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        _, _, port, token, path, seconds, conns, nice, rate, cpus = sys.argv
        client(
            int(port),
            token,
            path,
            float(seconds),
            int(conns),
            int(nice),
            float(rate),
            parse_cpu_list(cpus),
        )
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--control-run":
        _, _, seconds, kind, duty, cpus = sys.argv
        control(float(seconds), kind, float(duty), parse_cpu_list(cpus))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--serve",
        choices=("process", "thread"),
        default="process",
        help="the API in a process of its own (default) or on a thread of the engine's",
    )
    ap.add_argument(
        "--client-nice",
        type=int,
        default=0,
        help="niceness of the load generator (a diagnostic: how much of the engine's slowdown "
        "under load is the client's CPU on this machine rather than the API's)",
    )
    ap.add_argument(
        "--api-nice", type=int, default=10, help="[api] nice: the API process's niceness"
    )
    ap.add_argument(
        "--engine-cpus",
        type=cpu_list,
        default=frozenset(),
        help="CPUs of the engine's process, as [run] cpus (Linux's list format: 0 or 0,2-3); "
        "the API process and the client inherit them unless placed too; default: no placement",
    )
    ap.add_argument(
        "--api-cpus",
        type=cpu_list,
        default=frozenset(),
        help="CPUs of the API process, as [api] cpus (thread mode: of the server's thread)",
    )
    ap.add_argument(
        "--client-cpus",
        type=cpu_list,
        default=frozenset(),
        help="CPUs of the load generator (in a deployment it runs on another machine)",
    )
    ap.add_argument(
        "--control",
        nargs="?",
        const="json",
        choices=("json", "tcp", "spin"),
        default=None,
        help="add a control phase to each round, after the trades load (with idle phases "
        "beside it): a process on the API's CPUs that is not the API and never talks to the "
        "engine spends the CPU time the API and the client spent in the round's load phases, "
        "json (default): building and encoding trades pages; tcp: one page built once and "
        "sent again and again over loopback TCP to a reader thread of its own; spin: "
        "arithmetic with next to no memory traffic",
    )
    ap.add_argument(
        "--control-duty",
        type=float,
        default=None,
        help="the control's share of one CPU, (0, 1] (default: the CPU time the API and the "
        "client used over the wall time of the round's load phases, at most 1)",
    )
    ap.add_argument(
        "--late-placement",
        action="store_true",
        help="a diagnostic: the client and the control place themselves only after their "
        "imports (as this bench did before), running those on the engine's CPUs, which they "
        "inherit, at the start of each load phase; default: placed by this process at spawn",
    )
    ap.add_argument(
        "--engine-nice",
        type=int,
        default=None,
        help="a diagnostic: the niceness of the engine's thread alone (-20 as root: other "
        "jobs on its CPU wait for it, close to a core of its own on a shared machine); the "
        "API process, the client and the control keep theirs",
    )
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="requests a second the client sends, paced (default 0: as fast as answered, "
        "which on 2 cores takes the engine's second core)",
    )
    ap.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="sys.setswitchinterval for the engine's process (default: Python's 0.005 s)",
    )
    ap.add_argument(
        "--http",
        choices=("auto", "h11", "httptools"),
        default="auto",
        help="uvicorn's HTTP parser (auto: httptools when installed, else h11)",
    )
    ap.add_argument(
        "--cpu-share",
        type=float,
        default=None,
        help="[api] cpu_share: the fraction of one CPU the API may use before its requests "
        "wait (0 < X <= 1; 1.0 = no budget; default: the config's default)",
    )
    args = ap.parse_args()
    if args.cpu_share is not None and not 0 < args.cpu_share <= 1:
        ap.error(f"--cpu-share must be in (0, 1], got {args.cpu_share:g}")
    if args.control_duty is not None and not 0 < args.control_duty <= 1:
        ap.error(f"--control-duty must be in (0, 1], got {args.control_duty:g}")
    if args.engine_cpus:
        # Before any thread starts (they inherit it); the API process places itself.
        pin_process(args.engine_cpus, "--engine-cpus")
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    r = anyio.run(
        bench,
        args.seconds,
        args.connections,
        args.warmup,
        args.rounds,
        args.http,
        args.serve,
        args.client_nice,
        args.api_nice,
        args.rate,
        args.engine_cpus,
        args.api_cpus,
        args.client_cpus,
        args.control,
        args.control_duty,
        args.late_placement,
        args.engine_nice,
        args.cpu_share,
    )

    def where(cpus: frozenset[int]) -> str:
        return ",".join(map(str, sorted(cpus))) or "any"

    print(
        f"CPUs: engine {where(args.engine_cpus)}, API {where(args.api_cpus)}, client "
        f"{where(args.client_cpus)} (of {len(machine_cpus())}); client reads bodies, no parse; "
        f"client nice {args.client_nice}; API nice {args.api_nice}; "
        f"rate {args.rate:g}/s (0: unpaced); "
        f"children placed {'after their imports' if args.late_placement else 'at spawn'}; "
        f"engine thread nice {args.engine_nice if args.engine_nice is not None else 0}; "
        "serve {}; load average before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}; "
        "switch interval {:g} s; HTTP parser {}".format(
            args.serve, *r["load_before"], *r["load_after"], sys.getswitchinterval(), args.http
        )
    )
    b = r["budget"]
    print(
        f"API CPU budget ([api] cpu_share): {r['cpu_share']:g} of one CPU"
        + (" (no budget)" if r["cpu_share"] >= 1 else f", window {b['window_s']:g} s")
        + f"; {b['admitted']:,} requests admitted, {b['delayed']:,} delayed, "
        f"{b['waited_s']:,.1f} s waited in all, {b['forgiven_cpu_s']:.3f} CPU s forgiven"
    )
    phases = r["phases"]

    def api_share(ph: dict[str, Any]) -> float:
        # The API's CPU over the phase's wall: its process's (all threads), or its thread's.
        return float(ph["server_cpu_s"] / ph["wall_s"]) if ph["wall_s"] > 0 else 0.0

    by_load: dict[str, list[tuple[float, float]]] = {}
    for i, ph in enumerate(phases):
        cpu = (
            f"cpu s: engine {ph['engine_cpu_s']:.2f}  server {ph['server_cpu_s']:.2f}"
            + (f"  client {ph['client']['cpu_s']:.2f}" if ph["client"] else "")
            + (f"  control {ph['control']['cpu_s']:.2f}" if ph.get("control") else "")
            + f"  (wall {ph['wall_s']:.1f} s); API CPU share {api_share(ph):.3f}"
        )
        print(f"round {ph['round']} {ph['load']:<16} decision latency {pct(ph['lat'])}; {cpu}")
        out = ph["client"]
        ctl = ph.get("control")
        if ctl:
            print(
                f"    control {ctl['kind']:<8} duty {ctl['duty']:.2f}  cpu s {ctl['cpu_s']:.2f} "
                f"in {ctl['wall_s']:.1f} s  ({ctl['pages']:,} pages of 500 trades "
                f"{'sent' if ctl['kind'] == 'tcp' else 'built'}, "
                f"{ctl['bytes'] / 1e6:,.0f} MB)"
                if ctl["kind"] != "spin"
                else f"    control spin     duty {ctl['duty']:.2f}  cpu s {ctl['cpu_s']:.2f} "
                f"in {ctl['wall_s']:.1f} s  ({ctl['units']:,} units)"
            )
        if out:
            print(
                f"    {out['path']:<16} {out['rps']:>8,.0f} req/s  p50 {out['p50_ms']:.2f} ms  "
                f"p99 {out['p99_ms']:.2f} ms  ({out['requests']:,} requests, "
                f"{out['errors']} errors, {out['mean_bytes'] / 1000:,.1f} kB each)"
            )
        if out or ctl:
            # The idle phases beside this load (before it, and after it when there is one).
            idle = [
                x
                for j in (i - 1, i + 1)
                if 0 <= j < len(phases) and phases[j]["load"] == "idle"
                for x in phases[j]["lat"]
            ]
            a = effect_size(ph["lat"], idle)
            med_idle = statistics.median(idle) / 1000 if idle else float("nan")
            med_load = statistics.median(ph["lat"]) / 1000
            by_load.setdefault(ph["load"], []).append((a, med_load / med_idle))
            print(
                f"    decision latency under load vs the idle phases beside it: p50 "
                f"{med_load:,.1f} vs {med_idle:,.1f} µs ({med_load / med_idle:.2f}x); "
                f"A = {a:.3f} ({'unchanged within noise' if a < 0.56 else 'SLOWER'}: A < 0.56)"
            )
    if any(k.startswith("control") for k in by_load):
        # Side by side: a control that slows the engine as much as the API's load says the
        # slowdown is the machine (shared caches, memory, the hypervisor), not the API.
        print(
            "A per round, side by side: "
            + "; ".join(
                f"{k} " + " ".join(f"{a:.3f} ({x:.2f}x)" for a, x in v) for k, v in by_load.items()
            )
        )
    # A noise floor: each idle phase against the idle phase before it (a load phase apart),
    # the drift and noise that a load phase's A sees too.
    idles = [ph["lat"] for ph in phases if ph["load"] == "idle"]
    floor = [effect_size(b, a) for a, b in itertools.pairwise(idles)]
    if floor:
        print(
            "A of each idle phase against the idle phase before it (the noise floor): "
            + " ".join(f"{a:.3f}" for a in floor)
        )
    share: dict[str, list[float]] = {}
    per: dict[str, list[float]] = {}
    for ph in phases:
        if ph["wall_s"] > 0:
            share.setdefault(ph["load"], []).append(ph["engine_cpu_s"] / ph["wall_s"])
        if ph["lat"]:
            # Its CPU per decision (each decision's minute of ticks and its close): the work,
            # and what shared caches and memory make it cost, whoever else holds the CPU.
            per.setdefault(ph["load"], []).append(ph["engine_cpu_s"] / len(ph["lat"]) * 1e6)

    def span(v: list[float], fmt: str) -> str:
        return f"{min(v):{fmt}}-{max(v):{fmt}}" if len(v) > 1 else f"{v[0]:{fmt}}"

    api: dict[str, list[float]] = {}
    for ph in phases:
        api.setdefault(ph["load"], []).append(api_share(ph))
    print(
        f"the API's CPU over the wall (budget {r['cpu_share']:g}): "
        + "; ".join(f"{k} {span(v, '.3f')}" for k, v in api.items())
    )

    print(
        "the engine's thread's CPU over the wall: "
        + "; ".join(f"{k} {span(v, '.2f')}" for k, v in share.items())
    )
    print(
        "the engine's thread's CPU per decision, µs: "
        + "; ".join(f"{k} {span(v, ',.0f')}" for k, v in per.items())
    )
    # Per CPU, what the kernel and the hypervisor took from it in each kind of phase.
    cpus = sorted({c for ph in phases for c in ph.get("stat", {})}, key=int)
    for c in cpus:
        kinds: dict[str, list[str]] = {}
        for ph in phases:
            st = ph.get("stat", {}).get(c)
            if st and ph["wall_s"] > 0:
                kinds.setdefault(ph["load"], []).append(
                    "/".join(f"{st[k] / ph['wall_s']:.3f}" for k in STAT_FIELDS)
                )
        print(
            f"CPU {c}: {' / '.join(STAT_FIELDS)} over the wall: "
            + "; ".join(f"{k} {' '.join(v)}" for k, v in kinds.items())
        )
    print(
        f"at the end: {r['fills']:,} fills, {r['trades']:,} trades; "
        f"{r['snapshots']:,} snapshots published; "
        f"{r['engine_calls']:,} calls handed to the engine's loop"
        + (f"; {r['updates']:,} updates sent to the API process" if "updates" in r else "")
    )


if __name__ == "__main__":
    main()
