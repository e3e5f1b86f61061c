"""Commands over long polling against a real engine's control surface."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from tradewind.cli import default_config_path
from tradewind.config import load_config
from tradewind.journal.store import Journal
from tradewind.model import Fill, Side
from tradewind.notify import NotifierHost, Outbox
from tradewind.secrets import Secret
from tradewind.trading.engine import Engine

from tradewind_notifier_telegram import TelegramConfig, TelegramNotifier
from tradewind_notifier_telegram.testing import TelegramServer, serve

OWNER, STRANGER = 42, 666
TS = 1_582_330_000_000_000_000


@pytest.fixture
def engine(tmp_path):
    eng = Engine(load_config(default_config_path()), run_id="tg-run")
    eng.journal = Journal(tmp_path / "journal.duckdb", "tg-run")
    eng.journal.start("paper", str(tmp_path / "paper.toml"), TS)
    eng.orders.attach_journal(eng.journal)
    key = "sim:BTCUSDT"
    # An open long: 0.05 BTC bought at 9,700.
    eng.portfolio.apply_fill(
        Fill(
            client_order_id="x1",
            instrument=key,
            side=Side.BUY,
            quantity=Decimal("0.05"),
            price=Decimal("9700"),
            fee=Decimal("0.19"),
            ts_ns=TS,
        )
    )
    eng.portfolio.mark(key, 9712.5, TS)
    yield eng
    eng.control.close()
    eng.journal.close()


def test_commands_from_the_allow_list_steer_the_engine_and_others_are_ignored(engine, monkeypatch):
    async def go(server: TelegramServer):
        monkeypatch.setenv("TG_TOKEN", server.token)
        await engine.venues["sim"].connect()
        cfg = TelegramConfig(
            token=Secret("TG_TOKEN"),
            chat_id=str(OWNER),
            base_url=server.base_url,
            control=True,
            allowed_chat_ids=[str(OWNER)],
            poll_timeout_s=1,
            rate_per_s=0,
        )
        outbox = Outbox(engine.journal.cursor())
        host = NotifierHost(
            {"tg": TelegramNotifier(cfg)}, clock=engine.clock, outbox=outbox, control=engine.control
        )
        async with host:
            server.command(STRANGER, "/stop", user_id=9, username="intruder")
            server.command(STRANGER, "/forceexit all", user_id=9, username="intruder")
            server.command(OWNER, "/status")
            server.command(OWNER, "/positions")
            server.command(OWNER, "/pause")
            server.command(OWNER, "/forceexit all")
            with anyio.fail_after(10):
                while len(server.texts_to(str(OWNER))) < 4:
                    await anyio.sleep(0.02)
            # The engine sends queued force exits at its next batch; do what it does.
            await engine.control.apply()
        outbox.close()

    async def main():
        async with serve(TelegramServer(chats=(str(OWNER), str(STRANGER)))) as server:
            await go(server)
            return server

    server = anyio.run(main)
    status, positions, paused, closing = server.texts_to(str(OWNER))
    assert "state: running" in status and "open positions: 1" in status
    assert "sim:BTCUSDT · side long · quantity 0.05 · entry 9700" in positions
    assert paused == "paused: no new entries; exits still run"
    assert closing == "closing sim:BTCUSDT (market, reduce-only)"
    assert server.texts_to(str(STRANGER)) == []  # no answer to other chats
    # The stranger's /stop did nothing; the owner's /pause did.
    assert engine.control.stop_requested is False and engine.control.paused is True
    # /forceexit all sent a reduce-only market close of the whole position through the
    # order manager.
    (rec,) = [r for r in engine.orders.records.values() if r.order and r.order.reduce_only]
    assert rec.order.side is Side.SELL and rec.order.quantity == Decimal("0.05")
    assert rec.order.tag == "control: forceexit by chat 42 user 7 (@trader)"
    # Every command is journaled with who sent it, the refused ones too.
    rows = engine.journal.query(
        "SELECT sender, command, accepted, outcome FROM control_commands ORDER BY ts_ns, rowid"
    )
    assert rows[:2] == [
        ("chat 666 user 9 (@intruder)", "/stop", False, "ignored: chat not on the allow-list"),
        (
            "chat 666 user 9 (@intruder)",
            "/forceexit all",
            False,
            "ignored: chat not on the allow-list",
        ),
    ]
    assert [(r[1], r[2]) for r in rows[2:]] == [
        ("/status", True),
        ("/positions", True),
        ("/pause", True),
        ("/forceexit all", True),
    ]
    assert all(r[0] == "chat 42 user 7 (@trader)" for r in rows[2:])


def test_control_without_an_allow_list_is_refused_at_start(monkeypatch):
    monkeypatch.setenv("TG_TOKEN", "t")
    n = TelegramNotifier(TelegramConfig(token=Secret("TG_TOKEN"), chat_id="1", control=True))
    n.instance = "tg"
    with pytest.raises(ValueError, match=r"allowed_chat_ids @ \$\.notifiers\.tg"):
        anyio.run(n.start)
