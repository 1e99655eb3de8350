"""The vmlinux symbol table: every symbol, address and nm class letter as binutils' nm gives them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from crashpy.elf import ElfFile
from crashpy.symbols.table import SymbolTable
from tests.kernel_facts import symbol as kernel_symbol


def test_symbols_equal_nm(vmlinux: Path) -> None:
    nm = subprocess.run(["nm", str(vmlinux)], capture_output=True, text=True, check=True).stdout
    table = SymbolTable()
    table.add_vmlinux(ElfFile(str(vmlinux)))
    mine = sorted(f"{s.address:016x} {s.type} {s.name}" for s in table.all())
    assert mine == sorted(line for line in nm.splitlines() if line.strip())


def test_lookup_prefers_globals_and_relocates(vmlinux: Path) -> None:
    table = SymbolTable()
    table.add_vmlinux(ElfFile(str(vmlinux)), 0x1CE00000)
    banner = table.lookup("linux_banner")
    assert banner is not None and banner.address == kernel_symbol(vmlinux, "linux_banner") + 0x1CE00000
    assert table.lookup("no_such_symbol_anywhere") is None
    found = table.containing(kernel_symbol(vmlinux, "startup_64") + 5 + 0x1CE00000)
    assert found is not None and found[0].name in ("startup_64", "_stext", "_text") and found[1] == 5
