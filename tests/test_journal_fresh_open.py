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
