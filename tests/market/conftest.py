"""Fixtures for the market-data tests: the real Tardis sample, read with DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest
from tradewind.model.ticks import TickBatch

DATA = Path(__file__).resolve().parents[1] / "data"
#: 9,999 real Binance USD-M BTCUSDT trades from Tardis.dev (see tests/data/SOURCES.md).
TARDIS_TRADES = DATA / "tardis_binance-futures_BTCUSDT_trades.csv"

#: The CSV as a DuckDB relation in file order, with ts in ns and side as +1/-1.
TARDIS_SQL = f"""
    SELECT timestamp * 1000 AS ts_ns, price, amount AS size,
           CASE side WHEN 'buy' THEN 1 WHEN 'sell' THEN -1 END AS side, id AS trade_id
    FROM read_csv('{TARDIS_TRADES.as_posix()}', header = true,
                  columns = {{'exchange': 'VARCHAR', 'symbol': 'VARCHAR', 'timestamp': 'BIGINT',
                             'local_timestamp': 'BIGINT', 'id': 'BIGINT', 'side': 'VARCHAR',
                             'price': 'DOUBLE', 'amount': 'DOUBLE'}})
"""


def read_tardis() -> TickBatch:
    """The Tardis sample as one TickBatch, read by DuckDB (independent of our importers)."""
    con = duckdb.connect()
    cols = con.execute(TARDIS_SQL + " ORDER BY ts_ns, trade_id").fetchnumpy()
    con.close()
    return TickBatch.from_arrays(
        "BTCUSDT",
        np.asarray(cols["ts_ns"]),
        np.asarray(cols["price"]),
        np.asarray(cols["size"]),
        np.asarray(cols["side"]),
        np.asarray(cols["trade_id"]),
    )


@pytest.fixture(scope="session")
def tardis_batch() -> TickBatch:
    """The 9,999 real trades as one batch."""
    return read_tardis()


@pytest.fixture(scope="session")
def tardis_sql() -> str:
    """A DuckDB query over the sample's CSV: ts_ns, price, size, side (+1/-1), trade_id."""
    return TARDIS_SQL
