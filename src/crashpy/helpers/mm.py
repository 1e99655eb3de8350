"""A process's address space as crash's `vm` shows it: the mm_struct's summary (struct mm_struct:
pgd, RSS from mm->rss_stat, total_vm), the names of vm_flags bits, whether an address is an
mm_struct, and what each page of a memory area holds (its physical page, a swap slot, a file
offset, or nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.helpers.slab import vaddr_to_kmem_cache
from crashpy.helpers.swap import swap_device_name, swp_type_offset
from crashpy.helpers.tasks import EXIT_ZOMBIE, TaskContext, TaskTable, mem_usage
from crashpy.helpers.vma import Vma
from crashpy.object import Object

if TYPE_CHECKING:
    from crashpy.program import Program

PAGE_SHIFT = 12
PF_EXITING = 0x4


@dataclass(frozen=True)
class MmSummary:
    """The MM/PGD/RSS/TOTAL_VM line of a task (zeros for a kernel thread or a zombie)."""

    mm: int
    pgd: int
    rss: int  # pages
    total_vm: int  # pages


def mm_summary(prog: Program, table: TaskTable, tc: TaskContext) -> MmSummary:
    """crash's get_task_mem_usage() for `vm`: the task's mm_struct, its pgd, its resident pages
    (mm->rss_stat's file, anon and shmem counters, each only when positive) and its total_vm."""
    if tc.state & EXIT_ZOMBIE or not tc.mm:
        return MmSummary(0, 0, 0, 0)
    if tc.flags & PF_EXITING:
        count = prog.read_u32(tc.mm + prog.offsetof("mm_struct", "mm_count"))
        if count == 0 or count & 0x80000000:  # an exiting task whose mm is going: its counters are not read
            return MmSummary(tc.mm, 0, 0, 0)
    usage = mem_usage(prog, table, tc)
    pgd = int(Object(prog, "struct mm_struct", tc.mm).pgd)
    return MmSummary(tc.mm, pgd, usage.rss, usage.total_vm)


def mm_check(prog: Program, mm: int) -> str | None:
    """Why `mm` cannot stand for a task's mm_struct (crash's is_valid_mm words), or None: it must
    lie in an mm_struct slab object, and its mm_count must not be 0."""
    cache = vaddr_to_kmem_cache(prog, mm)
    if cache is None or not cache.startswith("mm_struct"):
        return "invalid mm_struct address"
    count = prog.read_u32(mm + prog.offsetof("mm_struct", "mm_count"))
    if count == 0:
        return "stale mm_struct address"
    return None


# vm_flags bits in the order crash decodes them, with the name crash gives each on this kernel.
def vm_flag_names(prog: Program, flags: int) -> list[str]:
    """The names of `flags` (a vm_flags value) as crash's `vm -f` spells them; the same bit has
    another name on some kernels: GROWSUP only where the architecture grows stacks upward
    (expand_upwards), NOHUGEPAGE else; HUGEPAGE with transparent huge pages (mm_struct.pmd_huge_pte),
    MAPPED_COPY else."""
    growsup = "GROWSUP" if prog.has_symbol("expand_upwards") else "NOHUGEPAGE"
    hugepage = "HUGEPAGE" if prog.has_member("mm_struct", "pmd_huge_pte") else "MAPPED_COPY"
    table = [
        (0x1, "READ"),
        (0x2, "WRITE"),
        (0x4, "EXEC"),
        (0x8, "SHARED"),
        (0x10, "MAYREAD"),
        (0x20, "MAYWRITE"),
        (0x40, "MAYEXEC"),
        (0x80, "MAYSHARE"),
        (0x100, "GROWSDOWN"),
        (0x200, growsup),
        (0x400, "PFNMAP"),
        (0x800, "DENYWRITE"),
        (0x1000, "EXECUTABLE"),
        (0x2000, "LOCKED"),
        (0x4000, "IO"),
        (0x8000, "SEQ_READ"),
        (0x10000, "RAND_READ"),
        (0x20000, "DONTCOPY"),
        (0x40000, "DONTEXPAND"),
        (0x80000, "RESERVED"),
        (0x400000, "HUGETLB"),
        (0x100000, "ACCOUNT"),
        (0x800000, "NONLINEAR"),
        (0x1000000, hugepage),
        (0x2000000, "INSERTPAGE"),
        (0x4000000, "ALWAYSDUMP"),
        (0x8000000, "CAN_NONLINEAR"),
        (0x10000000, "MIXEDMAP"),
        (0x20000000, "SAO"),
        (0x40000000, "PFN_AT_MMAP"),
        (0x80000000, "MERGEABLE"),
    ]
    return [name for bit, name in table if flags & bit]


@dataclass(frozen=True)
class PageState:
    """What one page of a memory area holds, as `vm -p` tells it."""

    vaddr: int
    kind: str  # "mapped", "swap", "file" or "not mapped"
    paddr: int = 0  # mapped: the physical address
    swap_device: str = ""  # swap: the device's path (or crash's "(unknown swap location)")
    swap_offset: int = 0  # swap: the slot
    file: str = ""  # file: the mapped file's path
    file_offset: int = 0  # file: the page's offset in it


def page_states(prog: Program, pgd: int, vma: Vma, start: int | None = None) -> Iterator[PageState]:
    """Every page of `vma` from `start` (its start by default) to its end, through the page tables
    at kernel address `pgd` (mm->pgd): crash's uvtop() for each, then what a not-present page holds."""
    has_swap = prog.has_symbol("nr_swapfiles") and prog.has_symbol("swap_info")
    space = prog.user_memory(pgd)
    first = vma.start if start is None else start
    for vaddr, paddr, pte in space.page_entries(first, vma.end):
        if paddr is not None:
            yield PageState(vaddr, "mapped", paddr=paddr)
        elif pte and has_swap:
            kind, offset = swp_type_offset(prog, pte)
            yield PageState(vaddr, "swap", swap_device=swap_device_name(prog, kind), swap_offset=offset)
        elif vma.file:
            offset = (((vaddr - vma.start) >> PAGE_SHIFT) + vma.pgoff) << PAGE_SHIFT
            yield PageState(vaddr, "file", file=vma.file, file_offset=offset & ((1 << 64) - 1))
        else:
            yield PageState(vaddr, "not mapped")
