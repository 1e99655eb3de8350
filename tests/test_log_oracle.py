"""`log` and its options on real dumps: crashpy against crash 8.0.6 on the same file, line for line."""

from __future__ import annotations

from pathlib import Path

import pytest

from crashpy.commands import log as logcmd
from crashpy.helpers import printk
from tests.crashpy_runner import program, run_crashpy

DUMPS = ["sysrq.elf", "sysrq.d31.zlib"]
SOURCE_OF = {"sysrq.d31.zlib": "sysrq.elf"}  # makedumpfile made it from this dump: the same log
COMMANDS = [
    "log",
    "log -t",
    "log -m",
    "log -d",
    "log -c",
    "log -a",
    "log -s",
    "log -tdmc",
    "log -c -m -d",
    "log -dm",
    "log -a -t",
    "log -s -m",
    "log foo",
    "log -- -t",
    "log -x",
    "log -xy",
    "log -tx",
]
OTHER_DUMPS = [
    "bug.elf",
    "null.elf",
    "panic.elf",
    "kaslr.elf",
    "sysrq.qemu-kdump",
    "sysrq.d31.lzo",
    "sysrq.d31.flat",
    "sysrq.d31.elf",
    "la57.elf",
    "la57bug.d31.zlib",
    "scale.d31.zlib",
]
OTHER_COMMANDS = ["log", "log -tdmc", "log -T"]
CTIME_COMMANDS = ["log -T", "log -Tc", "log -Tm"]


def _oracle_binary() -> Path:
    from tests.oracle import ORACLE_VERSION, cache_root

    return cache_root() / f"crash-{ORACLE_VERSION}" / "crash"


def run_crash(vmlinux: Path, dump: Path, commands: list[str]) -> list[str]:
    from tests.oracle import run_crash as oracle

    return oracle(vmlinux, dump, commands)


def crash_outputs(paths: dict[str, Path], name: str, commands: list[str]) -> list[str]:
    return run_crash(paths["vmlinux"], paths[name], commands)


def _unreadable(output: str) -> bool:
    return output.startswith("\nWARNING: cannot read ")


@pytest.mark.parametrize("name", DUMPS)
def test_log_matches_crash(paths: dict[str, Path], name: str) -> None:
    expected = crash_outputs(paths, name, COMMANDS)
    got = run_crashpy(paths["vmlinux"], paths[name], COMMANDS)
    for command, exp, mine in zip(COMMANDS, expected, got, strict=True):
        if _unreadable(exp) and name in SOURCE_OF:
            # crash reads the whole descriptor/info array at once and gives up on the first page
            # makedumpfile left out (unused, all-zero descriptors): crashpy reads around such
            # pages, so its log is the one of the dump this one was made from.
            (exp,) = crash_outputs(paths, SOURCE_OF[name], [command])
        assert mine.splitlines() == exp.splitlines(), command
        assert mine == exp, command


@pytest.mark.parametrize("name", OTHER_DUMPS)
def test_log_matches_crash_on_other_dumps(paths: dict[str, Path], name: str) -> None:
    vmcores = pytest.importorskip("tools.vmcores")
    try:
        path = vmcores.ensure([name])[name]
    except vmcores.BuildError as e:
        pytest.skip(f"{name} not available: {e}")
    expected = run_crash(paths["vmlinux"], path, OTHER_COMMANDS)
    got = run_crashpy(paths["vmlinux"], path, OTHER_COMMANDS)
    for command, exp, mine in zip(OTHER_COMMANDS, expected, got, strict=True):
        assert mine.splitlines() == exp.splitlines(), command
        assert mine == exp, command


@pytest.mark.parametrize("name", DUMPS)
def test_log_ctime_matches_crash(paths: dict[str, Path], name: str) -> None:
    """-T: wall-clock dates from crash's boot time (xtime less jiffies / crash's HZ)."""
    vmlinux, dump = paths["vmlinux"], paths[name]
    expected = crash_outputs(paths, name, CTIME_COMMANDS)
    got = run_crashpy(vmlinux, dump, CTIME_COMMANDS)
    for command, exp, mine in zip(CTIME_COMMANDS, expected, got, strict=True):
        if _unreadable(exp) and name in SOURCE_OF:
            (exp,) = crash_outputs(paths, SOURCE_OF[name], [command])
        assert mine.splitlines() == exp.splitlines(), command
        assert mine == exp, command


def test_crash_hz(paths: dict[str, Path]) -> None:
    """crash takes HZ from mq-deadline's write_expire (5 * HZ) here: the kernel's real 250."""
    prog = program(paths["vmlinux"], paths["sysrq.elf"])
    assert printk.crash_hz(prog) == printk.tick_hz(prog) == 250
    (kernel_info,) = crash_outputs(paths, "sysrq.elf", ["help -k"])
    boot_date = next(line for line in kernel_info.splitlines() if line.strip().startswith("boot_date:"))
    assert boot_date.split(":", 1)[1].strip() == logcmd.ctime_tz(printk.crash_boot_time(prog))


@pytest.mark.parametrize("name", ["sysrq.elf.trunc40", "sysrq.d31.zlib.trunc40"])
def test_log_on_truncated_dumps(paths: dict[str, Path], name: str) -> None:
    """On a dump cut short (opened --minimal, as crash can only open these): every line crashpy
    prints is a line of the whole dump's log or a `log:` line naming what is missing; where crash
    prints a log, it is the same."""
    vmcores = pytest.importorskip("tools.vmcores")
    try:
        path = vmcores.ensure([name])[name]
    except vmcores.BuildError as e:
        pytest.skip(f"{name} not available: {e}")
    from tests.oracle import run_crash_session

    (whole,) = crash_outputs(paths, "sysrq.elf", ["log"])
    (mine,) = run_crashpy(paths["vmlinux"], path, ["log"], minimal=True)
    whole_lines = set(whole.splitlines())
    for line in mine.splitlines():
        assert line in whole_lines or line.startswith("log: "), line
    crash = run_crash_session(paths["vmlinux"], path, ["log"], minimal=True)
    if crash.completed and "Linux version" in crash.outputs[0]:
        assert mine == crash.outputs[0]
