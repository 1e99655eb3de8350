"""Odd arguments and damaged dumps end in one line in crash's words, never in `internal error`.

crash 8.0.6 itself never comes back from a division by zero in its own expression evaluator (`eval 1/0`,
`list 1%0`, `tree -l 1/0` spin at 100% CPU after the SIGFPE), so those are not run through it; crashpy
says `division by zero` instead.  A dump cut short before init_task's page leaves crash unable to start
at all; crashpy starts and says crash's `current context invalid` where a command needs a task.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crashpy.dumpfile.kdump import KdumpCompressed
from tests.crashpy_runner import program, run_crashpy

DIVISIONS = {
    "list 1%0": "list: division by zero\n",
    "list 1/0": "list: division by zero\n",
    "list -x 1%0 )": "list: division by zero\n",
    "list -s list_head 1/0": "list: division by zero\n",
    "tree 1%0": "tree: division by zero\n",
    "tree -l 1/0": "tree: division by zero\n",
    "tree -t rbtree 1/0": "tree: division by zero\n",
    "rd (1/0)": "rd: division by zero\n",
    "bt -I (1%0)": "bt: division by zero\n",
    "eval 1/0": "eval: division by zero\neval: invalid expression: (1/0)\n",
    "dis 1/0": "dis: division by zero\ndis: invalid expression: 1/0\n",
}


def test_division_by_zero_in_crash_expressions(paths: dict[str, Path]) -> None:
    commands = list(DIVISIONS)
    got = run_crashpy(paths["vmlinux"], paths["sysrq.elf"], commands)
    assert dict(zip(commands, got, strict=True)) == DIVISIONS


# Odd arguments crash answers; crashpy must answer the same.
ODD = [
    "p 1/0",
    "p 1%0",
    "rd 1/0",
    "sym 1/0",
    "struct list_head 1/0",
    "bt 1/0",
    "set 1/0",
    "list -o 1/0 init_task",
    "tree -r 1/0",
    "ps 99999999999999999999999",
    "task 99999999999999999999999",
    "rd -64 0 2",
    "rd -32 -e 0 ffffffff81000000",
    "sym ffffffffffffffffff",
    "eval 99999999999999999999999",
    "eval -99999999999999999999",
    "struct list_head -c -1 init_task",
    # an empty symbol name, numbers too large or not numbers at all, as crash's own parsers say it
    "p :",
    "p :0",
    "list 0xffffffffffffffffff",
    "dis 99999999999999999999999",
    "ps -C nosuchsym",
    "ps -C ffffffffffffffff",
    "ps -C 99999999999999999999",
    "ps -C 4294967297",
    "bt -c init_task",
    "bt -c [",
    "runq -c 1-x",
    "bt -S :",
    "bt -S 0xffffffffffffffffff",
    "bt -S init_task[1]",
    "bt -n .pid",
    "bt -A",
    "* -99999999",
    # "0x" is 0: pid 0
    "ps -G 0x",
    "task -R pid 0x",
    "bt 0x",
    "foreach 0x",
    "task .pid",
    "task -R .pid",
    "task -R ,",
    "set 0x",
]


def test_odd_arguments_match_crash(paths: dict[str, Path]) -> None:
    from tests.oracle import run_crash

    expected = run_crash(paths["vmlinux"], paths["sysrq.elf"], ODD)
    got = run_crashpy(paths["vmlinux"], paths["sysrq.elf"], ODD)
    bad = [(c, e, g) for c, e, g in zip(ODD, expected, got, strict=True) if e != g]
    assert not bad, "\n\n".join(f"{c}\n--- crash\n{e}--- crashpy\n{g}" for c, e, g in bad)


TASK_COMMANDS = [
    "bt",
    "bt -p",
    "bt -E",
    "bt -a",
    "set",
    "set -p",
    "task",
    "sig",
    "ps",
    "ps -l",
    "ps -m",
    "foreach bt",
    "runq",
]


@pytest.mark.parametrize("name", ["sysrq.elf.trunc40", "sysrq.d31.zlib.trunc40"])
def test_task_commands_on_truncated_dumps(paths: dict[str, Path], name: str) -> None:
    """crash cannot start on these (it stops reading the per-cpu data); crashpy answers each."""
    got = run_crashpy(paths["vmlinux"], paths[name], TASK_COMMANDS)
    for command, out in zip(TASK_COMMANDS, got, strict=True):
        assert "internal error" not in out, (command, out)


@pytest.fixture(scope="module")
def cut_before_init_task(paths: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sysrq.d31.zlib cut where the data of init_task's page begins: the kernel's text is there, no task."""
    whole = paths["sysrq.d31.zlib"]
    prog = program(paths["vmlinux"], whole)
    dump = prog.dump
    assert isinstance(dump, KdumpCompressed)
    where = dump.page_location(prog.kvtop(prog.symbol_address("init_task")) >> 12)
    assert where is not None
    cut = tmp_path_factory.mktemp("cut") / "sysrq.d31.zlib.cut-init_task"
    with open(whole, "rb") as src, open(cut, "wb") as dst:
        shutil.copyfileobj(src, dst)
        dst.truncate(where[0])
    return cut


def test_no_task_context(paths: dict[str, Path], cut_before_init_task: Path) -> None:
    from tests.oracle import run_crash_session

    crash = run_crash_session(paths["vmlinux"], cut_before_init_task, ["bt"])
    assert crash.completed == 0  # crash gives up before its prompt
    got = dict(
        zip(TASK_COMMANDS, run_crashpy(paths["vmlinux"], cut_before_init_task, TASK_COMMANDS), strict=True)
    )
    for command in ("bt", "bt -p", "bt -E", "set", "task", "sig"):
        assert got[command] == f"{command.split()[0]}: current context invalid\n", command
    assert got["set -p"] == "set: no panic task found!\n"
    assert got["ps"].splitlines() == [
        "      PID    PPID  CPU       TASK        ST  %MEM      VSZ      RSS  COMM"
    ]
    for command, out in got.items():
        assert "internal error" not in out, (command, out)
