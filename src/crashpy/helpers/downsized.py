"""Structures the kernel allocates smaller than their debuginfo says (crash calls them "downsized").

x86's task_struct ends in the FPU register state, whose real size is known only at boot: the kernel
allocates `arch_task_struct_size` bytes (v4.2, commit 5aaeb5c01c5b), not sizeof(struct task_struct).
SLUB's struct kmem_cache ends in `node[MAX_NUMNODES]`, of which only nr_node_ids are allocated: the
`kmem_cache` cache's own object_size is the real size.  Printing such an object reads sizeof() bytes,
past its end, and crash lets that read stop early at a page left out of the dump (see
commands/p.py: GdbMemory.partial_ok).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.errors import CrashpyError

if TYPE_CHECKING:
    from crashpy.program import Program


def task_struct_size(prog: Program) -> int:
    """The bytes the kernel allocates for a task: `arch_task_struct_size` where the kernel has it (the
    FPU state at the end is sized at boot), else sizeof(struct task_struct)."""
    if prog.has_symbol("arch_task_struct_size"):
        try:
            return prog.read_u32(prog.symbol_address("arch_task_struct_size"))
        except CrashpyError:
            pass
    return prog.sizeof("task_struct")


def _task_struct(prog: Program) -> bool:
    try:
        return task_struct_size(prog) != prog.sizeof("task_struct")
    except CrashpyError:
        return False


def _kmem_cache(prog: Program) -> bool:
    """SLUB only (crash's rule for SLAB's kmem_cache_boot is not needed by any kernel crashpy reads)."""
    if not prog.has_symbol("kmem_cache") or not prog.has_member("kmem_cache", "cpu_slab"):
        return False
    member = "object_size" if prog.has_member("kmem_cache", "object_size") else "objsize"
    try:
        cache = prog.read_u64(prog.symbol_address("kmem_cache"))
        size = prog.read_u32(cache + prog.offsetof("kmem_cache", member))
        return size != prog.sizeof("kmem_cache")
    except CrashpyError:
        return False


def downsized_types(prog: Program) -> frozenset[str]:
    """The struct names whose allocations are smaller than sizeof(struct name)."""

    def build() -> frozenset[str]:
        if prog.image is None:
            return frozenset()
        found = {"task_struct": _task_struct(prog), "kmem_cache": _kmem_cache(prog)}
        return frozenset(name for name, yes in found.items() if yes)

    result: frozenset[str] = prog.cache("downsized_types", build)
    return result


def is_downsized(prog: Program, name: str) -> bool:
    """crash's is_downsized(): whether struct `name` is one of downsized_types()."""
    return name in downsized_types(prog)
