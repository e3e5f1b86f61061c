"""The ``orders`` upsert of a journal that holds many orders: what replacing 100 orders' states
costs against 10,000 / 100,000 / 1,000,000 order rows (a long live session grows the table).

    python bench/bench_journal_upsert.py [--rows 10000,100000,1000000] [--rounds 15]
    python bench/bench_journal_upsert.py --core OTHER/core     # another checkout's journal

For each size, in a child process whose ``PYTHONPATH`` is ``--core`` (the installed core
without it): a new journal file, started as a paper run, gets that many ``orders`` rows of
its session (one ``INSERT ... SELECT``), is closed and opened again as a host does; then,
``--rounds`` times, the states of 100 of its orders (``--ids``: of the newest 2,000, or of
all) are written as a load writes them (``Journal._write``: their ``DELETE`` and ``INSERT``
in one transaction).
Printed per size: the first write (which builds what the journal builds once, if anything),
then the medians of the others: the whole write's CPU and the ``DELETE`` statement's alone.

``--postgres``: the journal on PostgreSQL (a throwaway cluster of Debian's ``postgresql``,
tests/pg.py; the ``scale`` tox env has psycopg), one database per size. The server does the
work there, so the figures are wall milliseconds of the write and of its ``DELETE``, not the
client's CPU. ``--without-index`` drops the ``(session_id, client_order_id)`` index of
migration 3 first: the upsert as it ran at schema version 2.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHILD = """
import json, random, statistics, sys, time
from pathlib import Path

from tradewind.journal.store import Journal

workdir, n, rounds = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
spread = sys.argv[4] == "spread"
url, without_index = sys.argv[5], sys.argv[6] == "1"
path = url or workdir / f"upsert-{n}.duckdb"
clock = time.perf_counter if url else time.process_time  # PostgreSQL: the server's work
if not url:
    for p in (path, Path(f"{path}.wal")):
        p.unlink(missing_ok=True)
j = Journal(path, "run-1")
j.start("paper", "bench.toml", 0, session_id="sess-1")
rows_of = f"generate_series(1, {n}) AS t(i)" if url else f"range(1, {n} + 1) t(i)"
j._con.execute(
    "INSERT INTO orders SELECT 'tw-sess-1-' || i::VARCHAR, 'sess-1', 'run-1', i, "
    "'sim', 'BTC-USDT', 'buy', 'limit', '0.01', '65000.5', NULL, 'gtc', false, i * 1000, '', "
    "'submitted', 'filled', '0.01', 'v' || i::VARCHAR, '', i * 1000 + 7, i * 3, 'entry' "
    f"FROM {rows_of}"
)
if url:
    if without_index:
        j._con.execute("DROP INDEX orders_session_client_order_id")
    j._con.execute("ANALYZE orders")
j.close()
j = Journal(path, "run-2")
j.start("paper", "bench.toml", 1, session_id="sess-1")


class Timed:
    # The journal's connection, with the DELETE statements' CPU counted.
    def __init__(self, con):
        self.con, self.delete = con, 0.0

    def execute(self, sql, *args):
        if sql.startswith("DELETE"):
            c = clock()
            out = self.con.execute(sql, *args)
            self.delete += clock() - c
            return out
        # (DuckDB finds an insert's Arrow table among its caller's locals: this frame's now)
        batch = sys._getframe(1).f_locals.get("batch")  # noqa: F841
        return self.con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.con, name)


plain = j._con
rng = random.Random(n)
first = None
whole, deletes = [], []
for r in range(rounds + 1):
    ids = rng.sample(range(1 if spread else max(1, n - 1999), n + 1), 100)
    orders = {}
    for i in ids:
        cid = f"tw-sess-1-{i}"
        orders[cid] = (
            cid, "sess-1", "run-1", i, "sim", "BTC-USDT", "buy", "limit", "0.01", "65000.5",
            None, "gtc", False, i * 1000, "", "submitted", "cancelled", "0.01", f"v{i}", "r",
            i * 1000 + 9 + r, n * 3 + r, "entry",
        )
    con = Timed(plain)
    c = clock()
    if url:  # PostgreSQL: no load connection; the journal's own, its DELETE timed
        j._con = con
        j._write({}, orders, ignore_fills=False)
        j._con = plain
    else:
        j._write({}, orders, ignore_fills=False, con=con)
    spent = (clock() - c) * 1e3
    if first is None:
        first = (spent, con.delete * 1e3)
        continue
    whole.append(spent)
    deletes.append(con.delete * 1e3)
rows = j._con.execute("SELECT count(*), count(DISTINCT client_order_id) FROM orders").fetchone()
assert rows == (n, n), rows
j.close()
if not url:
    for p in (path, Path(f"{path}.wal")):
        p.unlink(missing_ok=True)
print(json.dumps([first, statistics.median(whole), statistics.median(deletes)]))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="10000,100000,1000000", help="order rows, comma-separated")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument(
        "--ids",
        choices=("recent", "spread"),
        default="recent",
        help="the orders written: 100 of the newest 2,000 (a live session's), or of all",
    )
    ap.add_argument("--core", type=Path, default=None, help="a core folder to import instead")
    ap.add_argument("--postgres", action="store_true", help="journal on a throwaway PostgreSQL")
    ap.add_argument(
        "--without-index",
        action="store_true",
        help="PostgreSQL: drop migration 3's (session_id, client_order_id) index first",
    )
    ap.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tradewind-bench-upsert"
    )
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.core is not None:
        env["PYTHONPATH"] = str(args.core.resolve())
    if args.without_index and not args.postgres:
        ap.error("--without-index is for --postgres")
    which = f"core from {args.core}" if args.core else "installed core"
    where = "PostgreSQL" if args.postgres else "DuckDB"
    if args.postgres:
        where += ", without the client order id index" if args.without_index else ""
    unit = "wall ms" if args.postgres else "CPU ms"
    print(
        f"orders upsert of 100 states ({args.ids}), {which}, {where}, {args.rounds} rounds, "
        f"load avg {os.getloadavg()[0]:.1f}; {unit}:"
    )
    cluster = None
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.pg import Cluster

        cluster = Cluster()
        env["PGPASSWORD"] = cluster.password
    try:
        for n in (int(x) for x in args.rows.split(",")):
            url = cluster.create_database(f"upsert_{n}") if cluster else ""
            w = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable, "-c", _CHILD, str(args.workdir), str(n), str(args.rounds),
                    args.ids, url, "1" if args.without_index else "0",
                ],
                capture_output=True, text=True, env=env,
            )  # fmt: skip
            if proc.returncode != 0:
                raise SystemExit(f"upsert rounds failed:\n{proc.stderr[-3000:]}")
            (first, first_delete), whole, delete = json.loads(proc.stdout.strip().splitlines()[-1])
            print(
                f"  {n:>9,} order rows: first write {first:7.1f} (DELETE {first_delete:6.1f}); "
                f"then write {whole:6.2f}, DELETE {delete:6.2f}  ({time.perf_counter() - w:.1f} s)"
            )
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
