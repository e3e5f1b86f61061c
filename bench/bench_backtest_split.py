"""Multi-instrument backtest speed-up on a Dask cluster: the same books on 1 and 2 workers.

    python bench/bench_backtest_split.py [--books 4] [--repeat 1]

The demo config on the shipped sample, its BTCUSDT traded on ``--books`` simulated venues
(each with its own replay source and a different taker fee), ``[run] capital =
"per_instrument"``: one independent book per instrument. For each worker count a Dask
``LocalCluster`` of that many processes (one thread each) is started first and the backtest
is timed against its scheduler address (what ``--cluster tcp://...`` does), so cluster
start-up is not counted. Prints wall seconds per worker count, the in-process time (books
one after the other), the speed-up, and checks that the three merged reports are equal. The
figure depends on free cores: on a machine whose cores are busy it is below the core count.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def books_config(tmp: Path, books: int) -> str:
    """The demo with its instrument on ``books`` venues, one book each."""
    from tests.test_engine import demo_config_text

    text = demo_config_text(tmp)
    head, tail = text.split("[[instruments]]", 1)
    inst, rest = tail.split("[venues.sim]", 1)
    replay_path = rest.split("[venues.replay]", 1)[1].split("\n\n", 1)[0]
    after = rest.split("[venues.replay]", 1)[1].split("\n\n", 1)[1]
    head = head.replace("[run]\n", '[run]\ncapital = "per_instrument"\n', 1)
    parts = [head]
    for k in range(books):
        fee = f"0.000{4 + k % 5}"
        parts.append(
            "[[instruments]]"
            + inst.replace('venue = "sim"', f'venue = "sim_{k}"')
            .replace('data = "replay"', f'data = "replay_{k}"')
            .replace('taker_fee = "0.0004"', f'taker_fee = "{fee}"')
        )
    for k in range(books):
        parts.append(f'[venues.sim_{k}]\nplugin = "sim"\nstarting_balance = "10000"\n\n')
        parts.append(f"[venues.replay_{k}]{replay_path}\n\n")
    parts.append(after)
    return "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--books", type=int, default=4, help="instruments (one book each)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    from distributed import LocalCluster
    from tradewind.backtest_split import run_split_backtest
    from tradewind.config_check import check_config

    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        path = tmp / "books.toml"
        path.write_text(books_config(tmp, args.books), encoding="utf-8")
        cfg = check_config(path)
        summaries = {}
        secs: dict[str, float] = {}
        for label, workers in (("in-process", 0), ("1 worker", 1), ("2 workers", 2)):
            best = float("inf")
            for r in range(args.repeat):
                console = Console(file=io.StringIO(), width=160)
                journal = tmp / f"journal-{workers}-{r}.duckdb"
                if workers:
                    with LocalCluster(
                        n_workers=workers, threads_per_worker=1, processes=True,
                        dashboard_address=None,
                    ) as cluster:  # fmt: skip
                        t0 = time.perf_counter()
                        result, _ = run_split_backtest(
                            cfg, journal, tmp / f"out-{workers}-{r}",
                            cluster=cluster.scheduler_address, console=console,
                        )  # fmt: skip
                        best = min(best, time.perf_counter() - t0)
                else:
                    t0 = time.perf_counter()
                    result, _ = run_split_backtest(
                        cfg, journal, tmp / f"out-0-{r}", cluster=None, console=console
                    )
                    best = min(best, time.perf_counter() - t0)
            summaries[label] = dict(result.summary)
            secs[label] = best
            print(f"{label}: {args.books} books ({result.summary['ticks']} ticks) in {best:.2f} s")
        first = summaries["in-process"]
        assert all(s == first for s in summaries.values()), "the merged reports differ"
        print(
            f"speed-up 1 -> 2 workers: {secs['1 worker'] / secs['2 workers']:.2f}x "
            f"(merged reports equal)"
        )


if __name__ == "__main__":
    main()
