"""The journal on a real PostgreSQL server (tests/pg.py starts a throwaway cluster): what is
particular to it — the config's url and env: password, monthly partitions, versioned
migrations, one writer per database, errors in one line without the password. The journal
and crash tests shared with DuckDB run on it through the ``journal_at`` fixture."""

from __future__ import annotations

import os
from decimal import Decimal

import attrs
import pytest
from tradewind.config import load_config
from tradewind.errors import ConfigError, JournalError
from tradewind.journal import postgres as pg
from tradewind.journal.store import TABLES, Journal
from tradewind.model import Fill, Position, Side, SystemError
from tradewind.report.html import journal_markers
from tradewind.secrets import Secret

from tests.conftest import run_cli
from tests.pg import PASSWORD_ENV
from tests.test_engine import demo_config_text

D = Decimal


@pytest.fixture
def db(pg_cluster, monkeypatch):
    """A fresh database; its password is only in PGPASSWORD (as libpq reads it)."""
    monkeypatch.setenv("PGPASSWORD", pg_cluster.password)
    return lambda name="j": pg_cluster.create_database(f"{name}_{os.urandom(5).hex()}")


def _fill(n: int, ts_ns: int) -> Fill:
    return Fill(
        client_order_id=f"o-{n}", instrument="BTCUSDT.binance-futures", side=Side.BUY,
        quantity=D("0.010"), price=D("50000.5"), fee=D("0.02"), ts_ns=ts_ns, trade_id=f"t{n}",
    )  # fmt: skip


def test_a_backtest_journals_into_postgresql_as_into_duckdb_with_the_password_from_env(
    tmp_path, pg_cluster, monkeypatch
):
    """The same backtest through the CLI into DuckDB and into PostgreSQL: the same fills,
    orders and signals, and the report reads its markers from either."""
    url = pg_cluster.create_database("cli")
    duck_dir, pg_dir = tmp_path / "duck", tmp_path / "pg"
    duck_dir.mkdir()
    pg_dir.mkdir()
    (duck_dir / "demo.toml").write_text(demo_config_text(duck_dir), encoding="utf-8")
    (pg_dir / "demo.toml").write_text(
        demo_config_text(pg_dir) + f'\n[journal]\nurl = "{url}"\npassword = "env:{PASSWORD_ENV}"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env[PASSWORD_ENV] = pg_cluster.password
    for folder in (duck_dir, pg_dir):
        proc = run_cli("backtest", str(folder / "demo.toml"), "--report-dir", str(folder / "out"),
                       env=env)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"journal: {url}" in proc.stdout
    assert pg_cluster.password not in proc.stdout + proc.stderr
    assert not (pg_dir / "journal.duckdb").exists()  # [journal] url replaces [run] journal

    duck = Journal.open_readonly(duck_dir / "journal.duckdb")
    pgj = Journal.open_readonly(url, password=pg_cluster.password)
    try:
        assert pgj.backend == "postgresql" and duck.backend == "duckdb"
        # The run id derives from the config's text, which differs by the [journal] table.
        (run_id,) = pgj.query("SELECT run_id FROM runs")[0]
        (duck_run,) = duck.query("SELECT run_id FROM runs")[0]

        def same(a, b):
            def norm(x, run):
                return repr(x).replace(run, "RUN").replace(run[:12], "RUN")

            return norm(a, run_id) == norm(b, duck_run)

        assert same(pgj.fills(), duck.fills()) and len(pgj.fills()) > 0
        assert same(pgj.orders(), duck.orders())
        assert pgj.positions() == duck.positions()
        assert pgj.cash() == duck.cash()
        sql = "SELECT ts_ns, instrument, side, entry, stop, score FROM signals ORDER BY seq"
        assert pgj.query(sql) == duck.query(sql) and pgj.count("signals") > 0
        for table in TABLES:
            assert pgj.count(table) == duck.count(table), table
            for row in pgj.query(f"SELECT * FROM {table}"):  # the password reached no table
                assert pg_cluster.password not in " ".join(map(str, row))
    finally:
        duck.close()
        pgj.close()
    # The report's reader of the journal (signal and veto markers) works on either.
    monkeypatch.setenv(PASSWORD_ENV, pg_cluster.password)
    pg_marks = journal_markers(url, run_id, Secret(PASSWORD_ENV))
    assert pg_marks == journal_markers(str(duck_dir / "journal.duckdb"), duck_run)
    assert pg_marks["signals"]


def test_the_journal_section_is_checked(tmp_path, monkeypatch):
    base = demo_config_text(tmp_path)
    cfg = tmp_path / "c.toml"
    cfg.write_text(base + '\n[journal]\nurl = "postgresql://tw:hunter2@db/x"\n')
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert "must not hold the password" in str(exc.value) and "hunter2" not in str(exc.value)
    cfg.write_text(base + '\n[journal]\nurl = "mysql://db/x"\n')
    with pytest.raises(ConfigError, match=r"postgresql://.*journal\.url"):
        load_config(cfg)
    monkeypatch.delenv("TW_NOT_SET_PW", raising=False)
    cfg.write_text(
        base + '\n[journal]\nurl = "postgresql://tw@db/x"\npassword = "env:TW_NOT_SET_PW"\n'
    )
    with pytest.raises(ConfigError, match=r"TW_NOT_SET_PW.*\$\.journal\.password"):
        load_config(cfg)


def test_append_only_tables_are_partitioned_by_month_of_the_event_time(db):
    url = db()
    j = Journal(url, "r1")
    j.start("paper", "c.toml", 0)
    jan, mar = 1_704_067_200 * 10**9, 1_709_251_200 * 10**9  # 2024-01-01, 2024-03-01 UTC
    f1, f2 = _fill(1, jan + 5), _fill(2, mar + 7)
    for f in (f1, f2):
        j.record(SystemError(ts_ns=f.ts_ns, source="t", error="e"))
        j.record_fill(f, Position(instrument=f.instrument).apply(f))
    j.flush()
    parts = {
        (parent, child)
        for parent, child in j.query(
            "SELECT p.relname, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent"
        )
    }
    for table in ("events", "system_events", "positions"):
        assert {(table, f"{table}_y2024m01"), (table, f"{table}_y2024m03")} <= parts
    # Each row lives in its month's partition; the parent reads them all.
    assert j.query("SELECT count(*) FROM positions_y2024m01") == [(1,)]
    assert j.query("SELECT count(*) FROM positions_y2024m03") == [(1,)]
    assert j.fills() == [f1, f2]
    # fills keeps its de-duplication key, so it is one table.
    assert not pg.is_partitioned(j._con, "fills") and pg.is_partitioned(j._con, "events")
    j.record_fill(f1, Position(instrument=f1.instrument).apply(f1))  # re-sent: written once
    assert j.count("fills") == 2
    j.close()


def test_a_failed_write_stays_buffered_and_the_retry_writes_it_with_its_partitions(db, monkeypatch):
    """As on DuckDB: rows whose write failed are kept and written by the next flush; here the
    failed transaction also took the month's new partitions with it."""
    import psycopg

    url = db()
    j = Journal(url, "r1")
    j.start("paper", "c.toml", 0)
    may = 1_714_521_600 * 10**9  # 2024-05-01 UTC
    f = _fill(1, may + 3)
    real = pg.PgConnection.copy_rows
    calls = []

    def full_disk(self, table, columns, rows):
        calls.append(table)
        if table == "positions":
            raise psycopg.errors.DiskFull("could not extend file: No space left on device")
        return real(self, table, columns, rows)

    monkeypatch.setattr(pg.PgConnection, "copy_rows", full_disk)
    with pytest.raises(JournalError, match=r"out of disk space while trying to write"):
        j.record_fill(f, Position(instrument=f.instrument).apply(f))
    assert j.error is not None and j._npending > 0  # kept, reported
    monkeypatch.setattr(pg.PgConnection, "copy_rows", real)
    j.flush()  # the retry: partitions for May again, then the rows
    assert j.error is None and j.fills() == [f]
    assert j.query("SELECT count(*) FROM positions_y2024m05") == [(1,)]
    j.close()


def test_month_bounds():
    assert pg.month_bounds(0) == ("y1970m01", 0, 31 * 86_400 * 10**9)
    name, lo, hi = pg.month_bounds(1_735_689_599 * 10**9)  # 2024-12-31T23:59:59Z
    assert name == "y2024m12" and hi == 1_735_689_600 * 10**9 and lo < hi


def test_migrations_are_versioned_and_applied_once(db):
    url = db()
    j = Journal(url, "r1")
    rows = j.query("SELECT version, name FROM tradewind_migrations ORDER BY version")
    assert [v for v, _ in rows] == [v for v, _, _ in pg.MIGRATIONS]
    j.close()
    con = pg.connect(url, None)
    assert pg.migrate(con, {}) == []  # nothing left to apply
    # A database migrated by a newer tradewind is refused before anything is written.
    con.execute("INSERT INTO tradewind_migrations (version, name) VALUES (999, 'future')")
    con.close()
    with pytest.raises(JournalError, match=r"schema version 999 by a newer tradewind"):
        Journal(url, "r2")


def test_a_column_added_after_a_database_was_made_is_added_at_open(db):
    url = db()
    Journal(url, "r1").close()
    con = pg.connect(url, None)
    con.execute("ALTER TABLE fills DROP COLUMN fee_asset")  # as made before fee_asset existed
    con.close()
    j = Journal(url, "r2")
    j.start("paper", "c.toml", 0)
    f = _fill(1, 10)
    j.record_fill(f, Position(instrument=f.instrument).apply(f))
    assert j.fills() == [f]
    assert j.query("SELECT fee_asset FROM fills") == [("quote",)]
    j.close()


def test_a_database_made_before_positions_had_a_pnl_currency_is_migrated(db):
    """Migration 2 on a database at version 1: the column is added and filled for the rows
    whose fills paid a fee in the quote currency; the host's instruments fill the rest, and
    a resume in another currency is refused naming the instrument and both currencies."""
    url = db()
    j = Journal(url, "old")
    j.start("paper", "c.toml", 0)
    quoted = attrs.evolve(_fill(1, 10), instrument="v:BTCUSDC", fee_currency="USDC")
    bare = _fill(2, 20)
    for f in (quoted, bare):
        j.record_fill(f, Position(instrument=f.instrument).apply(f))
    j.close()
    con = pg.connect(url, None)
    con.execute("ALTER TABLE positions DROP COLUMN pnl_currency")  # as made at version 1
    con.execute("DELETE FROM tradewind_migrations WHERE version = 2")
    con.close()
    j = Journal(url, "new")
    rows = j.query("SELECT version FROM tradewind_migrations ORDER BY version")
    assert [v for (v,) in rows] == [v for v, _, _ in pg.MIGRATIONS] and (2,) in rows
    j.start("paper", "c.toml", 0)
    assert j.journaled_pnl_currencies() == {"v:BTCUSDC": "USDC"}
    with pytest.raises(ConfigError, match="instrument v:BTCUSDC: journaled in USDC, the conf"):
        j.set_pnl_currencies({"v:BTCUSDC": "USDT"})
    j.set_pnl_currencies({"v:BTCUSDC": "USDC", bare.instrument: "USDT"})
    assert j.journaled_pnl_currencies() == {"v:BTCUSDC": "USDC", bare.instrument: "USDT"}
    f = _fill(3, 30)
    j.record_fill(f, Position(instrument=f.instrument).apply(bare).apply(f))
    assert j.query("SELECT pnl_currency FROM positions ORDER BY seq DESC LIMIT 1") == [("USDT",)]
    j.close()


def _delete_plan(con, session: str, cids: list[str]) -> str:
    rows = con.execute(
        "EXPLAIN DELETE FROM orders WHERE session_id = ? AND client_order_id IN ("
        + ", ".join(["?"] * len(cids))
        + ")",
        [session, *cids],
    ).fetchall()
    return "\n".join(r[0] for r in rows)


def test_the_orders_upsert_finds_an_orders_rows_by_its_id_not_by_reading_the_session(db):
    """Migration 3: the upsert's DELETE of an order's earlier row goes through an index on
    ``(session_id, client_order_id)``; a database at version 2 gains it when a host opens it.
    Without it the plan reads the session's rows through ``(session_id, seq)`` (checked on the
    version-2 database before it is opened)."""
    url = db()
    j = Journal(url, "r1")
    j.start("paper", "c.toml", 0, session_id="s1")
    j.close()
    con = pg.connect(url, None)
    con.execute(
        "INSERT INTO orders (client_order_id, session_id, run_id, id_seq, seq, status) "
        "SELECT 'tw-s1-' || i, 's1', 'r1', i, i, 'filled' FROM generate_series(1, 20000) AS t(i)"
    )
    con.execute("ANALYZE orders")
    cids = [f"tw-s1-{i}" for i in range(19_900, 20_000)]
    assert "orders_session_client_order_id" in _delete_plan(con, "s1", cids)
    # As at version 2: no index; the plan cannot find the rows by id.
    con.execute("DROP INDEX orders_session_client_order_id")
    con.execute("DELETE FROM tradewind_migrations WHERE version = 3")
    con.execute("ANALYZE orders")
    before = _delete_plan(con, "s1", cids)
    assert "orders_session_seq" in before or "Seq Scan" in before, before
    con.close()
    j = Journal(url, "r2")  # opening migrates
    assert (3,) in j.query("SELECT version FROM tradewind_migrations")
    j.close()
    con = pg.connect(url, None)
    con.execute("ANALYZE orders")
    assert "orders_session_client_order_id" in _delete_plan(con, "s1", cids)
    con.close()


def test_one_writer_per_database_and_readers_alongside(db):
    url = db()
    first = Journal(url, "r1")
    first.start("paper", "c.toml", 0)
    with pytest.raises(JournalError, match=r"is in use by another process: one host"):
        Journal(url, "r2")
    reader = Journal.open_readonly(url)
    assert reader.session_id == "r1"
    reader.close()
    first.close()
    Journal(url, "r3").close()  # the lock went with the first host's close


def test_a_closed_journal_frees_its_lock_before_the_server_notices_the_connection_went(
    db, monkeypatch
):
    # The server frees a session's advisory lock only once it notices the connection went:
    # a host that stops and one that starts at once raced on it (a CI run lost that race).
    # Keep the first connection open on the wire to stand for a server that has not noticed.
    from tradewind.journal import postgres as pg

    url = db()
    first = Journal(url, "r1")
    first.start("paper", "c.toml", 0)
    kept = []
    with monkeypatch.context() as m:
        m.setattr(pg.PgConnection, "close", lambda self: kept.append(self.raw))
        first.close()
    assert kept and not kept[0].closed
    Journal(url, "r2").close()
    kept[0].close()


def test_errors_are_one_line_without_the_password(pg_cluster, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    url = pg_cluster.url("postgres")
    with pytest.raises(JournalError) as exc:
        Journal(url, "r", password="wrong-secret-value")
    text = str(exc.value)
    assert "refused the login" in text and "wrong-secret-value" not in text
    assert "\n" not in text
    with pytest.raises(JournalError, match=r"does not exist.*createdb"):
        Journal(pg_cluster.url("nope"), "r", password=pg_cluster.password)
    dead = f"postgresql://tw@127.0.0.1:{pg_cluster.port + 1}/x"
    with pytest.raises(JournalError, match=r"cannot connect to the server"):
        Journal(dead, "r", password=pg_cluster.password)
    assert pg.redact("postgresql://tw:s3cret@h:5/db") == "postgresql://tw:***@h:5/db"
    empty = pg_cluster.create_database("empty")
    with pytest.raises(JournalError, match=r"holds no journal \(no tradewind tables\)"):
        Journal.open_readonly(empty, password=pg_cluster.password)


def test_placeholders_and_ddl_are_translated():
    assert pg.placeholders("SELECT * FROM t WHERE a = ? AND b LIKE ?") == (
        "SELECT * FROM t WHERE a = %s AND b LIKE %s"
    )
    assert pg.placeholders("SELECT '?%' , ?") == "SELECT '?%%' , %s"
    assert pg.placeholders("INSERT OR IGNORE INTO f (a) VALUES (?)") == (
        "INSERT INTO f (a) VALUES (%s) ON CONFLICT DO NOTHING"
    )
    assert pg.translate_ddl("CREATE TABLE x (a JSON, b DOUBLE)") == (
        "CREATE TABLE x (a text, b double precision)"
    )
