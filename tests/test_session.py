"""The command line as crash splits it: pipes, redirection, shell escapes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from crashpy.session import split_redirect


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("log", ("log", "", "")),
        ("log | tail -3", ("log", "|", "tail -3")),
        ("log > /tmp/x", ("log", ">", "/tmp/x")),
        ("log >> /tmp/x", ("log", ">>", "/tmp/x")),
        ("p init_task.tasks->next", ("p init_task.tasks->next", "", "")),
        ("p (2 > 1)", ("p (2 > 1)", "", "")),
        ("p \"a|b\"", ("p \"a|b\"", "", "")),
        ("eval (1|2) | cat", ("eval (1|2)", "|", "cat")),
        ("p 2 > 1", ("p 2", ">", "1")),  # crash redirects here too
    ],
)
def test_split_redirect(line: str, expected: tuple[str, str, str]) -> None:
    assert split_redirect(line) == expected


def test_pipe_and_redirect_run(tmp_path: Path, dumps: dict[str, Path]) -> None:
    from crashpy.session import Session
    from tests.crashpy_runner import program

    out = io.StringIO()
    session = Session(program(dumps["vmlinux"], dumps["sysrq.elf"]), out)
    session.run_line("eval 0x1f9 | grep octal")
    assert out.getvalue().strip() == "octal: 771"
    target = tmp_path / "eval.txt"
    session.run_line(f"eval 0x1f9 > {target}")
    session.run_line(f"eval 0x1f9 >> {target}")
    assert target.read_text().count("decimal: 505") == 2
    session.run_line("eval 1 >")
    assert "no file name after >" in out.getvalue()


# ---- aliases, history recall, repeat, pager, Ctrl-C (in-process) -----------------------------------


@pytest.fixture
def session(dumps: dict[str, Path]) -> tuple[object, io.StringIO]:
    from crashpy.session import Session
    from tests.crashpy_runner import program

    out = io.StringIO()
    return Session(program(dumps["vmlinux"], dumps["sysrq.elf"]), out), out


def run(session: object, *lines: str) -> str:
    s, out = session  # type: ignore[misc]
    out.seek(0)
    out.truncate()
    for line in lines:
        s.run_line(line)
    return out.getvalue()


def test_alias_like_crash(session: tuple[object, io.StringIO]) -> None:
    # crash 8.0.6's answers to the same lines
    assert run(session, "alias").splitlines()[:3] == [
        "ORIGIN   ALIAS    COMMAND", "builtin  man      help ", "builtin  ?        help "]  # fmt: skip
    assert run(session, "alias").splitlines()[-1] == "builtin  last     ps -l "
    assert run(session, "alias foo eval") == "ORIGIN   ALIAS    COMMAND\nruntime  foo      eval \n"
    assert run(session, "alias foo") == "ORIGIN   ALIAS    COMMAND\nruntime  foo      eval \n"
    assert run(session, 'alias foo ""') == "alias deleted: foo\n"
    assert run(session, 'alias foo ""') == ""
    assert run(session, "alias foo") == "ORIGIN   ALIAS    COMMAND\nalias does not exist: foo\n"
    assert run(session, "alias bar nosuch") == "alias: invalid alias attempt on non-existent command: nosuch\n"
    assert run(session, "alias eval p") == "alias: cannot alias existing command name: eval\n"
    assert run(session, "alias zz p -x") == "ORIGIN   ALIAS    COMMAND\nruntime  zz       p -x \n"
    assert run(session, "zz 10") == "$1 = 0xa\n"
    assert run(session, "px 10") == "$2 = 0xa\n"  # a built-in one
    assert run(session, 'alias oct "eval 0x1f9 | grep octal"') .endswith("runtime  oct      eval 0x1f9 | grep octal \n")
    assert run(session, "oct") == "      octal: 771\n"  # the pipe in the alias works


def test_history_recall() -> None:
    from crashpy.cli.history import CommandHistory

    h = CommandHistory()
    assert h.expand("r").text == "crash: no commands entered!\n"
    assert h.expand("eval 1").line == "eval 1"  # not a recall: as typed
    for line in ("eval 1", "p jiffies", "eval 3"):
        h.add(line)
    assert (h.expand("!!").line, h.expand("!!").text) == ("eval 3", "crash> eval 3\n")
    assert h.expand("r").line == "eval 3"
    assert h.expand("r 2").line == "p jiffies"
    assert h.expand("r2").line == "p jiffies"
    assert h.expand("!1").line == "eval 1"
    assert h.expand("r ev").line == "eval 3"  # the latest line that starts so
    assert h.expand("r p").line == "p jiffies"
    assert h.expand("r 9").text == "crash: command 9 not entered yet!\n"
    assert h.expand("r 0").text == "invalid repeat request: r 0\n"
    assert h.expand("r xyz").text == "invalid repeat request: r xyz\n"
    assert h.expand("h").text == "[1] eval 1\n[2] p jiffies\n[3] eval 3\n"
    assert h.expand("history").line is None
    assert h.expand("rd -64 jiffies").line == "rd -64 jiffies"
    assert h.expand("!ls").line == "!ls"  # a shell escape stays one


def test_repeat_runs_once_without_a_terminal(session: tuple[object, io.StringIO]) -> None:
    text = run(session, "repeat -1 eval 0x1f9 | grep octal")
    assert text == "      octal: 771\n"
    assert run(session, "repeat").startswith("Usage:\n  repeat [-seconds] command")
    assert run(session, "repeat -x eval 1").startswith("Usage:")


def test_repeat_until_failure_or_ctrl_c(session: tuple[object, io.StringIO]) -> None:
    from crashpy.commands.registry import COMMANDS

    s, _out = session  # type: ignore[misc]
    s.interactive = True
    calls = []

    def counting(sess: object, args: list[str]) -> None:
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt  # what Ctrl-C raises in the middle of a command

    real = COMMANDS["eval"].func
    COMMANDS["eval"].func = counting
    try:
        run(session, "repeat eval 1")
    finally:
        COMMANDS["eval"].func = real
        s.interactive = False
    assert len(calls) == 3 and s.interrupted
    assert run(session, "eval 2").startswith("hexadecimal: 2")  # the session goes on
    s.interactive = True
    try:
        assert run(session, "repeat no_such_command") == "crash: command not found: no_such_command\n"
    finally:
        s.interactive = False


def test_pager(session: tuple[object, io.StringIO], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s, _out = session  # type: ignore[misc]
    paged = tmp_path / "paged.txt"
    monkeypatch.setenv("CRASHPAGER", f"cat > {paged}")
    st = s.settings  # type: ignore[attr-defined]
    saved = (st.scroll, st.scroll_command)
    try:
        st.scroll, st.scroll_command = True, "CRASHPAGER"
        assert "decimal: 505" in run(session, "eval 0x1f9")  # not paged: output is no terminal
        s.paging = True
        assert run(session, "eval 0x1f9") == ""
        assert "decimal: 505" in paged.read_text()
        paged.unlink()
        assert "decimal: 505" in run(session, "eval 0x1f9 | cat")  # a pipe is not paged
        run(session, "sf")  # the answer to `set scroll off` itself still goes through the pager
        assert paged.read_text() == f"scroll: off (CRASHPAGER: cat > {paged})\n"
        paged.unlink()
        assert "decimal: 505" in run(session, "eval 0x1f9")
        assert not paged.exists()
    finally:
        st.scroll, st.scroll_command = saved
        s.paging = False


def test_ctrl_c_in_a_command(session: tuple[object, io.StringIO], capsys: pytest.CaptureFixture[str]) -> None:
    from crashpy.commands.registry import COMMANDS

    s, _out = session  # type: ignore[misc]

    def interrupted(sess: object, args: list[str]) -> None:
        raise KeyboardInterrupt

    real = COMMANDS["sym"].func
    COMMANDS["sym"].func = interrupted
    try:
        assert run(session, "sym jiffies") == ""
    finally:
        COMMANDS["sym"].func = real
    assert s.interrupted and capsys.readouterr().err == "\n"  # crash's answer: a new line
    assert run(session, "eval 1").startswith("hexadecimal: 1")
    assert not s.interrupted


def test_completion(session: tuple[object, io.StringIO]) -> None:
    from crashpy.cli.complete import complete

    s, _out = session  # type: ignore[misc]
    assert "log" in complete(s, "lo") and "lsmod" in complete(s, "ls")  # commands and aliases
    assert complete(s, "p init_ta") == ["init_task"]
    assert complete(s, "p jiffies_6") == ["jiffies_64", "jiffies_64_to_clock_t"]
    assert complete(s, "init_ta") == ["init_task"]  # a bare symbol is a command too
    assert complete(s, "struct task_st") == ["task_struct"]
    assert complete(s, "struct task_struct.se.vr") == ["task_struct.se.vruntime"]
    assert "task_struct.pi_top_task" in complete(s, "p task_struct.pi_")
    assert complete(s, "log -") == ["-T", "-a", "-c", "-d", "-m", "-s", "-t"]
    assert "-64" in complete(s, "rd -")
    pids = complete(s, "ps 1")
    assert "1" in pids and all(p.startswith("1") for p in pids)
    assert "0" in complete(s, "set ") and complete(s, "eval 1") == []
