"""Freqtrade's own REST client (PyPI freqtrade-client) reads and steers a tradewind host."""

from __future__ import annotations

import time

from freqtrade_client import FtRestClient
from tradewind import __version__

from tests.api.conftest import PaperHost
from tests.host_config import INSTRUMENT


def test_ftrestclient_reads_status_balance_trades_profit_count_version_and_forceexits(tmp_path):
    # A long max hold: only the forced exit closes the first position.
    paper_host = PaperHost(tmp_path, max_hold_minutes=600)
    try:
        _scenario(paper_host)
    finally:
        paper_host.stop()


def _scenario(paper_host: PaperHost) -> None:
    client = FtRestClient(paper_host.url, "freqtrader", paper_host.token)
    assert client.version() == {"version": __version__}
    assert client.ping() == {"status": "pong"}
    # The always-long strategy opens a position at the first 1m close.
    open_trades = paper_host.wait_for("an open trade", lambda: client.status())
    (trade,) = open_trades
    assert trade["pair"] == INSTRUMENT and trade["is_open"] is True and trade["is_short"] is False
    assert trade["amount"] > 0 and trade["open_rate"] > 0 and trade["current_rate"] > 0
    assert isinstance(trade["trade_id"], int) and "profit_abs" in trade

    balance = client.balance()
    assert balance["stake"] == "USDT" and balance["starting_capital"] == 10000.0
    assert any(c["is_position"] and c["currency"] == INSTRUMENT for c in balance["currencies"])
    count = client.count()
    assert count["current"] == 1 and count["max"] == -1 and count["total_stake"] > 0
    trades = client.trades()
    assert trades["total_trades"] >= 1 and trades["trades"][-1]["trade_id"] == trade["trade_id"]
    profit = client.profit()
    assert profit["trade_count"] == trades["total_trades"]
    assert profit["bot_start_timestamp"] > 0

    tid = trade["trade_id"]
    out = client.forceexit(tid)
    assert out == {"result": f"Created exit orders for {INSTRUMENT}.", "instruments": [INSTRUMENT]}

    # A market close is immediate-or-cancel against the tape: if the next print is smaller
    # than the position, the rest stays open (as after an exit monitor's close) and the
    # operator asks again.
    calls = 1
    done = None
    for _ in range(10):
        time.sleep(1.5)  # the engine acts at its next batch; fills follow the tape
        t = client.trade(tid)
        if not t["is_open"]:
            done = t
            break
        client.forceexit(tid)
        calls += 1
    assert done is not None, paper_host.output()
    assert done["exit_reason"].startswith("control: forceexit by api 127.0.0.1")
    # The close fill is in the journal (the API's fills read the journal's table).
    fills = paper_host.get("/api/v1/fills?limit=200")
    close_ids = {o["order_id"] for o in done["orders"][1:]}
    assert close_ids and close_ids <= {f["client_order_id"] for f in fills}

    assert paper_host.stop() in (0, 1, 130)
    j = paper_host.journal()
    rows = j.query(
        "SELECT source, sender, command, accepted, outcome FROM control_commands "
        "WHERE command LIKE 'forceexit%'"
    )
    assert len(rows) == calls
    for source, sender, command, accepted, outcome in rows:
        assert (source, command, accepted, outcome) == (
            "api",
            f"forceexit {INSTRUMENT}",
            True,
            f"closing {INSTRUMENT}",
        )
        assert sender.startswith("api 127.0.0.1:") and "python-requests" in sender
    (n,) = j.query(
        "SELECT count(*) FROM orders WHERE tag LIKE 'control: forceexit by api%' "
        "AND intent = 'close'"
    )[0]
    assert n >= 1
    (filled,) = j.query(
        "SELECT count(*) FROM fills f JOIN orders o USING (client_order_id) "
        "WHERE o.tag LIKE 'control: forceexit by api%'"
    )[0]
    assert filled >= 1
    j.close()
