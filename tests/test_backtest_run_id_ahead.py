"""A ``tradewind backtest``'s run id (a hash of its config file's text and its data files)
is hashed on a thread of its own while the engine's modules are imported, and taken by
``backtest_run_id`` in the engine's set-up only when it hashed what that would hash (issue 17:
the whole process's wall time). The id is the same either way."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from tradewind.trading import lifecycle
from tradewind.trading.lifecycle import backtest_run_id, hashing_ahead


class _Venue:
    def __init__(self, files: list[Path], digest: bytes = b"") -> None:
        self.capabilities = ("replay",)
        self._files, self._digest = files, digest

    def data_files(self) -> list[Path]:
        return self._files

    def data_digest(self) -> bytes:
        return self._digest


@pytest.fixture
def hashed_on(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The threads the data files were hashed on, in order."""
    threads: list[str] = []
    real = lifecycle._hash_file

    def probed(h: object, path: Path) -> None:
        threads.append(threading.current_thread().name)
        real(h, path)

    monkeypatch.setattr(lifecycle, "_hash_file", probed)
    return threads


def _setup(tmp_path: Path) -> tuple[SimpleNamespace, list[Path]]:
    cfg = tmp_path / "run.toml"
    cfg.write_text('mode = "backtest"\n', encoding="utf-8")
    files = []
    for i, size in enumerate((3 << 20, 1000)):
        f = tmp_path / f"ticks-{i}.parquet"
        f.write_bytes(os.urandom(size))
        files.append(f)
    return SimpleNamespace(path=cfg), files


def test_the_run_id_hashed_ahead_is_the_one_hashed_in_the_set_up(tmp_path, hashed_on):
    config, files = _setup(tmp_path)
    venues = [_Venue([files[0]]), SimpleNamespace(capabilities=("execution",)), _Venue([files[1]])]
    inline = backtest_run_id(config, venues)  # type: ignore[arg-type]
    assert hashed_on == ["MainThread", "MainThread"]
    hashed_on.clear()
    with hashing_ahead(config, files):  # type: ignore[arg-type]
        ahead = backtest_run_id(config, venues)  # type: ignore[arg-type]
    assert ahead == inline and len(ahead) == 32
    assert hashed_on == ["tradewind-run-id", "tradewind-run-id"]  # not again on this thread
    assert not [t for t in threading.enumerate() if t.name == "tradewind-run-id"]


def test_a_hash_ahead_of_other_bytes_is_not_used(tmp_path, hashed_on):
    config, files = _setup(tmp_path)
    venues = [_Venue(files)]
    # A data file written again after its hash started (its stat changed).
    with hashing_ahead(config, files):  # type: ignore[arg-type]
        lifecycle._hashing.get()["run-id"].wait()  # type: ignore[index]
        files[0].write_bytes(os.urandom(3 << 20))
        got = backtest_run_id(config, venues)  # type: ignore[arg-type]
    assert hashed_on[-2:] == ["MainThread", "MainThread"]
    assert got == backtest_run_id(config, venues)  # type: ignore[arg-type]
    # Other files than the venues' (one left out), the config's text changed, a venue that
    # gives a digest (its place among the files counts): hashed again, the same id as inline.
    cases = [
        (files, [_Venue(files[:1])], None),
        (files, venues, lambda: config.path.write_text('mode = "backtest"  \n')),
        (files, [_Venue(files[:1], b"rows"), _Venue(files[1:])], None),
    ]
    for paths, vs, change in cases:
        hashed_on.clear()
        with hashing_ahead(config, paths):  # type: ignore[arg-type]
            if change is not None:
                lifecycle._hashing.get()["run-id"].wait()  # type: ignore[index]
                change()
            got = backtest_run_id(config, vs)  # type: ignore[arg-type]
        assert "MainThread" in hashed_on  # hashed again in the set-up
        assert got == backtest_run_id(config, vs)  # type: ignore[arg-type]
    # Nothing to hash ahead (a missing file): no thread.
    with hashing_ahead(config, [tmp_path / "gone.parquet"]):  # type: ignore[arg-type]
        assert lifecycle._hashing.get() == {}
