"""Kernel linked lists: struct list_head walks, with crash's loop protection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from crashpy.errors import CommandError

if TYPE_CHECKING:
    from crashpy.program import Program


def list_for_each(prog: Program, head: int, limit: int = 1_000_000) -> Iterator[int]:
    """Addresses of the list_head nodes on the list headed by `head` (struct list_head *), head excluded."""
    seen: set[int] = set()
    node = prog.read_u64(head)
    while node != head:
        if node in seen or len(seen) >= limit:
            raise CommandError(f"list_head loop detected at {node:x}")
        seen.add(node)
        yield node
        node = prog.read_u64(node)


def list_for_each_entry(prog: Program, head: int, struct_name: str, member: str) -> Iterator[int]:
    """Addresses of the `struct_name` entries linked through `member` on the list at `head`."""
    off = prog.offsetof(struct_name, member)
    for node in list_for_each(prog, head):
        yield node - off
