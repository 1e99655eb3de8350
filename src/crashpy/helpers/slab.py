"""Which slab cache an address belongs to (SLUB): the address's struct page (vmemmap), its compound
head, PG_slab, and `struct slab.slab_cache` (v5.17, commit d122019bf061; `page.slab_cache` before),
checked against the `slab_caches` list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.errors import FaultError

if TYPE_CHECKING:
    from crashpy.program import Program


def kmem_cache_names(prog: Program) -> dict[int, str]:
    """struct kmem_cache address -> name, for every cache on `slab_caches`."""

    def build() -> dict[int, str]:
        from crashpy.helpers.list import list_for_each_entry

        names: dict[int, str] = {}
        if not prog.has_symbol("slab_caches"):
            return names
        name_off = prog.offsetof("kmem_cache", "name")
        try:
            for cache in list_for_each_entry(prog, prog.symbol_address("slab_caches"), "kmem_cache", "list"):
                try:
                    names[cache] = prog.read_cstring(prog.read_u64(cache + name_off), 64).decode("latin-1")
                except FaultError:
                    continue
        except FaultError:
            pass
        return names

    result: dict[int, str] = prog.cache("slab.cache_names", build)
    return result


def _layout(prog: Program) -> tuple[int, int, int, int, int]:
    def build() -> tuple[int, int, int, int, int]:
        base = 0xFFFFEA0000000000
        if prog.has_symbol("vmemmap_base"):
            try:
                base = prog.read_u64(prog.symbol_address("vmemmap_base"))
            except FaultError:
                pass
        pg_slab = prog.vmcoreinfo.number("PG_slab")
        if pg_slab is None:
            pg_slab = 9
        if prog.has_member("slab", "slab_cache"):
            cache_off = prog.offsetof("slab", "slab_cache")
        else:
            cache_off = prog.offsetof("page", "slab_cache")
        return base, prog.sizeof("page"), pg_slab, prog.offsetof("page", "compound_head"), cache_off

    result: tuple[int, int, int, int, int] = prog.cache("slab.layout", build)
    return result


def vaddr_to_kmem_cache(prog: Program, vaddr: int) -> str | None:
    """The name of the slab cache whose page holds `vaddr`, or None (crash's vaddr_to_kmem_cache)."""
    try:
        paddr = prog.kvtop(vaddr)
        vmemmap, page_size, pg_slab, head_off, cache_off = _layout(prog)
        page = vmemmap + (paddr >> 12) * page_size
        flags = prog.read_u64(page)
        if not flags & (1 << pg_slab):
            head = prog.read_u64(page + head_off)
            if head & 1:
                page = head - 1
            flags = prog.read_u64(page)
            if not flags & (1 << pg_slab):
                return None
        cache = prog.read_u64(page + cache_off)
    except (FaultError, Exception):
        return None
    return kmem_cache_names(prog).get(cache)
