"""For tests: a real SMTP server (aiosmtpd) with STARTTLS and AUTH on a self-signed
certificate, and a local server speaking SendGrid's v3 ``/v3/mail/send``. Needs the ``test``
extra (aiosmtpd, cryptography)."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import anyio
from aiohttp import web


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1/localhost and its key; return paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Mailbox:
    """aiosmtpd handler: keeps every accepted message; answers scripted codes first."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[str] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.script: list[str] = []  # e.g. "451 4.3.0 Try again later"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.script:
            return self.script.pop(0)
        data = (
            envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        )
        msg = email.message_from_bytes(data, policy=email.policy.default)
        self.messages.append(msg)  # type: ignore[arg-type]
        self.raw.append(data.decode(errors="replace"))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 Message accepted for delivery"


class _Auth:
    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password
        self.failures = 0

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (self.username, self.password):
            return AuthResult(success=True)
        self.failures += 1
        return AuthResult(success=False, handled=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def smtp_server(
    folder: Path, *, username: str = "bot", password: str = "pw"
) -> Iterator[tuple[Mailbox, int, Path]]:
    """An aiosmtpd server on 127.0.0.1 requiring STARTTLS before AUTH and AUTH before mail;
    yields (mailbox, port, certificate path)."""
    from aiosmtpd.controller import Controller

    cert, key = self_signed_cert(folder)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    box = Mailbox()
    port = _free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        tls_context=ctx,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=_Auth(username, password),
    )
    controller.start()
    try:
        yield box, port, cert
    finally:
        controller.stop()


class SendGridServer:
    """``POST /v3/mail/send``: 202 with an ``X-Message-Id``; 401 for a wrong key; 400 for a
    body without personalizations; scripted 429s with ``Retry-After``."""

    def __init__(self, api_key: str = "SG.test-key") -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.attempts: list[float] = []
        self.too_many_next: list[int] = []
        self.base_url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts.append(anyio.current_time())
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response(
                {
                    "errors": [
                        {
                            "message": "The provided authorization grant "
                            "is invalid, expired, or revoked",
                            "field": None,
                            "help": None,
                        }
                    ]
                },
                status=401,
            )
        if self.too_many_next:
            after = self.too_many_next.pop(0)
            return web.json_response(
                {"errors": [{"message": "too many requests"}]},
                status=429,
                headers={"Retry-After": str(after)},
            )
        body = await request.read()
        payload = await request.json()
        if not payload.get("personalizations"):
            return web.json_response(
                {
                    "errors": [
                        {
                            "message": "The personalizations field is required.",
                            "field": "personalizations",
                        }
                    ]
                },
                status=400,
            )
        self.raw.append(body.decode())
        self.requests.append(payload)
        return web.Response(status=202, headers={"X-Message-Id": f"sg-{len(self.requests)}"})


@contextlib.asynccontextmanager
async def serve_sendgrid(server: SendGridServer) -> AsyncIterator[SendGridServer]:
    """Run ``server``; ``server.base_url`` is its address until the block ends."""
    app = web.Application()
    app.router.add_post("/v3/mail/send", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.base_url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()
