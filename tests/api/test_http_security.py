"""Only ping answers without the token; missing and wrong tokens are refused alike, with no
timing difference; bodies are validated; show_config shows no secret; rate limit; CORS off."""

from __future__ import annotations

import http.client
import re
import statistics
import time

import pytest
from tradewind.api.app import create_app
from tradewind.api.views import HostView
from tradewind.config import load_config
from tradewind.trading.engine import Engine
from tradewind.trading.operator import Operator

from tests.api.conftest import WEBHOOK_SECRET, PaperHost


@pytest.fixture(scope="module", params=["process", "thread"])
def shared_host(request, tmp_path_factory):
    """One host per serve mode for the module's read-only tests: every check runs against
    the API in a process of its own and on a thread of the host's."""
    host = PaperHost(tmp_path_factory.mktemp("host"), speed=20.0, serve=request.param)
    yield host
    host.stop()


def routes_of(config_path):
    """Every route of the app the host serves: (kind, methods, path)."""
    engine = Engine(load_config(config_path, environ={"TW_TEST_WEBHOOK_SECRET": "x"}))
    app = create_app(HostView(engine), Operator.of(engine), engine.config.api, "t" * 32)
    out = []
    for r in app.routes:
        path = re.sub(r"\{[^}]+\}", "1", r.path)
        methods = sorted(getattr(r, "methods", None) or ["WS"])
        out.append((type(r).__name__, methods, path))
    return out


def test_no_route_but_ping_answers_without_the_right_token(shared_host: PaperHost):
    routes = routes_of(shared_host.config)
    tried = 0
    for _kind, methods, path in routes:
        for method in methods:
            if method in ("HEAD", "OPTIONS"):
                continue
            if method == "WS":
                continue  # below: the websocket refuses the handshake
            for token in (None, "wrong-" + shared_host.token[6:], "x"):
                body = {} if method == "POST" else None
                status, _ = shared_host.request(method, path, body, token=token)
                if path == "/api/v1/ping":
                    assert status == 200
                else:
                    assert status == 401, (method, path, token, status)
                tried += 1
    assert tried >= 40 * 3  # every Freqtrade and tradewind endpoint was tried
    # With the token the same routes answer (dashboard and docs included).
    assert shared_host.request("GET", "/")[0] == 200
    assert shared_host.request("GET", "/docs")[0] == 200
    assert "/api/v1/watchlist/add" in shared_host.get("/openapi.json")["paths"]


def test_the_websocket_refuses_a_missing_or_wrong_token(shared_host: PaperHost):
    import anyio
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    url = f"ws://127.0.0.1:{shared_host.port}/api/v1/ws"

    async def attempt(protocols):
        try:
            async with connect(url, subprotocols=protocols, open_timeout=5) as ws:
                return ws.subprotocol
        except InvalidStatus as exc:
            return exc.response.status_code

    assert anyio.run(attempt, None) == 403
    assert anyio.run(attempt, ["bearer", "not-the-token-at-all"]) == 403
    assert anyio.run(attempt, ["bearer", shared_host.token]) == "bearer"


def test_basic_auth_with_the_token_as_password_is_accepted(shared_host: PaperHost):
    import base64

    good = base64.b64encode(f"anyone:{shared_host.token}".encode()).decode()
    bad = base64.b64encode(b"anyone:nope").decode()
    assert (
        shared_host.request(
            "GET", "/api/v1/version", token=None, headers={"Authorization": f"Basic {good}"}
        )[0]
        == 200
    )
    assert (
        shared_host.request(
            "GET", "/api/v1/version", token=None, headers={"Authorization": f"Basic {bad}"}
        )[0]
        == 401
    )


def test_a_wrong_and_a_missing_token_take_the_same_time(shared_host: PaperHost):
    """Medians of many interleaved requests over one keep-alive connection differ by far less
    than a millisecond (the comparison is hmac.compare_digest on both paths)."""
    conn = http.client.HTTPConnection("127.0.0.1", shared_host.port, timeout=10)
    wrong = "A" * len(shared_host.token)
    samples: dict[str, list[float]] = {"missing": [], "wrong": []}
    for i in range(600):
        kind = "missing" if i % 2 else "wrong"
        headers = {} if kind == "missing" else {"Authorization": f"Bearer {wrong}"}
        t0 = time.perf_counter()
        conn.request("GET", "/api/v1/status", headers=headers)
        resp = conn.getresponse()
        resp.read()
        samples[kind].append(time.perf_counter() - t0)
        assert resp.status == 401
    conn.close()
    missing = statistics.median(samples["missing"][50:])
    wrong_m = statistics.median(samples["wrong"][50:])
    assert abs(missing - wrong_m) < 0.001, (missing, wrong_m)


def test_bad_bodies_are_422_naming_the_field(shared_host: PaperHost):
    status, out = shared_host.request(
        "POST",
        "/api/v1/watchlist/add",
        {"exchange": "sim", "symbol": "BTCUSDT", "market_type": "perp", "duration_hours": -1},
    )
    assert status == 422
    assert [e["loc"] for e in out["detail"]] == [["body", "duration_hours"]]
    status, out = shared_host.request("POST", "/api/v1/forceenter", {"side": "long"})
    assert status == 422 and out["detail"][0]["loc"] == ["body", "pair"]
    status, out = shared_host.request(
        "POST", "/api/v1/forceenter", {"pair": "sim:BTCUSDT", "side": "up"}
    )
    assert status == 422 and out["detail"][0]["loc"] == ["body", "side"]
    status, out = shared_host.request("GET", "/api/v1/trades?limit=0")
    assert status == 422 and out["detail"][0]["loc"] == ["query", "limit"]


def test_show_config_never_contains_a_secret(shared_host: PaperHost):
    status, raw = shared_host.request("GET", "/api/v1/show_config")
    assert status == 200
    text = str(raw)
    assert shared_host.token not in text and WEBHOOK_SECRET not in text
    hook = raw["tradewind"]["plugins"]["notifiers"]["hook"]["config"]
    assert hook["secret"] == "env:TW_TEST_WEBHOOK_SECRET"  # the reference, not the value
    assert raw["tradewind"]["api"]["token_env"] == "TW_TEST_API_TOKEN"
    assert raw["runmode"] == "paper" and raw["dry_run"] is True
    # Nor does anything else the API serves.
    for path in ("/api/v1/logs", "/api/v1/health", "/api/v1/plugins", "/api/v1/state"):
        body = str(shared_host.get(path))
        assert shared_host.token not in body and WEBHOOK_SECRET not in body


def test_cors_is_off_and_the_server_is_on_loopback(shared_host: PaperHost):
    status, _ = shared_host.request(
        "OPTIONS",
        "/api/v1/status",
        token=None,
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert status in (401, 405)  # no CORS preflight answer
    conn = http.client.HTTPConnection("127.0.0.1", shared_host.port, timeout=5)
    conn.request("GET", "/api/v1/ping", headers={"Origin": "http://evil.example"})
    resp = conn.getresponse()
    resp.read()
    assert resp.getheader("access-control-allow-origin") is None
    conn.close()
    assert shared_host.get("/api/v1/show_config")["tradewind"]["api"]["host"] == "127.0.0.1"


@pytest.mark.parametrize("serve", ["process", "thread"])
def test_each_client_is_rate_limited(tmp_path, serve):
    host = PaperHost(tmp_path, rate_limit=20, speed=5.0, serve=serve)
    try:
        statuses = [host.request("GET", "/api/v1/version")[0] for _ in range(25)]
        assert statuses[:19].count(200) == 19  # the wait-up ping took one of the 20
        assert statuses[-1] == 429
        status, out = host.request("GET", "/api/v1/ping")
        assert status == 429 and "rate limit: 20 requests per 60 s" in out["detail"]
    finally:
        host.stop()
