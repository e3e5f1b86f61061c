"""Hosts over NATS JetStream on loopback: tick throughput and signal-to-order latency.

    python bench/bench_cluster.py [--ticks 1000000] [--chunk 10000] [--decisions 100]

Starts a real ``nats-server -js`` (Debian's package) on a free 127.0.0.1 port with a temp
store, then measures:

* ``publish``  — the data host (``serve_data``) replaying ``--ticks`` calibrated synthetic
  BTCUSDT ticks (bench_pipeline's generator) in ``--chunk``-trade batches into the ticks
  stream as Arrow IPC: ticks/s stored (JetStream acknowledged each batch);
* ``consume``  — a strategy host (``StrategyHost``: candles 1m/5m/15m, the four analyzers,
  the orderflow-scalper strategy, one decision published per 1m close) reading the stored
  stream through its durable consumer: ticks/s through the host;
* ``end-to-end`` — both at once as two processes (``tradewind serve data`` and
  ``tradewind serve strategy``), from launching the data host to the strategy host's exit
  (process start-up included): ticks/s data host → NATS → strategy host;
* ``latency``  — an execution host (``tradewind serve execution``, its own process) fed the
  shipped sample minute by minute by this script, which plays the strategy host: at each
  1m close it publishes a decision with a signal and waits for the execution host's
  ``OrderSubmitted`` event on the events stream. Signal-to-order latency across the hosts
  (decision published → order sent → event received), p50/p99 over ``--decisions``.

Figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import anyio
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_pipeline import synth_ticks, write_data

M = 60_000_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_nats(store: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    exe = shutil.which("nats-server") or "/usr/sbin/nats-server"
    proc = subprocess.Popen(
        [exe, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"nats://127.0.0.1:{port}"
        time.sleep(0.05)
    raise RuntimeError("nats-server did not start")


def config_text(data: str, url: str, chunk: int, prefix: str, journal: str) -> str:
    from tradewind.cli import default_config_path

    text = default_config_path().read_text(encoding="utf-8")
    text = text.replace('mode = "backtest"', 'mode = "paper"')
    text = text.replace(
        'path = "data/tardis_binance-futures_BTCUSDT_trades.csv"',
        f'path = "{data}"\nchunk_ticks = {chunk}',
    )
    text = text.replace('journal = "reports/journal.duckdb"', f'journal = "{journal}"')
    text = text.replace('min_severity = "warning"', 'min_severity = "critical"')
    return text + f'\n[cluster]\nurl = "{url}"\nprefix = "{prefix}"\nsignal_wait_s = 10.0\n'


def throughput(args: argparse.Namespace, work: Path, url: str) -> None:
    from tradewind.cluster.hosts import StrategyHost, serve_data
    from tradewind.config import load_config

    data = work / f"ticks_{args.ticks}.parquet"
    write_data(data, {"BTCUSDT": synth_ticks(args.ticks, "BTCUSDT", 20200222, 1.0)})
    # The synthetic file's symbol is BTCUSDT like the default config's instrument.
    path = work / "tp.toml"
    path.write_text(config_text(str(data), url, args.chunk, "tp", str(work / "tp.duckdb")))
    cfg = load_config(path)

    t = time.perf_counter()
    counts = anyio.run(serve_data, cfg)
    pub = time.perf_counter() - t
    print(
        f"publish   {counts['ticks']:>10,} ticks in {counts['batches']:,} batches: {pub:6.2f} s "
        f"= {counts['ticks'] / pub:>12,.0f} ticks/s"
    )

    host = StrategyHost(cfg, "main", journal_path=str(work / "tp-strategy.duckdb"))
    t = time.perf_counter()
    anyio.run(host.run)
    con = time.perf_counter() - t
    print(
        f"consume   {host.ticks:>10,} ticks, {host.published:,} decisions: {con:6.2f} s "
        f"= {host.ticks / con:>12,.0f} ticks/s (strategy host incl. journal open/close)"
    )

    # Both hosts at once, as processes, on a fresh prefix.
    path2 = work / "e2e.toml"
    path2.write_text(config_text(str(data), url, args.chunk, "e2e", str(work / "e2e.duckdb")))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "tradewind", "serve"]
    t = time.perf_counter()
    strat = subprocess.Popen(
        [*cmd, "strategy", str(path2), "--shard", "main"], env=env, stdout=subprocess.PIPE
    )
    data_host = subprocess.Popen([*cmd, "data", str(path2)], env=env, stdout=subprocess.PIPE)
    data_host.wait()
    strat.wait()
    e2e = time.perf_counter() - t
    print(
        f"end-to-end {args.ticks:>9,} ticks: {e2e:6.2f} s = {args.ticks / e2e:>12,.0f} ticks/s "
        f"(two processes, start-up included)"
    )


async def latency(args: argparse.Namespace, work: Path, url: str) -> None:
    import nats
    import tradewind
    from tradewind.cluster.wire import (
        FIRST_TS,
        INSTRUMENT,
        MSG_ID,
        Subjects,
        batch_id,
        encode_batch,
        encode_decision,
    )
    from tradewind.config import load_config
    from tradewind.market.importers import load
    from tradewind.model import Side, Signal, TickBatch

    sample_path = (
        Path(tradewind.__file__).parent / "defaults/data/tardis_binance-futures_BTCUSDT_trades.csv"
    )
    sample = next(iter(load(sample_path).batches.values()))
    path = work / "lat.toml"
    text = config_text(str(sample_path), url, 100_000, "lat", str(work / "lat.duckdb"))
    # Every decision becomes an order: adds allowed, no filter but the essential kill switch,
    # no exits.
    text = text.replace("risk_pct = 0.01", "risk_pct = 0.001\npyramiding = 100000")
    keep = []
    skip = False
    for line in text.splitlines():
        if line.startswith("[filters.") or line.startswith("[exits."):
            skip = not line.startswith("[filters.killswitch]")
        elif line.startswith("["):
            skip = False
        if not skip:
            keep.append(line)
    path.write_text("\n".join(keep) + "\n")
    cfg = load_config(path)
    inst = cfg.instruments[0].to_instrument().key
    sub = Subjects("lat")

    exe = subprocess.Popen(
        [sys.executable, "-m", "tradewind", "serve", "execution", str(path)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    nc = await nats.connect(url)
    js = nc.jetstream()
    got: dict[int, float] = {}
    arrived = asyncio.Event()

    async def on_event(msg: object) -> None:
        body = json.loads(msg.data)  # type: ignore[attr-defined]
        got[int(body["order"]["created_ts_ns"])] = time.perf_counter()
        arrived.set()

    for _ in range(100):  # the execution host creates the streams
        try:
            await js.stream_info("lat_events")
            break
        except Exception:
            await asyncio.sleep(0.1)
    await nc.subscribe(sub.events("OrderSubmitted"), cb=on_event)

    ts = sample.ts_ns
    minute0 = (int(ts[0]) // M) * M
    lat: list[float] = []
    missed = 0
    k = 1
    i = 0
    while len(lat) < args.decisions:
        close = minute0 + k * M
        j = int(ts.searchsorted(close + M, side="left"))
        if j >= len(ts):
            break
        # Trades up to the first one after ``close``: the execution host reaches the close
        # and waits for the decision there.
        j = int(ts.searchsorted(close, side="left")) + 1
        batch = TickBatch.from_arrays(
            inst,
            ts[i:j],
            sample.price[i:j],
            sample.size[i:j],
            sample.side[i:j],
            sample.trade_id[i:j],
        )
        i = j
        await js.publish(
            sub.ticks("main", inst),
            encode_batch(batch),
            headers={MSG_ID: batch_id(batch), INSTRUMENT: inst, FIRST_TS: str(int(ts[j - 1]))},
        )
        await asyncio.sleep(0.15)  # it has processed the batch and waits at the close
        price = Decimal(str(float(sample.price[j - 1]))).quantize(Decimal("0.01"))
        sig = Signal(
            instrument=inst,
            side=Side.BUY,
            entry=price,
            stop=price * Decimal("0.995"),
            score=1.0,
            ts_ns=close,
            reasons={},
        )
        arrived.clear()
        t0 = time.perf_counter()
        await js.publish(
            sub.signals(inst),
            encode_decision(inst, close, sig),
            headers={MSG_ID: f"{inst}@{close}"},
        )
        try:
            while close not in got:
                await asyncio.wait_for(arrived.wait(), 5)
                arrived.clear()
            lat.append(got[close] - t0)
        except TimeoutError:
            missed += 1
        k += 1
    # The rest of the sample, then the end of the feed: the execution host finishes.
    rest = TickBatch.from_arrays(
        inst, ts[i:], sample.price[i:], sample.size[i:], sample.side[i:], sample.trade_id[i:]
    )
    if len(rest):
        await js.publish(
            sub.ticks("main", inst), encode_batch(rest), headers={MSG_ID: batch_id(rest)}
        )
    end = int(ts[-1])
    k_end = (end // M) * M
    for close in range(minute0 + k * M, k_end + M, M):
        await js.publish(sub.signals(inst), encode_decision(inst, close, None))
    await js.publish(sub.ticks_end("main"), str(end).encode())
    await nc.close()
    try:
        exe.wait(60)
    except subprocess.TimeoutExpired:
        exe.send_signal(signal.SIGTERM)
        exe.wait()
    ms = np.array(lat) * 1e3
    print(
        f"latency   signal-to-order across hosts, {len(ms)} orders ({missed} missed): "
        f"p50 {np.percentile(ms, 50):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms, "
        f"max {ms.max():.2f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ticks", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=10_000)
    ap.add_argument("--decisions", type=int, default=100)
    ap.add_argument("--only", default="throughput,latency")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "nats").mkdir()
        server, url = start_nats(work / "nats")
        try:
            if "throughput" in args.only:
                throughput(args, work, url)
            if "latency" in args.only:
                asyncio.run(latency(args, work, url))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait()


if __name__ == "__main__":
    main()
