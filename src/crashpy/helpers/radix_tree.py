"""Radix trees of kernels before the XArray (struct radix_tree_root / radix_tree_node, 4.7 to 4.19).

Since 4.20 (commit f8d5d0cc145c "xarray: Add definition of struct xarray") `struct radix_tree_root` is
a `#define` of `struct xarray`, so a kernel's debuginfo has no type of that name; crash then reports
that radix trees do not exist (`tree -t radix`) and its `-t ra` request becomes an XArray walk only
when the name is there with an `xa_head`. crashpy says the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from crashpy.errors import CrashpyError
from crashpy.helpers.list import DuplicateEntry, read_pointer
from crashpy.helpers.xarray import TreeSlot

if TYPE_CHECKING:
    from crashpy.program import Program

RADIX_TREE_INTERNAL_NODE = 1


def radix_tree_is_xarray(prog: Program) -> bool:
    """Whether `struct radix_tree_root` exists and is the XArray (has `xa_head`)."""
    try:
        return prog.has_member("radix_tree_root", "xa_head")
    except CrashpyError:  # no type information at all
        return False


def _layout(prog: Program) -> tuple[int, int, int, int]:
    """(radix_tree_root.rnode, radix_tree_node.shift, radix_tree_node.slots, RADIX_TREE_MAP_SHIFT)."""
    from crashpy.expr import evaluate

    try:
        rnode = prog.offsetof("radix_tree_root", "rnode")
        shift = prog.offsetof("radix_tree_node", "shift")
        slots = prog.offsetof("radix_tree_node", "slots")
        size = int(evaluate(prog, "sizeof(((struct radix_tree_node *)0)->slots)").value_())
    except CrashpyError as e:  # no such type or member (or no BTF): no such layout
        raise CrashpyError("radix trees do not exist or have changed their format") from e
    if size <= 0:
        raise CrashpyError("cannot determine length of radix_tree_node.slots[] array")
    return rnode, shift, slots, (size // 8).bit_length() - 1


def radix_tree_map_mask(prog: Program) -> int:
    return (1 << _layout(prog)[3]) - 1


def radix_tree_walk(prog: Program, ptr: int, is_root: bool = True) -> Iterator[TreeSlot]:
    """crash's do_radix_tree_traverse(): the non-empty slots of the tree at `ptr` (struct
    radix_tree_root *), or of the subtree at node `ptr` when not `is_root`, in index order."""
    rnode_off, shift_off, slots_off, map_shift = _layout(prog)
    if not is_root:
        node = ptr & ~RADIX_TREE_INTERNAL_NODE
        shift = prog.read(node + shift_off, 1, what="radix_tree_node shift")[0]
        height = shift // map_shift + 1
    else:
        node = read_pointer(prog, ptr + rnode_off, "radix_tree_root rnode")
        internal = node & RADIX_TREE_INTERNAL_NODE
        node &= ~RADIX_TREE_INTERNAL_NODE
        height = 0
        if internal:
            shift = prog.read(node + shift_off, 1, what="radix_tree_node shift")[0]
            height = shift // map_shift + 1
    if height == 0:
        yield TreeSlot(node, node, 0, "direct")
        return
    seen: set[int] = set()

    def visit(node: int, height: int, path: str, index: int) -> Iterator[TreeSlot]:
        if node in seen:
            raise DuplicateEntry(node, "tree node")
        seen.add(node)
        n = 1 << map_shift
        shift = (height - 1) * map_shift
        for off in range(n):
            slot = read_pointer(prog, node + slots_off + 8 * off, "radix_tree_node.slot[off]")
            if not slot:
                continue
            slot &= ~RADIX_TREE_INTERNAL_NODE
            if height == 1:
                yield TreeSlot(node, slot, index | off, path)
            else:
                yield from visit(slot, height - 1, f"{path}/{off}", index | (off << shift))

    yield from visit(node, height, "root", 0)
