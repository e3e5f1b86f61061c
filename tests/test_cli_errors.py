"""Every user mistake ends with one clear error line, no traceback, and a non-zero exit."""

import shutil

import pytest

from tests.conftest import NOTIFIER_SRC, REPO, run_cli
from tests.test_config import BASE, write


def assert_one_error_line(proc, *fragments: str, code: int | None = None) -> None:
    assert proc.returncode != 0, proc.stdout
    if code is not None:
        assert proc.returncode == code
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_uninstalled_plugin(tmp_path):
    cfg = write(tmp_path, BASE + '\n[notifiers.pager]\nplugin = "pagerduty"\n')
    proc = run_cli("config", "check", str(cfg))
    assert_one_error_line(
        proc,
        "notifier 'pagerduty' ([notifiers.pager] in tradewind.toml) is not installed",
        # The env may hold more notifiers (the docs test installs the shipped ones); the
        # built-in log notifier is always listed.
        "installed notifiers: ",
        "`tradewind plugins` lists what is installed",
        code=3,
    )
    assert "pip install" not in proc.stderr
    listed = proc.stderr.split("installed notifiers: ")[1].split(".")[0].split(", ")
    assert "log" in listed


def test_misspelled_key(tmp_path):
    cfg = write(tmp_path, BASE.replace('plugin = "sim"', 'plugin = "sim"\nstarting_balanse = "5"'))
    proc = run_cli("config", "check", str(cfg))
    assert_one_error_line(proc, "unknown key @ $.venues.sim.starting_balanse", code=2)


def test_plugin_that_raises_on_import(tmp_path, fake_dists):
    fake_dists.add(
        "tradewind-notifier-broken",
        "0.3.1",
        {"tradewind.notifiers": {"broken": "broken_notifier"}},
        {"broken_notifier": "raise RuntimeError('missing libfoo.so')\n"},
    )
    cfg = write(tmp_path, BASE + "\n[notifiers.broken]\n")
    proc = run_cli("config", "check", str(cfg), env=fake_dists.env())
    assert_one_error_line(
        proc,
        "notifier 'broken' ([notifiers.broken] in tradewind.toml)",
        "tradewind-notifier-broken 0.3.1",
        "RuntimeError: missing libfoo.so",
        "pip install --upgrade tradewind-notifier-broken",
        code=3,
    )


def test_two_plugins_claiming_one_name(tmp_path, fake_dists):
    for dist, mod in (("tradewind-notifier-slack", "slack_a"), ("slack-notify-fork", "slack_b")):
        fake_dists.add(
            dist,
            "1.0",
            {"tradewind.notifiers": {"slack": mod}},
            {mod: NOTIFIER_SRC.format(cls="Slack", name="slack")},
        )
    cfg = write(tmp_path, BASE + "\n[notifiers.slack]\n")
    proc = run_cli("config", "check", str(cfg), env=fake_dists.env())
    assert_one_error_line(
        proc,
        "notifier name 'slack'",
        "claimed by two distributions",
        "tradewind-notifier-slack",
        "slack-notify-fork",
        code=3,
    )


def test_two_classes_registering_one_name(tmp_path, fake_dists):
    fake_dists.add(
        "tradewind-notifier-a",
        "1.0",
        {"tradewind.notifiers": {"a": "na"}},
        {"na": NOTIFIER_SRC.format(cls="A", name="a")},
    )
    fake_dists.add(
        "tradewind-notifier-b",
        "1.0",
        {"tradewind.notifiers": {"b": "nb"}},
        {"nb": NOTIFIER_SRC.format(cls="B", name="a")},
    )
    cfg = write(tmp_path, BASE + "\n[notifiers.a]\n[notifiers.b]\n")
    proc = run_cli("config", "check", str(cfg), env=fake_dists.env())
    assert_one_error_line(proc, "notifier name 'a' is claimed twice", "na.A", "nb.B", code=3)


def test_env_secret_not_set(tmp_path, fake_dists):
    from tests.test_config import KEYED_SRC

    fake_dists.add(
        "tradewind-notifier-keyed",
        "1.0",
        {"tradewind.notifiers": {"keyed": "keyed_notifier"}},
        {"keyed_notifier": KEYED_SRC},
    )
    cfg = write(tmp_path, BASE + '\n[notifiers.keyed]\napi_key = "env:TW_UNSET_SECRET"\n')
    env = fake_dists.env()
    env.pop("TW_UNSET_SECRET", None)
    proc = run_cli("config", "check", str(cfg), env=env)
    assert_one_error_line(
        proc, "env:TW_UNSET_SECRET is not set", "$.notifiers.keyed.api_key", code=2
    )


def test_a_set_secret_never_reaches_output_or_journal(tmp_path, fake_dists):
    from tests.test_config import KEYED_SRC

    fake_dists.add(
        "tradewind-notifier-keyed",
        "1.0",
        {"tradewind.notifiers": {"keyed": "keyed_notifier"}},
        {"keyed_notifier": KEYED_SRC},
    )
    cfg = write(tmp_path, BASE + '\n[notifiers.keyed]\napi_key = "env:TW_SET_SECRET"\nextra = 1\n')
    env = fake_dists.env()
    env["TW_SET_SECRET"] = "hunter2-secret-value"
    proc = run_cli("config", "check", str(cfg), env=env)
    assert proc.returncode == 2
    assert "hunter2-secret-value" not in proc.stderr + proc.stdout


def test_missing_config_file(tmp_path):
    proc = run_cli("config", "check", str(tmp_path / "nope.toml"))
    assert_one_error_line(proc, "nope.toml does not exist", code=2)


def test_blocked_plugin(tmp_path):
    import os

    cfg = write(tmp_path, BASE + "\n[notifiers.log]\n")
    env = dict(os.environ, TRADEWIND_BLOCK_PLUGINS="notifiers:log")
    proc = run_cli("config", "check", str(cfg), env=env)
    assert_one_error_line(proc, "notifier 'log'", "blocked by TRADEWIND_BLOCK_PLUGINS", code=3)


def test_the_essential_kill_switch_cannot_be_blocked(tmp_path):
    import os

    env = dict(os.environ, TRADEWIND_BLOCK_PLUGINS="killswitch")
    proc = run_cli("config", "check", str(write(tmp_path, BASE)), env=env)
    assert_one_error_line(proc, "'killswitch' is essential and cannot be blocked", code=3)


@pytest.mark.parametrize("argv", [["--version"]])
def test_version(argv):
    proc = run_cli(*argv)
    assert proc.returncode == 0 and proc.stdout.startswith("tradewind ")


def test_no_command_is_a_usage_error():
    assert run_cli().returncode == 64


RAISING_SRC = """
import attrs
from tradewind import hookimpl

@attrs.frozen(kw_only=True)
class Cfg:
    level: str = "info"

LEVELS = {{"info": 20}}

class Raising:
    name = "raising"
    config_class = Cfg
    capabilities = frozenset({{"text"}})
    def __init__(self, config):
        self.level = {expr}
    async def start(self): pass
    async def notify(self, event): pass
    async def close(self): pass

@hookimpl
def tradewind_register_notifiers(registry):
    registry.add(Raising)
"""


@pytest.mark.parametrize(
    ("expr", "code", "fragment"),
    [
        # A bug in the plugin (the old scaffold's Severity[...] lookup): a plugin error.
        ("LEVELS[config.level.upper()]", 3, "failed while being built: KeyError: 'WARN'"),
        # A value the plugin refuses while it is built: a config error.
        (
            "__import__('tradewind.timeframes').timeframes.parse_timeframe(config.level)",
            2,
            "refused its config: 'WARN' is not a timeframe",
        ),
    ],
)
def test_an_error_while_a_plugin_is_built_is_one_line_naming_it(
    tmp_path, fake_dists, expr, code, fragment
):
    fake_dists.add(
        "tradewind-notifier-raising",
        "1.0",
        {"tradewind.notifiers": {"raising": "raising_notifier"}},
        {"raising_notifier": RAISING_SRC.format(expr=expr)},
    )
    cfg = write(tmp_path, BASE + '\n[notifiers.raising]\nlevel = "WARN"\n')
    shutil.copyfile(
        REPO / "tests" / "corpus" / "configs" / "shared" / "trades.csv", tmp_path / "trades.csv"
    )
    for command in (["config", "check"], ["run"]):
        proc = run_cli(*command, str(cfg), env=fake_dists.env())
        assert_one_error_line(
            proc,
            "notifier 'raising' ([notifiers.raising] in tradewind.toml)",
            fragment,
            "@ $.notifiers.raising",
            code=code,
        )


@pytest.mark.parametrize(
    "argv",
    [
        ["--debug", "config", "check", "{cfg}"],
        ["config", "--debug", "check", "{cfg}"],
        ["config", "check", "{cfg}", "--debug"],
        ["config", "check", "-v", "{cfg}"],
    ],
)
def test_debug_and_verbose_are_accepted_anywhere(tmp_path, argv):
    cfg = write(tmp_path, BASE.replace('plugin = "sim"', 'plugin = "sim"\nlatency_ms = -1'))
    (tmp_path / "trades.csv").write_text("", encoding="utf-8")
    proc = run_cli(*[a.format(cfg=cfg) for a in argv])
    assert proc.returncode == 2, proc.stderr
    assert "latency_ms must be between 0" in proc.stderr
    if "--debug" in argv:
        assert "Traceback" in proc.stderr  # --debug shows it, wherever it was written
    else:
        assert "Traceback" not in proc.stderr


def test_a_registration_hook_that_raises_is_one_line_naming_the_plugin(tmp_path, fake_dists):
    src = NOTIFIER_SRC.format(cls="Bad", name="bad").replace(
        "    registry.add(Bad)", "    registry.add(Bad)\n    raise KeyError('WARN')"
    )
    fake_dists.add(
        "tradewind-notifier-bad",
        "2.0",
        {"tradewind.notifiers": {"bad": "bad_notifier"}},
        {"bad_notifier": src},
    )
    cfg = write(tmp_path, BASE + "\n[notifiers.bad]\n")
    proc = run_cli("config", "check", str(cfg), env=fake_dists.env())
    assert_one_error_line(
        proc,
        "notifier 'bad' (distribution tradewind-notifier-bad 2.0)'s tradewind_register_notifiers "
        "hook raised KeyError: 'WARN'",
        code=3,
    )
