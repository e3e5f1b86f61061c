"""The market store on a real PostgreSQL server (tests/pg.py starts a throwaway cluster): the
same ticks appended to it and to the parquet store read back as identical TickBatches (windows
across daily partitions included), retention drops old partitions and rows, symbols/info agree,
a backtest replaying from it equals the one replaying from parquet, and errors are one line
without the password."""

from __future__ import annotations

import os

import anyio
import numpy as np
import pytest
from tradewind.config import load_config
from tradewind.errors import ConfigError, DataError
from tradewind.market.importers import load
from tradewind.market.postgres import PgMarketStore
from tradewind.market.store import MarketStore, open_store
from tradewind.model.ticks import TickBatch
from tradewind.trading.engine import Engine

from tests.pg import PASSWORD_ENV
from tests.test_engine import SAMPLE, demo_config_text

DAY = 86_400 * 10**9
T0 = 19_000 * DAY  # 2022-01-08 00:00 UTC


@pytest.fixture
def pg_url(pg_cluster, monkeypatch):
    """A fresh database; its password only in PGPASSWORD (as libpq reads it)."""
    monkeypatch.setenv("PGPASSWORD", pg_cluster.password)
    return pg_cluster.create_database(f"market_{os.urandom(5).hex()}")


def _batch(symbol: str, ts: np.ndarray, seed: int) -> TickBatch:
    rng = np.random.default_rng(seed)
    n = len(ts)
    return TickBatch.from_arrays(
        symbol,
        ts,
        50_000 + rng.standard_normal(n).cumsum() * 0.37,  # full float64 mantissas
        rng.exponential(0.05, n),
        rng.choice(np.array([-1, 1], dtype=np.int8), n),
        rng.integers(0, 2**62, n),
    )


def _same(a: TickBatch, b: TickBatch) -> bool:
    cols = ("ts_ns", "price", "size", "side", "trade_id")
    return a.instrument == b.instrument and all(
        getattr(a, c).dtype == getattr(b, c).dtype
        and getattr(a, c).tobytes() == getattr(b, c).tobytes()
        for c in cols
    )


def _fill(stores, seed: int = 1) -> dict[tuple[str, str, str], TickBatch]:
    """Three flushes of three symbols over three UTC days (one flush out of order, ties in
    time) appended to every store; returns the batches appended per key."""
    rng = np.random.default_rng(seed)
    keys = [
        ("binance", "futures", "BTCUSDT"),
        ("binance", "futures", "ETHUSDT"),
        ("okx", "swap", "BTC/USDT:USDT"),
    ]
    held: dict[tuple[str, str, str], list[TickBatch]] = {k: [] for k in keys}
    for flush in range(3):
        for i, key in enumerate(keys):
            lo = T0 + flush * DAY - DAY // 3  # each flush crosses a day boundary
            ts = np.sort(rng.integers(lo, lo + DAY, 4_000)).astype(np.int64)
            ts[10:20] = ts[10]  # equal times keep their order of arrival
            batch = _batch(key[2], ts, seed * 100 + flush * 10 + i)
            if flush == 1:  # arrives out of order: the store sorts it (stable)
                perm = rng.permutation(len(batch))
                batch = TickBatch.from_arrays(
                    key[2], batch.ts_ns[perm], batch.price[perm], batch.size[perm],
                    batch.side[perm], batch.trade_id[perm],
                )  # fmt: skip
            for store in stores:
                store.append(*key, batch)
            held[key].append(batch)
        for store in stores:
            assert store.flush() == 3 * 4_000
    return held


def test_the_same_ticks_read_back_identical_from_parquet_and_postgresql(tmp_path, pg_url):
    parquet = MarketStore(tmp_path / "store", max_parts=None)
    pgs = open_store(pg_url)
    assert isinstance(pgs, PgMarketStore)
    try:
        _fill([parquet, pgs])
        windows = [
            (None, None),
            (T0, T0 + DAY),  # exactly one day partition
            (T0 - DAY // 5, T0 + DAY + DAY // 7),  # across two partition boundaries
            (T0 + DAY // 2, None),
            (None, T0 + DAY // 2),
            (T0 + 5 * DAY, None),  # after every tick: empty
        ]
        for key in parquet.symbols():
            for lo, hi in windows:
                a = parquet.read_ticks(*key, start_ns=lo, end_ns=hi)
                b = pgs.read_ticks(*key, start_ns=lo, end_ns=hi)
                assert _same(a, b), (key, lo, hi)
            whole = pgs.read_ticks(*key)
            assert len(whole) == 3 * 4_000 and bool(np.all(np.diff(whole.ts_ns) >= 0))
            assert _same(parquet.last(*key, 3_600 * 10**9), pgs.last(*key, 3_600 * 10**9))
        assert len(pgs.read_ticks("binance", "futures", "NOPE")) == 0
        assert len(pgs.last("binance", "futures", "NOPE", DAY)) == 0
        # The ticks are in daily partitions of market_ticks.
        parts = pgs.con.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'market_ticks'::regclass"
        ).fetchone()
        assert parts == (4,)
    finally:
        parquet.close()
        pgs.close()


def test_symbols_and_info_agree_with_the_parquet_store(tmp_path, pg_url):
    with MarketStore(tmp_path / "store") as parquet, PgMarketStore(pg_url) as pgs:
        _fill([parquet, pgs], seed=2)
        gap = np.array([T0 + 10 * DAY, T0 + 10 * DAY + 5, T0 + 10 * DAY + 10 * 60 * 10**9])
        for store in (parquet, pgs):
            store.append("x", "spot", "GAPPY", _batch("GAPPY", gap.astype(np.int64), 7))
            store.flush()
        assert pgs.symbols() == parquet.symbols()
        assert len(pgs.symbols()) == 4
        assert pgs.info() == parquet.info()
        gappy = [i for i in pgs.info(gap_ns=60 * 10**9) if i.symbol == "GAPPY"]
        assert gappy[0].gaps == ((int(gap[1]), int(gap[2])),) and gappy[0].rows == 3


def test_retention_drops_old_partitions_and_older_rows(pg_url):
    with PgMarketStore(pg_url, ticks_keep_ns=DAY // 2) as pgs:
        held = _fill([pgs], seed=3)
        key = ("binance", "futures", "BTCUSDT")
        before = pgs.read_ticks(*key)
        total = sum(len(b) for k in held for b in held[k])
        now = T0 + 2 * DAY + DAY // 4
        cutoff = now - DAY // 2
        removed = pgs.apply_retention(now)
        after = pgs.read_ticks(*key)
        # Exactly the ticks at or after the cutoff stay, in the same order.
        assert _same(after, before.slice(int(np.searchsorted(before.ts_ns, cutoff)), len(before)))
        left = sum(len(pgs.read_ticks(*k)) for k in held)
        assert removed == total - left > 0
        names = {
            r[0]
            for r in pgs.con.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'market_ticks'::regclass"
            ).fetchall()
        }
        # Days wholly before the cutoff are dropped partitions, not emptied ones.
        assert names == {"market_ticks_d20220109", "market_ticks_d20220110"}
        # Writing into a dropped day makes its partition again.
        pgs.append(*key, _batch("BTCUSDT", np.array([T0 + 5], dtype=np.int64), 9))
        assert pgs.flush() == 1
        assert len(pgs.read_ticks(*key, end_ns=T0 + DAY)) == 1
        # Everything older than the default window (half a day) goes.
        stored = sum(len(pgs.read_ticks(*k)) for k in held)
        assert pgs.apply_retention(T0 + 4 * DAY) == stored > 0
        assert pgs.symbols() == []


def test_migrations_are_versioned_and_applied_once(pg_url):
    from tradewind.market import postgres as mpg

    with PgMarketStore(pg_url) as first:
        rows = first.con.execute("SELECT version FROM tradewind_market_migrations").fetchall()
        assert sorted(r[0] for r in rows) == [1, 2]
        # A database made before version 2: the next open applies 2 only.
        first.con.execute("DROP TABLE market_rejections")
        first.con.execute("DELETE FROM tradewind_market_migrations WHERE version = 2")
    with PgMarketStore(pg_url) as again:
        rows = again.con.execute("SELECT count(*) FROM tradewind_market_migrations").fetchone()
        assert rows == (2,)
        assert again.rejection_keys() == []  # the table is back
        assert mpg.migrate(again.con) == []  # nothing left to apply
        with pytest.raises(DataError, match="query\\(\\) runs DuckDB SQL over a parquet store"):
            again.query("SELECT 1")


def test_a_backtest_replaying_from_postgresql_equals_the_one_from_parquet(
    tmp_path, pg_url, pg_cluster, monkeypatch
):
    """The shipped sample imported into both stores; the default backtest replaying each."""
    (batch,) = load(SAMPLE).batches.values()
    parquet_dir = tmp_path / "market"
    with MarketStore(parquet_dir) as parquet, PgMarketStore(pg_url) as pgs:
        for store in (parquet, pgs):
            store.append("binance-futures", "perp", "BTCUSDT", batch)
            store.flush()
    monkeypatch.delenv("PGPASSWORD")  # the config's env: password is the only way in
    monkeypatch.setenv(PASSWORD_ENV, pg_cluster.password)
    results = {}
    for name, lines in (
        ("parquet", f'store = "{parquet_dir.as_posix()}"'),
        ("pg", f'store = "{pg_url}"\nstore_password = "env:{PASSWORD_ENV}"'),
    ):
        folder = tmp_path / name
        folder.mkdir()
        text = demo_config_text(folder).replace(
            f'path = "{SAMPLE.as_posix()}"',
            f'{lines}\nexchange = "binance-futures"\nmarket = "perp"',
        )
        assert "store = " in text
        (folder / "demo.toml").write_text(text, encoding="utf-8")
        cfg = load_config(folder / "demo.toml")
        results[name] = anyio.run(Engine(cfg, run_id="same").run)
    a, b = results["parquet"], results["pg"]
    assert a.summary["ticks"] == b.summary["ticks"] == 9_999
    assert a.fills == b.fills and len(a.fills) > 0
    assert a.summary == b.summary


def test_errors_are_one_line_without_the_password(tmp_path, pg_url, pg_cluster, monkeypatch):
    monkeypatch.delenv("PGPASSWORD")
    wrong = "not-" + pg_cluster.password
    with pytest.raises(DataError) as err:
        PgMarketStore(pg_url, password=wrong)
    text = str(err.value)
    assert "\n" not in text and wrong not in text and pg_cluster.password not in text
    assert text.startswith(f"market store {pg_url}: the server refused the login")
    assert "store_password" in text
    # A URL with the password written in it is shown redacted.
    host = pg_url.split("@", 1)[1]
    with pytest.raises(DataError) as err:
        open_store(f"postgresql://tw:{wrong}@{host}")
    assert wrong not in str(err.value) and "tw:***@" in str(err.value)
    # Nothing listens on this port.
    with pytest.raises(DataError, match="cannot connect to the server") as err:
        PgMarketStore("postgresql://tw@127.0.0.1:1/x", password=wrong)
    assert "\n" not in str(err.value) and wrong not in str(err.value)
    # The config refuses a password in the url, and names the place.
    folder = tmp_path / "cfg"
    folder.mkdir()
    text = demo_config_text(folder).replace(
        f'path = "{SAMPLE.as_posix()}"',
        f'store = "postgresql://tw:{wrong}@{host}"\nexchange = "e"\nmarket = "m"',
    )
    (folder / "demo.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(folder / "demo.toml")
    assert "store_password" in str(err.value) and wrong not in str(err.value)


def test_a_backtest_run_id_follows_the_ticks_in_the_postgresql_store(tmp_path, pg_url):
    """The run id hashes the config and the data: the same ticks give the same id, one more
    tick in the store gives another (as one more part file does for parquet)."""
    (batch,) = load(SAMPLE).batches.values()
    with PgMarketStore(pg_url) as pgs:
        pgs.append("binance-futures", "perp", "BTCUSDT", batch.slice(0, 1_000))
        pgs.flush()
    text = demo_config_text(tmp_path).replace(
        f'path = "{SAMPLE.as_posix()}"',
        f'store = "{pg_url}"\nexchange = "binance-futures"\nmarket = "perp"',
    )
    (tmp_path / "demo.toml").write_text(text, encoding="utf-8")
    cfg = load_config(tmp_path / "demo.toml")
    first, again = Engine(cfg).run_id, Engine(cfg).run_id
    assert first == again
    with PgMarketStore(pg_url) as pgs:
        pgs.append("binance-futures", "perp", "BTCUSDT", batch.slice(1_000, 1_001))
        pgs.flush()
    assert Engine(cfg).run_id != first


def test_data_import_and_info_work_on_postgresql_as_on_parquet(tmp_path, pg_url, capsys):
    """``tradewind data import`` into either store (bad rows listed and counted, a reimport
    skipping what the store holds), ``data info`` printing the same rows and rejections."""
    from tradewind.cli import main

    lines = SAMPLE.read_text().splitlines()
    lines[1] = lines[1].replace(",9682,", ",-9682,")  # line 2: a bad price
    lines[6] = "binance-futures,BTCUSDT"  # line 7: too few fields
    lines[9] = lines[8]  # line 10: a resent trade
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join(lines) + "\n")
    outs = {}
    for name, target in (("parquet", str(tmp_path / "store")), ("pg", pg_url)):
        assert main(["data", "import", str(broken), "--store", target]) == 0
        out = capsys.readouterr().out
        assert f"{broken}:2: price -9682 is not positive" in out
        assert "imported 9,996 trades from 1 of 1 files" in out
        assert main(["data", "import", str(SAMPLE), "--store", target]) == 0
        out = capsys.readouterr().out
        assert "imported 3 trades from 1 of 1 files; 9,996 were already in the store" in out
        assert main(["data", "info", "--store", target]) == 0
        outs[name] = capsys.readouterr().out
    assert "binance/perp/BTCUSDT: rejected bad_row 2, duplicate_id 1" in outs["pg"]
    assert f"market store {pg_url}" in outs["pg"]
    rows = {k: [ln for ln in v.splitlines() if "BTCUSDT" in ln] for k, v in outs.items()}
    assert rows["pg"] == rows["parquet"] and len(rows["pg"]) == 2
    with open_store(tmp_path / "store") as parquet, open_store(pg_url) as pgs:
        key = ("binance", "perp", "BTCUSDT")
        assert _same(parquet.read_ticks(*key), pgs.read_ticks(*key))
    # A password written in the url is refused before anything connects.
    assert main(["data", "info", "--store", pg_url.replace("tw@", "tw:secret@")]) == 64  # usage
    err = capsys.readouterr().err
    assert "do not write the password in the url; export PGPASSWORD" in err
    assert "secret" not in err


def test_a_failed_flush_keeps_every_symbols_ticks_buffered_and_writes_none(pg_url):
    """The second symbol's COPY fails (its day's partition is locked by another session):
    the first symbol's COPY is rolled back with it, both stay buffered, and the next flush
    writes each tick once."""
    import psycopg

    key_a, key_b = ("x", "spot", "A"), ("x", "spot", "B")
    with PgMarketStore(pg_url) as pgs:
        pgs.append(*key_b, _batch("B", np.array([T0 + DAY + 1], dtype=np.int64), 1))
        pgs.flush()  # day T0 + 1 exists
        a = _batch("A", np.arange(T0, T0 + 50, dtype=np.int64), 2)
        b = _batch("B", np.arange(T0 + DAY + 10, T0 + DAY + 60, dtype=np.int64), 3)
        pgs.append(*key_a, a)
        pgs.append(*key_b, b)
        pgs.con.execute("SET lock_timeout = '300ms'")
        with psycopg.connect(pg_url, autocommit=False) as other:
            other.execute("LOCK TABLE market_ticks_d20220109 IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(DataError, match="could not write ticks to it") as err:
                pgs.flush()
            assert "\n" not in str(err.value)
            other.rollback()
        assert pgs.buffered_rows == 100
        assert pgs.symbols() == [key_b]  # A's row and ticks were rolled back
        assert pgs.flush() == 100 and pgs.buffered_rows == 0
        assert _same(pgs.read_ticks(*key_a), a)
        assert len(pgs.read_ticks(*key_b)) == 51
        assert _same(pgs.read_ticks(*key_b, start_ns=T0 + DAY + 10), b)


def test_two_writers_making_the_same_new_days_concurrently(pg_url):
    """Two hosts flushing ticks of the same new days at once: both flushes succeed (the
    partitions are made under a lock, once) and every tick is stored."""
    import threading

    days = np.arange(60, dtype=np.int64) * DAY + T0 + 7
    errors: list[BaseException] = []
    stores = [PgMarketStore(pg_url), PgMarketStore(pg_url)]
    barrier = threading.Barrier(2)

    def write(store: PgMarketStore, name: str) -> None:
        try:
            store.append("x", "spot", name, _batch(name, days, len(name)))
            barrier.wait()
            store.flush()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(s, n)) for s, n in zip(stores, "PQ", strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert [len(stores[0].read_ticks("x", "spot", n)) for n in "PQ"] == [60, 60]
    finally:
        for s in stores:
            s.close()


def test_overlapping_flushes_read_back_the_same_ticks_in_time_order(tmp_path, pg_url):
    """A flush reaching back into an earlier one's span (a late import): both stores return
    the same ticks in time order; only the order of ticks of equal time from different
    flushes may differ (PostgreSQL keeps arrival order, parquet orders them by part file)."""
    key = ("x", "spot", "LATE")
    first = _batch("LATE", np.arange(T0, T0 + 1_000 * 10, 10, dtype=np.int64), 1)
    late = _batch("LATE", np.arange(T0 + 5, T0 + 5 + 500 * 10, 10, dtype=np.int64), 2)
    with MarketStore(tmp_path / "store") as parquet, PgMarketStore(pg_url) as pgs:
        for store in (parquet, pgs):
            store.append(*key, first)
            store.flush()
            store.append(*key, late)
            store.flush()
        for lo, hi in ((None, None), (T0 + 100, T0 + 3_000)):
            a, b = parquet.read_ticks(*key, lo, hi), pgs.read_ticks(*key, lo, hi)
            assert _same(a, b)
        assert len(pgs.read_ticks(*key)) == 1_500


def test_without_psycopg_the_error_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    with pytest.raises(DataError, match=r"needs psycopg: pip install 'tradewind\[postgres\]'"):
        open_store("postgresql://tw@127.0.0.1:1/x")
