"""Discord embeds through the outbox to a local server speaking Discord's webhook API."""

from __future__ import annotations

import logging
from decimal import Decimal

import anyio
import duckdb
from tradewind.clock import SimClock
from tradewind.model import CircuitBreaker, Fill, FillEvent, Side
from tradewind.notify import NotifierHost, Outbox
from tradewind.secrets import Secret

from tradewind_notifier_discord import DiscordConfig, DiscordNotifier
from tradewind_notifier_discord.testing import DiscordServer, serve

T0 = 1_700_000_000_000_000_000
S = 1_000_000_000


def fill_event(i: int, ts_ns: int = T0) -> FillEvent:
    fill = Fill(
        client_order_id=f"c-{i}",
        instrument="sim:ETHUSDT",
        side=Side.BUY,
        quantity=Decimal("1.25"),
        price=Decimal("3150.2"),
        fee=Decimal("1.57"),
        ts_ns=ts_ns,
    )
    return FillEvent(ts_ns=ts_ns, fill=fill, realized_pnl=Decimal("0"))


async def _run(server: DiscordServer, config: DiscordConfig, feed, clock=None) -> list:
    outbox = Outbox(duckdb.connect(":memory:"))
    clock = clock or SimClock(T0)
    async with NotifierHost(
        {"discord": DiscordNotifier(config)}, clock=clock, outbox=outbox
    ) as host:
        await feed(host.channels["discord"], clock)
        assert await host.wait_idle(15)
    return list(outbox.rows())


def test_a_fill_becomes_an_embed_with_its_fields(monkeypatch):
    async def go():
        async with serve(DiscordServer()) as server:
            monkeypatch.setenv("DISCORD_HOOK", server.url)

            async def feed(ch, _clock):
                ch.on_event(fill_event(1))

            rows = await _run(server, DiscordConfig(webhook_url=Secret("DISCORD_HOOK")), feed)
            return server, rows

    server, rows = anyio.run(go)
    ((embed,),) = [p["embeds"] for p in server.payloads]
    assert server.payloads[0]["username"] == "tradewind"
    assert embed["title"] == "buy 1.25 sim:ETHUSDT @ 3150.2"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["instrument"] == "sim:ETHUSDT" and fields["side"] == "buy"
    assert fields["price"] == "3150.2" and fields["quantity"] == "1.25" and fields["pnl"] == "0"
    assert embed["color"] == 0x3498DB and embed["timestamp"] == "2023-11-14T22:13:20Z"
    assert [r[3] for r in rows] == ["sent"]


def test_429_retry_after_is_honoured_and_nothing_is_lost(monkeypatch):
    async def go():
        async with serve(DiscordServer()) as server:
            server.rate_limit_next = [0.75]
            monkeypatch.setenv("DISCORD_HOOK", server.url)

            async def feed(ch, _clock):
                for i in range(4):
                    ch.on_event(fill_event(i))

            rows = await _run(server, DiscordConfig(webhook_url=Secret("DISCORD_HOOK")), feed)
            return server, rows

    server, rows = anyio.run(go)
    orders = [p["embeds"][0]["footer"]["text"] for p in server.payloads]
    assert len(orders) == 4 and [r[3] for r in rows] == ["sent"] * 4
    titles = [
        f["value"]
        for p in server.payloads
        for f in p["embeds"][0]["fields"]
        if f["name"] == "order_id"
    ]
    assert titles == ["c-0", "c-1", "c-2", "c-3"]
    assert server.attempts[1] - server.attempts[0] >= 0.75  # waited retry_after, not less
    assert rows[0][4] == 2  # one 429, then delivered


def test_info_events_in_a_window_arrive_as_one_digest_and_critical_bypasses_it(monkeypatch):
    async def go():
        async with serve(DiscordServer()) as server:
            monkeypatch.setenv("DISCORD_HOOK", server.url)
            config = DiscordConfig(webhook_url=Secret("DISCORD_HOOK"), digest_window_s=60)

            async def feed(ch, clock):
                for i in range(5):  # five fills within 50 s of engine time
                    clock.advance_to(T0 + i * 10 * S)
                    ch.on_event(fill_event(i, T0 + i * 10 * S))
                breaker = CircuitBreaker(
                    ts_ns=T0 + 45 * S,
                    name="daily_drawdown",
                    tripped=True,
                    reason="drawdown 5.2% >= 5%",
                )
                ch.on_event(breaker)
                with anyio.fail_after(5):
                    while not server.payloads:
                        await anyio.sleep(0.01)
                # The critical event went out at once; the fills wait for the window.
                assert len(server.payloads) == 1
                clock.advance_to(T0 + 61 * S)  # the window closes: the digest goes out
                with anyio.fail_after(5):
                    while len(server.payloads) < 2:
                        await anyio.sleep(0.01)

            rows = await _run(server, config, feed)
            return server, rows

    server, rows = anyio.run(go)
    first, digest = (p["embeds"][0] for p in server.payloads)
    assert first["title"] == "Risk: daily_drawdown on portfolio" and first["color"] == 0xE74C3C
    assert digest["title"] == "5 notifications"
    assert digest["description"].count("buy 1.25 sim:ETHUSDT @ 3150.2") == 5
    assert [r[2] for r in rows] == ["risk", "digest"] and len(server.payloads) == 2


def test_a_bad_token_is_undelivered_and_the_url_never_reaches_the_log(monkeypatch, caplog):
    async def go():
        async with serve(DiscordServer(token="right")) as server:
            monkeypatch.setenv("DISCORD_HOOK", server.url.replace("/right", "/wrong"))

            async def feed(ch, _clock):
                ch.on_event(fill_event(1))

            return await _run(server, DiscordConfig(webhook_url=Secret("DISCORD_HOOK")), feed)

    with caplog.at_level(logging.INFO):
        rows = anyio.run(go)
    ((_id, _n, _k, status, _a, reason),) = rows
    assert status == "undelivered"
    assert reason == "Discord answered HTTP 401: Invalid Webhook Token"
    ours = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("tradewind"))
    assert "undelivered" in ours and "/wrong" not in ours
