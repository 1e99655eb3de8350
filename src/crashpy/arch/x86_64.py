"""x86_64 address translation: kernel text map, direct map, and 4/5-level page-table walks."""

from __future__ import annotations

import struct
from collections.abc import Callable

from crashpy.errors import AddressSpace, FaultError, FaultKind

START_KERNEL_MAP = 0xFFFFFFFF80000000
DEFAULT_PAGE_OFFSET = 0xFFFF888000000000
DEFAULT_PAGE_OFFSET_L5 = 0xFF11000000000000
DEFAULT_VMEMMAP = 0xFFFFEA0000000000
PAGE_SIZE = 4096
PAGE_MASK = ~(PAGE_SIZE - 1) & 0xFFFFFFFFFFFFFFFF
_PHYS_MASK = 0x000FFFFFFFFFF000
_PRESENT = 0x1
_PSE = 0x80

# (name, shift) from the top level down; a level whose entry has _PSE maps a huge page there.
LEVELS_4 = (("pgd", 39), ("pud", 30), ("pmd", 21), ("pte", 12))
LEVELS_5 = (("pgd", 48), ("p4d", 39), ("pud", 30), ("pmd", 21), ("pte", 12))


def canonical(addr: int) -> bool:
    top = addr >> 47
    return top == 0 or top == 0x1FFFF


class X86_64:
    """Translates kernel virtual addresses of one x86_64 kernel."""

    def __init__(
        self,
        read_phys: Callable[[int, int], bytes],
        phys_base: int,
        pgd_paddr: int,
        page_offset: int = DEFAULT_PAGE_OFFSET,
        five_level: bool = False,
        kernel_image_size: int = 1 << 30,
    ) -> None:
        self.read_phys = read_phys
        self.phys_base = phys_base
        self.pgd_paddr = pgd_paddr
        self.page_offset = page_offset
        self.five_level = five_level
        self.levels = LEVELS_5 if five_level else LEVELS_4
        self.kernel_image_end = START_KERNEL_MAP + kernel_image_size
        self._tlb: dict[int, int] = {}

    def is_kvaddr(self, addr: int) -> bool:
        """A kernel address as crash counts them: at or above the direct map's base (x86_64_is_kvaddr)."""
        return addr >= self.page_offset

    def is_direct(self, addr: int) -> bool:
        return self.page_offset <= addr < self.page_offset + (1 << (52 if self.five_level else 46))

    def kvtop(self, vaddr: int) -> int:
        """Physical address of kernel virtual `vaddr`, or FaultError(INVALID)."""
        if START_KERNEL_MAP <= vaddr < self.kernel_image_end:
            return (vaddr - START_KERNEL_MAP + self.phys_base) & 0xFFFFFFFFFFFFFFFF
        if self.is_direct(vaddr):
            return vaddr - self.page_offset
        return self.walk(self.pgd_paddr, vaddr, AddressSpace.KVADDR)

    def walk(self, pgd_paddr: int, vaddr: int, space: AddressSpace = AddressSpace.KVADDR) -> int:
        """Walk the page tables rooted at `pgd_paddr` (a CR3 value, flags masked off)."""
        page = vaddr & PAGE_MASK
        key = (pgd_paddr << 1) ^ page
        hit = self._tlb.get(key)
        if hit is not None:
            return hit | (vaddr & (PAGE_SIZE - 1))
        if not canonical(vaddr):
            raise FaultError(vaddr, FaultKind.INVALID, space)
        table = pgd_paddr & _PHYS_MASK
        for i, (_name, shift) in enumerate(self.levels):
            index = (vaddr >> shift) & 0x1FF
            try:
                (entry,) = struct.unpack("<Q", self.read_phys(table + index * 8, 8))
            except FaultError:
                raise FaultError(vaddr, FaultKind.INVALID, space) from None
            if not entry & _PRESENT:
                raise FaultError(vaddr, FaultKind.INVALID, space)
            last = i == len(self.levels) - 1
            if not last and entry & _PSE and shift in (30, 21):
                mask = (1 << shift) - 1
                paddr = (entry & _PHYS_MASK & ~mask) | (vaddr & mask)
                self._tlb[key] = paddr & PAGE_MASK
                return paddr
            table = entry & _PHYS_MASK
        self._tlb[key] = table
        return table | (vaddr & (PAGE_SIZE - 1))
