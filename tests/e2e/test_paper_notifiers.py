"""A paper run with all four notifier plugins configured delivers each fill to each channel.

The run is the embedded default config in ``mode = "paper"`` (the simulated venue, the shipped
BTCUSDT sample replayed at 3,000x), plus four notifier instances, each pointed at a real local
peer on 127.0.0.1: an aiosmtpd SMTP server (STARTTLS + AUTH, self-signed certificate), a
server speaking the Telegram Bot API, one speaking Discord's webhook API, and a webhook
receiver that verifies the HMAC signature. Secrets come from environment variables. Every
fill must reach every channel carrying the instrument, side, price, quantity and P&L, and the
outbox in the journal must hold every message as sent.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import anyio
import duckdb
import pytest
from tradewind.cli import default_config_path
from tradewind.config import load_config
from tradewind.trading.engine import Engine

email_testing = pytest.importorskip("tradewind_notifier_email.testing")
tg_testing = pytest.importorskip("tradewind_notifier_telegram.testing")
discord_testing = pytest.importorskip("tradewind_notifier_discord.testing")
webhook_testing = pytest.importorskip("tradewind_notifier_webhook.testing")

SAMPLE = default_config_path().parent / "data" / "tardis_binance-futures_BTCUSDT_trades.csv"


def paper_config(tmp_path: Path, smtp_port: int, cert: Path, tg_url: str, hook_url: str) -> Path:
    text = default_config_path().read_text(encoding="utf-8")
    text = text.replace(
        'path = "data/tardis_binance-futures_BTCUSDT_trades.csv"', f'path = "{SAMPLE.as_posix()}"'
    )
    text = text.replace(
        'journal = "reports/journal.duckdb"',
        f'journal = "{(tmp_path / "journal.duckdb").as_posix()}"',
    )
    text = text.replace('mode = "backtest"', 'mode = "paper"')
    text = text.replace(
        'plugin = "replay"\n', 'plugin = "replay"\nspeed = 3000.0\nchunk_ticks = 200\n'
    )
    text += f"""
[notifiers.mail]
plugin = "email"
events = ["trade"]
from_addr = "bot@example.org"
to_addrs = ["me@example.org"]
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
username = "bot"
password = "env:TW_E2E_SMTP_PASSWORD"
ca_file = "{cert.as_posix()}"
close_timeout_s = 30

[notifiers.phone]
plugin = "telegram"
events = ["trade"]
token = "env:TW_E2E_TELEGRAM_TOKEN"
chat_id = "42"
base_url = "{tg_url}"
close_timeout_s = 30

[notifiers.team]
plugin = "discord"
events = ["trade"]
webhook_url = "env:TW_E2E_DISCORD_WEBHOOK"
close_timeout_s = 30

[notifiers.hook]
plugin = "webhook"
events = ["trade"]
url = "{hook_url}"
secret = "env:TW_E2E_WEBHOOK_KEY"
close_timeout_s = 30
"""
    path = tmp_path / "paper.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_paper_run_delivers_every_fill_to_all_four_notifiers(tmp_path, monkeypatch):
    monkeypatch.setenv("TW_E2E_SMTP_PASSWORD", "pw")
    monkeypatch.setenv("TW_E2E_WEBHOOK_KEY", "whsec-e2e")

    async def main(box, port, cert):
        async with (
            tg_testing.serve(tg_testing.TelegramServer()) as tg,
            discord_testing.serve(discord_testing.DiscordServer()) as dc,
            webhook_testing.serve(webhook_testing.Receiver(key="whsec-e2e")) as hook,
        ):
            monkeypatch.setenv("TW_E2E_TELEGRAM_TOKEN", tg.token)
            monkeypatch.setenv("TW_E2E_DISCORD_WEBHOOK", dc.url)
            cfg = load_config(paper_config(tmp_path, port, cert, tg.base_url, hook.url))
            result = await Engine(cfg, run_id="paper-notify").run()
            return result, tg, dc, hook

    with email_testing.smtp_server(tmp_path) as (box, port, cert):
        result, tg, dc, hook = anyio.run(main, box, port, cert)
        mails = list(box.messages)

    fills = result.fills
    assert result.summary["mode"] == "paper" and len(fills) >= 2
    con = duckdb.connect(str(tmp_path / "journal.duckdb"))
    pnls = [
        Decimal(row[0])
        for row in con.execute(
            "SELECT payload->>'$.realized_pnl' FROM events WHERE type = 'FillEvent' ORDER BY seq"
        ).fetchall()
    ]
    assert len(pnls) == len(fills)
    telegram = tg.texts_to("42")
    embeds = [p["embeds"][0] for p in dc.payloads]
    assert len(mails) == len(telegram) == len(embeds) == len(hook.bodies) == len(fills)
    assert hook.bad_signatures == 0
    for fill, pnl, mail, text, embed, body in zip(
        fills, pnls, mails, telegram, embeds, hook.bodies, strict=True
    ):
        side, qty, price = fill.side.value, str(fill.quantity), str(fill.price)
        want = {"instrument": "sim:BTCUSDT", "side": side, "quantity": qty, "price": price}
        # the signed webhook body
        assert {k: body["fields"][k] for k in want} == want
        assert Decimal(body["fields"]["pnl"]) == pnl
        # the Discord embed
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert {k: fields[k] for k in want} == want and Decimal(fields["pnl"]) == pnl
        # the Telegram sendMessage and the SMTP message
        line = f"{side} {qty} sim:BTCUSDT @ {price}"
        for got in (text, (mail["Subject"] + "\n" + mail.get_content()).replace("\r\n", "\n")):
            assert line in got
            # money names its currency (the instrument's quote settles its P&L and fees)
            assert f"P&L (realised by this fill): {body['fields']['pnl']} USDT\n" in got
            assert f"Fee: {body['fields']['fee']} USDT\n" in got
    assert any(p != 0 for p in pnls)  # a closing fill carried a real P&L
    statuses = con.execute(
        "SELECT notifier, status, count(*) FROM outbox GROUP BY ALL ORDER BY notifier"
    ).fetchall()
    assert statuses == [(n, "sent", len(fills)) for n in ("hook", "mail", "phone", "team")]


def test_telegram_commands_steer_a_paper_run(tmp_path, monkeypatch):
    """/pause from the owner's chat holds every entry of the run; a stranger's /stop is ignored
    (the run replays the whole sample); both are journaled with who sent them."""
    monkeypatch.setenv("TW_E2E_SMTP_PASSWORD", "pw")
    monkeypatch.setenv("TW_E2E_WEBHOOK_KEY", "whsec-e2e")

    async def main(port, cert):
        server = tg_testing.TelegramServer(chats=("42", "666"))
        async with (
            tg_testing.serve(server) as tg,
            webhook_testing.serve(webhook_testing.Receiver(key="whsec-e2e")) as hook,
        ):
            monkeypatch.setenv("TW_E2E_TELEGRAM_TOKEN", tg.token)
            monkeypatch.setenv("TW_E2E_DISCORD_WEBHOOK", "http://127.0.0.1:9/unused")
            path = paper_config(tmp_path, port, cert, tg.base_url, hook.url)
            text = path.read_text().replace(
                'chat_id = "42"\n',
                'chat_id = "42"\ncontrol = true\nallowed_chat_ids = ["42"]\npoll_timeout_s = 1\n',
            )
            # Only the Telegram instance: this run is about its commands.
            text = text[: text.index("[notifiers.mail]")] + text[text.index("[notifiers.phone]") :]
            text = text[: text.index("[notifiers.team]")]
            path.write_text(text)
            tg.command(666, "/stop", user_id=9, username="intruder")
            tg.command(42, "/pause")
            engine = Engine(load_config(path), run_id="paper-control")
            result = await engine.run()
            return engine, result, tg

    with email_testing.smtp_server(tmp_path) as (_box, port, cert):
        engine, result, tg = anyio.run(main, port, cert)

    assert result.summary["ticks"] == 9_999  # the stranger's /stop did nothing
    assert engine.control.paused and engine.entries_sent == 0 and result.fills == []
    assert tg.texts_to("42") == ["paused: no new entries; exits still run"]
    assert tg.texts_to("666") == []
    con = duckdb.connect(str(tmp_path / "journal.duckdb"))
    rows = con.execute(
        "SELECT source, sender, command, accepted FROM control_commands ORDER BY ts_ns"
    ).fetchall()
    assert rows == [
        ("telegram:phone", "chat 666 user 9 (@intruder)", "/stop", False),
        ("telegram:phone", "chat 42 user 7 (@trader)", "/pause", True),
    ]
