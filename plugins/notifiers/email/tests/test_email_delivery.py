"""Emails through the outbox: a real aiosmtpd server (STARTTLS + AUTH, self-signed
certificate), and a local server speaking SendGrid's v3 mail/send."""

from __future__ import annotations

import logging
from decimal import Decimal

import anyio
import duckdb
from tradewind.clock import SimClock
from tradewind.model import Fill, FillEvent, Side
from tradewind.notify import NotifierHost, Outbox
from tradewind.secrets import Secret

from tradewind_notifier_email import EmailConfig, EmailNotifier
from tradewind_notifier_email.testing import SendGridServer, serve_sendgrid, smtp_server


def fill_event(i: int = 0) -> FillEvent:
    fill = Fill(
        client_order_id=f"c-{i}",
        instrument="sim:BTCUSDT",
        side=Side.SELL,
        quantity=Decimal("0.042"),
        price=Decimal("9688.4"),
        fee=Decimal("0.16"),
        ts_ns=1_582_333_200_000_000_000,
    )
    return FillEvent(ts_ns=fill.ts_ns, fill=fill, realized_pnl=Decimal("-4.21"))


async def _send(config: EmailConfig, n: int = 1) -> list:
    outbox = Outbox(duckdb.connect(":memory:"))
    async with NotifierHost(
        {"mail": EmailNotifier(config)}, clock=SimClock(1), outbox=outbox
    ) as host:
        for i in range(n):
            host.channels["mail"].on_event(fill_event(i))
        assert await host.wait_idle(20)
    return list(outbox.rows())


def smtp_config(port: int, cert, password: str = "SMTP_PASSWORD", **kw) -> EmailConfig:
    return EmailConfig(
        from_addr="bot@example.org",
        to_addrs=["me@example.org", "ops@example.org"],
        smtp_host="127.0.0.1",
        smtp_port=port,
        username="bot",
        password=Secret(password),
        ca_file=str(cert),
        **kw,
    )


def test_a_fill_arrives_over_starttls_with_auth_as_a_parsable_mime_message(tmp_path, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", "pw")
    with smtp_server(tmp_path) as (box, port, cert):
        rows = anyio.run(_send, smtp_config(port, cert))
    (mail,) = box.messages
    assert box.envelopes == [("bot@example.org", ["me@example.org", "ops@example.org"])]
    assert mail["Subject"] == "[tradewind] sell 0.042 sim:BTCUSDT @ 9688.4"
    assert mail["From"] == "bot@example.org" and mail["X-Tradewind-Kind"] == "trade"
    assert mail["Message-ID"] == f"<{rows[0][0]}@tradewind>"
    body = mail.get_content()
    assert "Trade executed: sell 0.042 sim:BTCUSDT at 9688.4" in body
    for line in (
        "instrument: sim:BTCUSDT",
        "side: sell",
        "price: 9688.4",
        "quantity: 0.042",
        "pnl: -4.21",
    ):
        assert line in body.splitlines()
    assert [r[3] for r in rows] == ["sent"]


def test_a_temporary_smtp_failure_is_retried_and_delivered_once(tmp_path, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", "pw")
    with smtp_server(tmp_path) as (box, port, cert):
        box.script = ["451 4.3.0 Try again later"]
        rows = anyio.run(_send, smtp_config(port, cert, retry_initial_s=0.1))
    assert len(box.messages) == 1
    assert [(r[3], r[4]) for r in rows] == [("sent", 2)]


def test_a_wrong_password_is_undelivered_and_never_logged(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2-wrong")
    with (
        caplog.at_level(logging.DEBUG, logger="tradewind"),
        smtp_server(tmp_path) as (box, port, cert),
    ):
        rows = anyio.run(_send, smtp_config(port, cert))
    assert box.messages == []
    ((_id, _n, _k, status, attempts, reason),) = rows
    assert (status, attempts) == ("undelivered", 1)
    assert reason.startswith("SMTP login as bot refused: 535")
    assert "hunter2-wrong" not in caplog.text and "hunter2-wrong" not in reason


def test_sendgrid_202_and_429_retry_after(monkeypatch):
    async def go():
        async with serve_sendgrid(SendGridServer()) as sg:
            sg.too_many_next = [1]
            monkeypatch.setenv("SENDGRID_KEY", sg.api_key)
            cfg = EmailConfig(
                transport="sendgrid",
                from_addr="bot@example.org",
                to_addrs=["me@example.org"],
                api_key=Secret("SENDGRID_KEY"),
                sendgrid_base_url=sg.base_url,
                rate_per_s=0,
            )
            return sg, await _send(cfg, 2)

    sg, rows = anyio.run(go)
    assert [r[3] for r in rows] == ["sent", "sent"]
    first = sg.requests[0]
    assert first["personalizations"] == [{"to": [{"email": "me@example.org"}]}]
    assert first["subject"] == "[tradewind] sell 0.042 sim:BTCUSDT @ 9688.4"
    assert "pnl: -4.21" in first["content"][0]["value"]
    assert first["custom_args"]["tradewind_id"] == rows[0][0]
    assert sg.attempts[1] - sg.attempts[0] >= 1.0  # Retry-After: 1


def test_sendgrid_with_a_revoked_key_is_undelivered(monkeypatch):
    async def go():
        async with serve_sendgrid(SendGridServer()) as sg:
            monkeypatch.setenv("SENDGRID_KEY", "SG.revoked")
            cfg = EmailConfig(
                transport="sendgrid",
                from_addr="bot@example.org",
                to_addrs=["me@example.org"],
                api_key=Secret("SENDGRID_KEY"),
                sendgrid_base_url=sg.base_url,
            )
            return await _send(cfg)

    ((_id, _n, _k, status, _a, reason),) = anyio.run(go)
    assert status == "undelivered"
    assert reason == (
        "SendGrid answered HTTP 401: The provided authorization grant is invalid, "
        "expired, or revoked"
    )
