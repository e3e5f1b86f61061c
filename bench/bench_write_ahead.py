"""The durable write-ahead of one order: the journal's DuckDB commit vs an fdatasync'd append.

python bench/bench_write_ahead.py [--orders N] [--dir DIR]

Before an order goes to a real venue, the journal commits its row and its ``submitted`` event
(``Journal.record_order(kind="submitted")``: one DuckDB transaction, ``COMMIT`` with the
write-ahead log's ``fdatasync``). This measures that step as the host does it — a durable,
group-commit journal in ``DIR`` (default: the system's temporary folder, on the machine's
disk), with the other rows a step writes around it — against the candidate replacement: one
small checksummed record (~200 bytes: the order's fields as JSON, a CRC32) appended to a file in
the same folder with ``os.write`` + ``os.fdatasync``. Both are measured interleaved, one order
at a time, so load on the machine hits both alike. Figures: docs/performance.md,
"Feed-to-order latency".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import zlib
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "core") not in sys.path:
    sys.path.insert(0, str(REPO / "core"))


def percentile(values: list[int], q: float) -> float:
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return (s[lo] + (s[hi] - s[lo]) * (pos - lo)) / 1e6


def describe(name: str, values: list[int]) -> str:
    return (
        f"{name:<32} n={len(values):>5}  p50 {percentile(values, 0.50):7.3f} ms  "
        f"p90 {percentile(values, 0.90):7.3f} ms  p99 {percentile(values, 0.99):7.3f} ms  "
        f"max {max(values) / 1e6:7.3f} ms  mean {statistics.fmean(values) / 1e6:7.3f} ms"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=500, help="orders written (default 500)")
    ap.add_argument("--dir", default=None, help="folder of the files (default: the temp dir)")
    args = ap.parse_args()

    from tradewind.journal.store import Journal, OrderRecord
    from tradewind.model import Order, OrderStatus, OrderType, Side

    duck: list[int] = []
    append: list[int] = []
    with tempfile.TemporaryDirectory(prefix="tw-bench-wal-", dir=args.dir) as tmp:
        folder = Path(tmp)
        journal = Journal(folder / "journal.duckdb", "bench-run", durable=True)
        journal.start("paper", "bench.toml", 0)
        journal.group_commit = True
        journal.write_ahead = True
        fd = os.open(folder / "intents.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for i in range(args.orders):
                order = Order(
                    client_order_id=f"tw-bench-{i:06d}",
                    instrument="usdm:BTCUSDT",
                    side=Side.BUY if i % 2 == 0 else Side.SELL,
                    type=OrderType.MARKET,
                    quantity=Decimal("0.002"),
                    reduce_only=i % 2 == 1,
                    created_ts_ns=1_700_000_000_000_000_000 + i * 1_000_000_000,
                )
                rec = OrderRecord(
                    client_order_id=order.client_order_id,
                    instrument=order.instrument,
                    venue="usdm",
                    order=order,
                    status=OrderStatus.NEW,
                    updated_ts_ns=order.created_ts_ns,
                    id_seq=i,
                )
                began = time.perf_counter_ns()
                journal.record_order(rec, ts_ns=order.created_ts_ns, kind="submitted")
                duck.append(time.perf_counter_ns() - began)

                began = time.perf_counter_ns()
                body = json.dumps(
                    {
                        "cid": order.client_order_id,
                        "inst": order.instrument,
                        "venue": "usdm",
                        "side": order.side.value,
                        "type": order.type.value,
                        "qty": str(order.quantity),
                        "ro": order.reduce_only,
                        "ts": order.created_ts_ns,
                        "seq": i,
                    },
                    separators=(",", ":"),
                ).encode()
                record = b"%08x %s\n" % (zlib.crc32(body), body)
                os.write(fd, record)
                os.fdatasync(fd)
                append.append(time.perf_counter_ns() - began)
        finally:
            os.close(fd)
            journal.close()
    load = os.getloadavg()
    print(
        f"durable write-ahead of one order, {args.orders} orders interleaved, files in "
        f"{Path(args.dir) if args.dir else tempfile.gettempdir()}; load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(describe("DuckDB record_order + COMMIT", duck))
    print(describe("append + fdatasync (~200 B)", append))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
