"""Maple trees (struct maple_tree / struct maple_node, 6.1+), walked the way crash's `tree -t maple`
walks them (crash's maple_tree.c, itself after the kernel's lib/maple_tree.c mt_dump()); mt_for_each
over Objects on top of that walk."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.object import Object, address_of

if TYPE_CHECKING:
    from crashpy.program import Program

MAPLE_NODE_MASK = 255
MAPLE_NODE_TYPE_SHIFT = 3
MAPLE_NODE_TYPE_MASK = 0x0F
MAPLE_RESERVED_RANGE = 4096
MT_FLAGS_HEIGHT_OFFSET = 2
MT_FLAGS_HEIGHT_MASK = 0x7C
MAPLE_DENSE, MAPLE_LEAF_64, MAPLE_RANGE_64, MAPLE_ARANGE_64 = range(4)
ULONG_MAX = (1 << 64) - 1


def mte_to_node(entry: int) -> int:
    return entry & ~MAPLE_NODE_MASK


def mte_node_type(entry: int) -> int:
    return (entry >> MAPLE_NODE_TYPE_SHIFT) & MAPLE_NODE_TYPE_MASK


def xa_is_internal(entry: int) -> bool:
    return entry & 3 == 2


def xa_is_node(entry: int) -> bool:
    return xa_is_internal(entry) and entry > 4096


def xa_is_value(entry: int) -> bool:
    return bool(entry & 1)


def xa_is_zero(entry: int) -> bool:
    return entry == (257 << 2) | 2


def mt_is_reserved(entry: int) -> bool:
    return entry < MAPLE_RESERVED_RANGE and xa_is_internal(entry)


@dataclass
class MapleTreeHeader:
    tree: int
    flags: int
    root: int

    @property
    def height(self) -> int:
        return (self.flags & MT_FLAGS_HEIGHT_MASK) >> MT_FLAGS_HEIGHT_OFFSET


@dataclass
class MapleNodeHeader:
    node: int
    type: int
    min: int
    max: int
    depth: int
    parent: int


@dataclass
class MapleContents:
    """A range64 or arange64 node's slots and pivots (and an arange64's gaps and metadata)."""

    slots: list[int]
    pivots: list[int]
    gaps: list[int] | None = None
    meta_end: int = 0
    meta_gap: int = 0


@dataclass
class MapleEntry:
    entry: int
    min: int
    max: int
    depth: int
    slot: int  # index of the slot in its node
    path: str


@dataclass
class MapleNote:
    text: str


MapleEvent = MapleTreeHeader | MapleNodeHeader | MapleContents | MapleEntry | MapleNote


@dataclass(frozen=True)
class _Layout:
    tree_size: int
    ma_root: int
    ma_flags: int
    node_size: int
    parent: int
    mr64: int
    ma64: int
    slot: int
    r64_pivot: int
    r64_slot: int
    a64_pivot: int
    a64_slot: int
    a64_gap: int
    a64_meta: int
    meta_end: int
    meta_gap: int
    mt_slots: tuple[int, ...]
    mt_max: tuple[int, ...]


def _layout(prog: Program) -> _Layout:
    def build() -> _Layout:
        off = prog.offsetof
        mt_slots = tuple(prog.read(prog.symbol_address("mt_slots"), 4, what="maple_init read mt_slots"))
        return _Layout(
            prog.sizeof("maple_tree"),
            off("maple_tree", "ma_root"),
            off("maple_tree", "ma_flags"),
            prog.sizeof("maple_node"),
            off("maple_node", "parent"),
            off("maple_node", "mr64"),
            off("maple_node", "ma64"),
            off("maple_node", "slot"),
            off("maple_range_64", "pivot"),
            off("maple_range_64", "slot"),
            off("maple_arange_64", "pivot"),
            off("maple_arange_64", "slot"),
            off("maple_arange_64", "gap"),
            off("maple_arange_64", "meta"),
            off("maple_metadata", "end"),
            off("maple_metadata", "gap"),
            mt_slots,
            (mt_slots[MAPLE_DENSE], ULONG_MAX, ULONG_MAX, ULONG_MAX),
        )

    result: _Layout = prog.cache("helpers.maple_tree.layout", build)
    return result


def _u64(buf: bytes, off: int) -> int:
    return int.from_bytes(buf[off : off + 8], "little")


class _Walker:
    def __init__(self, prog: Program) -> None:
        self.prog = prog
        self.lay = _layout(prog)

    def entry(self, entry: int, lo: int, hi: int, depth: int, index: int, path: str) -> Iterator[MapleEvent]:
        yield MapleEntry(entry, lo, hi, depth, index, path)

    def node(self, entry: int, lo: int, hi: int, depth: int, path: str) -> Iterator[MapleEvent]:
        lay = self.lay
        node = mte_to_node(entry)
        typ = mte_node_type(entry)
        buf = self.prog.read(node, lay.node_size, what="mt_dump_node read maple_node")
        yield MapleNodeHeader(node, typ, lo, hi, depth, _u64(buf, lay.parent) if node else 0)
        if typ == MAPLE_DENSE:
            for i in range(lay.mt_slots[MAPLE_DENSE]):
                if lo + i > hi:
                    yield MapleNote("OUT OF RANGE: ")
                yield from self.entry(_u64(buf, lay.slot + 8 * i), lo + i, lo + i, depth, i, path)
        elif typ in (MAPLE_LEAF_64, MAPLE_RANGE_64):
            yield from self.ranges(entry, lo, hi, depth, path, arange=False)
        elif typ == MAPLE_ARANGE_64:
            yield from self.ranges(entry, lo, hi, depth, path, arange=True)
        else:
            yield MapleNote(" UNKNOWN TYPE\n")

    def ranges(
        self, entry: int, lo: int, hi: int, depth: int, path: str, arange: bool
    ) -> Iterator[MapleEvent]:
        lay = self.lay
        node = mte_to_node(entry)
        typ = mte_node_type(entry)
        leaf = typ < MAPLE_RANGE_64
        what = "mt_dump_arange64 read maple_node" if arange else "mt_dump_range64 read maple_node"
        buf = self.prog.read(node, lay.node_size, what=what)
        if arange:
            base = lay.ma64
            n = lay.mt_slots[MAPLE_ARANGE_64]
            slot_off, pivot_off = base + lay.a64_slot, base + lay.a64_pivot
        else:
            base = lay.mr64
            n = lay.mt_slots[MAPLE_RANGE_64]
            slot_off, pivot_off = base + lay.r64_slot, base + lay.r64_pivot
        slots = [_u64(buf, slot_off + 8 * i) for i in range(n)]
        pivots = [_u64(buf, pivot_off + 8 * i) for i in range(n - 1)]
        if arange:
            gaps = [_u64(buf, base + lay.a64_gap + 8 * i) for i in range(n)]
            meta = base + lay.a64_meta
            yield MapleContents(slots, pivots, gaps, buf[meta + lay.meta_end], buf[meta + lay.meta_gap])
        else:
            yield MapleContents(slots, pivots)
        first = lo
        for i in range(n):
            last = hi
            if i < n - 1:
                last = pivots[i]
            elif not slots[i] and (arange or hi != lay.mt_max[typ]):
                break
            if last == 0 and i > 0:
                break
            if leaf:
                yield from self.entry(slots[i], first, last, depth + 1, i, path)
            elif slots[i]:
                yield from self.node(slots[i], first, last, depth + 1, f"{path}/{i}")
            if last == hi:
                break
            if last > hi:
                yield MapleNote(f"node 0x{node + base:x} last ({last}) > max ({hi}) at pivot {i}!\n")
                break
            first = last + 1


def maple_walk(prog: Program, ptr: int, is_root: bool = True) -> Iterator[MapleEvent]:
    """crash's do_maple_tree_traverse(): what a dump of the maple tree at `ptr` (struct maple_tree *), or
    of the subtree at `ptr` (an encoded struct maple_enode *) when not `is_root`, shows, in order: the
    tree and node headers, each node's slots and pivots, every slot of every leaf (NULL ones too), and
    crash's complaints about odd nodes."""
    w = _Walker(prog)
    lay = w.lay
    if not is_root:
        yield from w.node(ptr, 0, lay.mt_max[mte_node_type(ptr) & 3], 0, "direct")
        return
    buf = prog.read(ptr, lay.tree_size, what="mt_dump read maple_tree")
    entry = _u64(buf, lay.ma_root)
    yield MapleTreeHeader(ptr, int.from_bytes(buf[lay.ma_flags : lay.ma_flags + 4], "little"), entry)
    if not xa_is_node(entry):
        yield from w.entry(entry, 0, 0, 0, 0, "")
    elif entry:
        yield from w.node(entry, 0, lay.mt_max[mte_node_type(entry) & 3], 0, "root")


def mt_entries(prog: Program, tree: int) -> Iterator[tuple[int, int, int]]:
    """(first, last, entry) of every non-NULL entry of the struct maple_tree at `tree`, in index order,
    the entry as a number (mt_for_each() without an Object per entry)."""
    for ev in maple_walk(prog, tree):
        if isinstance(ev, MapleEntry) and ev.entry and not mt_is_reserved(ev.entry):
            yield ev.min, ev.max, ev.entry


def mt_for_each(mt: Object) -> Iterator[tuple[int, int, Object]]:
    """(first, last, entry) of every non-NULL entry of the maple tree `mt` (struct maple_tree or
    struct maple_tree *), in index order: the range [first, last] the entry (a void * Object) covers.
    A mm's tree (mm_struct.mm_mt, 6.1+) holds its struct vm_area_struct *s."""
    prog = mt.prog
    assert prog is not None
    for ev in maple_walk(prog, address_of(mt)):
        if isinstance(ev, MapleEntry) and ev.entry and not mt_is_reserved(ev.entry):
            yield ev.min, ev.max, Object(prog, "void *", value=ev.entry)
