"""Red-black trees (struct rb_root / struct rb_node): in-order iterators over Objects (drgn's
rbtree_inorder_for_each_entry), and the walk crash's `tree -t rbtree` makes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, CrashpyError, FaultError
from crashpy.helpers.list import DuplicateEntry, read_pointer
from crashpy.object import Object

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.types.model import Type


def rbtree_inorder_for_each(root: Object, limit: int = 1_000_000) -> Iterator[Object]:
    """The nodes (struct rb_node *) of the tree at `root` (struct rb_root or struct rb_root *), from
    rb_first() on as rb_next() goes. A tree deeper than `limit` nodes (a loop) raises CommandError."""
    stack: list[Object] = []
    node = root.member_("rb_node")
    count = 0
    while stack or node:
        while node:
            stack.append(node)
            node = node.member_("rb_left")
            count += 1
            if count > limit:
                raise CommandError(f"rb tree loop detected at {node.value_():x}")
        node = stack.pop()
        yield node
        node = node.member_("rb_right")


def rbtree_inorder_for_each_entry(type: str | Type, root: Object, member: str) -> Iterator[Object]:
    """The entries (`type` *, e.g. "struct sched_entity") whose `member` (a struct rb_node) is on the
    tree at `root` (struct rb_root or struct rb_root *), in order."""
    for node in rbtree_inorder_for_each(root):
        yield node.container_of_(type, member)


@dataclass
class RbNode:
    """One node of the tree: its address (struct rb_node *) and its path from the root ("root/l/r")."""

    node: int
    position: str


@dataclass
class RbNote:
    """A problem met on the way that crash reports and walks past (a corrupted child pointer)."""

    text: str


def rb_offsets(prog: Program) -> tuple[int, int, int]:
    """(rb_root.rb_node, rb_node.rb_left, rb_node.rb_right) offsets; CrashpyError if the kernel has none."""
    try:
        return (
            prog.offsetof("rb_root", "rb_node"),
            prog.offsetof("rb_node", "rb_left"),
            prog.offsetof("rb_node", "rb_right"),
        )
    except (CrashpyError, KeyError, LookupError) as e:
        raise CrashpyError("red-black trees do not exist or have changed their format") from e


def rb_root_node(prog: Program, root: int) -> int:
    """The top node of the tree at `root` (struct rb_root *)."""
    return read_pointer(prog, root + rb_offsets(prog)[0], "rb_root rb_node")


def _readable(prog: Program, addr: int) -> bool:
    try:
        prog.read(addr, 8)
    except FaultError:
        return False
    return True


def rbtree_walk(prog: Program, top: int, linear: bool = False) -> Iterator[RbNode | RbNote]:
    """crash's rbtree_iteration() from node `top` (struct rb_node *): each node with its position, in
    pre-order (node, left, right), or in order (left, node, right) with `linear`. A child pointer that
    cannot be followed is reported as an RbNote and skipped; a node met twice raises DuplicateEntry."""
    _, left_off, right_off = rb_offsets(prog)
    seen: set[int] = set()

    def child(node: int, off: int, which: str) -> Iterator[RbNote | int]:
        try:
            ptr = read_pointer(prog, node + off, f"rb_node {which}")
        except FaultError as e:
            yield RbNote(f"{e.message()}\n")
            return
        if not ptr:
            return
        if _readable(prog, ptr + left_off):
            yield ptr
        else:
            yield RbNote(f"rb_node: {node:x}: corrupted {which} pointer: {ptr:x}\n")

    def visit(node: int, pos: str) -> Iterator[RbNode | RbNote]:
        if not node:
            return
        if node in seen:
            raise DuplicateEntry(node, "tree entry")
        seen.add(node)
        if linear:
            for c in child(node, left_off, "rb_left"):
                if isinstance(c, RbNote):
                    yield c
                else:
                    yield from visit(c, pos + "/l")
        yield RbNode(node, pos)
        if not linear:
            for c in child(node, left_off, "rb_left"):
                if isinstance(c, RbNote):
                    yield c
                else:
                    yield from visit(c, pos + "/l")
        for c in child(node, right_off, "rb_right"):
            if isinstance(c, RbNote):
                yield c
            else:
                yield from visit(c, pos + "/r")

    yield from visit(top, "root")
