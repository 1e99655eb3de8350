"""foreach on every test dump: crashpy against crash 8.0.6, same file, one crash session per dump.

Task selection (pids, names, 'regex' names, states, kernel/user/gleader/active) and the commands
crashpy has (task, set, ps, sig) are compared line for line.  bt is compared when the bt command is
registered.  vm, files, net and vtop are compared once crashpy has those commands; until then foreach
must refuse them in one line, never with a traceback."""

from __future__ import annotations

from functools import cache

import pytest

from crashpy.commands.registry import load_all
from tests.bt_compare import console_functions, explained
from tests.crashpy_runner import run_crashpy
from tests.dump_names import ORACLE_DUMPS
from tests.kernel_facts import symbol as kernel_symbol
from tests.oracle import run_crash
from tools.vmcores import ensure

DUMPS = ORACLE_DUMPS

FOREACH = [
    "foreach 1 2 set",
    "foreach RU set",
    "foreach 0 set",
    "foreach init set",
    "foreach 'kworker/0' set",
    "foreach ps",
    "foreach 1 2 ps",
    "foreach 'sh' ps",
    "foreach 'in.*' 2 ps",
    "foreach init ps",
    "foreach \\init ps",
    "foreach ps 1",  # words after the command are its arguments: every task
    "foreach 1 ps set",
    "foreach 1 2 ps -s",
    "foreach 0 ps -s",
    "foreach RU ps -t",
    "foreach kernel RU ps",
    "foreach active ps",
    "foreach RU active ps",
    "foreach gleader ps",
    "foreach user ps -G",
    "foreach ps -G",
    "foreach ps -l",  # in last-run order, as crash sorts its table first
    "foreach ps -m",
    "foreach user ps -p",
    "foreach 1 ps -c",
    "foreach 2 ps -c",
    "foreach user ps -a",
    "foreach 1 2 ps -r",
    "foreach user ps -g",
    "foreach 1 2 ps -p",
    "foreach 1 ps -y normal",
    "foreach kernel ps -y fifo",
    "foreach IN ps",
    "foreach ID ps",
    "foreach UN ps",
    "foreach ZO ps",
    "foreach NE ps",
    "foreach \\DE ps",
    "foreach DE ps",
    "foreach 1 2 task",
    "foreach 1 2 task -R pid",
    "foreach init task -R pid,comm",
    "foreach 1 task -x -R pid",
    "foreach 1 2 task -x -R comm",
    "foreach user task -R comm",
    "foreach 1 task extra",
    "foreach 1 2 sig",
    "foreach 1 2 sig -g",
    "foreach sig -g",
    "foreach user sig",
    "foreach 1 sig -R pid",
    "foreach user sig -R pid",
    "foreach kernel sig -R pid",
    "foreach 1 ps -y rr,fifo",
    "foreach DE set",
    "foreach 'in' 'sl' ps",
    "foreach 1 1 ps",  # a task named twice is shown once
    "foreach 1 {init_task:x} ps",  # init_task's link-time address: a task on the dumps without KASLR
    "foreach kernel 'kworker' ps -s",
    "foreach 1 2 task -R comm -R pid",  # the last -R wins
    "foreach 1 2 ps -t -G",
    "foreach user ps -t",
    "foreach 1 2 ps -a",
    "foreach user ps -m",
    "foreach user ps -l",
    "set radix 16",
    "foreach 1 task -R pid",
    "set radix 10",
    # errors: crash's messages, never a traceback
    "foreach",
    "foreach -z ps",
    "foreach bogus ps",
    "foreach 1",
    "foreach 99999 ps",
    "foreach kernel user ps",
    "foreach gleader kernel ps",
    "foreach RU IN ps",
    "foreach SW ps",
    "foreach 'zz[' ps",
    "foreach bogus RU IN ps",
    "foreach 1 2 set -R pid",
    "foreach 1 sig -l",
    "foreach ps -t -l",
    "foreach ps -G -l",
    "foreach 1 ps -y bogus",
    "foreach -y bogus ps",
    "foreach -y fifo",
    "foreach 1 task -d -x",
    "foreach 1 vm -x -d",
    "foreach 1 vm -p -m",
    "foreach 1 bt -g",
    "foreach 1 bt -x -d",
    "foreach 1 files -p",
    "foreach 1 vtop",
]

# `foreach active bt` (and `foreach user bt -R ...`, which meets the same task) is left out: crash 8.0.6 cannot read the stack of the cpu stopped by NMI
# ("read of stack at fffffe... failed") where crashpy's bt shows the trace.
BT = [
    "foreach 1 bt",
    "foreach 1 2 bt",
    "foreach kernel IN bt",
    "foreach 2 bt -R schedule",
    "foreach IN bt",
    "foreach ID bt",
    "foreach 1 bt -t",
    "foreach 1 2 bt -f",
    "foreach 2 bt -s -x",
    "foreach 2 bt -s -d",
    "foreach 2 bt -T",
    "foreach 2 bt -o",
    "foreach 2 bt -e",
    "foreach 1 bt -l",
    "foreach 2 bt -F",
    "foreach 2 bt -FF",
    "foreach 2 bt -r",
]

# Commands crashpy does not have yet: compared once they are registered.
OTHER = [
    ("vm", "foreach 1 vm"),
    ("files", "foreach 1 files"),
    ("net", "foreach 1 net"),
    ("net", "foreach 1 2 net -s -S"),
    ("vtop", "foreach 1 vtop {text:x}"),
]

COMMANDS = FOREACH + BT + [c for _, c in OTHER]

# On the scale dump (about 2,000 tasks, 500 thread groups) crash 8.0.6 takes from 48 s to 284 s for
# each of these (its thread-group and user-task walks are quadratic); they are compared on the
# smaller dumps only.
SLOW_IN_CRASH = {
    "foreach user ps -G",
    "foreach ps -G",
    "foreach user ps -g",
    "foreach user task -R comm",
    "foreach sig -g",
    "foreach user ps -t",
}


def commands(name: str) -> list[str]:
    return [c for c in COMMANDS if not (name.startswith("scale.") and c in SLOW_IN_CRASH)]


@cache
def outputs(name: str) -> dict[str, tuple[str, str]]:
    paths = ensure([name])
    vmlinux, dump = paths["vmlinux"], paths[name]
    listed = commands(name)
    # Commands with "{name:x}" fields take addresses from the vmlinux's symbol table.
    addresses = {"init_task": kernel_symbol(vmlinux, "init_task"), "text": kernel_symbol(vmlinux, "_text")}
    cmds = [c.format(**addresses) for c in listed]
    expected = run_crash(vmlinux, dump, cmds)
    got = run_crashpy(vmlinux, dump, cmds)
    return {c: (e, g) for c, e, g in zip(listed, expected, got, strict=True)}


def _no_traceback(text: str) -> None:
    assert "internal error" not in text and "Traceback" not in text


@pytest.mark.parametrize("name", DUMPS)
def test_foreach_matches_crash(name: str) -> None:
    out = outputs(name)
    differ = [c for c in FOREACH if c in out and out[c][0] != out[c][1]]
    assert differ == [], differ
    assert out["foreach ps"][1].count("\n") > 50
    for c in FOREACH:
        if c in out:
            _no_traceback(out[c][1])


@pytest.mark.parametrize("name", DUMPS)
def test_foreach_bt_matches_crash(name: str) -> None:
    if "bt" not in load_all():
        pytest.skip("no bt command registered yet")
    out = outputs(name)
    dump = ensure()[name]
    console = console_functions(dump.with_name(name.split(".", 1)[0] + ".console"))
    # where crash's unwinder is wrong (stale or lost frames: tests/bt_compare.py), crashpy's frames stand
    differ = [c for c in BT if not explained(out[c][0], out[c][1], console)]
    assert differ == [], differ


@pytest.mark.parametrize("name", DUMPS)
def test_foreach_unimplemented_commands(name: str) -> None:
    out = outputs(name)
    commands = load_all()
    for keyword, c in OTHER:
        expected, got = out[c]
        _no_traceback(got)
        if keyword in commands:
            assert got == expected, c
        else:
            assert got.splitlines()[-1] == f"foreach: {keyword}: not available in crashpy yet", c
