"""Wait queues: the tasks waiting on a wait_queue_head (struct wait_queue_head, include/linux/wait.h).

Since v4.13 a wait_queue_head links its waiters (struct wait_queue_entry) through `head`, each
entry's `entry`; the entry's `private` is the waiting task_struct for the default wake function.
The walk is crash's do_list() over those list_heads (helpers/list.walk_list), so that a damaged or
foreign queue ends, or faults, where crash's `waitq` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CommandError
from crashpy.helpers.list import read_pointer, walk_list

if TYPE_CHECKING:
    from crashpy.program import Program


@dataclass(frozen=True)
class WaitLayout:
    head: int  # offsetof(struct wait_queue_head, head)
    entry: int  # offsetof(struct wait_queue_entry, entry)
    private: int  # offsetof(struct wait_queue_entry, private)


def wait_layout(prog: Program) -> WaitLayout:
    """The offsets of the v4.13+ wait queue; CommandError in crash's words for another layout (the
    older `__wait_queue` / `wait_queue` structures are not read)."""

    def build() -> WaitLayout | None:
        if not (
            prog.has_member("wait_queue_head", "head")
            and prog.has_member("wait_queue_entry", "entry")
            and prog.has_member("wait_queue_entry", "private")
        ):
            return None
        return WaitLayout(
            prog.offsetof("wait_queue_head", "head"),
            prog.offsetof("wait_queue_entry", "entry"),
            prog.offsetof("wait_queue_entry", "private"),
        )

    layout: WaitLayout | None = prog.cache("wait.layout", build)
    if layout is None:
        raise CommandError("cannot determine wait queue structures")
    return layout


def waiting_entries(prog: Program, head: int) -> list[int]:
    """The struct wait_queue_entry addresses queued on the wait_queue_head at `head`, in list order
    (empty for an empty queue). FaultError for an unreadable link ("first list entry" / "list
    entry"), DuplicateEntry for a loop."""
    lay = wait_layout(prog)
    start = head + lay.head
    links = list(walk_list(prog, start, 0, lay.entry, end=start))
    return [link - lay.entry for link in links[1:]]


def entry_private(prog: Program, entry: int) -> int:
    """wait_queue_entry.private: the waiting task_struct (for autoremove/default wake functions)."""
    return read_pointer(prog, entry + wait_layout(prog).private, "wait_queue_t.task")
