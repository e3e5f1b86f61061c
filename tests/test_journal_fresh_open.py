"""A journal file created by its open skips the damage check and the migration query and
creates its tables in one transaction: the same tables, columns and keys as SCHEMA run
statement by statement, and the file then opens (and passes the check) as any journal."""

import duckdb
from tradewind.journal.store import SCHEMA, DuckDBBackend

_COLUMNS = (
    "SELECT table_name, column_index, column_name, data_type, is_nullable FROM duckdb_columns() "
    "WHERE schema_name = 'main' ORDER BY table_name, column_index"
)
_KEYS = (
    "SELECT table_name, constraint_type, constraint_column_names FROM duckdb_constraints() "
    "WHERE schema_name = 'main' ORDER BY table_name, constraint_type, constraint_text"
)


def _layout(con):
    return con.execute(_COLUMNS).fetchall(), con.execute(_KEYS).fetchall()


def test_fresh_journal_has_the_schema_and_opens_again(tmp_path):
    path = tmp_path / "journal.duckdb"
    fresh = DuckDBBackend(path, read_only=False)
    got = _layout(fresh.con)
    fresh.con.close()
    ref = duckdb.connect()
    for statement in SCHEMA.split(";"):
        if statement.strip():
            ref.execute(statement)
    assert got == _layout(ref)
    assert got[0] and got[1]
    again = DuckDBBackend(path, read_only=False)  # an existing file: migration and check
    assert _layout(again.con) == got
    again.con.close()


def _rows(path):
    from tradewind.journal.store import TABLES

    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}
    finally:
        con.close()


def test_a_fresh_files_sequence_is_zero_unless_a_log_beside_it_loaded_rows(tmp_path):
    # A fresh file is not asked for its tables' highest sequence number (issue 17): it has
    # none, unless a step log left beside it (a killed host, the file since removed) loaded
    # rows into it, and then the numbering continues above them as for any journal.
    from tradewind.journal import step_log
    from tradewind.journal.store import Journal

    from tests.step_log_writer import write_three_steps

    fresh = Journal(tmp_path / "fresh.duckdb", "run-1")
    assert fresh._seq == 0 == fresh._max_seq()
    fresh.close()

    src = tmp_path / "src.duckdb"
    j = Journal(src, "run-1")
    write_three_steps(j, lambda n: None)
    j.close()
    rows = _rows(src)
    reopened = Journal(src, "run-1")  # an existing file: asked, as before
    top = reopened._max_seq()
    assert top > 0 and reopened._seq == top
    reopened.close()

    # The same rows as one step-log record beside a journal file that does not exist yet.
    target = tmp_path / "target.duckdb"
    log = step_log.StepLog(step_log.step_path(target))
    log.append(
        top,
        {t: [tuple(r) for r in v] for t, v in rows.items() if t not in ("orders", "runs") and v},
        [tuple(r) for r in rows["orders"]],
    )
    log.close()
    loaded = Journal(target, "run-1")
    assert loaded._seq == top == loaded._max_seq()
    loaded.close()
    got = _rows(target)
    assert {t: v for t, v in got.items() if t != "runs"} == {
        t: v for t, v in rows.items() if t != "runs"
    }


def _threads(journal):
    return journal.query("SELECT current_setting('threads')")[0][0]


def test_a_fresh_files_start_reads_no_earlier_runs_and_numbers_them_as_before(tmp_path):
    # A file created by its open has no runs row: its start asks nothing about earlier runs
    # (issue 17), and the run numbers, sessions and resumes are those of the queries.
    from tradewind.journal.store import Journal

    path = tmp_path / "journal.duckdb"
    first = Journal(path, "bt-1")
    assert not first.has_runs
    asked = []
    con = first._con

    class Watch:
        def execute(self, sql, *args):
            asked.append(sql)
            return con.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(con, name)

    first._con = Watch()
    first.start("backtest", "cfg.toml", 1)
    first._con = con
    assert any(s.startswith("INSERT INTO runs") for s in asked), asked
    assert [s for s in asked if "FROM runs" in s] == [], asked
    assert first.has_runs
    first.finish(2, {})
    first.close()

    # The same file again (not fresh): asked, and numbered after the first run.
    second = Journal(path, "paper-1")
    assert second.has_runs
    second.start("paper", "cfg.toml", 3)
    second.finish(4, {})
    second.close()
    third = Journal(path, "paper-2")
    third.start("paper", "cfg.toml", 5)
    assert third.resumed and third.session_id == "paper-1"
    third.close()
    con = duckdb.connect(str(path), read_only=True)
    got = con.execute("SELECT run_id, session_id, run_no FROM runs ORDER BY run_no").fetchall()
    con.close()
    assert got == [("bt-1", "bt-1", 1), ("paper-1", "paper-1", 2), ("paper-2", "paper-1", 3)]

    # A fresh file's paper run starts its own session, run number 1, not resumed.
    paper = Journal(tmp_path / "paper.duckdb", "p-1")
    paper.start("paper", "cfg.toml", 1)
    assert (paper.session_id, paper.resumed) == ("p-1", False)
    assert paper.query("SELECT run_no FROM runs") == [(1,)]
    paper.close()


def test_a_backtest_journal_writes_on_one_duckdb_thread_paper_keeps_the_default(tmp_path):
    from tradewind.journal.store import Journal

    default = duckdb.connect().execute("SELECT current_setting('threads')").fetchone()[0]
    bt = Journal(tmp_path / "bt.duckdb", "bt-1")
    bt.start("backtest", "cfg.toml", 1)
    assert _threads(bt) == 1
    bt.close()
    paper = Journal(tmp_path / "paper.duckdb", "p-1")
    paper.start("paper", "cfg.toml", 1)
    assert _threads(paper) == default
    paper.close()
    durable = Journal(tmp_path / "durable.duckdb", "bt-2", durable=True)
    durable.start("backtest", "cfg.toml", 1)
    assert _threads(durable) == default
    durable.close()


class _Counting:
    """A DuckDB connection that counts the statements run through it."""

    def __init__(self, con):
        self.con = con
        self.statements: list[str] = []

    def execute(self, sql, *args):
        self.statements.append(sql)
        return self.con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.con, name)


def _reads(j):
    return (
        [attrs_tuple(r) for r in j.orders()],
        [attrs_tuple(r) for r in j.open_orders()],
        j.fills(),
        j.fill_keys(),
        j.positions(),
        j.cash(),
        j.last_client_order_seq(),
        j.account_balances(),
        j.journaled_pnl_currencies(),
        j.funding_flows("sim"),
        j.fills_after_balances("sim", ["BTCUSDT"]),
        None if j.order("s-1") is None else attrs_tuple(j.order("s-1")),
    )


def attrs_tuple(rec):
    import attrs

    return attrs.astuple(rec, recurse=False)


def test_a_fresh_journals_empty_tables_are_read_without_a_query_and_as_the_queries_read_them(
    tmp_path,
):
    """A file created by its open answers the reads of the session's orders, fills,
    positions and balances whose tables hold no row (in the file or in memory) without a
    query (issue 17: a backtest's reconciliation); as rows of each kind are written, every
    read gives what the same journal asking the database for everything gives, and the
    files end with the same rows."""
    from decimal import Decimal

    import attrs
    from tradewind.journal.store import Journal, OrderRecord
    from tradewind.model import Fill, Order, OrderStatus, OrderType, Position, Side

    ours = Journal(tmp_path / "ours.duckdb", "run-1")
    theirs = Journal(tmp_path / "theirs.duckdb", "run-1")
    assert ours._empty and ours._unread("orders", "fills", "positions", "balances")
    theirs._empty = set()  # every read asks the database, as before
    for j in (ours, theirs):
        j.start("backtest", "cfg.toml", 0)
    counting = ours._con = _Counting(ours._con)
    assert _reads(ours) == _reads(theirs)
    assert counting.statements == []  # nothing asked, nothing flushed

    order = Order(
        client_order_id="s-1",
        instrument="BTCUSDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        quantity=Decimal("0.010"),
    )
    rec = OrderRecord(
        client_order_id="s-1", instrument="BTCUSDT", venue="sim", order=order, id_seq=1
    )
    fill = Fill(
        client_order_id="s-1",
        instrument="BTCUSDT",
        side=Side.BUY,
        quantity=Decimal("0.010"),
        price=Decimal("100"),
        fee=Decimal("0.01"),
        ts_ns=2,
        trade_id="t1",
    )
    steps = [
        lambda j: j.record_cash("USDT", Decimal("1000"), ts_ns=1, reason="start"),
        lambda j: j.record_order(rec, ts_ns=1, kind="submitted"),
        lambda j: j.record_fill(
            fill,
            Position(instrument="BTCUSDT").apply(fill),
            attrs.evolve(rec, status=OrderStatus.FILLED),
        ),
        lambda j: j.record_balances("sim", {"USDT": Decimal("999")}, ts_ns=3, reason="sync"),
        lambda j: j.record_cash_flow(
            "sim", "BTCUSDT", "USDT", Decimal("0.5"), ts_ns=4, kind="funding"
        ),
        lambda j: j.record_position(Position(instrument="BTCUSDT"), ts_ns=5, reason="correction"),
    ]
    for step in steps:
        for j in (ours, theirs):
            step(j)
        assert _reads(ours) == _reads(theirs)
    assert counting.statements  # the written tables are asked
    assert not ours._empty - {
        "events",
        "signals",
        "vetoes",
        "quotes",
        "system_events",
        "order_events",
    }
    ours._con = counting.con
    for j in (ours, theirs):
        j.finish(9, {})
        j.close()
    assert _rows(tmp_path / "ours.duckdb") == _rows(tmp_path / "theirs.duckdb")
