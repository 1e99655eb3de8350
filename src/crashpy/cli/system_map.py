"""System.map given on the command line: checked against the vmlinux, or the symbol table when there is
no vmlinux symbol table."""

from __future__ import annotations

from crashpy.bits import MASK64
from crashpy.errors import StartupError
from crashpy.program import Program
from crashpy.symbols.table import Symbol

# Symbols every x86_64 kernel has, at addresses that differ between any two builds.
ANCHORS = ("_stext", "_etext", "_sdata", "_edata", "__bss_start", "_end", "linux_banner", "init_task")
_KERNEL_IMAGE_BASE = 0xFFFFFFFF80000000


def read_system_map(path: str) -> list[tuple[str, int, str]]:
    """(name, link-time address, nm letter) for every line of a System.map."""
    out: list[tuple[str, int, str]] = []
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) != 3:
                    continue
                try:
                    addr = int(parts[0], 16)
                except ValueError:
                    continue
                out.append((parts[2], addr, parts[1]))
    except OSError as e:
        raise StartupError(f"{path}: {e.strerror}") from None
    if not out:
        raise StartupError(f"{path}: not a System.map file")
    return out


def check_system_map(prog: Program, path: str) -> int:
    """Refuse a System.map that is not the vmlinux's; returns how many anchor symbols agreed."""
    entries = {name: addr for name, addr, _letter in read_system_map(path)}
    agreed = 0
    for name in ANCHORS:
        sym = prog.symbols.lookup(name)
        if name not in entries or sym is None:
            continue
        if sym.address - prog.kaslr_offset != entries[name]:
            raise StartupError(f"{path} and {prog.vmlinux_path} do not match!")
        agreed += 1
    if not agreed:
        raise StartupError(f"{path} and {prog.vmlinux_path} have no symbols in common")
    return agreed


def load_system_map(prog: Program, path: str) -> int:
    """Add the System.map's symbols (relocated by the KASLR offset) to a Program without a vmlinux."""
    count = 0
    for name, addr, letter in read_system_map(path):
        if addr >= _KERNEL_IMAGE_BASE and prog.kaslr_offset:
            addr = (addr + prog.kaslr_offset) & MASK64
        prog.symbols.add(Symbol(name, addr, letter))
        count += 1
    return count
