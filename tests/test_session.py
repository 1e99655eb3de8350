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
