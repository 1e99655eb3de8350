"""Tasks: every task_struct of the kernel, as crash finds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.errors import FaultError
from crashpy.helpers.list import list_for_each_entry

if TYPE_CHECKING:
    from crashpy.program import Program


def thread_group_leaders(prog: Program) -> list[int]:
    """init_task and every task on its `tasks` list (struct task_struct *)."""
    init = prog.symbol_address("init_task")
    return [init, *list_for_each_entry(prog, init + prog.offsetof("task_struct", "tasks"), "task_struct", "tasks")]


def threads_of(prog: Program, leader: int) -> list[int]:
    """Every thread of the thread group led by `leader`, the leader first."""
    if prog.has_member("signal_struct", "thread_head"):
        signal = prog.read_u64(leader + prog.offsetof("task_struct", "signal"))
        if not signal:
            return [leader]
        head = signal + prog.offsetof("signal_struct", "thread_head")
        threads = list(list_for_each_entry(prog, head, "task_struct", "thread_node"))
    else:  # before v3.14 the group was only linked through task_struct.thread_group
        off = prog.offsetof("task_struct", "thread_group")
        threads = [leader, *list_for_each_entry(prog, leader + off, "task_struct", "thread_group")]
    if leader in threads:
        threads.remove(leader)
    return [leader, *threads]


def idle_tasks(prog: Program) -> list[int]:
    """The per-CPU idle tasks (rq->idle); CPU 0's is init_task."""
    rq_sym = prog.symbol_address("runqueues")
    idle_off = prog.offsetof("rq", "idle")
    out = []
    for cpu in range(len(prog.percpu_offsets)):
        try:
            out.append(prog.read_u64(prog.percpu_address(rq_sym, cpu) + idle_off))
        except FaultError:
            continue
    return out


def all_tasks(prog: Program) -> list[int]:
    """Every task: the idle tasks of each CPU, then every thread of every process (no duplicates)."""

    def build() -> list[int]:
        seen: dict[int, None] = {}
        for task in idle_tasks(prog):
            if task:
                seen.setdefault(task, None)
        for leader in thread_group_leaders(prog):
            for task in threads_of(prog, leader):
                seen.setdefault(task, None)
        return list(seen)

    result: list[int] = prog.cache("tasks.all", build)
    return result
