"""Memory as crash's readmem() sees it: the pages makedumpfile left out of an ELF dump read as zeros.

crashpy's reads never hand those zeros out as data (Program.read fails on them); a command that must
print what crash prints from such a page reads through these instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.errors import AddressSpace, FaultError

if TYPE_CHECKING:
    from crashpy.program import Program

PAGE_SIZE = 4096


def read_as_crash(
    prog: Program, addr: int, size: int, space: AddressSpace = AddressSpace.KVADDR, what: str = ""
) -> bytes:
    """prog.read(), with the pages crash reads as zeros (Program.crash_reads_zeros) as zeros."""
    try:
        return prog.read(addr, size, space, what)
    except FaultError as e:
        if not prog.crash_reads_zeros(e):
            raise
    out = bytearray()
    cur, end = addr, addr + size
    while cur < end:
        n = min(end, (cur | (PAGE_SIZE - 1)) + 1) - cur
        try:
            out += prog.read(cur, n, space, what)
        except FaultError as e:
            if not prog.crash_reads_zeros(e):
                raise
            out += bytes(n)
        cur += n
    return bytes(out)


def read_u64_as_crash(prog: Program, addr: int, what: str = "") -> int:
    return int.from_bytes(read_as_crash(prog, addr, 8, AddressSpace.KVADDR, what), "little")


def accessible_as_crash(prog: Program, addr: int) -> bool:
    """crash's accessible(): whether one byte at the kernel address `addr` reads."""
    try:
        read_as_crash(prog, addr, 1)
    except FaultError:
        return False
    return True


def read_cstring_as_crash(prog: Program, addr: int, maxlen: int) -> bytes:
    """The NUL-terminated string at `addr` (without the NUL), at most `maxlen` bytes, read page by page."""
    out = bytearray()
    cur = addr
    while len(out) < maxlen:
        chunk = min(maxlen - len(out), PAGE_SIZE - (cur & (PAGE_SIZE - 1)))
        data = read_as_crash(prog, cur, chunk)
        nul = data.find(b"\0")
        if nul >= 0:
            return bytes(out + data[:nul])
        out += data
        cur += chunk
    return bytes(out)
