"""`sys` on every real dump: crashpy against crash 8.0.6 on the same file, line for line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.crashpy_runner import run_crashpy
from tests.oracle import run_crash

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


def console_uptime(console: Path) -> int:
    """Seconds of the last kernel timestamp on the serial console (the panic)."""
    stamps = re.findall(r"^\[\s*(\d+)\.\d+\]", console.read_text(errors="replace"), re.M)
    return int(stamps[-1])


@pytest.mark.parametrize("name", DUMPS)
def test_sys_matches_crash(dumps: dict[str, Path], name: str) -> None:
    vmlinux, dump = dumps["vmlinux"], dumps[name]
    (expected,) = run_crash(vmlinux, dump, ["sys"])
    (got,) = run_crashpy(vmlinux, dump, ["sys"])
    exp_lines, got_lines = expected.splitlines(), got.splitlines()
    assert [line.split(":")[0] for line in got_lines] == [line.split(":")[0] for line in exp_lines]
    assert got_lines == exp_lines
    # crash's uptime agrees with the serial console's last timestamp; so must crashpy's.
    h, m, s = (int(x) for x in got_lines[4].split()[-1].split(":"))
    assert abs(h * 3600 + m * 60 + s - console_uptime(dumps[f"{name.split('.')[0]}.console"])) <= 2
