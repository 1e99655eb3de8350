"""Virtual address spaces over physical memory: the kernel's, and one user space per task."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from crashpy.arch.x86_64 import PAGE_SIZE, PTE_PHYS_MASK, PTE_PRESENT, PTE_PROTNONE, Layout
from crashpy.errors import AddressSpace, FaultError, FaultKind
from crashpy.memory.pagetable import Translation, page_frame, walk
from crashpy.memory.partial import Partial
from crashpy.memory.physical import PhysicalMemory

# A second source of bytes for pages the dump lacks: (vaddr, size) -> bytes, or None where it has none.
Fallback = Callable[[int, int], bytes | None]

# Translations kept per space (virtual page -> physical page); the cache starts over when full.
FRAME_CACHE_LIMIT = 1 << 16
_OFFSET = PAGE_SIZE - 1


class VirtualMemory:
    """A virtual address space translated by the page tables rooted at `root` (a CR3 value)."""

    space = AddressSpace.KVADDR

    def __init__(self, phys: PhysicalMemory, layout: Layout, root: int) -> None:
        self.phys = phys
        self.layout = layout
        self.root = root
        self._frames: dict[int, int] = {}
        # Asked for a page the dump does not hold (left out, cut off, never written); the kernel's
        # memory takes the read-only part of the kernel image from its file (Program sets it).
        self.fallback: Fallback | None = None

    def accepts(self, vaddr: int) -> bool:
        """Whether `vaddr` belongs to this space at all (crash's IS_KVADDR / IS_UVADDR)."""
        raise NotImplementedError

    def _direct(self, vaddr: int) -> int | None:
        """The physical address of `vaddr` when it is mapped by arithmetic rather than page tables."""
        return None

    def to_phys(self, vaddr: int, what: str = "") -> int:
        """The physical address of `vaddr`, or FaultError(INVALID) naming it."""
        paddr = self._direct(vaddr)
        if paddr is not None:
            return paddr
        page = self._frames.get(vaddr >> 12)
        if page is None:
            if not self.layout.canonical(vaddr):
                raise FaultError(vaddr, FaultKind.INVALID, self.space, what)
            found = page_frame(self.phys.read, self.root, vaddr, self.layout.levels)
            if found is None:
                raise FaultError(vaddr, FaultKind.INVALID, self.space, what)
            if len(self._frames) >= FRAME_CACHE_LIMIT:
                self._frames.clear()
            self._frames[vaddr >> 12] = page = found
        return page | (vaddr & _OFFSET)

    def translate(self, vaddr: int) -> Translation:
        """The whole page-table walk of `vaddr` (what vtop prints), even where arithmetic would do."""
        return walk(self.phys.read, self.root, vaddr, self.layout.levels)

    def read(self, vaddr: int, size: int, what: str = "") -> bytes:
        """`size` bytes at `vaddr`; FaultError names the first address that cannot be read."""
        if (vaddr & _OFFSET) + size <= PAGE_SIZE:  # within one page: the common case
            if not self.accepts(vaddr):
                raise FaultError(vaddr, FaultKind.INVALID, self.space, what)
            paddr = self.to_phys(vaddr, what)
            try:
                return self.phys.read(paddr, size)
            except FaultError as e:
                return self._missing(e, vaddr, size, what)
        out = bytearray()
        cur, left = vaddr, size
        while left > 0:
            n = min(left, PAGE_SIZE - (cur & _OFFSET))
            if not self.accepts(cur):
                raise FaultError(cur, FaultKind.INVALID, self.space, what)
            paddr = self.to_phys(cur, what)
            try:
                out += self.phys.read(paddr, n)
            except FaultError as e:
                out += self._missing(e, cur, n, what)
            cur += n
            left -= n
        return bytes(out)

    def _missing(self, fault: FaultError, vaddr: int, size: int, what: str) -> bytes:
        """The bytes of a page the dump lacks, from the fallback; else the fault, at `vaddr`."""
        if self.fallback is not None:
            data = self.fallback(vaddr, size)
            if data is not None:
                return data
        raise fault.with_context(vaddr, self.space, what) from None

    def read_partial(self, vaddr: int, size: int, what: str = "") -> Partial:
        """Every byte asked for, zeros where a page cannot be read or is not mapped; the faults say where
        (at virtual addresses, one per run of bad pages of one kind)."""
        out = bytearray()
        faults: list[FaultError] = []
        in_fault = False
        cur, left = vaddr, size
        while left > 0:
            n = min(left, PAGE_SIZE - (cur & _OFFSET))
            try:
                out += self.read(cur, n, what)
                in_fault = False
            except FaultError as e:
                out += bytes(n)
                if not in_fault or faults[-1].kind is not e.kind:
                    faults.append(e)
                    in_fault = True
            cur += n
            left -= n
        return Partial(bytes(out), faults)


class KernelMemory(VirtualMemory):
    """The kernel's virtual memory: the kernel image and the direct map by arithmetic (as crash), vmalloc,
    modules, the memmap and the rest through the kernel's page tables (init_top_pgt)."""

    space = AddressSpace.KVADDR

    def __init__(self, phys: PhysicalMemory, layout: Layout, root: int, phys_base: int) -> None:
        super().__init__(phys, layout, root)
        self.phys_base = phys_base

    def accepts(self, vaddr: int) -> bool:
        return vaddr >= self.layout.page_offset

    def _direct(self, vaddr: int) -> int | None:
        return self.layout.unity_paddr(vaddr, self.phys_base)


class UserMemory(VirtualMemory):
    """One task's user space: its mm's page tables (mm->pgd, as a physical address)."""

    space = AddressSpace.UVADDR

    def translate(self, vaddr: int) -> Translation:
        """The whole walk of `vaddr`; a PROT_NONE page (PMD or PTE) counts as mapped, as in crash's
        uvtop."""
        return walk(self.phys.read, self.root, vaddr, self.layout.levels, PTE_PRESENT | PTE_PROTNONE)

    def page_entries(self, start: int, end: int) -> Iterator[tuple[int, int | None, int]]:
        """(vaddr, physical address or None, the not-present PTE or 0) of every page from `start` up to
        `end`, in order, as translate() answers for each (what `vm -p` prints).  The upper levels are
        walked once per 2 MB, and each table of PTEs is read once."""
        present = PTE_PRESENT | PTE_PROTNONE
        levels = self.layout.levels
        span = 1 << levels[-1].shift << 9  # what one table of PTEs maps
        vaddr = start & ~_OFFSET
        while vaddr < end:
            stop = min(end, (vaddr | (span - 1)) + 1)
            walk = self.translate(vaddr)
            entries = walk.entries
            if len(entries) == len(levels) and walk.fault is None:  # a table of PTEs: read it once
                table_base = entries[-1].address & ~_OFFSET
                try:
                    table = self.phys.read(table_base, PAGE_SIZE)
                except FaultError:
                    table = b""
                if table:
                    for v in range(vaddr, stop, PAGE_SIZE):
                        at = ((v >> 12) & 0x1FF) * 8
                        pte = int.from_bytes(table[at : at + 8], "little")
                        if pte & present:
                            yield v, pte & PTE_PHYS_MASK, 0
                        else:
                            yield v, None, pte
                    vaddr = stop
                    continue
                for v in range(vaddr, stop, PAGE_SIZE):
                    t = self.translate(v)
                    last = t.entries[-1].value if len(t.entries) == len(levels) and t.fault is None else 0
                    yield v, t.paddr, 0 if t.paddr is not None else last
            else:  # stopped above the PTEs (a large page, or nothing there): one walk answers for the span
                for v in range(vaddr, stop, PAGE_SIZE):
                    yield v, None if walk.paddr is None else walk.paddr + (v - vaddr), 0
            vaddr = stop

    def accepts(self, vaddr: int) -> bool:
        return self.layout.is_uvaddr(vaddr)
