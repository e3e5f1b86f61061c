"""The API server runs on its own thread and event loop: it answers while the engine's loop
is busy, and what a request reads of the engine runs on the engine's loop (between two of
its steps), not on the server's thread."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from contextlib import asynccontextmanager

import anyio
from tradewind.api.auth import new_token
from tradewind.config import load_config
from tradewind.trading.engine import Engine

from tests.host_config import host_toml

BLOCK_S = 1.5


def _get(url: str, token: str) -> tuple[int, dict, float]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.loads(r.read()), time.perf_counter()


def test_the_server_answers_while_the_engines_loop_is_blocked(tmp_path, monkeypatch):
    token = new_token()
    monkeypatch.setenv("TW_TEST_API_TOKEN", token)
    api = '[api]\nenabled = true\nport = 0\ntoken_env = "TW_TEST_API_TOKEN"\n'
    engine = Engine(load_config(host_toml(tmp_path, api=api)), run_id="thread")
    seen: dict[str, object] = {}

    @asynccontextmanager
    async def probe(eng):
        server = eng.api_server
        base = f"http://127.0.0.1:{server.port}/api/v1"
        seen["engine_thread"] = threading.get_ident()
        seen["server_thread"] = server._thread.ident
        done: dict[str, tuple] = {}

        def call(name: str, path: str) -> None:
            done[name] = _get(base + path, token)

        # The engine's loop is blocked (a synchronous sleep on it) while two requests come:
        # ping (nothing of the engine) is answered during the block; status (the engine's
        # positions) waits for the engine's loop and is answered after it.
        ping = threading.Thread(target=call, args=("ping", "/ping"))
        status = threading.Thread(target=call, args=("status", "/status"))
        ping.start()
        status.start()
        time.sleep(BLOCK_S)  # blocks the engine's loop: the point of the test
        unblocked = time.perf_counter()
        await anyio.to_thread.run_sync(ping.join)
        await anyio.to_thread.run_sync(status.join)
        seen["ping"], seen["status"], seen["unblocked"] = done["ping"], done["status"], unblocked
        seen["calls"] = server.bridge.calls
        yield

    engine.services.append(probe)
    anyio.run(engine.run)
    assert seen["server_thread"] != seen["engine_thread"]
    ping_status, ping_body, ping_at = seen["ping"]
    assert ping_status == 200 and ping_body == {"status": "pong"}
    assert ping_at < seen["unblocked"]  # answered while the engine's loop was blocked
    status_code, status_body, status_at = seen["status"]
    assert status_code == 200 and status_body == []
    assert status_at >= seen["unblocked"]  # the engine's part ran on the engine's loop
    assert seen["calls"] >= 1
