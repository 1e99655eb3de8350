"""The page structs of the memory map (struct page, SPARSEMEM_VMEMMAP) and the names of their flags."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CrashpyError, FaultError, FaultKind
from crashpy.object import Object, crash_faults, object_for_symbol, resolve
from crashpy.types.model import EnumType, PointerType

if TYPE_CHECKING:
    from crashpy.program import Program

PAGE_SHIFT = 12


@dataclass(frozen=True)
class PageInfo:
    """One struct page as crash's memory-map listing shows it."""

    page: int  # the struct page's address
    paddr: int  # the physical address of the page it describes
    flags: int
    mapping: int
    index: int
    count: int  # _refcount


def page_flag_names(prog: Program) -> list[tuple[int, str]]:
    """(mask, name) of every page flag, as crash finds them: the kernel's own pageflag_names table
    (struct trace_print_flags {mask, name}, ended by an empty entry), else the pageflags enum of the
    kernel's types (PG_<name> = bit, up to __NR_PAGEFLAGS)."""

    def build() -> list[tuple[int, str]]:
        names = _from_table(prog)
        return names if names is not None else _from_enum(prog)

    result: list[tuple[int, str]] = prog.cache("page_flag_names", build)
    return result


def _from_table(prog: Program) -> list[tuple[int, str]] | None:
    if not prog.has_symbol("pageflag_names"):
        return None
    try:
        table = prog.symbol_address("pageflag_names")
        size = prog.sizeof("trace_print_flags")
        out: list[tuple[int, str]] = []
        for i in range(64):
            entry = Object(prog, "struct trace_print_flags", table + i * size)
            mask, name = int(entry.mask), int(entry.name)
            if not name:
                break
            out.append((mask, prog.read_cstring(name).decode("latin-1")))
        return out
    except FaultError:
        return None


def _from_enum(prog: Program) -> list[tuple[int, str]]:
    try:
        enum = prog.btf.lookup_type("enum pageflags")
    except CrashpyError:  # no BTF, or no such enum in it
        return []
    if not isinstance(enum, EnumType):
        return []
    out: list[tuple[int, str]] = []
    for name, value in enum.enumerators.items():
        if name == "__NR_PAGEFLAGS":
            break
        out.append((1 << value, name.removeprefix("PG_")))
    return out


def page_flag_list(prog: Program, flags: int) -> list[str]:
    """The names of the page flags set in `flags`, in the kernel's order."""
    return [name for mask, name in page_flag_names(prog) if flags & mask]


def flags_text(prog: Program, flags: int) -> str:
    """crash's translate_page_flags(): the value in hex, then the names of the flags set."""
    names = page_flag_list(prog, flags) if flags else []
    return f"{flags:x}" + (" " + ",".join(names) if names else "")


def max_pfn(prog: Program) -> int:
    """One past the highest page frame the kernel knows (its max_pfn)."""

    def build() -> int:
        return prog.read_u64(prog.symbol_address("max_pfn")) if prog.has_symbol("max_pfn") else 0

    value: int = prog.cache("max_pfn", build)
    return value


class InvalidSection(CrashpyError):
    """A physical address beyond every memory section SPARSEMEM can have (crash's warning words)."""

    def __init__(self, section: int) -> None:
        super().__init__(f"sparsemem: invalid section number: {section}")


def section_number(prog: Program, paddr: int) -> int:
    """The memory section of physical address `paddr`; InvalidSection past the last section root (as
    crash counts them: 2^(MAX_PHYSMEM_BITS - SECTION_SIZE_BITS) sections, a page of them per root)."""
    section_bits, physmem_bits = prog.vmcoreinfo.sparsemem(prog.layout.five_level)
    section = paddr >> section_bits
    per_root = (1 << PAGE_SHIFT) // prog.sizeof("mem_section")
    roots = -(-(1 << (physmem_bits - section_bits)) // per_root)
    if section // per_root >= roots:
        raise InvalidSection(section)
    return section


def phys_to_page(prog: Program, paddr: int) -> int | None:
    """The struct page of physical address `paddr` (vmemmap_base + pfn * sizeof(struct page)), or None
    when the kernel has no page there; InvalidSection for an address no memory section can hold."""
    section_number(prog, paddr)
    pfn = paddr >> PAGE_SHIFT
    if pfn >= max_pfn(prog):
        return None
    return prog.layout.vmemmap_start + pfn * prog.sizeof("page")


def page_info(prog: Program, page: int, paddr: int) -> PageInfo:
    """The fields of the struct page at `page` (FaultError when it cannot be read)."""
    obj = Object(prog, "struct page", page).read_()
    return PageInfo(
        page,
        paddr & ~((1 << PAGE_SHIFT) - 1),
        int(obj.flags),
        int(obj.mapping),
        int(obj.index),
        int(obj.member_("_refcount").counter) & 0xFFFFFFFF,
    )


# ---- SPARSEMEM sections, as crash walks them (memory.c: nr_to_section, valid_section_nr) -------------

SECTION_MARKED_PRESENT = 1 << 0
SECTION_HAS_MEM_MAP = 1 << 1
SECTION_MAP_MASK = ~((1 << 5) - 1) & ((1 << 64) - 1)


@dataclass(frozen=True)
class Sparse:
    """The memory sections of a SPARSEMEM_EXTREME kernel: every root's address (0: none) and the
    raw section_mem_map word of every section of the roots that exist."""

    section_bits: int
    per_section: int  # pages per section
    per_root: int  # sections per root
    words: dict[int, int]  # section number -> section_mem_map (every section of an existing root)

    def word(self, nr: int) -> int:
        return self.words.get(nr, 0)


@crash_faults
def sparse(prog: Program) -> Sparse:
    """The section table, read once (mem_section: a pointer to the roots, or an array of them)."""

    def build() -> Sparse:
        section_bits, physmem_bits = prog.vmcoreinfo.sparsemem(prog.layout.five_level)
        ms_size = prog.sizeof("mem_section")
        map_off = prog.offsetof("mem_section", "section_mem_map")
        per_root = (1 << PAGE_SHIFT) // ms_size
        n_roots = -(-(1 << (physmem_bits - section_bits)) // per_root)
        mem_section = object_for_symbol(prog, "mem_section")
        words: dict[int, int] = {}
        if isinstance(resolve(mem_section.type_), PointerType):  # struct mem_section **: the roots
            raw = prog.read(int(mem_section), 8 * n_roots, what="memory section root table")
            roots = [int.from_bytes(raw[8 * r : 8 * r + 8], "little") for r in range(n_roots)]
        else:  # struct mem_section mem_section[NR_SECTION_ROOTS][SECTIONS_PER_ROOT]
            base = mem_section.address_ or 0
            roots = [base + r * per_root * ms_size for r in range(n_roots)]
        for r, root in enumerate(roots):
            if not root or not prog.is_kvaddr(root):
                continue
            block = prog.read(root, per_root * ms_size, what="memory section")
            for j in range(per_root):
                word = int.from_bytes(block[j * ms_size + map_off : j * ms_size + map_off + 8], "little")
                if word:
                    words[r * per_root + j] = word
        return Sparse(section_bits, 1 << (section_bits - PAGE_SHIFT), per_root, words)

    result: Sparse = prog.cache("pages.sparse", build)
    return result


def section_mem_map(prog: Program, nr: int) -> int | None:
    """The first struct page of present section `nr` (crash's decoded section_mem_map), else None."""
    sp = sparse(prog)
    word = sp.word(nr)
    if not word & SECTION_MARKED_PRESENT:
        return None
    return ((word & SECTION_MAP_MASK) + nr * sp.per_section * prog.sizeof("page")) & ((1 << 64) - 1)


def present_sections(prog: Program) -> list[tuple[int, int]]:
    """(section number, first struct page) of every present section, in order."""
    sp = sparse(prog)
    out = []
    for nr in sorted(sp.words):
        mem_map = section_mem_map(prog, nr)
        if mem_map is not None:
            out.append((nr, mem_map))
    return out


def pfn_to_page(prog: Program, pfn: int) -> int | None:
    """The struct page of page frame `pfn` when its section is present and has a memory map (crash's
    pfn_to_map), else None."""
    sp = sparse(prog)
    nr = pfn >> (sp.section_bits - PAGE_SHIFT)
    mem_map = section_mem_map(prog, nr)
    if mem_map is None or not sp.word(nr) & SECTION_HAS_MEM_MAP:
        return None
    return mem_map + (pfn - nr * sp.per_section) * prog.sizeof("page")


def page_to_phys(prog: Program, addr: int) -> int | None:
    """The physical address a struct page at `addr` describes, when `addr` is one (in the virtual
    memmap, on a struct boundary, of a present section: crash's is_page_ptr), else None."""
    lay = prog.layout
    size = prog.sizeof("page")
    if not lay.vmemmap_start <= addr <= lay.vmemmap_end or (addr - lay.vmemmap_start) % size:
        return None
    pfn = (addr - lay.vmemmap_start) // size
    sp = sparse(prog)
    if section_mem_map(prog, pfn >> (sp.section_bits - PAGE_SHIFT)) is None:
        return None
    return pfn << PAGE_SHIFT


# ---- struct page in blocks ------------------------------------------------------------------------


@dataclass(frozen=True)
class PageFields:
    """Where struct page keeps what the memory-map listing shows."""

    size: int
    flags: int
    mapping: int
    index: int
    count: int  # _refcount (an atomic_t), or _count before 4.6

    def unpacker(self) -> tuple[struct.Struct, tuple[int, int, int, int]]:
        """A Struct that unpacks one struct page into its (flags, mapping, index, count) fields in
        their order in memory, and where each of the four stands in what it returns."""
        fields = sorted([(self.flags, "Q", 0), (self.mapping, "Q", 1), (self.index, "Q", 2), (self.count, "i", 3)])
        fmt, at, where = "<", 0, [0, 0, 0, 0]
        for k, (off, code, which) in enumerate(fields):
            fmt += f"{off - at}x{code}" if off > at else code
            at = off + struct.calcsize(code)
            where[which] = k
        fmt += f"{self.size - at}x"
        return struct.Struct(fmt), (where[0], where[1], where[2], where[3])


def page_fields(prog: Program) -> PageFields:
    def build() -> PageFields:
        count = "_refcount" if prog.has_member("page", "_refcount") else "_count"
        return PageFields(
            prog.sizeof("page"),
            prog.offsetof("page", "flags"),
            prog.offsetof("page", "mapping"),
            prog.offsetof("page", "index"),
            prog.offsetof("page", count),
        )

    result: PageFields = prog.cache("pages.fields", build)
    return result


def read_page_structs(prog: Program, start: int, n: int) -> tuple[bytes, set[int]]:
    """The bytes of `n` struct pages from `start`, zeros where they cannot be read (crash reads them
    so: a page excluded from the dump shows as an empty struct), and the indexes of the structs whose
    memory the page tables do not map at all."""
    size = prog.sizeof("page")
    try:
        return prog.read(start, n * size, what="page struct cache"), set()
    except FaultError:
        pass
    out = bytearray()
    unmapped: set[int] = set()
    addr, end = start, start + n * size
    while addr < end:
        chunk = min(end, (addr | ((1 << PAGE_SHIFT) - 1)) + 1) - addr
        try:
            out += prog.read(addr, chunk, what="virtual page struct cache")
        except FaultError as e:
            out += bytes(chunk)
            if e.kind is FaultKind.INVALID:
                first = (addr - start + size - 1) // size
                unmapped.update(range(first, (addr + chunk - start + size - 1) // size))
        addr += chunk
    return bytes(out), unmapped
