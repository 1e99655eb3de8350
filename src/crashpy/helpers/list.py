"""Kernel linked lists: struct list_head and struct hlist_head walks over Objects (drgn's
list_for_each_entry), with crash's loop protection; and crash's do_list() walk of `next` pointers,
the way the `list` command follows them (on addresses, as crash's offsets are given as numbers)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CommandError
from crashpy.object import Object, address_of

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.types.model import Type


def list_for_each(head: Object, limit: int = 1_000_000) -> Iterator[Object]:
    """The nodes (struct list_head *) of the list headed by `head` (a struct list_head, or a pointer
    to one), head excluded. A list that does not come back to its head raises CommandError."""
    stop = address_of(head)
    seen: set[int] = set()
    node = head.member_("next")
    addr = int(node)
    while addr != stop:
        if addr in seen or len(seen) >= limit:
            raise CommandError(f"list_head loop detected at {addr:x}")
        seen.add(addr)
        yield node
        node = node.member_("next")
        addr = int(node)


def list_for_each_entry(
    type: str | Type, head: Object, member: str, limit: int = 1_000_000
) -> Iterator[Object]:
    """The entries (`type` *, e.g. "struct kmem_cache") linked through their `member` (a struct
    list_head) on the list headed by `head` (struct list_head or struct list_head *)."""
    for node in list_for_each(head, limit):
        yield node.container_of_(type, member)


def list_empty(head: Object) -> bool:
    """Whether the list headed by `head` (struct list_head or struct list_head *) is empty."""
    return int(head.member_("next")) == address_of(head)


def hlist_for_each(head: Object, limit: int = 1_000_000) -> Iterator[Object]:
    """The nodes (struct hlist_node *) of the hash list headed by `head` (struct hlist_head or struct
    hlist_head *), up to the NULL `next`."""
    seen: set[int] = set()
    node = head.member_("first")
    addr = int(node)
    while addr:
        if addr in seen or len(seen) >= limit:
            raise CommandError(f"hlist_node loop detected at {addr:x}")
        seen.add(addr)
        yield node
        node = node.member_("next")
        addr = int(node)


def hlist_for_each_entry(type: str | Type, head: Object, member: str) -> Iterator[Object]:
    """The entries (`type` *) linked through their `member` (a struct hlist_node) on the hash list
    headed by `head` (struct hlist_head or struct hlist_head *)."""
    for node in hlist_for_each(head):
        yield node.container_of_(type, member)


# ---------------------------------------------------------------------------------------------------------
# crash's do_list(): a general walk of `next` pointers, the way the `list` command follows them


class DuplicateEntry(CommandError):
    """A list or tree came back to an entry it had already passed (crash's hash-queue check)."""

    def __init__(self, entry: int, what: str = "list entry") -> None:
        super().__init__(f"duplicate {what}: {entry:x}")
        self.entry = entry


class InvalidListEntry(CommandError):
    """A list_head-linked list (list -h/-H) ran into a NULL `next` pointer."""

    def __init__(self, entry: int) -> None:
        super().__init__(f"invalid list entry: {entry:x}")
        self.entry = entry


def read_pointer(prog: Program, addr: int, what: str) -> int:
    """A pointer at `addr`; FaultError (naming `what`, as crash's readmem type string) if unreadable."""
    return int.from_bytes(prog.read(addr, 8, what=what), "little")


def walk_list(
    prog: Program,
    start: int,
    member_offset: int = 0,
    list_head_offset: int = 0,
    end: int = 0,
    head_format: bool = False,
) -> Iterator[int]:
    """crash's do_list(): each `next` pointer from `start` on (start first), following the pointer at
    `next + member_offset`, until it is NULL, `end`, `start`, the entry itself, or the first entry again.
    The caller shows `next - list_head_offset`; an entry met twice raises DuplicateEntry after it was
    yielded; an unreadable pointer raises FaultError ("first list entry" / "list entry"); a NULL `next`
    in a list_head list (`head_format`) raises InvalidListEntry."""
    first = read_pointer(prog, start + member_offset, "first list entry")
    seen: set[int] = set()
    nxt = start
    count = 0
    while True:
        yield nxt
        if nxt:
            key = nxt - list_head_offset
            if key in seen:
                raise DuplicateEntry(nxt)
            seen.add(key)
        count += 1
        last = nxt
        nxt = read_pointer(prog, nxt + member_offset, "list entry")
        if nxt == 0 and head_format:
            raise InvalidListEntry(0)
        if nxt == 0 or nxt == end or nxt == start or nxt == last or (nxt == first and count != 1):
            return


@dataclass
class BrentNote:
    """A line crash's Brent walk prints on its way: `text` (with or without its newline)."""

    text: str


def walk_list_brent(
    prog: Program,
    start: int,
    member_offset: int = 0,
    list_head_offset: int = 0,
    end: int = 0,
    head_format: bool = False,
) -> Iterator[int | BrentNote]:
    """crash's do_list_no_hash() (list -B): walk_list() with R. P. Brent's cycle detection instead of a
    set. Yields the entries to show and, once a loop is found, notes of its length and of the distance
    from the start to it; raises DuplicateEntry with the first entry met twice."""
    first = read_pointer(prog, start + member_offset, "first list entry")

    def step(p: int) -> int:
        return read_pointer(prog, p + member_offset, "list entry")

    loop_detect = loop_exit = False
    lam = 0
    power = 2
    mu = 0
    x = y = start
    y = step(y)
    nxt = start
    count = 0
    while True:
        if not loop_detect:
            yield nxt
        if nxt and loop_exit:
            raise DuplicateEntry(x)
        count += 1
        last = nxt
        nxt = step(nxt)
        if not loop_detect:
            if count > 1 and x == y:
                loop_detect = True
                yield BrentNote(f"loop detected, loop length: {lam}\n")
                mu = 0
                x = y = start
                while lam:
                    lam -= 1
                    y = step(y)
                lam = (1 << 64) - 1  # crash's `while (brent_lambda--)` leaves the unsigned counter wrapped
            else:
                if power == lam:
                    x = y
                    power *= 2
                    lam = 0
                y = nxt
                lam += 1
        else:
            if not loop_exit and x == y:
                loop_exit = True
                yield BrentNote(f"length from start to loop: {mu:x}")
            else:
                x = step(x)
                y = step(y)
                mu += 1
        if nxt == 0 and head_format:
            raise InvalidListEntry(0)
        if nxt == 0 or nxt == end or nxt == start or nxt == last or (nxt == first and count != 1):
            return
