"""The Telegram notifier: messages through the Bot API, and opt-in control commands.

Messages go to ``chat_id`` with ``sendMessage``. With ``control = true`` the notifier long-polls
``getUpdates`` (no inbound port needed) and answers commands from the chats in
``allowed_chat_ids`` only:

``/status`` ``/balance`` ``/profit`` ``/trades`` ``/positions`` ``/pause`` (no new entries;
exits still run) ``/resume`` ``/stop`` ``/forceexit <instrument|all>`` ``/help``

Every command — carried out or refused — is journaled with the chat and user that sent it
(table ``control_commands``); commands from other chats get no answer and are logged.

Rate limits: Telegram asks bots to stay under one message per second per chat and 20 per
minute per group (and 30 per second overall); a 429's ``parameters.retry_after`` is honoured.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import aiohttp
import anyio
import attrs
from tradewind import hookimpl
from tradewind.notify import Message, NotifierOptions, OutboxNotifier, RateLimit, RetryLater
from tradewind.notify.message import Undeliverable
from tradewind.secrets import Secret

log = logging.getLogger("tradewind.notifiers.telegram")

#: Telegram's longest message.
TEXT_MAX = 4096
COMMANDS = (
    "status",
    "balance",
    "profit",
    "trades",
    "positions",
    "pause",
    "resume",
    "stop",
    "forceexit",
    "help",
)


@attrs.frozen(kw_only=True)
class TelegramConfig(NotifierOptions):
    """Options of the Telegram notifier (plus the routing options of every notifier)."""

    #: The bot's token from @BotFather, as env:NAME.
    token: Secret | None = None
    #: Where messages go: a user's or group's chat id (groups are negative).
    chat_id: str = ""
    #: The Bot API's address (a local Bot API server, or a test server).
    base_url: str = "https://api.telegram.org"
    #: Answer commands (long polling getUpdates). Off unless set.
    control: bool = False
    #: Chats whose commands are carried out; every other chat is ignored (and journaled).
    allowed_chat_ids: list[str] = attrs.Factory(list)
    #: Long-polling timeout in seconds.
    poll_timeout_s: int = 25
    #: Seconds to wait for an answer to sendMessage.
    timeout_s: float = 15.0
    #: Messages per second to the chat and burst; default by chat type (1/s, or 20/min for
    #: groups).
    rate_per_s: float | None = None
    burst: int = 3


class TelegramNotifier(OutboxNotifier):
    """Sends messages to a chat; answers commands from allow-listed chats when enabled."""

    name: ClassVar[str] = "telegram"
    config_class: ClassVar[type] = TelegramConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"text", "outbox", "control"})

    def __init__(self, config: TelegramConfig) -> None:
        super().__init__(config)
        self.config: TelegramConfig = config
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._offset = 0
        #: Commands handled (accepted or not), for tests and /status.
        self.commands_seen = 0

    def rate_limit(self) -> RateLimit:
        """One message a second to a chat (20 a minute to a group), unless configured."""
        rate = self.config.rate_per_s
        if rate is None:
            rate = 20 / 60 if self.config.chat_id.startswith("-") else 1.0
        return RateLimit(rate, self.config.burst)

    async def start(self) -> None:
        """Check the settings, read the token, open the HTTP session."""
        where = f"$.notifiers.{self.instance}"
        if self.config.token is None:
            raise ValueError(
                f"notifier '{self.instance}' (telegram) needs token = \"env:NAME\" @ {where}.token"
            )
        if not self.config.chat_id:
            raise ValueError(
                f"notifier '{self.instance}' (telegram) needs chat_id @ {where}.chat_id"
            )
        if self.config.control and not self.config.allowed_chat_ids:
            raise ValueError(
                f"notifier '{self.instance}' (telegram) has control = true but no "
                f"allowed_chat_ids @ {where}.allowed_chat_ids: list the chats that may command"
            )
        self._token = self.config.token.reveal()
        if self._session is None:
            self._session = aiohttp.ClientSession()

    def _url(self, method: str) -> str:
        return f"{self.config.base_url.rstrip('/')}/bot{self._token}/{method}"

    async def _call(self, method: str, payload: Mapping[str, Any], timeout: float) -> Any:
        """One Bot API call: the ``result``, or RetryLater/Undeliverable from the envelope."""
        if self._session is None or self._token is None:
            await self.start()
        assert self._session is not None
        try:
            async with self._session.post(
                self._url(method), json=dict(payload), timeout=aiohttp.ClientTimeout(total=timeout)
            ) as resp:
                try:
                    data = await resp.json(content_type=None)
                except ValueError:
                    data = {
                        "ok": False,
                        "error_code": resp.status,
                        "description": (await resp.text())[:200],
                    }
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RetryLater(f"Telegram unreachable ({method}): {type(exc).__name__}") from exc
        if not isinstance(data, dict):
            raise RetryLater(f"Telegram {method}: unexpected answer")
        if data.get("ok"):
            return data.get("result")
        code = int(data.get("error_code") or resp.status)
        text = f"Telegram {method} failed: {code} {data.get('description', '')}".strip()
        params = data.get("parameters") or {}
        if code == 429 or code >= 500:
            after = params.get("retry_after")
            raise RetryLater(text, retry_after=float(after) if after is not None else None)
        raise Undeliverable(text)

    async def deliver(self, message: Message) -> None:
        """sendMessage: the title, a blank line, the text."""
        body = message.text if message.kind == "reply" else f"{message.title}\n\n{message.text}"
        await self._call(
            "sendMessage",
            {
                "chat_id": message.target or self.config.chat_id,
                "text": body[:TEXT_MAX],
                "disable_web_page_preview": True,
            },
            self.config.timeout_s,
        )

    # -- control --------------------------------------------------------------------------
    async def run(self) -> None:
        """Long-poll getUpdates and answer commands, while the run lasts (if enabled)."""
        if not self.config.control:
            return
        delay = 1.0
        while True:
            try:
                updates = await self._call(
                    "getUpdates",
                    {
                        "offset": self._offset,
                        "timeout": self.config.poll_timeout_s,
                        "allowed_updates": ["message"],
                    },
                    self.config.poll_timeout_s + 10,
                )
                delay = 1.0
            except RetryLater as exc:
                log.warning("%s; polling again in %.0f s", self.redact(str(exc)), delay)
                await anyio.sleep(delay)
                delay = min(delay * 2, 60.0)
                continue
            except Undeliverable as exc:
                log.error("Telegram commands disabled: %s", self.redact(str(exc)))
                return
            for update in updates or []:
                self._offset = max(self._offset, int(update.get("update_id", 0)) + 1)
                await self._on_update(update)

    async def _on_update(self, update: Mapping[str, Any]) -> None:
        msg = update.get("message") or {}
        text = str(msg.get("text") or "").strip()
        if not text.startswith("/"):
            return
        chat = str((msg.get("chat") or {}).get("id", ""))
        user = msg.get("from") or {}
        sender = f"chat {chat} user {user.get('id', '?')} (@{user.get('username', '')})"
        source = f"telegram:{self.instance}"
        self.commands_seen += 1
        control = self.control
        if chat not in {str(c) for c in self.config.allowed_chat_ids}:
            log.warning(
                "Telegram command %r from %s ignored: chat not on the allow-list", text, sender
            )
            if control is not None:
                control.record_command(
                    source=source,
                    sender=sender,
                    command=text,
                    accepted=False,
                    outcome="ignored: chat not on the allow-list",
                )
            return
        if control is None:
            reply, accepted = "control is not available outside a run", False
        else:
            reply, accepted = self.execute(text, sender)
            control.record_command(
                source=source, sender=sender, command=text, accepted=accepted, outcome=reply
            )
        answer = Message(
            id=f"reply-{update.get('update_id')}",
            notifier=self.instance,
            kind="reply",
            severity=20,
            title="",
            text=reply,
            ts_ns=0,
            target=chat,
        )
        try:
            await self.deliver(answer)
        except Exception as exc:
            log.error("answer to %s failed: %s", sender, self.redact(str(exc)))

    def execute(self, text: str, sender: str) -> tuple[str, bool]:
        """Carry out one command; the answer and whether it was accepted."""
        from tradewind.trading.control import ControlError

        words = text.split()
        command = words[0][1:].split("@")[0].lower()
        args = words[1:]
        c = self.control
        if command not in COMMANDS:
            return f"unknown command /{command}; commands: " + " ".join(
                f"/{x}" for x in COMMANDS
            ), False
        if command == "help":
            return "commands: " + " ".join(f"/{x}" for x in COMMANDS), True
        if command == "status":
            return _lines(c.status()), True
        if command == "balance":
            return _lines(c.balance()), True
        if command == "profit":
            return _lines(c.profit()), True
        if command == "trades":
            return _table(c.trades(), "no closed trades yet"), True
        if command == "positions":
            return _table(c.positions(), "no open positions"), True
        if command == "pause":
            return c.pause(), True
        if command == "resume":
            return c.resume(), True
        if command == "stop":
            return c.stop(), True
        # forceexit
        if len(args) != 1:
            return "usage: /forceexit <instrument|all>", False
        try:
            keys = c.force_exit(args[0], who=sender)
        except ControlError as exc:
            return str(exc), False
        if not keys:
            return "no open positions", True
        return "closing " + ", ".join(keys) + " (market, reduce-only)", True

    def redact(self, text: str) -> str:
        """``text`` without the bot token."""
        return text.replace(self._token, "<token>") if self._token else text

    async def close(self) -> None:
        """Close the HTTP session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _lines(values: Mapping[str, str]) -> str:
    return "\n".join(f"{k.replace('_', ' ')}: {v}" for k, v in values.items())


def _table(rows: Sequence[Mapping[str, str]], empty: str) -> str:
    if not rows:
        return empty
    return "\n".join(" · ".join(f"{k} {v}" for k, v in row.items()) for row in rows)


@hookimpl
def tradewind_register_notifiers(registry: Any) -> None:
    """Register the Telegram notifier."""
    registry.add(TelegramNotifier)
