"""The kernel's vmalloc space: its busy areas (struct vmap_area on vmap_area_list), as crash's vmlist
holds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.errors import CrashpyError
from crashpy.helpers.list import list_for_each_entry
from crashpy.object import Object, has_member

if TYPE_CHECKING:
    from crashpy.program import Program

VM_VM_AREA = 0x04  # vmap_area.flags of an area with a vm_struct (kernels that keep flags and purge_list)


def vmap_areas(prog: Program) -> list[tuple[int, int]]:
    """(va_start, va_end) of each busy vmap_area that backs a vm_struct (vmalloc, vmap, ioremap,
    module and per-cpu areas; vm_map_ram's blocks are left out), in list (address) order; empty when
    the kernel has no vmap_area_list or it cannot be read."""

    def build() -> list[tuple[int, int]]:
        if not prog.has_symbol("vmap_area_list"):
            return []
        by_flags = has_member(prog, "struct vmap_area", "flags") and has_member(
            prog, "struct vmap_area", "purge_list"
        )
        head = Object(prog, "struct list_head", prog.symbol_address("vmap_area_list"))
        out: list[tuple[int, int]] = []
        try:
            for va in list_for_each_entry("struct vmap_area", head, "list"):
                if by_flags:
                    if int(va.member_("flags").value_()) != VM_VM_AREA:
                        continue
                elif not int(va.member_("vm").value_()):
                    continue
                out.append((int(va.member_("va_start").value_()), int(va.member_("va_end").value_())))
        except CrashpyError:
            pass
        return out

    areas: list[tuple[int, int]] = prog.cache("vmalloc.vmap_areas", build)
    return areas
