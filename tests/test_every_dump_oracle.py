"""The foundation's commands on every dump the builder makes: crashpy against crash 8.0.6, same file, one
crash session per dump.  Symbols, not addresses, so that the KASLR dump takes the same list."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from tests.crashpy_runner import both_outputs
from tests.dump_names import WITH_NMI

DUMPS = WITH_NMI

COMMANDS = [
    "sys",
    "log",
    "log -T",
    "log -m",
    "log -t -d",
    "rd -64 linux_banner 4",
    "rd -32 linux_banner 8",
    "rd -8 linux_banner 40",
    "rd -a linux_banner",
    "rd -s init_task 16",
    "rd -d jiffies 2",
    "rd -x init_uts_ns 8",
    "sym linux_banner",
    "sym schedule",
    "sym panic",
    "sym sysrq_handle_crash",
    "sym -q sysrq_handle_c",
    "sym jiffies",
    "eval jiffies+8",
    "eval 0x1f9",
    "eval -b 0x1f9",
    "eval (1 << 20) * 3",
    "eval nosuchsymbol",
    "rd nosuchsymbol",
    "sym nosuchsymbol",
    # crash runs a bare symbol or type name as p / whatis / struct
    "jiffies",
    "pid_t",
    "list_head",
    "nosuchcommand",
]


@cache
def outputs(name: str) -> tuple[list[str], list[str]]:
    return both_outputs(name, COMMANDS)


def console_uptime(console: Path) -> int:
    """Seconds of the last kernel timestamp on the serial console (the panic)."""
    stamps = re.findall(r"^\[\s*(\d+)\.\d+\]", console.read_text(errors="replace"), re.M)
    return int(stamps[-1])


@pytest.mark.parametrize("name", DUMPS)
def test_commands_match_crash(name: str) -> None:
    expected, got = outputs(name)
    differ = [c for c, e, g in zip(COMMANDS, expected, got, strict=True) if e != g]
    assert differ == [], differ
    for exp in expected:
        assert "internal error" not in exp


@pytest.mark.parametrize("name", DUMPS)
def test_uptime_agrees_with_the_console(name: str, dumps: dict[str, Path]) -> None:
    _, got = outputs(name)
    uptime = got[COMMANDS.index("sys")].splitlines()[4].split()[-1]
    h, m, s = (int(x) for x in uptime.split(":"))
    assert abs(h * 3600 + m * 60 + s - console_uptime(dumps[f"{name.split('.')[0]}.console"])) <= 2
