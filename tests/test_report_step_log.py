"""The reports read a journal through :class:`tradewind.journal.store.Journal`: a journal left
by a host killed with SIGKILL, whose last steps are only in its step log (``<journal>.steps``),
shows those steps' signals, vetoes and fills in the HTML report's markers and the split
backtest's reader (the execution report reads the same way; its quotes are committed to DuckDB
before each send, so they never wait in the step log), and the file is not changed."""

from __future__ import annotations

import textwrap
from decimal import Decimal as D

import duckdb
from tradewind.backtest_split import free_run_id
from tradewind.journal import step_log
from tradewind.journal.store import Journal
from tradewind.report.execution import quality_html, quality_of
from tradewind.report.html import journal_markers

from tests.test_step_log import _counts, _run_killed

# The step log writer of tests/test_step_log.py with, in each step, a routed swap's quote
# first (a quote is committed to DuckDB at once: it precedes a send) and then, after the order,
# a signal and a veto, which like the fill are only in the step log when the host is killed.
WRITER_WITH_MARKERS = textwrap.dedent(
    """
    import os, signal, sys
    from decimal import Decimal as D
    from tradewind.execution import Considered, SwapQuote, SwapRequest
    from tradewind.journal.store import Journal
    from tradewind.model import Signal, SignalEvent, Veto, VetoEvent
    from tests.step_log_writer import write_three_steps

    j = Journal(sys.argv[1], "run-1", load_rows=10**9, load_every_s=1e9)

    def quote(n, cid, side):
        req = SwapRequest(client_order_id=cid, chain_id=1, sell_token="0x" + "44" * 20,
                          buy_token="0x" + "55" * 20, sell_amount=10**18, wallet="0x" + "11" * 20)
        q = SwapQuote(aggregator="a", chain_id=1, sell_token=req.sell_token,
                      buy_token=req.buy_token, sell_amount=10**18, buy_amount=2000,
                      min_buy_amount=1980, gas=100_000)
        j.record_quote(req, Considered("a", q, status="filled", realised_out=1999), ts_ns=10 * n)

    def markers(n, cid, side):
        sig = Signal(instrument="sim:BTCUSDT", side=side, entry=D(60000 + n), stop=D(59000),
                     score=float(n), ts_ns=10 * n, reasons={"regime.adx": 30.0})
        j.record(SignalEvent(ts_ns=10 * n, signal=sig))
        j.record(VetoEvent(ts_ns=10 * n, veto=Veto(filter="exposure", reason=f"too big {n}",
                                                     signal=sig, ts_ns=10 * n)))

    write_three_steps(
        j,
        lambda n: print(f"STEP {n} {j.steps_logged} {j.loads}", flush=True),
        before_order=quote,
        after_order=markers,
    )
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_killed_hosts_step_log_is_in_the_reports_read_from_its_journal(tmp_path):
    path = tmp_path / "journal.duckdb"
    out = _run_killed(WRITER_WITH_MARKERS, str(path))
    # Each quote's commit loads the steps before it: the last step (its signal, veto, order
    # and fill) is only in the step log.
    assert [line.split()[:2] for line in out[:3]] == [["STEP", str(n)] for n in (1, 2, 3)]
    log_path = step_log.step_path(path)
    records = len(step_log.read(log_path))
    raw = _counts(path)
    assert records >= 1
    assert raw["signals"] == raw["vetoes"] == raw["fills"] == 2 and raw["quotes"] == 3

    # The HTML report's markers: the three signals and vetoes of the killed run.
    marks = journal_markers(str(path), "run-1")
    assert [(s["ts_ns"], s["entry"], s["reasons"]) for s in marks["signals"]] == [
        (10 * n, str(60000 + n), {"regime.adx": 30.0}) for n in (1, 2, 3)
    ]
    assert [v["reason"] for v in marks["vetoes"]] == ["too big 1", "too big 2", "too big 3"]

    # The execution report, read through the journal as well: the swap each step won on
    # aggregator a (2000 quoted, 1999 realised: 5 bps short).
    (row,) = quality_of(path, "run-1")
    assert (row.aggregator, row.quotes, row.won, row.mean_shortfall_bps) == ("a", 3, 3, D(5))
    assert "<td class='num'>5.00</td>" in quality_html([row])

    # The split backtest's reader sees the killed run's id and its fills.
    assert free_run_id(path, "run-1", 1) == "run-1"  # its groups are g0-…, not run-1
    ro = Journal.open_readonly(path)
    try:
        names, fills = ro.query_columns(
            "SELECT trade_id, price FROM fills WHERE run_id = ? ORDER BY seq", ["run-1"]
        )
    finally:
        ro.close()
    assert names == ("trade_id", "price")
    assert fills == [("t-1", "60001"), ("t-2", "60002"), ("t-3", "60003")]

    # Nothing was changed: the file's tables and the step log are as the host left them.
    assert _counts(path) == raw and len(step_log.read(log_path)) == records
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("SELECT max(ts_ns) FROM signals").fetchone() == (20,)
    finally:
        con.close()
