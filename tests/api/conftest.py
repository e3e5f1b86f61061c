"""A running paper host serving the API on 127.0.0.1: ``tradewind run`` in a subprocess,
replaying the shipped sample in paced real time, reached over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tradewind.api.auth import new_token
from tradewind.journal.store import Journal

from tests.host_config import host_toml

WEBHOOK_SECRET = "whsec-" + "s3cr3t-value-that-must-never-show"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PaperHost:
    """``tradewind run host.toml`` with ``[api]`` on, until :meth:`stop`."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        speed: float = 30.0,
        rate_limit: int = 100_000,
        drives_watchlist: bool = False,
        max_hold_minutes: float = 2.0,
        serve: str = "process",
        api_extra: str = "",
        run_extra: str = "",
    ) -> None:
        self.token = new_token()
        self.serve = serve
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp_path = tmp_path
        api = (
            "[api]\nenabled = true\n"
            f"port = {self.port}\n"
            'token_env = "TW_TEST_API_TOKEN"\n'
            f"rate_limit = {rate_limit}\n"
            f'serve = "{serve}"\n' + api_extra + '\n[notifiers.hook]\nplugin = "webhook"\n'
            'url = "http://127.0.0.1:9/never"\nsecret = "env:TW_TEST_WEBHOOK_SECRET"\n'
            'min_severity = "critical"\n'
        )
        watch = "[watchlist]\ndrives_instruments = true\n" if drives_watchlist else ""
        self.config = host_toml(
            tmp_path,
            mode="paper",
            speed=speed,
            chunk_ticks=25,
            api=api,
            watchlist=watch,
            max_hold_minutes=max_hold_minutes,
            run=run_extra,
        )
        env = dict(os.environ)
        env["TW_TEST_API_TOKEN"] = self.token
        env["TW_TEST_WEBHOOK_SECRET"] = WEBHOOK_SECRET
        self.log = open(tmp_path / "host.log", "w+b")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tradewind", "run", str(self.config)],
            cwd=tmp_path,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_up()

    def _wait_up(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the host exited ({self.proc.returncode}): {self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/api/v1/ping", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"the host's API did not come up: {self.output()}")

    def api_pid(self) -> int:
        """The pid of the host's API process (process mode), from /proc."""
        assert self.serve == "process"
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            for pid in (task / "children").read_text().split():
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if b"tradewind.api.process" in cmd:
                    return int(pid)
        raise LookupError(f"the host {self.proc.pid} has no API process: {self.output()}")

    def output(self) -> str:
        if self.log.closed:
            return (self.tmp_path / "host.log").read_text(errors="replace")[-3000:]
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = "",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """(status, JSON or text) of one request; ``token`` "" = the host's, None = none."""
        hdrs = dict(headers or {})
        tok = self.token if token == "" else token
        if tok is not None:
            hdrs["Authorization"] = f"Bearer {tok}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def get(self, path: str) -> Any:
        status, out = self.request("GET", path)
        assert status == 200, (path, status, out)
        return out

    def wait_for(self, what: str, fn: Any, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = fn()
            if got:
                return got
            time.sleep(0.2)
        raise TimeoutError(f"waited {timeout:g} s for {what}; host said: {self.output()}")

    def flatten(self, attempts: int = 15) -> None:
        """Force-exit everything until flat: a market close fills only what the next prints
        offer, so a large position can take several."""
        for _ in range(attempts):
            if not self.get("/api/v1/status"):
                return
            self.request("POST", "/api/v1/forceexit", {"tradeid": "all"})
            time.sleep(1.0)
        raise TimeoutError(f"still not flat after {attempts} force exits: {self.output()}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return int(self.proc.returncode)

    def journal(self) -> Journal:
        """The host's journal, read after :meth:`stop`."""
        return Journal.open_readonly(self.tmp_path / "journal.duckdb")


@pytest.fixture
def paper_host(tmp_path: Path) -> Iterator[PaperHost]:
    host = PaperHost(tmp_path)
    yield host
    host.stop()


@pytest.fixture(scope="module")
def shared_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PaperHost]:
    """One host for the read-only tests of a module."""
    host = PaperHost(tmp_path_factory.mktemp("host"), speed=20.0)
    yield host
    host.stop()
