"""eval, rd, sym, set, help on real dumps: crashpy against crash 8.0.6 on the same file, byte for byte.

All commands of a dump run in one session on each side, in the order listed: crash's address
look-ups remember where the last one ended (symbols.c symval_hash_search), and crashpy's do too, so
the order is part of what is compared.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from crashpy.commands.help import format_menu
from crashpy.errors import AddressSpace, FaultError, FaultKind
from tests.crashpy_runner import program, run_crashpy
from tests.kernel_facts import symbol as kernel_symbol
from tests.kernel_facts import symbols as kernel_symbols

DUMPS = ["sysrq.elf", "sysrq.d31.zlib", "la57.d31.zlib"]

START_KERNEL_MAP = 0xFFFFFFFF80000000  # x86_64's __START_KERNEL_map: the same in every kernel
DIRECT_MAP = 0xFFFF888000000000  # x86_64's page_offset_base with 4-level paging and without KASLR

# Commands with "{name:x}" fields take addresses of the vmlinux at hand (addresses(): the dumps come
# from whichever 6.1 cloud kernel tools/vmcores.py builds).
COMMANDS = [
    # crash runs with -s; "set silent on" prints nothing on either side and makes `set -v` agree.
    "set silent on",
    # eval
    "eval 128m",
    "eval 0x100 + 16",
    "eval (1 << 32)",
    "eval 1 << 2",
    "eval -b 41dc065",
    "eval -lb 64g",
    "eval -5",
    "eval 0x10 - 0x20",
    "eval ~0",
    "eval 4k*3",
    "eval 5 k",
    "eval 10 % 3",
    "eval 2 # 10",
    "eval linux_banner",
    "eval jiffies+8",
    "eval ~jiffies",
    "eval 0xfffff00000000000",
    "eval 99999999999999999999999",
    "eval ffffffffffffffffff",
    "eval 1 2",
    "eval foo",
    "eval -b",
    "eval",
    # rd: sizes, formats, ranges
    "rd -64 linux_banner 8",
    "rd -32 linux_banner 9",
    "rd -16 linux_banner 17",
    "rd -8 linux_banner 33",
    "rd linux_banner",
    "rd -a linux_banner",
    "rd -a linux_banner 100",
    "rd -x linux_banner 4",
    "rd -d jiffies",
    "rd -D jiffies",
    "rd -d -32 linux_banner 4",
    "rd -D -16 linux_banner 4",
    "rd -d -8 linux_banner 4",
    "rd -N -32 linux_banner 4",
    "rd -N -16 linux_banner 4",
    "rd -o 8 linux_banner 2",
    "rd linux_banner -e {banner_1c:x}",
    "rd -32 linux_banner -e {banner_1c:x}",
    "rd -R linux_banner 3",
    "rd -64 linux_banner 3 -x",
    "rd -s init_task 16",
    "rd -s sys_call_table 8",
    "rd -s -32 linux_banner 2",
    "rd -p {banner_phys:x} 4",
    "rd -p 1000 8",
    "rd -p 100000000 2",
    "rd -64 ffff888000000000 4",
    "rd -f 20 4",
    "rd -8 -f 0 16",
    "rd -a -f 0",
    # rd: errors
    "rd -f 7fffffffff 2",
    "rd -f 8000000000000000 2",
    "rd ffffffffff000000 4",
    "rd 1000",
    "rd -u linux_banner",
    "rd linux_banner+8",
    "rd nosuch_symbol",
    "rd sysrq_handle",
    "rd linux_banner 0",
    "rd linux_banner xyz",
    "rd -e 10 linux_banner",
    "rd 11112222333344445",
    "rd -32 -s linux_banner",
    "rd -z linux_banner",
    "rd",
    # sym
    "sym linux_banner",
    "sym {text_5:x}",
    "sym {text:x}",
    "sym _text",
    "sym init_task",
    "sym sysrq_handle_crash",
    "sym -q sysrq_handle",
    "sym -q .data",
    "sym -Q sysrq_handle_cr",
    "sym -n jiffies",
    "sym -p jiffies",
    "sym -n -p sysrq_handle_crash",
    "sym -s sysrq_handle_crash",
    "sym -s linux_banner",
    "sym runqueues",
    "sym -s runqueues",
    "sym {runqueues:x}",  # runqueues' per-CPU offset
    "sym {jiffies_4:x}",
    "sym {jiffies_4:x},",
    "sym {sysrq_handle_crash_5:x} {jiffies:x}",  # jiffies and jiffies_64 share an address
    "sym {sdata:x}",
    "sym sysrq_handler",
    "sym {last:x}",  # the highest symbol
    "sym {last_1:x}",
    "sym 0",
    "sym add",
    "sym nosuch",
    "sym 111122223333444455",
    "sym",
    "sym -z",
    # set, help
    "set -v",
    "set radix 16",
    "sym {text_5:x}",
    "rd -s sys_call_table 2",
    "set radix",
    "set dec",
    "set radix 8",
    "set scroll on",
    "set print_max 0x20",
    "set hash off",
    "set core",
    "set null-stop on",
    "set offline hide",
    "set edit emacs",
    "set bogus",
    "help -z",
    "help nosuch",
    "nosuchcommand",
]

# Intentional differences: crashpy command -> the crash command whose output it must equal.
# crash's rd evaluates a parenthesized address with evall(), which on 64-bit machines returns a
# field eval_common() never sets: it always reads address 0.  crashpy reads the evaluated address.
EQUIVALENT = {"rd (linux_banner + 8) 2": "rd {banner_8:x} 2"}

MINIMAL_COMMANDS = [
    "set silent on",
    "set",
    "set 1",
    "set -p",
    "set bogus",
    "set radix 16",
    "sym {text_5:x}",
    "rd linux_banner",
    "eval 5",
    "help nosuch",
]


@cache
def addresses(vmlinux: Path) -> dict[str, int]:
    """The addresses COMMANDS name, from the vmlinux's symbol table (link-time addresses: the sysrq
    dumps run without KASLR)."""
    banner = kernel_symbol(vmlinux, "linux_banner")
    text = kernel_symbol(vmlinux, "_text")
    jiffies = kernel_symbol(vmlinux, "jiffies")
    assert kernel_symbol(vmlinux, "jiffies_64") == jiffies
    return {
        "banner": banner,
        "banner_8": banner + 8,
        "banner_1c": banner + 0x1C,
        "banner_phys": banner - START_KERNEL_MAP,
        "text": text,
        "text_5": text + 5,
        "jiffies": jiffies,
        "jiffies_4": jiffies + 4,
        "sysrq_handle_crash_5": kernel_symbol(vmlinux, "sysrq_handle_crash") + 5,
        "runqueues": kernel_symbol(vmlinux, "runqueues"),
        "sdata": kernel_symbol(vmlinux, "_sdata"),
        "last": max(sym.value for sym in kernel_symbols(vmlinux)),
        "last_1": max(sym.value for sym in kernel_symbols(vmlinux)) + 1,
    }


def with_addresses(vmlinux: Path, commands: list[str], slide: int = 0) -> list[str]:
    """COMMANDS with their addresses; `slide` (a KASLR dump's offset) moves the kernel's virtual
    addresses, for commands that must name the same object as crash's symbol expression does."""
    facts = {k: v if k == "banner_phys" else v + slide for k, v in addresses(vmlinux).items()}
    return [command.format(**facts) for command in commands]


def _oracle_binary() -> Path:
    from tests.oracle import ORACLE_VERSION, cache_root

    return cache_root() / f"crash-{ORACLE_VERSION}" / "crash"


def _excluded_page(vmlinux: Path, dump: Path) -> int | None:
    """A page of the kernel image that makedumpfile left out (a freed gap: text/rodata, rodata/data or
    init), right after one it kept.  Which gap pages are free, and so excluded, depends on the run."""
    prog = program(vmlinux, dump)
    for first, last in (("_etext", "__start_rodata"), ("__end_rodata", "_sdata"), ("__init_begin", "__init_end")):
        start = prog.symbols.lookup(first)
        end = prog.symbols.lookup(last)
        if start is None or end is None:
            continue
        page = (start.address + 0xFFF) & ~0xFFF
        kept = False
        while page < end.address:
            try:
                prog.read(page, 8, AddressSpace.KVADDR)
                kept = True
            except FaultError as e:
                if kept and e.kind is FaultKind.EXCLUDED:
                    return page
                kept = False
            page += 0x1000
    return None


def fault_commands(page: int) -> list[str]:
    """Reads that run from a kept page into an excluded one: the good items, then crash's error."""
    return [
        f"rd -64 {page - 0x10:x} 4",
        f"rd -64 {page - 0x20:x} 8",
        f"rd -32 {page - 8:x} 4",
        f"rd -16 {page - 4:x} 4",
        f"rd -8 {page - 4:x} 8",
        f"rd -64 {page - 4:x} 2",
        f"rd -s {page - 0x10:x} 4",
        f"rd -d {page - 0x10:x} 4",
        f"rd -x {page - 0x10:x} 4",
        f"rd -a {page - 0x10:x} 30",
        f"rd {page:x}",
        f"rd {page:x} -e {page + 0x10:x}",
        f"rd -p {page - START_KERNEL_MAP - 0x10:x} 4",
        f"rd -64 {page - START_KERNEL_MAP + DIRECT_MAP - 0x20:x} 8",
    ]


@cache
def outputs(vmlinux: Path, dump: Path, minimal: bool) -> tuple[list[str], list[str], list[str]]:
    """(commands, crash's outputs, crashpy's outputs) for one dump."""
    from tests.oracle import run_crash

    if minimal:
        commands = with_addresses(vmlinux, MINIMAL_COMMANDS)
        mine = run_crashpy(vmlinux, dump, commands, minimal=True)
        return commands, run_crash(vmlinux, dump, commands, minimal=True), mine
    commands = with_addresses(vmlinux, COMMANDS + list(EQUIVALENT))
    page = _excluded_page(vmlinux, dump)
    if page is not None:
        commands += fault_commands(page)
    # dump file offsets running past the end: crash reports each lost item and goes on
    size = dump.stat().st_size
    commands += [f"rd -f {size - 24:x} 5", f"rd -32 -f {size - 8:x} 3"]
    slide = program(vmlinux, dump).kaslr_offset
    equivalent = dict(zip(EQUIVALENT, with_addresses(vmlinux, list(EQUIVALENT.values()), slide), strict=True))
    crash_commands = [equivalent.get(c, c) for c in commands]
    return commands, run_crash(vmlinux, dump, crash_commands), run_crashpy(vmlinux, dump, commands)


@pytest.mark.parametrize("name", DUMPS)
def test_commands_match_crash(paths: dict[str, Path], name: str) -> None:
    commands, expected, got = outputs(paths["vmlinux"], paths[name], False)
    assert len(commands) >= 25
    mismatched = [c for c, e, g in zip(commands, expected, got, strict=True) if e != g]
    for command, exp, mine in zip(commands, expected, got, strict=True):
        assert mine == exp, f"{command!r} differs (all that differ: {mismatched})"


def test_excluded_page_is_exercised(paths: dict[str, Path]) -> None:
    """The filtered dump has a page in the kernel image gap that reads as excluded in crash too."""
    commands, expected, _got = outputs(paths["vmlinux"], paths["sysrq.d31.zlib"], False)
    faults = [e for c, e in zip(commands, expected, strict=True) if "page excluded" in e]
    assert len(faults) >= 10
    # crash leaves the line it was printing unfinished and puts its error right after it
    partial = [line for e in faults for line in e.splitlines() if not line.startswith("rd: page excluded")]
    assert any(line.endswith(" ") is False and " rd: page excluded: " in line for line in partial)


def test_minimal_mode_matches_crash(paths: dict[str, Path]) -> None:
    commands, expected, got = outputs(paths["vmlinux"], paths["sysrq.elf"], True)
    for command, exp, mine in zip(commands, expected, got, strict=True):
        assert mine == exp, command


def test_sym_l_kernel_part_matches_crash(paths: dict[str, Path]) -> None:
    """`sym -l`: every kernel symbol, in crash's order, with crash's type letters, then each module's
    symbols from the dump's module kallsyms (tests/test_cmd_compat_oracle.py compares more dumps)."""
    from tests.oracle import run_crash

    vmlinux, dump = paths["vmlinux"], paths["sysrq.elf"]
    (expected,) = run_crash(vmlinux, dump, ["sym -l"])
    (got,) = run_crashpy(vmlinux, dump, ["sym -l"])
    assert got == expected


def test_help_pages_have_crashs_shape(paths: dict[str, Path]) -> None:
    """Help text is crashpy's own words; the menu layout, the page layout and each synopsis are crash's."""

    from tests.oracle import run_crash

    vmlinux, dump = paths["vmlinux"], paths["sysrq.elf"]
    commands = ["help", "help rd", "help eval", "help sym", "help set", "help log", "help q"]
    expected = run_crash(vmlinux, dump, commands)
    got = run_crashpy(vmlinux, dump, commands)
    # The menu: crash's own command list laid out by crashpy's code is crash's menu.
    menu = expected[0]
    lines = menu.split("\n")
    version = next(line for line in lines if " version: " in line)
    rows = [r.split() for r in lines[1 : lines.index("", 1)]]
    names = [r[c] for c in range(max(map(len, rows))) for r in rows if len(r) > c]
    assert len(names) > 40 and names[-1] == "q"
    assert format_menu(names, version) == menu
    assert got[0].startswith("\n") and 'For help on any command above, enter "help <command>".' in got[0]
    for command, exp, mine in zip(commands[1:], expected[1:], got[1:], strict=True):
        exp_lines, my_lines = exp.split("\n"), mine.split("\n")
        assert my_lines[:3] == exp_lines[:3] and my_lines[1] == "NAME", command
        for header in ("SYNOPSIS", "DESCRIPTION"):
            assert header in my_lines, command
            k, j = exp_lines.index(header), my_lines.index(header)
            if header == "SYNOPSIS":
                assert my_lines[j : j + 2] == exp_lines[k : k + 2], command
        assert mine.endswith("\n\n") and not mine.endswith("\n\n\n"), command


def test_rd_raw_to_file(paths: dict[str, Path], tmp_path: Path) -> None:
    from tests.oracle import run_crash

    vmlinux, dump = paths["vmlinux"], paths["sysrq.elf"]
    (expected,) = run_crash(vmlinux, dump, ["rd -r /tmp/crashpy-rd-raw.bin linux_banner 100"])
    out = tmp_path / "raw.bin"
    (got,) = run_crashpy(vmlinux, dump, [f"rd -r {out} linux_banner 100"])
    assert got == expected.replace("/tmp/crashpy-rd-raw.bin", str(out))
    assert out.read_bytes() == program(vmlinux, dump).read(addresses(vmlinux)["banner"], 100)
