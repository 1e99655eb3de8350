"""waitq: the tasks waiting on a wait queue (crash's cmd_waitq, kernel.c), from helpers/wait.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crashpy.commands.registry import command
from crashpy.commands.search import task_header
from crashpy.errors import CommandError
from crashpy.helpers.numbers import htol, is_a_number
from crashpy.helpers.tasks import TaskContext, stack_owner
from crashpy.helpers.wait import entry_private, waiting_entries

if TYPE_CHECKING:
    from crashpy.session import Session

HELP = """\
NAME
  waitq - list tasks queued on a wait queue

SYNOPSIS
  waitq  [ symbol ] | [ struct.member struct_addr ] | [ address ]

DESCRIPTION
  Shows each task sleeping on a wait queue (a wait_queue_head_t), one line
  per task with its pid, task_struct address, cpu and command name, in the
  order the tasks were queued.  An empty queue is reported as such.  The
  queue can be given three ways:

    symbol                    a kernel variable that is a wait queue head.
    struct.member struct_addr a wait queue head embedded in a structure:
                              the structure's type and the member's name,
                              then the structure's address in hexadecimal.
    address                   the wait queue head's address in hexadecimal.

EXAMPLES
  The out-of-memory reaper's thread sleeping on its queue:

    crash> waitq oom_reaper_wait
    PID: 31       TASK: ffff88801f4a1800  CPU: 1    COMMAND: "oom_reaper"

  A queue nobody waits on:

    crash> waitq log_wait
    wait queue "log_wait" (ffffffff82ad2350) is empty

  The queue a process's parent waits on for its children, inside the
  process's signal_struct:

    crash> waitq signal_struct.wait_chldexit ffff888004fd2000
    PID: 1        TASK: ffff888003dfc800  CPU: 0    COMMAND: "init"
"""


@dataclass
class WaitqResult:
    head: int  # the wait_queue_head address
    name: str | None  # the symbol named, if any
    tasks: list[TaskContext]  # the waiters crash can name, in queue order
    empty: bool


def _usage(session: Session) -> None:
    from crashpy.commands.help import print_usage

    print_usage(session, "waitq")


def _hex(arg: str) -> int:
    notes: list[str] = []
    value = htol(arg, notes)
    if value is None:
        raise CommandError(notes[-1] if notes else f'invalid input: "{arg}"')
    return value


def _resolve(session: Session, args: list[str]) -> tuple[int, str | None] | None:
    """(head address, symbol name) from the arguments; None after printing crash's usage or note."""
    prog = session.prog
    if len(args) < 1 or len(args) > 2:
        _usage(session)
        return None
    first = args[0]
    if is_a_number(first):
        return _hex(first), None
    if "." not in first:
        if not prog.has_symbol(first):
            raise CommandError(f'cannot resolve "{first}"')
        return prog.symbol_address(first), first
    struct, member = first.split(".", 1)
    if len(args) != 2:
        session.println(f"must supply an address for {struct}")
        return None
    base = _hex(args[1])
    # crash takes one member name: a dotted path inside the member is not followed
    if not struct or not member or "." in member or not prog.has_member(struct, member):
        session.println(f"{member} is not a member of {struct}")
        return None
    return base + prog.offsetof(struct, member), None


def waitq_result(session: Session, args: list[str]) -> WaitqResult | None:
    resolved = _resolve(session, args)
    if resolved is None:
        return None
    head, name = resolved
    prog = session.prog
    if head == 0 or not prog.is_kvaddr(head):
        return None
    entries = waiting_entries(prog, head)
    table = session.task_table()
    tasks: list[TaskContext] = []
    for entry in entries:
        task = entry_private(prog, entry)
        tc = table.by_task.get(task)
        if tc is None:
            owner = stack_owner(prog, table, task)
            tc = table.by_task.get(owner) if owner is not None else None
        if tc is None:
            break  # crash stops at the first waiter that is not a task
        tasks.append(tc)
    return WaitqResult(head, name, tasks, not entries)


def waitq_document(session: Session, args: list[str]) -> dict[str, Any]:
    result = waitq_result(session, args)
    if result is None:
        return {"wait_queue": None, "tasks": []}
    return {
        "wait_queue": f"{result.head:x}",
        "symbol": result.name,
        "empty": result.empty,
        "tasks": [
            {"pid": tc.pid, "task": f"{tc.task:x}", "cpu": tc.cpu, "command": tc.comm} for tc in result.tasks
        ],
    }


@command("waitq", summary="list tasks queued on a wait queue", help=HELP, json=waitq_document)
def cmd_waitq(session: Session, args: list[str]) -> None:
    result = waitq_result(session, args)
    if result is None:
        return
    if result.empty:
        if result.name is not None:
            session.println(f'wait queue "{result.name}" ({result.head:x}) is empty')
        else:
            session.println(f"wait queue {result.head:x} is empty")
        return
    for tc in result.tasks:
        session.println(task_header(tc))
