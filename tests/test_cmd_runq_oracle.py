"""runq on every test dump: crashpy against crash 8.0.6, same file, one crash session per dump."""

from __future__ import annotations

from functools import cache

import pytest

from tests.crashpy_runner import run_crashpy
from tests.oracle import run_crash
from tools.vmcores import ensure

DUMPS = [
    "sysrq.elf",
    "sysrq.qemu-kdump",
    "sysrq.d31.zlib",
    "sysrq.d31.lzo",
    "sysrq.d31.flat",
    "sysrq.d31.elf",
    "kaslr.elf",
    "bug.elf",
    "null.elf",
    "panic.elf",
]

RUNQ = [
    "runq",
    "runq -t",
    "runq -T",
    "runq -m",
    "runq -g",
    "runq -d",
    "runq -c 0",
    "runq -c 1",
    "runq -c 0,1",
    "runq -c 0-1",
    "runq -c all",
    "runq -c a",
    "runq -c ,1",
    "runq -c 1-",
    "runq -g -c 1",
    "runq -t -c 1",
    "runq -m -c 0",
    "runq -d -c 1",
    "runq -T -c 1",  # -T ignores -c, as crash does
    "runq -t -m",  # -t wins
    "runq -m -d -g",  # -m wins
    "runq -d -g",  # -d wins
    "set radix 16",
    "runq -t",
    "set radix 10",
    # errors: crash's one-line messages, never a traceback
    "runq -x",
    "runq -c 5",
    "runq -c 2-1",
    "runq -c 0 -c 1",
    "runq -c",
    "runq -c x",
    "runq -c 1-x",
    "runq extra",
]


@cache
def outputs(name: str) -> tuple[list[str], list[str]]:
    paths = ensure([name])
    vmlinux, dump = paths["vmlinux"], paths[name]
    return run_crash(vmlinux, dump, RUNQ), run_crashpy(vmlinux, dump, RUNQ)


@pytest.mark.parametrize("name", DUMPS)
def test_runq_matches_crash(name: str) -> None:
    expected, got = outputs(name)
    differ = [c for c, e, g in zip(RUNQ, expected, got, strict=True) if e != g]
    assert differ == [], differ
    assert "RUNQUEUE" in got[0] and "CFS RB_ROOT" in got[0]
    for out in got:
        assert "internal error" not in out and "Traceback" not in out
