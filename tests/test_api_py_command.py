"""The `py` / `python` command: Python in the session with prog, session and crashpy bound."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

from crashpy.api import Kernel
from crashpy.commands import py
from crashpy.helpers.tasks import task_table
from crashpy.session import Session
from tests.crashpy_runner import program


@pytest.fixture()
def session(dumps: dict[str, Path]) -> Session:
    return Session(program(dumps["vmlinux"], dumps["sysrq.elf"]), io.StringIO())


def run(session: Session, line: str) -> str:
    out = session.out
    assert isinstance(out, io.StringIO)
    out.seek(0)
    out.truncate()
    session.run_line(line)
    return out.getvalue()


def test_expression_prints_its_repr(session: Session) -> None:
    assert run(session, "py len(prog.tasks())") == f"{len(Kernel.of(session.prog).tasks())}\n"
    assert run(session, "py prog.task(1).comm") == "'init'\n"
    active = sorted(tc.pid for tc in task_table(session.prog).contexts if tc.task in task_table(session.prog).active)
    assert run(session, "py [t.pid for t in prog.tasks() if t.active]") == f"{active}\n"
    assert run(session, "py None") == ""
    assert run(session, 'py prog.run("sys").splitlines()[2]') == "'        CPUS: 2 [OFFLINE: 1]'\n"


def test_the_bound_names(session: Session) -> None:
    assert run(session, "py type(prog).__name__, session is session, crashpy.__name__") == (
        "('Kernel', True, 'crashpy')\n"
    )
    assert run(session, "py session.prog is prog or session.prog.__dict__ is prog.__dict__") == "True\n"


def test_statements_and_kept_names(session: Session) -> None:
    first_two = Kernel.of(session.prog).modules()[:2]  # by base address, which varies from boot to boot
    assert run(session, "py for m in prog.modules()[:2]: print(m.name, m.size)") == "".join(
        f"{m.name} {m.size}\n" for m in first_two
    )
    assert run(session, 'py x = "a  b"') == ""
    assert run(session, "py x") == "'a  b'\n"  # the text as typed: two blanks stay two
    assert run(session, "py _") == "'a  b'\n"
    assert run(session, 'py "quoted" + x') == "'quoteda  b'\n"
    assert run(session, "python x.upper()") == "'A  B'\n"


def test_output_follows_pipes_and_redirection(session: Session, tmp_path: Path) -> None:
    assert run(session, "py print('one'); print('two') | grep two") == "two\n"
    target = tmp_path / "out.txt"
    run(session, f"py prog.task(1).comm > {target}")
    assert target.read_text() == "'init'\n"
    assert run(session, "py (1 != 2)") == "True\n"  # crash's line rules: `!` inside parentheses


def test_prog_run_inside_py(session: Session) -> None:
    assert run(session, 'py prog.run("ps 1").splitlines()[1].split()[1]') == "'1'\n"
    assert run(session, "py 1") == "1\n"  # the session's output is back where it was


def test_errors_are_one_line_and_the_session_goes_on(session: Session) -> None:
    errors = session.errors
    assert run(session, "py 1/0") == "py: ZeroDivisionError: division by zero\n"
    assert run(session, "py prog.task(999999)") == "py: LookupError: no task with pid 999999\n"
    assert run(session, "py prog['init_task'].nosuch") == "py: MemberError: There is no member named nosuch.\n"
    assert run(session, "py def (") .startswith("py: SyntaxError: ")
    assert run(session, "py raise KeyError") == "py: KeyError\n"
    assert run(session, "py import sys; sys.exit(3)") == ""
    assert session.errors == errors + 5
    assert run(session, "py 2") == "2\n"


def test_traceback_on_request(session: Session) -> None:
    text = run(session, "py -t 1/0")
    assert text.startswith("Traceback (most recent call last):\n")
    assert 'File "<py>", line 1' in text and text.endswith("ZeroDivisionError: division by zero\n")
    assert "crashpy/commands/py.py" not in text


def test_no_code_without_a_terminal(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert run(session, "python") == "py: no code given (the interactive console needs a terminal)\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_console(session: Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`python` on a terminal: a console with the session's names; end of input returns to crashpy."""
    monkeypatch.setattr(sys, "stdin", _Terminal("n = prog.task(1).pid\nprint('pid', n + 1)\n"))
    monkeypatch.setattr(py, "interactive", _plain_interactive(py.interactive))
    assert run(session, "python") == ""
    captured = capsys.readouterr()
    assert "pid 2\n" in captured.out
    assert run(session, "py n") == "1\n"  # the console's names are the py command's


def _plain_interactive(real):  # type: ignore[no-untyped-def]
    """interactive() without readline (it would grab the test's terminal)."""

    def call(session: Session) -> None:
        saved = sys.modules.get("readline")
        sys.modules["readline"] = None  # type: ignore[assignment]
        try:
            real(session)
        finally:
            if saved is not None:
                sys.modules["readline"] = saved
            else:
                del sys.modules["readline"]

    return call


def test_help_page(session: Session) -> None:
    text = run(session, "help py")
    for header in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES"):
        assert f"\n{header}\n" in text
    assert run(session, "help python") == text


NUMBERS = re.compile(r"^[\d\[\], ]+$")
NAME_SIZE = re.compile(r"^\w+ \d+$")


def test_help_examples_are_true(session: Session) -> None:
    """Every `crash> py ...` example of the help page prints what the page shows."""
    lines = py.HELP.split("EXAMPLES", 1)[1].splitlines()
    checked = 0
    for i, line in enumerate(lines):
        if not line.strip().startswith("crash> py "):
            continue
        expected = []
        for following in lines[i + 1 :]:
            if not following.strip() or following.strip().startswith("crash>"):
                break
            expected.append(following[4:])
        got = run(session, line.strip()[len("crash> ") :]).splitlines()
        assert len(got) == len(expected), line
        for want, have in zip(expected, got, strict=True):
            if NUMBERS.match(want):  # a count, a pid list, jiffies: what this run's dump holds
                assert NUMBERS.match(have), (line, have)
            elif NAME_SIZE.match(want):  # a module and its size: which comes first varies by boot
                assert NAME_SIZE.match(have), (line, have)
            else:
                assert have == want, line
        checked += 1
    assert checked == 6
