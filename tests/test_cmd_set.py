"""set: crash's internal variables, on a session without a dump."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from crashpy.session import ExitSession
from tests.crashpy_runner import run_session


@dataclass
class FakeProg:
    vmlinux_path: str = "/k/vmlinux"
    dump_path: str = "/k/vmcore"


def run(lines: list[str], minimal: bool = False) -> list[str]:
    return run_session(FakeProg(), lines, minimal)  # type: ignore[arg-type]


def test_set_v() -> None:
    (text,) = run(["set -v"])
    lines = text.splitlines()
    assert lines[0] == "        scroll: off (none)"
    assert lines[1] == "         radix: 10 (decimal)"
    assert "      namelist: /k/vmlinux" in lines and "      dumpfile: /k/vmcore" in lines
    assert lines[-1] == "         error: default"
    assert [line.split(":")[0].strip() for line in lines] == [
        "scroll", "radix", "refresh", "print_max", "print_array", "console", "debug", "core", "hash",
        "silent", "edit", "namelist", "dumpfile", "unwind", "zero_excluded", "null-stop", "gdb",
        "scope", "offline", "redzone", "error",
    ]  # fmt: skip


def test_set_variables() -> None:
    assert run(["set radix 16", "set radix", "set dec", "set radix 8"]) == [
        "output radix: 16 (hex)\n",
        "output radix: 16 (hex)\n",
        "output radix: 10 (decimal)\n",
        "set: invalid command: set radix 8 \n",
    ]
    assert run(["set hash off", "set hash", "set print_max 0x20", "set scroll"]) == [
        "hash: off\n",
        "hash: off\n",
        "print_max: 32\n",
        "scroll: off (none)\n",
    ]
    assert run(["set core"]) == ["core: off (do NOT drop core on error message)\n"]


def test_set_context_needs_tasks() -> None:
    (text,) = run(["set"])
    assert text.startswith("set: ") and "task" in text and text.count("\n") == 1
    (text,) = run(["set -p"])
    assert text.startswith("set: ")


def test_set_minimal_mode() -> None:
    plain, bad, opt = run(["set", "set 1", "set -p"], minimal=True)
    assert plain.startswith("        scroll: ")
    assert bad == "set: invalid argument in minimal mode\n"
    assert opt == "set: -p option not supported or applicable on this architecture or kernel\n"


@pytest.mark.parametrize("word", ["q", "exit", "quit"])
def test_quit(word: str) -> None:
    with pytest.raises(ExitSession):
        run([word])
