"""Which slab cache an address belongs to (SLUB): the address's struct page (vmemmap), its compound
head, PG_slab, and `struct slab.slab_cache` (v5.17, commit d122019bf061; `page.slab_cache` before),
checked against the `slab_caches` list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import FaultError
from crashpy.helpers.list import list_for_each_entry
from crashpy.object import Object, has_member, lookup_type

if TYPE_CHECKING:
    from crashpy.program import Program


def kmem_cache_names(prog: Program) -> dict[int, str]:
    """struct kmem_cache address -> name, for every cache on `slab_caches`."""

    def build() -> dict[int, str]:
        names: dict[int, str] = {}
        if not prog.has_symbol("slab_caches"):
            return names
        heads = Object(prog, "struct list_head", prog.symbol_address("slab_caches"))
        try:
            for cache in list_for_each_entry("struct kmem_cache", heads, "list"):
                try:
                    names[int(cache)] = cache.member_("name").string_(64).decode("latin-1")
                except FaultError:
                    continue
        except FaultError:
            pass
        return names

    result: dict[int, str] = prog.cache("slab.cache_names", build)
    return result


@dataclass(frozen=True)
class _SlabLayout:
    pages: Object  # the vmemmap array (struct page *)
    pg_slab: int  # the PG_slab bit of page.flags
    slab_type: str  # where a slab page's cache is kept: struct slab (v5.17), struct page before


def _layout(prog: Program) -> _SlabLayout:
    def build() -> _SlabLayout:
        base = 0xFFFFEA0000000000
        if prog.has_symbol("vmemmap_base"):
            try:
                base = prog.read_u64(prog.symbol_address("vmemmap_base"))
            except FaultError:
                pass
        pg_slab = prog.vmcoreinfo.number("PG_slab")
        if pg_slab is None:
            pg_slab = 9
        # v5.17 (commit d122019bf061): the slab's fields moved from struct page to struct slab, which
        # overlays it.
        slab_type = "struct slab *" if has_member(prog, "struct slab", "slab_cache") else "struct page *"
        return _SlabLayout(Object(prog, "struct page *", value=base), pg_slab, slab_type)

    result: _SlabLayout = prog.cache("slab.layout", build)
    return result


def vaddr_to_kmem_cache(prog: Program, vaddr: int) -> str | None:
    """The name of the slab cache whose page holds `vaddr`, or None (crash's vaddr_to_kmem_cache)."""
    try:
        paddr = prog.kvtop(vaddr)
        lay = _layout(prog)
        page = lay.pages[paddr >> 12].address_of_()
        if not int(page.member_("flags")) & (1 << lay.pg_slab):
            head = int(page.member_("compound_head"))
            if head & 1:
                page = Object(prog, page.type_, value=head - 1)
            if not int(page.member_("flags")) & (1 << lay.pg_slab):
                return None
        cache = int(page.cast_(lookup_type(prog, lay.slab_type)).member_("slab_cache"))
    except (FaultError, Exception):
        return None
    return kmem_cache_names(prog).get(cache)

