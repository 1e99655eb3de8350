"""x86_64: page-table levels as data and the kernel's virtual address layout (no reads here).

The layout is what crash's x86_64 machine code derives (x86_64.c, POST_RELOC/POST_GDB): the direct
map at ``page_offset_base``, vmalloc at ``vmalloc_base``, the virtual memmap at ``vmemmap_base``
(all three moved by CONFIG_RANDOMIZE_MEMORY), the kernel text map at __START_KERNEL_map, modules
after the kernel image, the CPU entry area and the vsyscall page.  With 5-level paging (LA57) the
user half and the direct map grow and every region moves; the levels grow a P4D.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from crashpy.bits import MASK64

START_KERNEL_MAP = 0xFFFFFFFF80000000
PAGE_SIZE = 4096
PAGE_SHIFT = 12
PAGE_MASK = ~(PAGE_SIZE - 1) & MASK64

# The defaults when the kernel does not say (no page_offset_base etc.: CONFIG_RANDOMIZE_MEMORY off).
DEFAULT_PAGE_OFFSET = 0xFFFF888000000000  # since v4.20 (and 4.19.5, 4.14.84)
DEFAULT_PAGE_OFFSET_L5 = 0xFF11000000000000
DEFAULT_VMALLOC_START = 0xFFFFC90000000000
DEFAULT_VMALLOC_START_L5 = 0xFFA0000000000000
DEFAULT_VMALLOC_END = 0xFFFFE8FFFFFFFFFF
DEFAULT_VMALLOC_END_L5 = 0xFFD1FFFFFFFFFFFF
DEFAULT_VMEMMAP = 0xFFFFEA0000000000
DEFAULT_VMEMMAP_L5 = 0xFFD4000000000000
DEFAULT_VMEMMAP_END = 0xFFFFEAFFFFFFFFFF
DEFAULT_VMEMMAP_END_L5 = 0xFFD5FFFFFFFFFFFF
MODULES_VADDR = 0xFFFFFFFFA0000000  # without KASLR of the kernel image
MODULES_END = 0xFFFFFFFFFF000000
CPU_ENTRY_AREA = (0xFFFFFE0000000000, 0xFFFFFE7FFFFFFFFF)
VSYSCALL = (0xFFFFFFFFFF600000, 0xFFFFFFFFFF601000)
TB = 1 << 40
# How far crash takes a randomized region to reach (x86_64.c): vmalloc 32 TB (1280 TB with LA57),
# the virtual memmap 1 TB.
VMALLOC_SIZE = 32 * TB
VMALLOC_SIZE_L5 = 1280 * TB
VMEMMAP_SIZE = 1 * TB

PTE_PRESENT = 0x1
PTE_PROTNONE = 0x100  # in a not-present user entry: a PROT_NONE page (the GLOBAL bit when present)
PTE_PSE = 0x80  # in a PUD or PMD entry: it maps a 1 GB or 2 MB page itself
PTE_PHYS_MASK = 0x000FFFFFFFFFF000  # bits 12-51 (the top bits are NX and protection keys)


@dataclass(frozen=True)
class PagingLevel:
    """One level of the page tables: crash's name for it, the address bits it indexes from, and
    whether its entry can map a page itself (the PSE bit: 1 GB at the PUD, 2 MB at the PMD)."""

    name: str
    shift: int
    huge: bool = False

    @property
    def page_size(self) -> int:
        return 1 << self.shift


LEVELS_4 = (
    PagingLevel("PGD", 39),
    PagingLevel("PUD", 30, huge=True),
    PagingLevel("PMD", 21, huge=True),
    PagingLevel("PTE", 12),
)
LEVELS_5 = (
    PagingLevel("PGD", 48),
    PagingLevel("P4D", 39),
    PagingLevel("PUD", 30, huge=True),
    PagingLevel("PMD", 21, huge=True),
    PagingLevel("PTE", 12),
)


@dataclass(frozen=True)
class Layout:
    """Where each kernel region of one x86_64 kernel lies."""

    five_level: bool
    page_offset: int
    vmalloc_start: int
    vmalloc_end: int  # inclusive, as crash keeps it
    vmemmap_start: int
    vmemmap_end: int  # inclusive
    modules_start: int
    modules_end: int  # inclusive
    kernel_image_end: int  # __START_KERNEL_map + KERNEL_IMAGE_SIZE

    @property
    def levels(self) -> tuple[PagingLevel, ...]:
        return LEVELS_5 if self.five_level else LEVELS_4

    @property
    def userspace_top(self) -> int:
        return 1 << 56 if self.five_level else 1 << 47

    @cached_property
    def direct_end(self) -> int:
        """Where the direct map certainly ends: the lowest region above it that is mapped otherwise
        (asked at every kernel read: computed once)."""
        above = [a for a in (self.vmalloc_start, self.vmemmap_start, CPU_ENTRY_AREA[0]) if a > self.page_offset]
        return min(above, default=START_KERNEL_MAP)

    def canonical(self, addr: int) -> bool:
        bits = 56 if self.five_level else 47
        top = addr >> bits
        return top == 0 or top == (MASK64 >> bits)

    def is_kvaddr(self, addr: int) -> bool:
        """A kernel address as crash counts them: at or above the direct map's base."""
        return addr >= self.page_offset

    def is_uvaddr(self, addr: int) -> bool:
        return 0 <= addr < self.userspace_top

    def is_mapped_region(self, addr: int) -> bool:
        """An address the page tables translate (crash's x86_64_IS_VMALLOC_ADDR): vmalloc, the memmap,
        modules, the vsyscall page, the CPU entry area, and with LA57 the gap after vmalloc."""
        return (
            self.vmalloc_start <= addr <= self.vmalloc_end
            or self.vmemmap_start <= addr <= self.vmemmap_end
            or self.modules_start <= addr <= self.modules_end
            or VSYSCALL[0] <= addr < VSYSCALL[1]
            or CPU_ENTRY_AREA[0] <= addr <= CPU_ENTRY_AREA[1]
            or (self.five_level and self.vmalloc_end < addr < self.vmemmap_start)
        )

    def unity_paddr(self, addr: int, phys_base: int) -> int | None:
        """The physical address of a kernel address mapped by arithmetic, as crash's x86_64_VTOP() maps
        it: the kernel image (text map, and whatever else lies above __START_KERNEL_map outside the
        module area, the vsyscall page and the CPU entry area) or the direct map; None for the
        addresses the page tables must translate."""
        if START_KERNEL_MAP <= addr < self.kernel_image_end:
            return (addr - START_KERNEL_MAP + phys_base) & MASK64
        if self.page_offset <= addr < self.direct_end:
            return addr - self.page_offset
        if addr < self.page_offset or self.is_mapped_region(addr):
            return None
        if addr >= START_KERNEL_MAP:
            return (addr - START_KERNEL_MAP + phys_base) & MASK64
        return addr - self.page_offset


def make_layout(
    five_level: bool,
    *,
    page_offset: int | None = None,
    vmalloc_start: int | None = None,
    vmemmap_start: int | None = None,
    kernel_image_size: int | None = None,
    relocatable: bool = True,
) -> Layout:
    """The layout from what the kernel says (its page_offset_base, vmalloc_base and vmemmap_base
    variables, KERNEL_IMAGE_SIZE); defaults for whatever it does not.  `relocatable`: the kernel
    randomizes its image or its memory regions, so modules start right after the image's reserved
    size (KERNEL_IMAGE_SIZE) rather than at the fixed MODULES_VADDR."""
    image_end = START_KERNEL_MAP + (kernel_image_size or 1 << 30)
    if vmalloc_start is not None:
        vmalloc_end = vmalloc_start + (VMALLOC_SIZE_L5 if five_level else VMALLOC_SIZE) - 1
    else:
        vmalloc_start = DEFAULT_VMALLOC_START_L5 if five_level else DEFAULT_VMALLOC_START
        vmalloc_end = DEFAULT_VMALLOC_END_L5 if five_level else DEFAULT_VMALLOC_END
    if vmemmap_start is not None:
        vmemmap_end = vmemmap_start + VMEMMAP_SIZE - 1
    else:
        vmemmap_start = DEFAULT_VMEMMAP_L5 if five_level else DEFAULT_VMEMMAP
        vmemmap_end = DEFAULT_VMEMMAP_END_L5 if five_level else DEFAULT_VMEMMAP_END
    if page_offset is None:
        page_offset = DEFAULT_PAGE_OFFSET_L5 if five_level else DEFAULT_PAGE_OFFSET
    return Layout(
        five_level=five_level,
        page_offset=page_offset,
        vmalloc_start=vmalloc_start,
        vmalloc_end=vmalloc_end & MASK64,
        vmemmap_start=vmemmap_start,
        vmemmap_end=vmemmap_end & MASK64,
        modules_start=image_end if relocatable else MODULES_VADDR,
        modules_end=MODULES_END,
        kernel_image_end=image_end,
    )
