"""Finding the KASLR offset and phys_base without VMCOREINFO, from the CPU state QEMU saves in the dump.

The IDT's first gate points at the relocated divide-error handler; its distance from the vmlinux's
symbol is the KASLR offset (crash's `--kaslr auto` does the same from the IDTR). The page tables of
CR3 then tell where the kernel text lies physically, which gives phys_base.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from crashpy.arch.x86_64 import START_KERNEL_MAP
from crashpy.bits import MASK64
from crashpy.dumpfile.base import Note
from crashpy.errors import FaultError

# struct QEMUCPUState (QEMU target/i386/arch_dump.c): two u32, 18 u64 registers, ten 24-byte segments
# (cs ds es fs gs ss ldt tr gdt idt), then cr[5].
_IDT_BASE = 8 + 18 * 8 + 9 * 24 + 16
_CR3 = 8 + 18 * 8 + 10 * 24 + 3 * 8
_CR4 = _CR3 + 8
DIVIDE_ERROR_HANDLERS = ("asm_exc_divide_error", "divide_error")
X86_CR4_LA57 = 1 << 12

# (root page table, virtual address) -> physical address, or None where it is not mapped
Walk = Callable[[int, int, bool], "int | None"]


def qemu_cpu_registers(notes: list[Note]) -> list[tuple[int, int, int]]:
    """(cr3, idt base, cr4) of every CPU the QEMU notes describe."""
    out = []
    for note in notes:
        if note.name == "QEMU" and len(note.desc) >= _CR4 + 8:
            (idt,) = struct.unpack_from("<Q", note.desc, _IDT_BASE)
            (cr3,) = struct.unpack_from("<Q", note.desc, _CR3)
            (cr4,) = struct.unpack_from("<Q", note.desc, _CR4)
            out.append((cr3, idt, cr4))
    return out


def qemu_cr4(notes: list[Note]) -> list[int]:
    """CR4 of every CPU the QEMU notes describe."""
    return [cr4 for _cr3, _idt, cr4 in qemu_cpu_registers(notes)]


def find_kaslr(
    read_phys: Callable[[int, int], bytes],
    notes: list[Note],
    link_address: Callable[[str], int | None],
    walk: Walk,
) -> tuple[int, int] | None:
    """(KASLR offset, phys_base) from the dump's CPU state, or None when it cannot be told.
    `walk(root, vaddr, five_level)` translates through the page tables at physical `root`."""
    handler_link = next((a for a in map(link_address, DIVIDE_ERROR_HANDLERS) if a is not None), None)
    stext_link = link_address("_stext") or link_address("_text")
    if handler_link is None or stext_link is None:
        return None
    for cr3, idt, cr4 in qemu_cpu_registers(notes):
        if not cr3 or not idt:
            continue
        root, five = cr3 & ~0xFFF, bool(cr4 & X86_CR4_LA57)
        gate_paddr = walk(root, idt, five)
        if gate_paddr is None:
            continue
        try:
            gate = read_phys(gate_paddr, 16)
        except FaultError:
            continue
        lo, _sel, _flags, mid, hi = struct.unpack_from("<HHHHI", gate)
        handler = lo | mid << 16 | hi << 32
        offset = (handler - handler_link) & MASK64
        if offset >= 1 << 63:
            continue
        stext = stext_link + offset
        text_paddr = walk(root, stext, five)
        if text_paddr is None:
            continue
        return offset, (text_paddr - (stext - START_KERNEL_MAP)) & MASK64
    return None
