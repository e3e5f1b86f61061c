"""The corpus of user mistakes: every malformed config and data file ends in one clear line.

``tests/corpus/configs/<case>.toml`` is a config with one mistake; ``<case>.expected`` (TOML)
holds the exit code and a substring of the one error line, and optionally ``env`` (variables
to set), ``make`` (``fifo:NAME``: a named pipe the test creates next to the config), ``config``
(``fifo`` or ``dir``: the config path itself is one) and ``commands`` (default: ``config
check`` and ``run``, which must agree). ``tests/corpus/data/<case>.*`` is a data file with one
mistake for ``tradewind data import``, with ``<case>.expected`` the same way.

A new bug of this kind joins the corpus as one more file pair.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from tradewind.cli import main

CORPUS = Path(__file__).parent / "corpus"
CONFIGS = CORPUS / "configs"
DATA = CORPUS / "data"
CONFIG_CASES = sorted(p.stem for p in CONFIGS.glob("*.expected"))
DATA_CASES = sorted(p.stem for p in DATA.glob("*.expected"))


def _expected(folder: Path, case: str) -> dict:
    return tomllib.loads((folder / f"{case}.expected").read_text(encoding="utf-8"))


def _prepare_config(case: str, where: Path) -> tuple[Path, dict]:
    exp = _expected(CONFIGS, case)
    shutil.copytree(CONFIGS / "shared", where / "shared")
    target = where / f"{case}.toml"
    if exp.get("config") == "fifo":
        os.mkfifo(target)
    elif exp.get("config") == "dir":
        target.mkdir()
    else:
        shutil.copyfile(CONFIGS / f"{case}.toml", target)
    for item in exp.get("make", []):
        kind, _, name = item.partition(":")
        assert kind == "fifo", item
        os.mkfifo(where / name)
    return target, exp


def _one_error_line(err: str, message: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert message in lines[0], f"\nexpected: {message}\nactual:   {lines[0]}"


def test_the_corpus_is_as_large_as_promised():
    assert len(CONFIG_CASES) >= 60
    assert len(DATA_CASES) >= 30
    for case in CONFIG_CASES:
        exp = _expected(CONFIGS, case)
        assert (CONFIGS / f"{case}.toml").exists() or exp.get("config") in ("fifo", "dir"), case


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_config_case(case, tmp_path, monkeypatch, capsys):
    target, exp = _prepare_config(case, tmp_path)
    monkeypatch.chdir(tmp_path)
    for key, value in exp.get("env", {}).items():
        monkeypatch.setenv(key, value)
    for command in exp.get("commands", ["config check", "run"]):
        code = main([*command.split(), str(target)])
        _out, err = capsys.readouterr()
        assert code == exp["exit"], f"`tradewind {command}` exited {code}: {err}"
        _one_error_line(err, exp["message"])
        if command == "config check":
            assert not (tmp_path / "out").exists(), "config check must not write outputs"


@pytest.mark.parametrize("case", [c for c in CONFIG_CASES if "fifo" in c])
def test_a_fifo_never_hangs_the_cli(case, tmp_path):
    """In a real process, with a timeout: a FIFO opened for reading would block forever."""
    target, exp = _prepare_config(case, tmp_path)
    for command in ("config check", "run"):
        proc = subprocess.run(
            [sys.executable, "-m", "tradewind", *command.split(), str(target)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert proc.returncode == exp["exit"], proc.stderr
        _one_error_line(proc.stderr, exp["message"])


@pytest.mark.parametrize("case", DATA_CASES)
def test_data_case(case, tmp_path, capsys):
    exp = _expected(DATA, case)
    (src,) = [p for p in DATA.glob(f"{case}.*") if p.suffix != ".expected"]
    target = tmp_path / src.name
    shutil.copyfile(src, target)
    store = str(tmp_path / "store")
    code = main(["data", "import", str(target), "--store", store, *exp.get("args", [])])
    out, err = capsys.readouterr()
    text = out + err  # bad rows are listed with the import table, errors on stderr
    assert code == exp["exit"], text
    assert "Traceback" not in text
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    assert any(exp["message"] in ln for ln in lines), f"\nexpected: {exp['message']}\n{text}"
    if "line" in exp:
        # One line naming file:line and what is wrong with it.
        where = f"{src.name}:{exp['line']}: "
        assert any(where in ln and exp["message"] in ln for ln in lines), text
    elif exp["exit"]:
        assert any(ln.startswith("error: ") and exp["message"] in ln for ln in lines), text


def test_data_import_of_a_fifo_never_hangs(tmp_path):
    fifo = tmp_path / "trades.csv"
    os.mkfifo(fifo)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tradewind",
            "data",
            "import",
            str(fifo),
            "--store",
            str(tmp_path / "store"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 4, proc.stderr
    assert "trades.csv is a FIFO (named pipe); give the path of a regular file" in proc.stderr
    assert "Traceback" not in proc.stderr
