"""A throwaway PostgreSQL cluster for the journal tests, and the ``journal_at`` fixture that
gives each test a journal on the backends under test.

The cluster is Debian's ``postgresql`` (the ``scale`` tox env installs it through
``.ci/apt-install``): ``initdb`` in a temp dir, a password (scram-sha-256) for the ``tw``
user, the server on a free port of 127.0.0.1 and started by ``pg_ctl``, run as ``nobody``
when the tests run as root (PostgreSQL refuses to run as root). One cluster per test session;
each test gets databases of its own.

``TRADEWIND_TEST_JOURNALS`` names the backends the parametrised journal tests run on
(``duckdb`` by default; the scale env sets ``postgresql``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

BACKENDS = [b for b in os.environ.get("TRADEWIND_TEST_JOURNALS", "duckdb").split(",") if b]
PASSWORD_ENV = "TW_TEST_PG_PASSWORD"


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version)
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed: the scale tox env installs Debian's "
            "postgresql (apt-get install postgresql)"
        )
    return path


def _version(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A PostgreSQL server in a temp dir, as a non-root user."""

    user = "tw"

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tw-pg-"))
        self.data = self.root / "data"
        self.password = uuid.uuid4().hex
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.root, nobody.pw_uid, nobody.pw_gid)
            self.as_user = ["runuser", "-u", "nobody", "--"]
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        if self.as_user:
            os.chown(pwfile, pwd.getpwnam("nobody").pw_uid, -1)
        self._run(
            _bin("initdb"), "-D", str(self.data), "-U", self.user, "--auth=scram-sha-256",
            f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        self._run(
            _bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
            "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1", "start",
        )  # fmt: skip

    def _run(self, *cmd: str) -> None:
        proc = subprocess.run(
            [*self.as_user, *cmd], capture_output=True, text=True, timeout=120, cwd=self.root
        )
        if proc.returncode:
            raise RuntimeError(f"{' '.join(cmd[:2])} failed: {proc.stderr[-2000:]}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), password=self.password, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


class JournalAt:
    """Journal targets on one backend: ``at("j")`` is a DuckDB file in the test's folder or
    a fresh PostgreSQL database (the same name gives the same target within a test)."""

    def __init__(self, backend: str, folder: Path, cluster: Cluster | None) -> None:
        self.backend = backend
        self.folder = folder
        self.cluster = cluster
        self._made: dict[str, str] = {}

    def __call__(self, name: str = "journal") -> Path | str:
        if self.cluster is None:
            return self.folder / f"{name}.duckdb"
        if name not in self._made:
            self._made[name] = self.cluster.create_database(f"{name}_{uuid.uuid4().hex[:10]}")
        return self._made[name]

    def config_text(self, text: str, name: str = "journal") -> str:
        """A config's text with its journal on this backend (``[journal] url`` and
        ``password = "env:..."`` for PostgreSQL; ``[run] journal`` otherwise)."""
        if self.cluster is None:
            return text
        return text + f'\n[journal]\nurl = "{self(name)}"\npassword = "env:{PASSWORD_ENV}"\n'

    def crash_copy(self, name: str, into: Path) -> Path | str:
        """What a ``kill -9`` leaves of the journal now: the DuckDB files as they are on disk
        (copied), or the PostgreSQL database (what another connection reads is committed)."""
        if self.cluster is not None:
            return self(name)
        into.mkdir(exist_ok=True)
        for f in self.folder.glob(f"{name}.duckdb*"):
            shutil.copy(f, into / f.name)
        return into / f"{name}.duckdb"


def _journal_at(request: pytest.FixtureRequest, folder: Path, mp: pytest.MonkeyPatch) -> JournalAt:
    backend = request.param
    if backend == "duckdb":
        return JournalAt(backend, folder, None)
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    # Journals opened directly by tests find the password as libpq does; configs name it
    # with env: (PASSWORD_ENV), as users do.
    mp.setenv("PGPASSWORD", cluster.password)
    mp.setenv(PASSWORD_ENV, cluster.password)
    return JournalAt(backend, folder, cluster)


@pytest.fixture(params=BACKENDS)
def journal_at(request, tmp_path, monkeypatch) -> JournalAt:
    """Journal targets on each backend under test (see the module docstring)."""
    return _journal_at(request, tmp_path, monkeypatch)


@pytest.fixture(scope="module", params=BACKENDS)
def module_journal_at(request, tmp_path_factory) -> Iterator[JournalAt]:
    """:func:`journal_at` shared by a module's tests (hypothesis examples)."""
    mp = pytest.MonkeyPatch()
    try:
        yield _journal_at(request, tmp_path_factory.mktemp("journals"), mp)
    finally:
        mp.undo()
