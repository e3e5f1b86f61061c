"""Delivery through the outbox to a real local receiver: signatures, 429 with Retry-After,
permanent failures, a slow channel beside a fast one, and a crash with the receiver down."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import anyio
import duckdb
import pytest
from tradewind.bus import EventBus
from tradewind.clock import SimClock
from tradewind.model import Fill, FillEvent, Side
from tradewind.notify import NotifierHost, Outbox

from tradewind_notifier_webhook import WebhookConfig, WebhookNotifier, sign
from tradewind_notifier_webhook.testing import Receiver, serve

HERE = Path(__file__).parent


def fill_event(i: int = 0) -> FillEvent:
    fill = Fill(
        client_order_id=f"c-{i}",
        instrument="sim:BTCUSDT",
        side=Side.SELL,
        quantity=Decimal("0.5"),
        price=Decimal("64000.5"),
        fee=Decimal("3.2"),
        ts_ns=1_700_000_000_000_000_000 + i,
    )
    return FillEvent(ts_ns=fill.ts_ns, fill=fill, realized_pnl=Decimal("-12.75"))


def test_a_signed_fill_carries_instrument_side_price_quantity_and_pnl(monkeypatch):
    monkeypatch.setenv("HOOK_KEY", "s3cret-key")

    async def go() -> tuple[Receiver, list]:
        outbox = Outbox(duckdb.connect(":memory:"))
        async with serve(Receiver(key="s3cret-key")) as rec:
            cfg = WebhookConfig(url=rec.url, secret=_secret("HOOK_KEY"))
            async with NotifierHost(
                {"hook": WebhookNotifier(cfg)}, clock=SimClock(1), outbox=outbox
            ) as host:
                host.channels["hook"].on_event(fill_event())
                assert await host.wait_idle(10)
            return rec, list(outbox.rows())

    rec, rows = anyio.run(go)
    assert rec.bad_signatures == 0 and len(rec.bodies) == 1
    body = rec.bodies[0]
    assert body["kind"] == "trade" and body["severity"] == "info"
    assert body["fields"]["instrument"] == "sim:BTCUSDT"
    assert body["fields"]["side"] == "sell"
    assert body["fields"]["price"] == "64000.5"
    assert body["fields"]["quantity"] == "0.5"
    assert body["fields"]["pnl"] == "-12.75"
    assert "sim:BTCUSDT" in body["text"] and "-12.75" in body["text"]
    assert rows == [(body["id"], "hook", "trade", "sent", 1, "")]
    # The signature is the HMAC of the exact bytes received.
    assert sign(rec.raw[0].encode(), "s3cret-key").startswith("sha256=")


def test_a_wrong_key_is_refused_by_the_receiver_and_journaled_undelivered(monkeypatch, caplog):
    monkeypatch.setenv("HOOK_KEY", "not-the-key")

    async def go() -> tuple[Receiver, list]:
        outbox = Outbox(duckdb.connect(":memory:"))
        async with serve(Receiver(key="s3cret-key")) as rec:
            cfg = WebhookConfig(url=rec.url, secret=_secret("HOOK_KEY"))
            async with NotifierHost(
                {"hook": WebhookNotifier(cfg)}, clock=SimClock(1), outbox=outbox
            ) as host:
                host.channels["hook"].on_event(fill_event())
                assert await host.wait_idle(10)
            return rec, list(outbox.rows())

    with caplog.at_level(logging.ERROR, logger="tradewind.notify"):
        rec, rows = anyio.run(go)
    assert rec.bad_signatures == 1 and rec.bodies == []
    ((_id, _n, _k, status, attempts, reason),) = rows
    assert (status, attempts) == ("undelivered", 1)
    assert reason == "webhook receiver answered HTTP 401: bad signature"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "journaled as undelivered" in errors[0].getMessage()
    assert "not-the-key" not in caplog.text


def test_429_is_retried_after_retry_after_and_nothing_is_lost():
    async def go() -> tuple[Receiver, list]:
        outbox = Outbox(duckdb.connect(":memory:"))
        async with serve(Receiver()) as rec:
            rec.script = [(429, {"Retry-After": "0.6"}), (503, {})]
            cfg = WebhookConfig(url=rec.url, retry_initial_s=0.1)
            async with NotifierHost(
                {"hook": WebhookNotifier(cfg)}, clock=SimClock(1), outbox=outbox
            ) as host:
                for i in range(3):
                    host.channels["hook"].on_event(fill_event(i))
                assert await host.wait_idle(10)
            return rec, list(outbox.rows())

    rec, rows = anyio.run(go)
    # Every message arrived once, in order, after the 429 and the 503.
    assert [b["fields"]["order_id"] for b in rec.bodies] == ["c-0", "c-1", "c-2"]
    assert [r[3] for r in rows] == ["sent"] * 3
    assert rows[0][4] == 3  # 429, 503, delivered
    (t429, _), (t503, _) = rec.attempts[0], rec.attempts[1]
    assert t503 - t429 >= 0.6  # Retry-After honoured


def test_a_slow_receiver_does_not_delay_another_notifier_nor_the_publisher():
    async def go() -> tuple[Receiver, Receiver, float]:
        outbox = Outbox(duckdb.connect(":memory:"))
        async with serve(Receiver(hold_s=10)) as slow, serve(Receiver()) as fast:
            host = NotifierHost(
                {
                    "slow": WebhookNotifier(
                        WebhookConfig(url=slow.url, timeout_s=30, close_timeout_s=0.1)
                    ),
                    "fast": WebhookNotifier(WebhookConfig(url=fast.url, rate_per_s=0)),
                },
                clock=SimClock(1),
                outbox=outbox,
            )
            async with EventBus(capacity=8) as bus:
                host.subscribe(bus)
                async with host:
                    t0 = anyio.current_time()
                    for i in range(50):  # far more than the bus queue holds
                        await bus.publish(fill_event(i))
                    published = anyio.current_time() - t0
                    with anyio.fail_after(5):
                        while len(fast.bodies) < 50:
                            await anyio.sleep(0.01)
                    assert slow.bodies == [] and len(slow.attempts) == 1  # still held
                    # ...and all 50 of its messages are already in the outbox, pending.
                    with anyio.fail_after(5):
                        while len(outbox.rows("slow")) < 50:
                            await anyio.sleep(0.01)
                    assert {r[3] for r in outbox.rows("slow")} == {"pending"}
                await bus.close()
            return slow, fast, published

    _slow, fast, published = anyio.run(go)
    assert [b["fields"]["order_id"] for b in fast.bodies] == [f"c-{i}" for i in range(50)]
    assert published < 5  # the publisher never waited for the held request


def test_messages_pending_when_the_host_is_killed_are_sent_after_restart_exactly_once(tmp_path):
    db = str(tmp_path / "journal.duckdb")
    with socket.socket() as s:  # a port with nobody listening: the receiver is down
        s.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
    )
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "crash_sender.py"), db, down],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("PENDING "), line
        message_id = line.split()[1]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL

    async def restart() -> tuple[Receiver, list]:
        async with serve(Receiver()) as rec:
            for _ in range(2):  # the second restart finds nothing left to send
                outbox = Outbox(duckdb.connect(db))
                host = NotifierHost(
                    {"hook": WebhookNotifier(WebhookConfig(url=rec.url))},
                    clock=SimClock(2),
                    outbox=outbox,
                )
                async with host:
                    with anyio.fail_after(10):
                        while outbox.status(message_id) != "sent":
                            await anyio.sleep(0.02)
                    assert await host.wait_idle(5)
                rows = list(outbox.rows())
                outbox.close()
            return rec, rows

    rec, rows = anyio.run(restart)
    assert [b["id"] for b in rec.bodies] == [message_id]
    assert rec.bodies[0]["fields"]["price"] == "64000.5"
    ((mid, _n, kind, status, attempts, _reason),) = rows
    assert (mid, kind, status) == (message_id, "trade", "sent") and attempts >= 2


def _secret(name: str):
    from tradewind.secrets import Secret

    return Secret(name)


@pytest.mark.parametrize("url", ["", "ftp://x", "127.0.0.1/hook"])
def test_a_missing_or_bad_url_is_refused_at_start_naming_the_key(url):
    n = WebhookNotifier(WebhookConfig(url=url))
    n.instance = "alerts"
    with pytest.raises(ValueError, match=r"\$\.notifiers\.alerts\.url"):
        anyio.run(n.start)
