"""The page structs of the memory map (struct page, SPARSEMEM_VMEMMAP) and the names of their flags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CrashpyError, FaultError
from crashpy.object import Object
from crashpy.types.model import EnumType

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
    info = prog.vmcoreinfo
    section_bits = info.number("SECTION_SIZE_BITS") or 27
    physmem_bits = info.number("MAX_PHYSMEM_BITS") or (52 if prog.layout.five_level else 46)
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
