"""Red-black trees (struct rb_root / struct rb_node), walked the way crash's `tree -t rbtree` walks them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CrashpyError, FaultError
from crashpy.helpers.list import DuplicateEntry, read_pointer

if TYPE_CHECKING:
    from crashpy.program import Program


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
