"""ps and set's task contexts on every test dump: crashpy against crash 8.0.6, same file, one crash
session per dump (ps and set share it: crash takes seconds to start)."""

from __future__ import annotations

from functools import cache

import pytest

from crashpy.helpers.tasks import task_table
from tests.crashpy_runner import both_outputs, program
from tests.dump_names import WITH_NMI
from tools.vmcores import ensure

DUMPS = WITH_NMI

PS = [
    "ps",
    "ps -t",
    "ps -l",
    "ps -p",
    "ps -c",
    "ps -k",
    "ps -u",
    "ps -G",
    "ps -s",
    "ps -g",
    "ps -S",
    "ps -A",
    "ps -H",
    "ps -k -s",
    "ps 1",
    "ps 2 1",
    "ps init",
    "ps \\init",
    "ps -u -t",
    "ps -p 1",
    "ps -c 1",
    "ps -c 2",
    "ps -g 1",
    "ps -G -t",
    "ps -G init",
    "ps -l 1",
    "ps 99999",
    "ps nosuchcommand",
    "ps -x",
    "ps -y",
    "ps -C",
    "ps -k -u",
    "ps -t -l",
    "ps -S 1",
    "ps 'sl.*'",
    "ps -k 'kworker/0'",
    "ps -m",
    "ps -m 1",
    "ps -l -C 0",
    "ps -m -C 1",
    "ps -m -C 0,1",
    "ps -l -C 1 2",
    "ps -s -C 0",
    "ps -a",
    "ps -a 1",
    "ps -r 1",
    "ps -r",
    "ps -y normal",
    "ps -y fifo,rr",
    "ps -y 1",
    "ps -y bogus",
    "ps -G -l",
]


def set_commands(panic_cpu: int, nr_cpus: int) -> list[str]:
    # `set -c` of the other cpus is left out: crash 8.0.6 cannot read a stopped cpu's NMI stack and
    # prints "read of stack at fffffe... failed" where crashpy shows the context; `set -c nr_cpus`
    # is the first cpu the system does not have.
    return [
        "set",
        "set 2",
        "set",
        "set 99999",
        "set nosuchthing",
        "set 1",
        f"set -c {panic_cpu}",
        f"set -c {nr_cpus}",
        "set 2",
        f"set -c {panic_cpu}",
        "set -p",
        "task",
        "task -R comm,pid",
        "task -R se.on_rq -R thread_info",
        "task -x -R pid 2",
        "task -d -R flags 1 2",
        "task 2 comm",
        "task -R nosuchmember",
        "task 99999",
        "task -x -d",
        "set 1 2",
        "set -a 2",
        "set 0",
        "set",
        "ps -A",
        "ps -s 2",
        # crash 8.0.6 cannot switch to a task made active with -a ("read of stack at fffffe...
        # failed"): crashpy shows its context; `set 2` here is left out of the comparison.
        "set -a 1",
        "set -p",
    ]


@cache
def commands(name: str) -> list[str]:
    paths = ensure([name])
    table = task_table(program(paths["vmlinux"], paths[name]))
    return PS + set_commands(table.panic_cpu, len(table.active))


@cache
def outputs(name: str) -> tuple[list[str], list[str]]:
    return both_outputs(name, commands(name))


@pytest.mark.parametrize("name", DUMPS)
def test_ps_matches_crash(name: str) -> None:
    expected, got = outputs(name)
    cmds = commands(name)
    differ = [c for c, e, g in zip(cmds, expected, got, strict=True) if e != g and c in PS]
    assert differ == [], differ
    assert expected[0].count("\n") > 50  # the whole task list, not an error


def _crash_cannot_read_stopped_stack(want: str, got: str) -> bool:
    """crash 8.0.6 fails on the active task of a CPU the panic stopped (it sizes an unnamed IST slot as
    0 bytes: "invalid size request: 0", "read of stack at fffffe... failed"; see test_cmd_bt_oracle),
    which `set` meets when the new context is that task (whether pid 0 of a stopped CPU is idle there
    depends on the boot).  crash still switches the context (the next `set` is compared as usual);
    crashpy prints the context as it does for any other task."""
    return "read of stack at fffffe" in want and "read of stack" not in got and got.lstrip().startswith("PID: ")


@pytest.mark.parametrize("name", DUMPS)
def test_set_context_matches_crash(name: str) -> None:
    expected, got = outputs(name)
    cmds = commands(name)
    differ = [
        (i, c)
        for i, (c, e, g) in enumerate(zip(cmds, expected, got, strict=True))
        if e != g and c not in PS and not _crash_cannot_read_stopped_stack(e, g)
    ]
    assert differ == [], differ
    for out in got:
        assert "internal error" not in out
