"""sys's options (-t, -c, -i, -panic, config) and ascii: crashpy against crash 8.0.6, text for text,
one crash session per dump.  bug.elf has an out-of-tree module loaded (taint letters O and E besides
D from the BUG).  ascii's values are words read from each dump (linux_banner's first bytes), with
bytes of every kind; bad options and values get crash's one-line errors."""

from __future__ import annotations

from functools import cache

import pytest

from crashpy.commands.ascii import chart_lines, value_line
from tests.crashpy_runner import both_outputs, describe, program, run_crashpy
from tools.vmcores import ensure

DUMPS = ["sysrq.elf", "kaslr.elf", "la57.elf", "bug.elf"]

COMMANDS = [
    "sys -t",
    "sys -i",
    "sys config",
    "sys -panic",
    "sys -c",
    "sys -c read",
    "sys -c 59",
    "sys -c 0x3b",
    "sys -c 9999",
    "sys -c nosuch",
    "sys -c open close",
    "sys -c SYSTEM",
    "sys -t foo",
    "sys -i -t",
    "sys",
    "ascii",
    "ascii 0x4142",
    "ascii 68656c6c6f20776f726c64",
    "ascii zz",
    "ascii 41 zz 42",
    "ascii -x",
    "ascii ffffffffffffffff 7f1f0a00",
    "sys -c -c 1",
    "sys -c read -t",
    "sys config -c",
    "set radix 16",  # sys -c numbers its entries, and reads a number, in the output radix
    "sys -c 3b",
    "sys -c 59",
    "sys -c exec",
    "set radix 10",
]

BAD_INPUT = [
    "sys -x",
    "sys -p",
    "sys -pfoo",
    "sys foo",
    "sys -c -q",
    "sys -q -t",
]


@cache
def commands(name: str) -> list[str]:
    """COMMANDS, BAD_INPUT and ascii of words from the dump's linux_banner."""
    paths = ensure([name])
    prog = program(paths["vmlinux"], paths[name])
    banner = prog.read(prog.symbol_address("linux_banner"), 32)
    words = [int.from_bytes(banner[k : k + 8], "little") for k in range(0, 32, 8)]
    return COMMANDS + BAD_INPUT + [f"ascii {w:x}" for w in words] + ["ascii " + " ".join(f"{w:x}" for w in words)]


@cache
def outputs(name: str) -> tuple[list[str], list[str]]:
    return both_outputs(name, commands(name))


@pytest.mark.parametrize("name", DUMPS)
def test_sys_options_and_ascii_match_crash(name: str) -> None:
    expected, got = outputs(name)
    bad = [(c, e, g) for c, e, g in zip(commands(name), expected, got, strict=True) if e != g]
    assert not bad, describe(bad)


def test_bug_dump_is_tainted() -> None:
    """The out-of-tree module of bug.elf shows in the taint letters (O), with the BUG's D."""
    expected, _ = outputs("bug.elf")
    line = expected[commands("bug.elf").index("sys -t")]
    assert line.startswith("TAINTED_MASK: ")
    assert "O" in line.split()[2] and "D" in line.split()[2]


def test_ascii_without_a_dump() -> None:
    assert value_line(0x6C6C6568) == "000000006c6c6568: hell<NUL><NUL><NUL><NUL>"
    assert value_line(0x80_7F_0A) == "0000000000807f0a: <LF><DEL><80><NUL><NUL><NUL><NUL><NUL>"
    assert len(chart_lines()) == 20


def test_truncated_dump_gives_read_errors() -> None:
    """crash 8.0.6 does not start on sysrq.d31.zlib.trunc40 (it ends inside gdb's start-up), so there
    is nothing to compare: crashpy answers each option with crash's one-line read error instead."""
    name = "sysrq.d31.zlib.trunc40"
    paths = ensure([name])
    got = run_crashpy(paths["vmlinux"], paths[name], ["sys -t", "sys -i", "sys -c"])
    for text, what in zip(got, ("tainted_mask", "dmi_ident", "sys_call_table"), strict=True):
        lines = text.splitlines()
        if lines and lines[0].startswith("sys: read error"):
            assert lines == [lines[0]] and f'type: "{what}"' in lines[0]
        else:  # the page is in this dump after all: a listing, no traceback
            assert "Traceback" not in text
