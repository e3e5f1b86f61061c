"""cryptofeed venue: Binance trade messages per second into tick batches.

python bench/bench_cryptofeed.py [--messages N] [--e2e-messages N]

Three measurements (1 and 2 in process CPU time, best of 3, so other load on the machine does
not inflate them; 3 in wall time), each on synthetic USD-M ``aggTrade`` messages bootstrapped
from the 20 real CTKUSDT messages shipped with the plugin's tests (prices a tick random walk,
sizes, sides and inter-arrival times resampled from the sample; fixed seed):

1. venue only: pre-built cryptofeed ``Trade`` objects through the venue's callback, tape
   (de-dup, gap check) and batching — the plugin's own cost;
2. parse + venue: raw JSON through cryptofeed's real Binance ``message_handler`` (JSON,
   Decimal, ``Trade``) and then the venue — everything after the socket;
3. end to end: a local TLS websocket server in another process sends the messages; the
   venue's ``stream_trades`` receives them over the loopback (TLS, websocket framing,
   cryptofeed, the venue, batches out). The server is a separate process so it does not share
   the GIL with the client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

TESTS = Path(__file__).resolve().parents[1] / "plugins" / "venues" / "cryptofeed" / "tests"
sys.path.insert(0, str(TESTS))

from cryptofeed_stub import BinanceStub, local_feed_class, ws_lines  # noqa: E402

SAMPLE = "binance_futures_ctkusdt_aggtrade.jsonl"


def synth_messages(n: int, seed: int = 7) -> list[str]:
    """``n`` combined-stream aggTrade messages calibrated on the recorded CTKUSDT sample."""
    real = [json.loads(line)["data"] for line in ws_lines(SAMPLE)]
    rng = np.random.default_rng(seed)
    sizes = [d["q"] for d in real]
    makers = [d["m"] for d in real]
    gaps = np.diff([d["T"] for d in real]).clip(min=0)
    tick = 0.001
    price = float(real[0]["p"])
    t = real[0]["T"]
    first_id = real[0]["a"]
    out = []
    for i in range(n):
        price = max(tick, price + tick * int(rng.choice((-1, 0, 0, 1))))
        t += int(rng.choice(gaps))
        data = {
            "e": "aggTrade",
            "E": t + 150,
            "a": first_id + i,
            "s": "CTKUSDT",
            "p": f"{price:.3f}",
            "q": sizes[int(rng.integers(len(sizes)))],
            "f": 23961322 + i,
            "l": 23961322 + i,
            "T": t,
            "m": bool(makers[int(rng.integers(len(makers)))]),
        }
        out.append(json.dumps({"stream": "ctkusdt@aggTrade", "data": data}, separators=(",", ":")))
    return out


def _venue(feed_class: Any = None, **options: Any) -> Any:
    from tradewind_venue_cryptofeed import CryptofeedConfig, CryptofeedVenue

    settings: dict[str, Any] = {
        "exchange": "BINANCE_FUTURES",
        "symbols": ["CTKUSDT"],
        "batch_max": 1000,
        "batch_ms": 100.0,
    }
    settings.update(options)
    return CryptofeedVenue(config=CryptofeedConfig(**settings), instance="b", feed_class=feed_class)


def _prefill_symbols() -> None:
    from cryptofeed.defines import PERPETUAL
    from cryptofeed.symbols import Symbols

    Symbols.set(
        "BINANCE_FUTURES",
        {"CTK-USDT-PERP": "CTKUSDT"},
        {"tick_size": {"CTK-USDT-PERP": "0.001"}, "instrument_type": {"CTK-USDT-PERP": PERPETUAL}},
    )


async def _in_process(messages: list[str], parse: bool) -> tuple[float, int]:
    from cryptofeed.defines import TRADES
    from cryptofeed.exchanges import BinanceFutures
    from cryptofeed.types import Trade

    venue = _venue()
    session = venue.open_session({"CTK-USDT-PERP": ["b:CTKUSDT"]})
    feed = BinanceFutures(
        symbols=["CTK-USDT-PERP"], channels=[TRADES], callbacks=session.callbacks(), config={}
    )
    take = session.tape.take_ready
    got = 0
    if parse:
        handler = feed.message_handler
        t0 = time.process_time()
        for i, msg in enumerate(messages):
            await handler(msg, None, 0.0)
            if i % 1000 == 999:
                while (b := take(float("inf"))) is not None:
                    got += len(b)
    else:
        trades = []
        for msg in messages:
            d = json.loads(msg)["data"]
            trades.append(
                Trade(
                    "BINANCE_FUTURES",
                    "CTK-USDT-PERP",
                    "sell" if d["m"] else "buy",
                    Decimal(d["q"]),
                    Decimal(d["p"]),
                    d["T"] / 1000.0,
                    id=str(d["a"]),
                    raw=d,
                )
            )
        on_trade = session.on_trade
        t0 = time.process_time()
        for i, tr in enumerate(trades):
            await on_trade(tr, 0.0)
            if i % 1000 == 999:
                while (b := take(float("inf"))) is not None:
                    got += len(b)
    for b in session.tape.drain():
        got += len(b)
    elapsed = time.process_time() - t0
    await feed.shutdown()
    assert got == len(messages), (got, len(messages))
    return elapsed, got


def _serve(folder: str, n: int, pipe: Any) -> None:
    with BinanceStub(Path(folder)) as stub:
        stub.script(("burst", synth_messages(n)))
        pipe.send((stub.wss_url, stub.http_url, str(stub.cert)))
        pipe.recv()  # until the client is done


async def _end_to_end(wss: str, http: str, cafile: str, n: int) -> tuple[float, int, int]:
    venue = _venue(feed_class=local_feed_class(wss, http, Path(cafile)), stale_after_s=0.0)
    await venue.connect()
    insts = list(await venue.instruments())
    got = batches = 0
    t0 = None
    async for batch in venue.stream_trades(insts):
        if t0 is None:
            t0 = time.perf_counter()
            first = len(batch)
        got += len(batch)
        batches += 1
        if got >= n:
            break
    elapsed = time.perf_counter() - t0  # type: ignore[operator]
    await venue.close()
    # The clock starts at the first batch: count the trades after it.
    return elapsed, got - first, batches


async def _bare_client(wss: str, cafile: str, n: int) -> float:
    """Messages/s a bare websockets client reads from the same server: the transport's ceiling."""
    import ssl

    from websockets.asyncio.client import connect

    ctx = ssl.create_default_context(cafile=cafile)
    url = f"{wss}/stream?streams=ctkusdt@aggTrade"
    async with connect(url, ssl=ctx, max_size=None, max_queue=None, compression=None) as ws:
        got, t0 = 0, 0.0
        async for _ in ws:
            if got == 0:
                t0 = time.perf_counter()
            got += 1
            if got >= n:
                break
    return (n - 1) / (time.perf_counter() - t0)


def _with_server(n: int, run: Any) -> Any:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    with tempfile.TemporaryDirectory() as folder:
        server = ctx.Process(target=_serve, args=(folder, n, child), daemon=True)
        server.start()
        wss, http, cafile = parent.recv()
        try:
            return run(wss, http, cafile)
        finally:
            parent.send("done")
            server.join(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--e2e-messages", type=int, default=100_000)
    args = ap.parse_args()
    _prefill_symbols()
    messages = synth_messages(args.messages)
    print(f"cryptofeed venue, Binance USD-M aggTrade -> TickBatch ({args.messages:,} messages)")
    for label, parse in (
        ("venue only (Trade objects in)", False),
        ("parse + venue (JSON in)", True),
    ):
        best = min(asyncio.run(_in_process(messages, parse))[0] for _ in range(3))
        per = best / args.messages * 1e6
        print(f"  {label}: {args.messages / best:,.0f} trades/s ({per:.2f} µs/trade)")

    from cryptofeed.symbols import Symbols

    Symbols.clear()  # the end-to-end symbol table comes from the server's exchangeInfo
    n = args.e2e_messages
    elapsed, counted, batches = _with_server(
        n, lambda wss, http, ca: asyncio.run(_end_to_end(wss, http, ca, n))
    )
    bare = _with_server(n, lambda wss, http, ca: asyncio.run(_bare_client(wss, ca, n)))
    print(
        f"  end to end over local TLS websocket: {counted / elapsed:,.0f} trades/s "
        f"({args.e2e_messages:,} messages, {batches:,} batches, "
        f"mean {args.e2e_messages / batches:,.0f} trades/batch)"
    )
    print(f"  same server, bare websockets client (no parsing): {bare:,.0f} messages/s")


if __name__ == "__main__":
    main()
