"""__bug_table decoding (beyond crash): synthetic entries, and the BUG() of the bug dump."""

from __future__ import annotations

import struct
from pathlib import Path

from crashpy.disasm.bug import BUGFLAG_WARNING, BugEntry, parse_bug_entries
from tests.crashpy_runner import program, run_crashpy


def test_relative_entries() -> None:
    base = 0xFFFFFFFF82000000
    # entry 0: ud2 at base - 0x100, file name at base + 0x1000 + 4; entry 1 at base + 12
    data = struct.pack("<iiHH", -0x100, 0x1000, 30, 0) + struct.pack("<iiHH", 0x10, -0x20, 7, BUGFLAG_WARNING)
    entries = parse_bug_entries(data, base)
    assert entries == [
        (base - 0x100, base + 4 + 0x1000, 30, 0),
        (base + 12 + 0x10, base + 12 + 4 - 0x20, 7, BUGFLAG_WARNING),
    ]
    assert BugEntry(0, "lib/list_debug.c", 30, 0).note == "; BUG at lib/list_debug.c:30"
    assert BugEntry(0, "mm/slub.c", 7, BUGFLAG_WARNING).note == "; WARN at mm/slub.c:7"


def test_bug_dump(paths: dict[str, Path]) -> None:
    """oracle_BUG's ud2 (module oracle_crash, the exception RIP) and vmlinux's list checks."""
    from crashpy.disasm.bug import bug_table
    from crashpy.symbols.crash_view import crash_symtab

    prog = program(paths["vmlinux"], paths["bug.elf"])
    table = {e.address: e for e in bug_table(prog)}
    start = crash_symtab(prog).value_of("oracle_BUG")
    assert start is not None
    # the exception RIP: the BUG() entry inside oracle_BUG (oracle_BUG+17 in crash's bt)
    rip = next(a for a, e in table.items() if start <= a < start + 64)
    source = (Path(__file__).resolve().parent.parent / "tools" / "trigger" / "oracle_crash.c").read_text()
    bug_line = next(n for n, text in enumerate(source.splitlines(), 1) if text.strip() == "BUG();")
    assert (table[rip].file, table[rip].line) == ("oracle_crash.c", bug_line)
    assert f"[exception RIP: oracle_BUG+{rip - start}]" in run_crashpy(paths["vmlinux"], paths["bug.elf"], ["bt"])[0]
    out = run_crashpy(
        paths["vmlinux"],
        paths["bug.elf"],
        [f"dis -w {start:#x} 4", "dis -w __list_add_valid.cold", "dis __list_add_valid.cold"],
    )
    # module symbols name the address, as in crash's `dis oracle_BUG`
    assert out[0].splitlines()[-1] == f"{rip:#x} <oracle_BUG+{rip - start}>:\tud2    ; BUG at oracle_crash.c:{bug_line}"
    assert "<__list_add_valid.cold+58>:\tud2    ; BUG at lib/list_debug.c:30\n" in out[1]
    # without -w the output is crash's: no notes
    assert "BUG at" not in out[2]
    assert out[1].replace("; BUG at lib/list_debug.c:", "").count("\n") == out[2].count("\n")
