"""A local Binance USD-M futures for the tests: no internet, real protocol.

- the combined-stream websocket (``wss://127.0.0.1:<port>/stream?streams=...``) over TLS with a
  self-signed certificate made here with ``cryptography`` (cryptofeed refuses ``ws://``);
- the REST endpoints cryptofeed calls (``/fapi/v1/exchangeInfo`` at start, ``/fapi/v1/depth``
  for book snapshots) over plain http on a second port.

Each websocket connection plays the next queued *script*: ``("send", text)``,
``("burst", [texts])`` (pre-framed, written in large chunks: for benchmarks), ``("wait", s)``,
``("close",)`` (the exchange drops the connection) or ``("silence",)`` (stays open and says
nothing more). With no script left a connection stays open and silent. The server runs in its own
thread and event loop, so the code under test owns the main loop, as in production.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import queue
import ssl
import threading
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from cryptofeed.connection import RestEndpoint, Routes, WebsocketEndpoint
from cryptofeed.exchanges import BinanceFutures
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

RESOURCES = Path(__file__).parent / "resources"

Script = list[tuple[Any, ...]]


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost; (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def ws_lines(name: str) -> list[str]:
    """The recorded websocket messages in ``resources/ws/<name>``, one per line."""
    text = (RESOURCES / "ws" / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def local_feed_class(wss_url: str, http_url: str, cafile: Path) -> type[BinanceFutures]:
    """cryptofeed's BinanceFutures with its endpoints at ``wss_url`` / ``http_url``, trusting
    the certificate in ``cafile``."""
    ctx = ssl.create_default_context(cafile=str(cafile))

    class LocalBinanceFutures(BinanceFutures):
        websocket_endpoints = [
            WebsocketEndpoint(wss_url, options={"ssl": ctx, "compression": None})
        ]
        rest_endpoints = [
            RestEndpoint(
                http_url,
                routes=Routes(
                    "/fapi/v1/exchangeInfo",
                    l2book="/fapi/v1/depth?symbol={}&limit={}",
                    authentication="/fapi/v1/listenKey",
                    open_interest="/fapi/v1/openInterest?symbol={}",
                ),
            )
        ]

    return LocalBinanceFutures


class BinanceStub:
    """The local exchange (see the module docstring). Use as a context manager."""

    def __init__(self, folder: Path) -> None:
        self.cert, self.key = make_certificate(folder)
        self.exchange_info = json.loads(
            (RESOURCES / "http" / "binance_futures_exchange_info.json").read_text()
        )
        self._scripts: queue.Queue[Script] = queue.Queue()
        #: Scripts for connections with a given query string (``streams=btcusdt@aggTrade``),
        #: played before the general queue's.
        self._scripts_for: dict[str, queue.Queue[Script]] = {}
        #: Query strings of the connections open now, and of those the client closed.
        self.open_queries: list[str] = []
        self.closed_queries: list[str] = []
        #: Query strings of every websocket connection, and paths of every REST call.
        self.ws_requests: list[str] = []
        self.rest_requests: list[str] = []
        self.connections = 0
        self._open: set[web.WebSocketResponse] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self.wss_port = self.http_port = 0

    # -- control (from the test's thread) ----------------------------------------------------
    def script(self, *actions: tuple[Any, ...]) -> None:
        """Queue the script of the next websocket connection."""
        self._scripts.put(list(actions))

    def script_for(self, query: str, *actions: tuple[Any, ...]) -> None:
        """Queue the script of the next connection whose query string is ``query``."""
        self._scripts_for.setdefault(query, queue.Queue()).put(list(actions))

    @property
    def wss_url(self) -> str:
        """The websocket base address."""
        return f"wss://127.0.0.1:{self.wss_port}"

    @property
    def http_url(self) -> str:
        """The REST base address."""
        return f"http://127.0.0.1:{self.http_port}"

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly this server's certificate."""
        return ssl.create_default_context(cafile=str(self.cert))

    def feed_class(self) -> type[BinanceFutures]:
        """cryptofeed's BinanceFutures with its endpoints pointing here."""
        return local_feed_class(self.wss_url, self.http_url, self.cert)

    def __enter__(self) -> BinanceStub:
        self._thread = threading.Thread(target=self._serve, name="binance-stub", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the Binance stub did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._loop
        if loop is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    # -- the server (in its thread) ---------------------------------------------------------
    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        loop.run_until_complete(self._start())
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/stream", self._ws)
        app.router.add_get("/fapi/v1/exchangeInfo", self._exchange_info)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(self.cert, self.key)
        tls = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=server_ctx)
        plain = web.TCPSite(self._runner, "127.0.0.1", 0)
        await tls.start()
        await plain.start()
        self.wss_port = tls._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.http_port = plain._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _shutdown(self) -> None:
        for ws in list(self._open):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    async def _burst(request: web.Request, messages: list[str], chunk: int = 1 << 20) -> None:
        transport = request.transport
        assert transport is not None
        buf = bytearray()
        for text in messages:
            payload = text.encode()
            n = len(payload)
            if n < 126:
                buf += bytes((0x81, n))
            elif n < 1 << 16:
                buf += bytes((0x81, 126)) + n.to_bytes(2, "big")
            else:
                buf += bytes((0x81, 127)) + n.to_bytes(8, "big")
            buf += payload
            if len(buf) >= chunk:
                transport.write(bytes(buf))
                buf.clear()
                await asyncio.sleep(0)
        if buf:
            transport.write(bytes(buf))

    async def _exchange_info(self, request: web.Request) -> web.Response:
        self.rest_requests.append(request.path_qs)
        return web.json_response(self.exchange_info)

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        query = request.query_string
        self.ws_requests.append(query)
        self.open_queries.append(query)
        self.connections += 1
        self._open.add(ws)
        try:
            try:
                script = self._scripts_for[query].get_nowait()
            except (KeyError, queue.Empty):
                try:
                    script = self._scripts.get_nowait()
                except queue.Empty:
                    script = []
            for action in script:
                if action[0] == "send":
                    await ws.send_str(action[1])
                elif action[0] == "burst":
                    # Pre-framed text messages written straight to the transport in large
                    # chunks: the sender then outpaces any client (for throughput benchmarks).
                    await self._burst(request, action[1])
                elif action[0] == "wait":
                    await asyncio.sleep(action[1])
                elif action[0] == "silence":
                    break  # say nothing more; the client's stale watchdog must notice
                elif action[0] == "close":
                    await ws.close()
                    return ws
                else:
                    raise ValueError(f"unknown stub action {action!r}")
            async for msg in ws:  # stay open until the client leaves
                if msg.type == WSMsgType.ERROR:
                    break
            return ws
        finally:
            self._open.discard(ws)
            self.open_queries.remove(query)
            self.closed_queries.append(query)
