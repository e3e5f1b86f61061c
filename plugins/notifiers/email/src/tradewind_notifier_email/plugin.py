"""The email notifier: each message as a plain-text email, over SMTP or SendGrid's v3 API.

``transport = "smtp"`` (default) speaks SMTP to ``smtp_host`` with STARTTLS (port 587),
implicit TLS (``security = "ssl"``, port 465) or none (a relay on the same host), and logs in
with ``username`` and the password from ``password = "env:NAME"``. ``transport = "sendgrid"``
POSTs to SendGrid's ``/v3/mail/send`` with the key from ``api_key = "env:NAME"``.

Each email's ``Message-ID`` is built from the message id, the same on every retry, so a mail
system can drop duplicates. Temporary SMTP answers (4xx), dropped connections, SendGrid 429
and 5xx are retried; authentication failures, refused recipients and other 4xx/5xx are not.
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, ClassVar

import aiohttp
import aiosmtplib
import attrs
from tradewind import hookimpl
from tradewind.notify import Message, NotifierOptions, OutboxNotifier, RateLimit, RetryLater
from tradewind.notify.message import Undeliverable, parse_retry_after, raise_for_status
from tradewind.secrets import Secret

TRANSPORTS = ("smtp", "sendgrid")
SECURITY = ("starttls", "ssl", "none")


def _one_of(choices: tuple[str, ...]) -> Any:
    def check(_inst: Any, attr: Any, value: str) -> None:
        if value not in choices:
            raise ValueError(f"{attr.name} must be one of {', '.join(choices)}, got {value!r}")

    return check


@attrs.frozen(kw_only=True)
class EmailConfig(NotifierOptions):
    """Options of the email notifier (plus the routing options of every notifier)."""

    #: ``smtp`` or ``sendgrid``.
    transport: str = attrs.field(default="smtp", validator=_one_of(TRANSPORTS))
    #: Sender address.
    from_addr: str = ""
    #: Recipients.
    to_addrs: list[str] = attrs.Factory(list)
    #: Put before every subject.
    subject_prefix: str = "[tradewind]"
    #: SMTP server.
    smtp_host: str = "localhost"
    #: SMTP port; 0 picks 587 for starttls, 465 for ssl, 25 for none.
    smtp_port: int = 0
    #: ``starttls``, ``ssl`` (implicit TLS) or ``none``.
    security: str = attrs.field(default="starttls", validator=_one_of(SECURITY))
    #: SMTP login; empty: no AUTH.
    username: str = ""
    #: SMTP password, as env:NAME.
    password: Secret | None = None
    #: PEM file of the CA (or self-signed certificate) that signed the server's certificate;
    #: empty: the system's trust store.
    ca_file: str = ""
    #: SendGrid API key, as env:NAME.
    api_key: Secret | None = None
    #: SendGrid's address (overridable for EU data residency or a test server).
    sendgrid_base_url: str = "https://api.sendgrid.com"
    #: Seconds to wait for the server.
    timeout_s: float = 30.0
    #: Emails per second and burst.
    rate_per_s: float = 1.0
    burst: int = 5


def build_email(message: Message, config: EmailConfig) -> EmailMessage:
    """The MIME message for ``message``."""
    mail = EmailMessage()
    mail["Subject"] = f"{config.subject_prefix} {message.title}".strip()
    mail["From"] = config.from_addr
    mail["To"] = ", ".join(config.to_addrs)
    mail["Date"] = formatdate(message.ts_ns / 1e9, usegmt=True)
    mail["Message-ID"] = f"<{message.id}@tradewind>"
    mail["X-Tradewind-Kind"] = message.kind
    mail["X-Tradewind-Severity"] = message.severity_name
    mail.set_content(body_text(message))
    return mail


def body_text(message: Message) -> str:
    """The text of the email: the message, then its fields one per line."""
    fields = "\n".join(f"{k}: {v}" for k, v in message.fields.items() if k not in ("ids",))
    return f"{message.text}\n\n{fields}\n" if fields else f"{message.text}\n"


class EmailNotifier(OutboxNotifier):
    """Sends messages as emails."""

    name: ClassVar[str] = "email"
    config_class: ClassVar[type] = EmailConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"text", "outbox"})

    def __init__(self, config: EmailConfig) -> None:
        super().__init__(config)
        self.config: EmailConfig = config
        self._secret: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tls: ssl.SSLContext | None = None

    def rate_limit(self) -> RateLimit:
        """``rate_per_s`` with ``burst``."""
        return RateLimit(self.config.rate_per_s, self.config.burst)

    async def start(self) -> None:
        """Check the settings and read the password or API key."""
        c = self.config
        where = f"$.notifiers.{self.instance}"
        if not c.from_addr or not c.to_addrs:
            raise ValueError(
                f"notifier '{self.instance}' (email) needs from_addr and to_addrs @ {where}"
            )
        if c.transport == "sendgrid":
            if c.api_key is None:
                raise ValueError(
                    f"notifier '{self.instance}' (email) with transport = "
                    f'"sendgrid" needs api_key = "env:NAME" @ {where}.api_key'
                )
            self._secret = c.api_key.reveal()
            if self._session is None:
                self._session = aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=c.timeout_s)
                )
        else:
            if c.username and c.password is None:
                raise ValueError(
                    f"notifier '{self.instance}' (email) has username but no "
                    f'password = "env:NAME" @ {where}.password'
                )
            self._secret = c.password.reveal() if c.password is not None else None
            if c.security != "none":
                self._tls = ssl.create_default_context(cafile=c.ca_file or None)

    async def deliver(self, message: Message) -> None:
        """Send one email."""
        if self._secret is None and (self.config.password or self.config.api_key):
            await self.start()
        if self.config.transport == "sendgrid":
            await self._sendgrid(message)
        else:
            await self._smtp(message)

    async def _smtp(self, message: Message) -> None:
        c = self.config
        port = c.smtp_port or {"starttls": 587, "ssl": 465, "none": 25}[c.security]
        try:
            await aiosmtplib.send(
                build_email(message, c),
                hostname=c.smtp_host,
                port=port,
                username=c.username or None,
                password=self._secret if c.username else None,
                use_tls=c.security == "ssl",
                start_tls=True if c.security == "starttls" else False,
                tls_context=self._tls,
                timeout=c.timeout_s,
            )
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise Undeliverable(
                f"SMTP login as {c.username} refused: {exc.code} {exc.message}"
            ) from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(r.recipient for r in exc.recipients)
            raise Undeliverable(f"SMTP server refused recipient(s) {refused}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            text = f"SMTP server answered {exc.code} {exc.message}"
            if 400 <= exc.code < 500:
                raise RetryLater(text) from exc
            raise Undeliverable(text) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise RetryLater(
                f"SMTP server {c.smtp_host}:{port} unreachable: {type(exc).__name__}: {exc}"
            ) from exc

    async def _sendgrid(self, message: Message) -> None:
        c = self.config
        assert self._session is not None
        payload = {
            "personalizations": [{"to": [{"email": a} for a in c.to_addrs]}],
            "from": {"email": c.from_addr},
            "subject": f"{c.subject_prefix} {message.title}".strip(),
            "content": [{"type": "text/plain", "value": body_text(message)}],
            "custom_args": {"tradewind_id": message.id, "tradewind_kind": message.kind},
        }
        url = c.sendgrid_base_url.rstrip("/") + "/v3/mail/send"
        headers = {"Authorization": f"Bearer {self._secret}"}
        try:
            async with self._session.post(url, json=payload, headers=headers) as resp:
                detail = ""
                if resp.status >= 300:
                    try:
                        data = await resp.json(content_type=None)
                        detail = "; ".join(
                            str(e.get("message", "")) for e in data.get("errors", [])
                        )
                    except (ValueError, AttributeError):
                        detail = (await resp.text())[:200]
                raise_for_status(
                    resp.status,
                    channel="SendGrid",
                    detail=detail,
                    retry_after=parse_retry_after(resp.headers.get("Retry-After")),
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RetryLater(f"SendGrid unreachable: {type(exc).__name__}") from exc

    def redact(self, text: str) -> str:
        """``text`` without the password or API key."""
        return text.replace(self._secret, "***") if self._secret else text

    async def close(self) -> None:
        """Close the HTTP session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None


@hookimpl
def tradewind_register_notifiers(registry: Any) -> None:
    """Register the email notifier."""
    registry.add(EmailNotifier)
