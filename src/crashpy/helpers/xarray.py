"""XArrays (struct xarray / struct xa_node): xa_for_each over Objects, and the walk crash's
`tree -t xarray` makes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CrashpyError
from crashpy.helpers.list import DuplicateEntry, read_pointer
from crashpy.object import Object, address_of

if TYPE_CHECKING:
    from crashpy.program import Program

XA_TAG_MASK = 3
XA_TAG_INTERNAL = 2


@dataclass
class TreeSlot:
    """A non-empty slot of a radix tree or XArray: the node holding it, its raw value (internal tag
    bits cleared), its index, and the path of slot numbers from the root ("root/0")."""

    node: int
    slot: int
    index: int
    path: str


@dataclass(frozen=True)
class XaLayout:
    head: int  # xarray.xa_head
    slots: int  # xa_node.slots
    shift: int  # xa_node.shift
    chunk_shift: int  # XA_CHUNK_SHIFT: log2 of the number of slots

    @property
    def chunk_mask(self) -> int:
        return (1 << self.chunk_shift) - 1


def xa_layout(prog: Program) -> XaLayout:
    """The xarray and xa_node offsets; CrashpyError if the kernel has no XArray."""

    def layout() -> XaLayout:
        try:
            nslots = prog.btf.find("xa_node", "struct")
            head = prog.offsetof("xarray", "xa_head")
            slots = prog.offsetof("xa_node", "slots")
            shift = prog.offsetof("xa_node", "shift")
            size = _member_size(prog, "xa_node", "slots")
        except CrashpyError as e:  # no such type or member (or no BTF): no such layout
            raise CrashpyError("xarray facility does not exist or has changed its format") from e
        if nslots is None or size <= 0:
            raise CrashpyError("cannot determine length of xa_node.slots[] array")
        return XaLayout(head, slots, shift, (size // 8).bit_length() - 1)

    result: XaLayout = prog.cache("helpers.xarray.layout", layout)
    return result


def _member_size(prog: Program, struct: str, member: str) -> int:
    from crashpy.expr import evaluate

    return int(evaluate(prog, f"sizeof(((struct {struct} *)0)->{member})").value_())


def xa_walk(prog: Program, ptr: int, is_root: bool = True) -> Iterator[TreeSlot]:
    """crash's do_xarray_traverse(): the non-empty slots of the XArray at `ptr` (struct xarray *), or of
    the subtree at node `ptr` (struct xa_node *) when not `is_root`, in index order. A node met twice
    raises DuplicateEntry; unreadable memory raises FaultError."""
    lay = xa_layout(prog)
    if not is_root:
        node = ptr
        if node & XA_TAG_MASK == XA_TAG_INTERNAL:
            node &= ~XA_TAG_MASK
        shift = prog.read(node + lay.shift, 1, what="xa_node shift")[0]
        height = shift // lay.chunk_shift + 1
    else:
        node = read_pointer(prog, ptr + lay.head, "xarray xa_head")
        internal = node & XA_TAG_MASK == XA_TAG_INTERNAL
        node &= ~XA_TAG_MASK
        height = 0
        if internal:
            shift = prog.read(node + lay.shift, 1, what="xa_node shift")[0]
            height = shift // lay.chunk_shift + 1
    if height == 0:
        yield TreeSlot(node, node, 0, "direct")
        return
    yield from _xa_iter(prog, lay, node, height, "root", 0, set())


def _xa_iter(
    prog: Program, lay: XaLayout, node: int, height: int, path: str, index: int, seen: set[int]
) -> Iterator[TreeSlot]:
    if node in seen:
        raise DuplicateEntry(node, "tree node")
    seen.add(node)
    n = 1 << lay.chunk_shift
    raw = prog.read(node + lay.slots, 8 * n, what="xa_node.slots[off]")
    shift = (height - 1) * lay.chunk_shift
    for off in range(n):
        slot = int.from_bytes(raw[8 * off : 8 * off + 8], "little")
        if not slot:
            continue
        if slot & XA_TAG_MASK == XA_TAG_INTERNAL:
            slot &= ~XA_TAG_INTERNAL
        if height == 1:
            yield TreeSlot(node, slot, index | off, path)
        else:
            yield from _xa_iter(prog, lay, slot, height - 1, f"{path}/{off}", index | (off << shift), seen)


def xa_for_each(xa: Object) -> Iterator[tuple[int, Object]]:
    """(index, entry) of every non-NULL entry of the XArray `xa` (struct xarray or struct xarray *),
    in index order; each entry a void * Object, as crash's `tree -t xarray` lists them."""
    prog = xa.prog
    assert prog is not None
    for slot in xa_walk(prog, address_of(xa)):
        if slot.slot:
            yield slot.index, Object(prog, "void *", value=slot.slot)
