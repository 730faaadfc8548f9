"""The command line: every command works, and bad input is one line on stderr, exit 2, nothing
changed (the study folder is compared byte for byte before and after)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, snapshot


@pytest.fixture
def populated(cli, tmp_path):
    for args in (
        ["init", "--name", "haifa"],
        ["dyad", "add", "D01", "--therapist", "T01", "--patient", "P01"],
        ["dyad", "add", "D02", "--therapist", "T01", "--patient", "P02"],
        ["session", "add", "D01", "1", "--date", "2025-03-03"],
        ["session", "add", "D01", "2", "--not-scanned"],
        ["session", "add", "D02", "1", "--kind", "interview"],
        ["session", "lock", "D01", "1"],
    ):
        result = cli(*args)
        assert result.exit_code == 0, result.output
    return cli


def test_happy_path_and_listings(populated):
    status = populated("status")
    assert "Study 'haifa'" in status.output and "2 dyads" in status.output
    lines = status.output.splitlines()
    d01 = next(line for line in lines if line.startswith("D01"))
    assert d01.split()[-2:] == ["T*L", "T"]
    assert "I*" in next(line for line in lines if line.startswith("D02"))
    rows = json.loads(populated("status", "--json").output)
    assert {(r["dyad"], r["session"], r["locked"]) for r in rows} == {
        ("D01", 1, True), ("D01", 2, False), ("D02", 1, False)}
    csv = populated("session", "list", "D01", "--csv").output.splitlines()
    assert csv[0] == "dyad,session,date,kind,scanned,attended,locked"
    assert csv[1].startswith("D01,1,2025-03-03,therapy,True,True,True")
    dyads = json.loads(populated("dyad", "list", "--json").output)
    assert [d["sessions"] for d in dyads] == [2, 1]
    audit = populated("audit", "--limit", "1")
    assert "lock" in audit.output and "locked=False -> locked=True" in audit.output
    assert len(json.loads(populated("audit", "--limit", "0", "--json").output)) == 10


def test_session_set_and_unlock(populated):
    assert populated("session", "set", "D01", "2", "--missed", "--reason", "ill").exit_code == 0
    assert populated("session", "unlock", "D01", "1", "--reason", "recheck").exit_code == 0
    rows = json.loads(populated("session", "list", "--json").output)
    assert [r["attended"] for r in rows] == [True, False, True]
    assert [r["locked"] for r in rows] == [False, False, False]


BAD_INPUTS = [
    (["session", "add", "D09", "1"], "unknown dyad D09"),
    (["session", "list", "D09"], "unknown dyad D09"),
    (["session", "lock", "D01", "9"], "has no session 9"),
    (["session", "set", "D01", "1", "--date", "2025-04-01"], "is locked"),
    (["session", "lock", "D01", "1"], "already locked"),
    (["session", "unlock", "D01", "2", "--reason", "x"], "not locked"),
    (["dyad", "add", "D01", "--therapist", "T09", "--patient", "P09"], "already exists"),
    (["dyad", "add", "D03", "--therapist", "P01", "--patient", "P09"], "is a patient"),
    (["session", "add", "D01", "1"], "already has a session 1"),
    (["dyad", "add", "../x", "--therapist", "T01", "--patient", "P05"], "invalid dyad code"),
    (["dyad", "add", "D03", "--therapist", "T'1", "--patient", "P05"], "invalid therapist"),
    (["dyad", "add", "'; DROP TABLE dyads;--", "--therapist", "T01", "--patient", "P05"],
     "invalid dyad code"),
    (["dyad", "add", "D" * 33, "--therapist", "T01", "--patient", "P05"], "invalid dyad code"),
    (["dyad", "add", "D03", "--therapist", "T01", "--patient", "../../etc/passwd"],
     "invalid patient code"),
    (["session", "add", "D01", "3", "--date", "2025-02-30"], "no such day"),
    (["session", "add", "D01", "3", "--date", "03/04/2025"], "expected YYYY-MM-DD"),
    (["session", "add", "D01", "0"], "numbered from 1"),
    (["session", "add", "D01", "three"], "expected an integer"),
    (["session", "add", "D01", "3", "--kind", "group"], "Invalid value for '--kind'"),
    (["session", "add", "D01"], "Missing argument 'N'"),
    (["session", "unlock", "D01", "1"], "Missing option '--reason'"),
    (["--user", "bad user!", "session", "add", "D01", "3"], "invalid user"),
    (["audit", "--limit", "-1"], "at least 1"),
    (["status", "--json", "--csv"], "choose one of"),
    (["init"], "already exists"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_and_changes_nothing(populated, tmp_path, args, message):
    before = snapshot(tmp_path)
    result = populated(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    err = result.stderr.strip()
    assert "\n" not in err and err.startswith("Error: ") and message in err
    assert "Traceback" not in result.output
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("content", [b"", b"hello, not a database\n",
                                     b"SQLite format 3\x00" + b"\x07" * 5000])
def test_missing_or_corrupt_database(cli, tmp_path, content):
    cli.db.write_bytes(content)
    before = snapshot(tmp_path)
    result = cli("status")
    assert result.exit_code == 2
    err = result.stderr.strip()
    assert err.startswith("Error: ") and "\n" not in err
    assert snapshot(tmp_path) == before


def test_missing_database_is_not_created(cli, tmp_path):
    result = cli("dyad", "list")
    assert result.exit_code == 2 and "studymgr init" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_sqlite_file_that_is_not_a_study(cli, tmp_path):
    import sqlite3

    conn = sqlite3.connect(cli.db)
    conn.execute("CREATE TABLE x (a)")
    conn.commit()
    conn.close()
    before = snapshot(tmp_path)
    result = cli("status")
    assert result.exit_code == 2 and "not a studymgr study" in result.stderr
    assert snapshot(tmp_path) == before


def test_every_command_has_help_with_an_example():
    from studymgr.cli import cli as root

    def walk(group, path):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from walk(command, [*path, name])
            else:
                yield [*path, name], command

    commands = list(walk(root, []))
    assert len(commands) >= 10
    for path, command in commands:
        assert command.help and ("Example" in command.help), f"{' '.join(path)} lacks an example"
    # An old name leads to a registered command (which has its examples, checked above).
    for old, (new, _) in root.aliases.items():
        assert new in root.commands and old not in root.commands, old


def _all_commands():
    from studymgr.cli import cli as root

    def walk(group, path):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from walk(command, [*path, name])
            else:
                yield " ".join([*path, name]), command

    return list(walk(root, []))


def test_each_command_group_lives_in_its_own_file():
    """``studymgr X ...`` is defined in cli/X.py (restore beside backup)."""
    from studymgr.cli import cli as root

    for name, command in root.commands.items():
        module = command.callback.__module__ if command.callback else None
        expected = "backup" if name == "restore" else name
        assert module == f"studymgr.cli.{expected}", (name, module)


def test_moments_alias_runs_eventlocked_with_a_note(populated):
    """The old group name works for one release: same output, a one-line note on stderr."""
    new = populated("eventlocked", "list", "--json")
    old = populated("moments", "list", "--json")
    assert old.exit_code == new.exit_code == 0
    assert old.stdout == new.stdout and json.loads(old.stdout) == []
    assert old.stderr == ("'studymgr moments' is now 'studymgr eventlocked'; the old name works "
                          "until 0.3\n")
    assert new.stderr == ""
    helped = populated("moments", "compute", "--help")
    assert helped.exit_code == 0 and "studymgr eventlocked compute" in helped.stdout


def test_hidden_aliases_are_not_listed(populated):
    from studymgr.cli import cli as root

    assert "moments" in root.aliases
    listed = populated("--help").stdout
    names = [line.split()[0] for line in listed.split("Commands:")[1].splitlines() if line]
    assert "eventlocked" in names
    for old in root.aliases:
        assert old not in names and old not in root.list_commands(None)


def test_an_alias_cannot_shadow_a_command():
    from studymgr.cli._common import AliasGroup

    group = AliasGroup(commands={"a": __import__("click").Command("a")})
    with pytest.raises(ValueError, match="is a command"):
        group.add_alias("a", "b", "0.3")


def test_shared_options_have_one_help_text_across_commands():
    """A flag has one help text wherever it appears, unless its meaning rightly differs
    (listed, with the reason, in cli/_options.CONTEXT_DEPENDENT)."""
    from studymgr.cli._options import CONTEXT_DEPENDENT

    helps: dict[str, dict[str, list[str]]] = {}
    for path, command in _all_commands():
        for param in command.params:
            if not isinstance(param, __import__("click").Option) or param.hidden:
                continue
            for flag in param.opts:
                helps.setdefault(flag, {}).setdefault(param.help or "", []).append(path)
    drifted = {flag: texts for flag, texts in helps.items()
               if len(texts) > 1 and flag not in CONTEXT_DEPENDENT}
    assert drifted == {}
    for flag in CONTEXT_DEPENDENT:  # the exceptions stay real
        assert sum(len(paths) for paths in helps.get(flag, {}).values()) >= 2, flag
    # The options the brief names really are shared, by every command that takes them.
    for flag in ("--band", "--pairs", "--convention", "--montage", "--dyad", "--session",
                 "--force", "--source", "--window", "--executor", "--scheduler"):
        assert len(helps[flag]) == 1, flag
    assert len(helps["--pairs"][next(iter(helps["--pairs"]))]) == 3  # synchrony, eventlocked, eeg


def _run(*args, cwd, env_extra=None):
    env = {**os.environ, "STUDYMGR_USER": "tester", "PYTHONPATH": str(REPO)}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "studymgr", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_real_process_default_db_env_and_no_traceback(tmp_path):
    """As a user runs it: ``python -m studymgr`` with ./study.db, $STUDYMGR_DB, and --debug."""
    assert _run("init", cwd=tmp_path).returncode == 0
    assert (tmp_path / "study.db").is_file()
    other = tmp_path / "other.db"
    assert _run("init", cwd=tmp_path, env_extra={"STUDYMGR_DB": str(other)}).returncode == 0
    assert other.is_file()
    bad = _run("session", "add", "D01", "1", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr == "Error: unknown dyad D01 (see 'studymgr dyad " \
        "list')\n"
    debug = _run("--debug", "session", "add", "D01", "1", cwd=tmp_path)
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    version = _run("--version", cwd=tmp_path)
    assert version.returncode == 0 and "studymgr" in version.stdout


def test_synchrony_config_from_the_shared_options(tmp_path):
    """``--band/--pairs/--convention/--montage`` become one SynchronyConfig, the montage read."""
    from studymgr.cli import _options as opt
    from studymgr.compute.synchrony.config import SynchronyConfig

    plain = opt.synchrony_config([0.05, 0.1], "all", "pycwt", None, pseudo=False)
    assert plain == SynchronyConfig(band=(0.05, 0.1), pairs="all", convention="pycwt",
                                    pseudo=False, montage=None)
    rois = tmp_path / "rois.csv"
    rois.write_text("channel,roi\nS1_D1,left\nS2_D2,right\n", encoding="utf-8")
    config = opt.synchrony_config((0.05, 0.1), "homologous", "grinsted", str(rois), seed=3)
    assert config == SynchronyConfig(band=(0.05, 0.1), pairs="homologous",
                                     convention="grinsted", seed=3,
                                     montage=(("S1_D1", "left"), ("S2_D2", "right")))


def test_progress_bars_close_when_the_work_fails():
    from studymgr.cli._common import ProgressBars

    with pytest.raises(RuntimeError), ProgressBars("Working") as bars:
        bars("", 1, 3)
        assert bars.bar is not None
        raise RuntimeError("boom")
    assert bars.bar is None
