"""helpers/tasks.py: crash's task states, and the start-up context lines against crash 8.0.6."""

from __future__ import annotations

import io

import pytest

from crashpy.cli.banner import print_banner
from crashpy.helpers.tasks import state_code, state_verbose
from crashpy.session import Session
from tests.crashpy_runner import program
from tests.oracle import run_crash_startup
from tools.vmcores import ensure


@pytest.mark.parametrize(
    ("state", "code", "verbose"),
    [
        (0x0, "RU", "TASK_RUNNING"),
        (0x1, "IN", "TASK_INTERRUPTIBLE"),
        (0x2, "UN", "TASK_UNINTERRUPTIBLE"),
        (0x402, "ID", "TASK_UNINTERRUPTIBLE|TASK_NOLOAD"),
        (0x4, "ST", "TASK_STOPPED"),
        (0x8, "TR", "TASK_TRACED"),
        (0x20, "ZO", "EXIT_ZOMBIE"),
        (0x10, "DE", "EXIT_DEAD"),
        (0x90, "DE", "EXIT_DEAD|TASK_DEAD"),
        (0x40, "PA", "TASK_PARKED"),
        (0x200, "WA", "TASK_WAKING"),
        (0x800, "NE", "TASK_NEW"),
        (0x101, "IN", "TASK_INTERRUPTIBLE|TASK_WAKEKILL"),
        (0x21, "ZO", "TASK_INTERRUPTIBLE|EXIT_ZOMBIE"),
    ],
)
def test_state_strings(state: int, code: str, verbose: str) -> None:
    assert state_code(state) == code
    assert state_verbose(state) == verbose


DUMPS = [
    "sysrq.elf",
    "sysrq.d31.zlib",
    "kaslr.elf",
    "bug.elf",
    "null.elf",
    "panic.elf",
    "la57.elf",
    "la57bug.d31.zlib",
    "scale.d31.zlib",
]


def _after_panic_line(text: str) -> str:
    """The start-up text after sys's PANIC line: the panic task's context lines and the blank line."""
    return text[text.index("       PANIC: ") :].split("\n", 1)[1]


@pytest.mark.parametrize("name", DUMPS)
def test_startup_context_matches_crash(name: str) -> None:
    paths = ensure([name])
    expected = _after_panic_line(run_crash_startup(paths["vmlinux"], paths[name]).startup)
    out = io.StringIO()
    print_banner(Session(program(paths["vmlinux"], paths[name]), out))
    got = _after_panic_line(out.getvalue())
    assert expected.startswith(got)
    assert "     COMMAND: " in got
