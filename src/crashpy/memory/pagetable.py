"""One page-table walk over levels given as data (arch/x86_64.py: LEVELS_4, LEVELS_5)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from crashpy.arch.x86_64 import PAGE_SIZE, PTE_PHYS_MASK, PTE_PRESENT, PTE_PSE, PagingLevel
from crashpy.errors import FaultError


@dataclass(frozen=True)
class TableEntry:
    """The entry one level of a walk read: where it lies (physical) and what it holds."""

    level: PagingLevel
    address: int
    value: int

    @property
    def present(self) -> bool:
        return bool(self.value & PTE_PRESENT)


@dataclass(frozen=True)
class Translation:
    """A virtual address's whole walk: every level's entry, then the physical address and page size
    (None when a level is not present or its table cannot be read: `fault` then says which)."""

    vaddr: int
    root: int  # the top table's physical address (CR3 without its flags)
    entries: tuple[TableEntry, ...]
    paddr: int | None
    page_size: int
    fault: FaultError | None = None  # a table that could not be read

    @property
    def mapped(self) -> bool:
        return self.paddr is not None


def walk(
    read_phys: Callable[[int, int], bytes],
    root: int,
    vaddr: int,
    levels: Sequence[PagingLevel],
    low_present: int = PTE_PRESENT,
) -> Translation:
    """Walk the tables rooted at `root` for `vaddr`, one level of `levels` after the other.  An entry
    is present with PTE_PRESENT; at the PMD and PTE levels with any bit of `low_present` (a user walk
    counts PROT_NONE entries too, as crash's uvtop does)."""
    table = root & PTE_PHYS_MASK
    entries: list[TableEntry] = []
    low = len(levels) - 2
    for i, level in enumerate(levels):
        address = table + ((vaddr >> level.shift) & 0x1FF) * 8
        try:
            value = int.from_bytes(read_phys(address, 8), "little")
        except FaultError as e:
            return Translation(vaddr, root, tuple(entries), None, level.page_size, e)
        entry = TableEntry(level, address, value)
        entries.append(entry)
        if not value & (low_present if i >= low else PTE_PRESENT):
            return Translation(vaddr, root, tuple(entries), None, level.page_size)
        if level.huge and value & PTE_PSE and i < len(levels) - 1:
            mask = level.page_size - 1
            paddr = (value & PTE_PHYS_MASK & ~mask) | (vaddr & mask)
            return Translation(vaddr, root, tuple(entries), paddr, level.page_size)
        table = value & PTE_PHYS_MASK
    return Translation(vaddr, root, tuple(entries), table | (vaddr & (PAGE_SIZE - 1)), PAGE_SIZE)


def page_frame(
    read_phys: Callable[[int, int], bytes], root: int, vaddr: int, levels: Sequence[PagingLevel]
) -> int | None:
    """The physical address of `vaddr`'s page (walk() without the record, for the hot path)."""
    table = root & PTE_PHYS_MASK
    last = len(levels) - 1
    for i, level in enumerate(levels):
        try:
            value = int.from_bytes(read_phys(table + ((vaddr >> level.shift) & 0x1FF) * 8, 8), "little")
        except FaultError:
            return None
        if not value & PTE_PRESENT:
            return None
        if level.huge and value & PTE_PSE and i < last:
            mask = level.page_size - 1
            return ((value & PTE_PHYS_MASK & ~mask) | (vaddr & mask)) & ~(PAGE_SIZE - 1)
        table = value & PTE_PHYS_MASK
    return table
