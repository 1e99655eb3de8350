"""Finding the KASLR offset and phys_base without VMCOREINFO, from the CPU state QEMU saves in the dump.

The IDT's first gate points at the relocated divide-error handler; its distance from the vmlinux's
symbol is the KASLR offset (crash's `--kaslr auto` does the same from the IDTR). The page tables of
CR3 then tell where the kernel text lies physically, which gives phys_base.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from crashpy.arch.x86_64 import START_KERNEL_MAP, X86_64
from crashpy.dumpfile.base import Note
from crashpy.errors import FaultError

# struct QEMUCPUState (QEMU target/i386/arch_dump.c): two u32, 18 u64 registers, ten 24-byte segments
_IDT_BASE = 8 + 18 * 8 + 9 * 24 + 16
_CR3 = 8 + 18 * 8 + 10 * 24 + 3 * 8
DIVIDE_ERROR_HANDLERS = ("asm_exc_divide_error", "divide_error")


def qemu_cpu_registers(notes: list[Note]) -> list[tuple[int, int]]:
    """(cr3, idt base) of every CPU the QEMU notes describe."""
    out = []
    for note in notes:
        if note.name == "QEMU" and len(note.desc) >= _CR3 + 8:
            (idt,) = struct.unpack_from("<Q", note.desc, _IDT_BASE)
            (cr3,) = struct.unpack_from("<Q", note.desc, _CR3)
            out.append((cr3, idt))
    return out


def find_kaslr(
    read_phys: Callable[[int, int], bytes],
    notes: list[Note],
    link_address: Callable[[str], int | None],
) -> tuple[int, int] | None:
    """(KASLR offset, phys_base) from the dump's CPU state, or None when it cannot be told."""
    handler_link = next((a for a in map(link_address, DIVIDE_ERROR_HANDLERS) if a is not None), None)
    stext_link = link_address("_stext") or link_address("_text")
    if handler_link is None or stext_link is None:
        return None
    for cr3, idt in qemu_cpu_registers(notes):
        if not cr3 or not idt:
            continue
        walker = X86_64(read_phys, 0, cr3 & ~0xFFF)
        try:
            gate = read_phys(walker.walk(cr3 & ~0xFFF, idt), 16)
            lo, _sel, _flags, mid, hi = struct.unpack_from("<HHHHI", gate)
            handler = lo | mid << 16 | hi << 32
            offset = (handler - handler_link) & 0xFFFFFFFFFFFFFFFF
            if offset >= 1 << 63:
                continue
            stext = stext_link + offset
            phys_base = walker.walk(cr3 & ~0xFFF, stext) - (stext - START_KERNEL_MAP)
        except FaultError:
            continue
        return offset, phys_base & 0xFFFFFFFFFFFFFFFF
    return None
