"""Memory as crash's readmem() sees it: the pages makedumpfile left out of an ELF dump read as zeros.

crashpy's reads never hand those zeros out as data (Program.read fails on them); a command that must
print what crash prints from such a page reads through these instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from crashpy.errors import AddressSpace, FaultError

if TYPE_CHECKING:
    from crashpy.program import Program

PAGE_SIZE = 4096


def _zeros_where_crash_has_them(prog: Program, read: Callable[[int, int], bytes], addr: int, size: int) -> bytes:
    """read(addr, size), and where it fails on a page crash reads as zeros, those zeros, page by page."""
    try:
        return read(addr, size)
    except FaultError as e:
        if not prog.crash_reads_zeros(e):
            raise
    out = bytearray()
    cur, end = addr, addr + size
    while cur < end:
        n = min(end, (cur | (PAGE_SIZE - 1)) + 1) - cur
        try:
            out += read(cur, n)
        except FaultError as e:
            if not prog.crash_reads_zeros(e):
                raise
            out += bytes(n)
        cur += n
    return bytes(out)


def read_as_crash(
    prog: Program, addr: int, size: int, space: AddressSpace = AddressSpace.KVADDR, what: str = ""
) -> bytes:
    """prog.read(), with the pages crash reads as zeros (Program.crash_reads_zeros) as zeros."""
    return _zeros_where_crash_has_them(prog, lambda a, n: prog.read(a, n, space, what), addr, size)


def read_user_as_crash(prog: Program, mm: int, addr: int, size: int, what: str = "") -> bytes:
    """crash's readmem(UVADDR) in the context of a task whose struct mm_struct is `mm`: through the
    task's page tables (mm->pgd), the pages crash reads as zeros as zeros.  A kernel thread (mm 0)
    fails where crash does, reading mm->pgd at the member's offset from address 0."""
    from crashpy.errors import FaultKind

    pgd_at = mm + prog.offsetof("mm_struct", "pgd")
    if not mm:
        raise FaultError(pgd_at, FaultKind.INVALID, AddressSpace.KVADDR, "mm_struct pgd")
    space = prog.user_memory(read_u64_as_crash(prog, pgd_at, "mm_struct pgd"))
    return _zeros_where_crash_has_them(prog, lambda a, n: space.read(a, n, what), addr, size)


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
