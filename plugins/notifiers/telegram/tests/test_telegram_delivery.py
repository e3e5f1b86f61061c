"""sendMessage through the outbox to a local server speaking the Telegram Bot API."""

from __future__ import annotations

import logging
from decimal import Decimal

import anyio
import duckdb
from tradewind.clock import SimClock
from tradewind.model import Fill, FillEvent, Side
from tradewind.notify import NotifierHost, Outbox
from tradewind.secrets import Secret

from tradewind_notifier_telegram import TelegramConfig, TelegramNotifier
from tradewind_notifier_telegram.testing import TelegramServer, serve


def fill_event(i: int) -> FillEvent:
    fill = Fill(
        client_order_id=f"c-{i}",
        instrument="sim:SOLUSDT",
        side=Side.SELL,
        quantity=Decimal("12"),
        price=Decimal("142.37"),
        fee=Decimal("0.68"),
        ts_ns=1_700_000_000_000_000_000,
    )
    return FillEvent(ts_ns=fill.ts_ns, fill=fill, realized_pnl=Decimal("31.08"))


async def _send(server: TelegramServer, config: TelegramConfig, n: int) -> list:
    outbox = Outbox(duckdb.connect(":memory:"))
    async with NotifierHost(
        {"tg": TelegramNotifier(config)}, clock=SimClock(1), outbox=outbox
    ) as host:
        for i in range(n):
            host.channels["tg"].on_event(fill_event(i))
        assert await host.wait_idle(15)
    return list(outbox.rows())


def test_a_fill_is_sent_with_instrument_side_price_quantity_and_pnl(monkeypatch):
    async def go():
        async with serve(TelegramServer()) as server:
            monkeypatch.setenv("TG_TOKEN", server.token)
            cfg = TelegramConfig(token=Secret("TG_TOKEN"), chat_id="42", base_url=server.base_url)
            return server, await _send(server, cfg, 1)

    server, rows = anyio.run(go)
    (text,) = server.texts_to("42")
    assert text.startswith("sell 12 sim:SOLUSDT @ 142.37\n\nTrade executed: sell 12 sim:SOLUSDT")
    assert "P&L (realised by this fill): 31.08" in text
    assert [r[3] for r in rows] == ["sent"]


def test_429_retry_after_is_honoured_and_the_per_chat_limit_paces_messages(monkeypatch):
    async def go():
        async with serve(TelegramServer()) as server:
            server.too_many_next = [1]
            monkeypatch.setenv("TG_TOKEN", server.token)
            cfg = TelegramConfig(
                token=Secret("TG_TOKEN"), chat_id="42", base_url=server.base_url, burst=1
            )
            return server, await _send(server, cfg, 3)

    server, rows = anyio.run(go)
    assert len(server.texts_to("42")) == 3 and [r[3] for r in rows] == ["sent"] * 3
    t = server.attempts
    assert t[1] - t[0] >= 1.0  # retry_after: 1
    assert t[2] - t[1] >= 0.9 and t[3] - t[2] >= 0.9  # one message a second to a chat


def test_an_unknown_chat_is_undelivered_and_the_token_stays_out_of_logs(monkeypatch, caplog):
    async def go():
        async with serve(TelegramServer()) as server:
            monkeypatch.setenv("TG_TOKEN", server.token)
            cfg = TelegramConfig(token=Secret("TG_TOKEN"), chat_id="999", base_url=server.base_url)
            return server, await _send(server, cfg, 1)

    with caplog.at_level(logging.DEBUG, logger="tradewind"):
        server, rows = anyio.run(go)
    ((_id, _n, _k, status, attempts, reason),) = rows
    assert (status, attempts) == ("undelivered", 1)
    assert reason == "Telegram sendMessage failed: 400 Bad Request: chat not found"
    assert server.token not in caplog.text
