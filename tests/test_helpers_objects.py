"""Helpers over Objects (drgn's style): list, hlist, rbtree, xarray and maple tree iterators and
for_each_task, on small synthetic memory and on a real dump."""

from __future__ import annotations

import pytest

from crashpy.errors import AddressSpace, CommandError, FaultError, FaultKind
from crashpy.helpers.list import (
    hlist_for_each_entry,
    list_empty,
    list_for_each,
    list_for_each_entry,
)
from crashpy.helpers.maple_tree import mt_for_each
from crashpy.helpers.rbtree import (
    RbNode,
    rb_root_node,
    rbtree_inorder_for_each,
    rbtree_inorder_for_each_entry,
    rbtree_walk,
)
from crashpy.helpers.tasks import all_tasks, for_each_task, task_table, thread_group_leaders
from crashpy.helpers.xarray import xa_for_each, xa_walk
from crashpy.object import FieldReader, Object, has_member
from crashpy.types.model import IntType, Member, PointerType, StructType, Type, TypeKind, TypeLookupError
from tests.crashpy_runner import program
from tools.vmcores import ensure

# ---- synthetic memory: a few kernel types and a fake Program that reads a dict of words ------------------

INT = IntType("int", 4, True)
ULONG = IntType("long unsigned int", 8, False)


def _types() -> dict[str, Type]:
    lh = StructType(TypeKind.STRUCT, "list_head", 16, [])
    lh._members = [Member("next", PointerType(lh), 0), Member("prev", PointerType(lh), 64)]
    hn = StructType(TypeKind.STRUCT, "hlist_node", 16, [])
    hn._members = [Member("next", PointerType(hn), 0), Member("pprev", PointerType(PointerType(hn)), 64)]
    hh = StructType(TypeKind.STRUCT, "hlist_head", 8, [Member("first", PointerType(hn), 0)])
    rb = StructType(TypeKind.STRUCT, "rb_node", 24, [])
    rb._members = [
        Member("__rb_parent_color", ULONG, 0),
        Member("rb_right", PointerType(rb), 64),
        Member("rb_left", PointerType(rb), 128),
    ]
    root = StructType(TypeKind.STRUCT, "rb_root", 8, [Member("rb_node", PointerType(rb), 0)])
    # struct item { int id; struct list_head node; struct hlist_node hash; struct rb_node rb; }
    item = StructType(
        TypeKind.STRUCT,
        "item",
        72,
        [Member("id", INT, 0), Member("node", lh, 64), Member("hash", hn, 192), Member("rb", rb, 320)],
    )
    types: dict[str, Type] = {f"struct {t.name}": t for t in (lh, hn, hh, rb, root, item)}
    types.update({f"{k} *": PointerType(t) for k, t in list(types.items())})
    return types


class FakeBtf:
    def __init__(self) -> None:
        self.types = _types()

    def lookup_type(self, spelling: str) -> Type:
        try:
            return self.types[spelling]
        except KeyError:
            raise TypeLookupError(f"No type named {spelling}.") from None


class FakeProgram:
    """Memory as 8-byte little-endian words; reading an unwritten word is a fault."""

    def __init__(self) -> None:
        self.btf = FakeBtf()
        self.words: dict[int, int] = {}

    def write(self, addr: int, value: int) -> None:
        self.words[addr] = value & (1 << 64) - 1

    def read(self, addr: int, size: int, what: str = "") -> bytes:
        out = bytearray()
        for a in range(addr & ~7, addr + size, 8):
            if a not in self.words:
                raise FaultError(a, FaultKind.INVALID, AddressSpace.KVADDR, what)
            out += self.words[a].to_bytes(8, "little")
        start = addr & 7
        return bytes(out[start : start + size])


ITEM_NODE, ITEM_HASH, ITEM_RB = 8, 24, 40  # the members' byte offsets in struct item


def _items(prog: FakeProgram, ids: list[int]) -> list[int]:
    """struct items at 0x1000 apart, each with its id."""
    addrs = [0x10000 + 0x1000 * i for i in range(len(ids))]
    for addr, id_ in zip(addrs, ids, strict=True):
        for off in range(0, 72, 8):
            prog.write(addr + off, 0)
        prog.write(addr, id_)
    return addrs


def _link(prog: FakeProgram, head: int, nodes: list[int]) -> None:
    ring = [head, *nodes]
    for i, node in enumerate(ring):
        prog.write(node, ring[(i + 1) % len(ring)])
        prog.write(node + 8, ring[i - 1])


def test_list_for_each_entry_synthetic() -> None:
    prog = FakeProgram()
    items = _items(prog, [7, 8, 9])
    head = 0x100
    _link(prog, head, [a + ITEM_NODE for a in items])
    head_obj = Object(prog, "struct list_head", head)  # type: ignore[arg-type]
    got = list(list_for_each_entry("struct item", head_obj, "node"))
    assert [o.value_() for o in got] == items
    assert [int(o.member_("id")) for o in got] == [7, 8, 9]
    assert got[0].type_.type_name() == "struct item *"
    # a pointer to the head walks the same list
    head_ptr = Object(prog, "struct list_head *", value=head)  # type: ignore[arg-type]
    assert [int(o.id) for o in list_for_each_entry("struct item", head_ptr, "node")] == [7, 8, 9]
    assert [n.value_() for n in list_for_each(head_obj)] == [a + ITEM_NODE for a in items]
    assert not list_empty(head_obj)
    empty = 0x200
    _link(prog, empty, [])
    assert list_empty(Object(prog, "struct list_head", empty))  # type: ignore[arg-type]
    assert list(list_for_each(Object(prog, "struct list_head", empty))) == []  # type: ignore[arg-type]


def test_list_for_each_loop_and_fault() -> None:
    prog = FakeProgram()
    items = _items(prog, [1, 2])
    head = 0x100
    _link(prog, head, [a + ITEM_NODE for a in items])
    prog.write(items[1] + ITEM_NODE, items[0] + ITEM_NODE)  # the second entry points back to the first
    with pytest.raises(CommandError, match="list_head loop detected"):
        list(list_for_each(Object(prog, "struct list_head", head)))  # type: ignore[arg-type]
    prog.write(items[1] + ITEM_NODE, 0xDEAD000)  # a pointer into nothing
    with pytest.raises(FaultError):
        list(list_for_each(Object(prog, "struct list_head", head)))  # type: ignore[arg-type]


def test_hlist_for_each_entry_synthetic() -> None:
    prog = FakeProgram()
    items = _items(prog, [3, 4, 5])
    head = 0x300
    prog.write(head, items[0] + ITEM_HASH)
    prog.write(items[0] + ITEM_HASH, items[1] + ITEM_HASH)
    prog.write(items[1] + ITEM_HASH, items[2] + ITEM_HASH)
    prog.write(items[2] + ITEM_HASH, 0)
    got = hlist_for_each_entry("struct item", Object(prog, "struct hlist_head", head), "hash")  # type: ignore[arg-type]
    assert [int(o.id) for o in got] == [3, 4, 5]
    prog.write(head + 8, 0)
    assert list(hlist_for_each_entry("struct item", Object(prog, "struct hlist_head", head + 8), "hash")) == []  # type: ignore[arg-type]


def test_rbtree_inorder_synthetic() -> None:
    prog = FakeProgram()
    items = _items(prog, [20, 10, 30, 5, 25])
    node = {i: a + ITEM_RB for i, a in zip([20, 10, 30, 5, 25], items, strict=True)}
    #        20
    #      10   30
    #     5    25
    children = {20: (10, 30), 10: (5, None), 30: (25, None), 5: (None, None), 25: (None, None)}
    for key, (left, right) in children.items():
        prog.write(node[key] + 8, node[right] if right else 0)
        prog.write(node[key] + 16, node[left] if left else 0)
    root = 0x400
    prog.write(root, node[20])
    root_obj = Object(prog, "struct rb_root", root)  # type: ignore[arg-type]
    assert [int(o.id) for o in rbtree_inorder_for_each_entry("struct item", root_obj, "rb")] == [5, 10, 20, 25, 30]
    assert [n.value_() for n in rbtree_inorder_for_each(root_obj)] == [node[k] for k in (5, 10, 20, 25, 30)]
    prog.write(root + 8, 0)
    assert list(rbtree_inorder_for_each(Object(prog, "struct rb_root", root + 8))) == []  # type: ignore[arg-type]


def test_has_member_is_a_feature_check() -> None:
    prog = FakeProgram()
    assert has_member(prog, "struct item", "rb")  # type: ignore[arg-type]
    assert not has_member(prog, "struct item", "nope")  # type: ignore[arg-type]
    assert not has_member(prog, "struct no_such_type", "rb")  # type: ignore[arg-type]


# ---- a real dump -------------------------------------------------------------------------------------------

DUMP = "sysrq.d31.zlib"


@pytest.fixture(scope="module")
def prog():  # type: ignore[no-untyped-def]
    paths = ensure([DUMP])
    return program(paths["vmlinux"], paths[DUMP])


def test_for_each_task_real(prog) -> None:  # type: ignore[no-untyped-def]
    tasks = list(for_each_task(prog))
    assert [t.value_() for t in tasks] == all_tasks(prog)
    assert all(t.type_.type_name() == "struct task_struct *" for t in tasks)
    table = task_table(prog)
    for t in tasks:
        tc = table.by_task[t.value_()]
        assert int(t.pid) == tc.pid
        assert t.comm.string_().decode("latin-1") == tc.comm


def test_list_for_each_entry_real(prog) -> None:  # type: ignore[no-untyped-def]
    init = Object(prog, "struct task_struct", prog.symbol_address("init_task"))
    leaders = [t.value_() for t in list_for_each_entry("struct task_struct", init.tasks, "tasks")]
    assert leaders == thread_group_leaders(prog)[1:]


def test_rbtree_real(prog) -> None:  # type: ignore[no-untyped-def]
    """vmap_area_root in order: ascending va_start, the nodes crash's `tree -t rbtree -l` walk lists."""
    root = Object(prog, "struct rb_root", prog.symbol_address("vmap_area_root"))
    areas = list(rbtree_inorder_for_each_entry("struct vmap_area", root, "rb_node"))
    starts = [int(a.va_start) for a in areas]
    assert len(starts) > 10 and starts == sorted(starts)
    walk = [ev.node for ev in rbtree_walk(prog, rb_root_node(prog, root.address_), linear=True) if isinstance(ev, RbNode)]
    assert [a.rb_node.address_ for a in areas] == walk


def test_xarray_real(prog) -> None:  # type: ignore[no-untyped-def]
    """irq_desc_tree: each irq_desc at its irq number."""
    xa = Object(prog, "struct xarray", prog.symbol_address("irq_desc_tree"))
    entries = list(xa_for_each(xa))
    assert entries and [i for i, _ in entries] == sorted(i for i, _ in entries)
    assert [e.value_() for _, e in entries] == [s.slot for s in xa_walk(prog, xa.address_) if s.slot]
    for index, entry in entries:
        desc = entry.cast_(prog.btf.lookup_type("struct irq_desc *"))
        assert int(desc.irq_data.irq) == index


def test_maple_tree_real(prog) -> None:  # type: ignore[no-untyped-def]
    """A process's mm_mt (6.1+): each vm_area_struct covers [vm_start, vm_end - 1]."""
    task = next(t for t in for_each_task(prog) if int(t.mm))
    vmas = list(mt_for_each(task.mm.mm_mt))
    assert vmas
    vma_p = prog.btf.lookup_type("struct vm_area_struct *")
    for first, last, entry in vmas:
        vma = entry.cast_(vma_p)
        assert (int(vma.vm_start), int(vma.vm_end) - 1) == (first, last)
    assert int(task.mm.map_count) == len(vmas)


def test_field_reader_synthetic() -> None:
    """A member path found once by member access, then read at any address with its type's decoding."""
    prog = FakeProgram()
    items = _items(prog, [-3, 4])
    read_id = FieldReader(prog, "struct item", "id")  # type: ignore[arg-type]
    assert [read_id(a) for a in items] == [-3, 4]
    prog.write(items[0] + ITEM_RB + 16, 0xABC)
    left = FieldReader(prog, "struct item", "rb.rb_left")  # type: ignore[arg-type]
    assert left.offset == ITEM_RB + 16 and left(items[0]) == 0xABC
    with pytest.raises(FaultError):
        read_id(0xDEAD000)
