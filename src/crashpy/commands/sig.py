"""sig: a task's signal handlers, pending, blocked and queued signals; signal names (-l, -s)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.bits import MASK64
from crashpy.commands.ps import group_leader_shown, task_header
from crashpy.commands.registry import command
from crashpy.errors import CommandError
from crashpy.helpers import signals
from crashpy.helpers.numbers import getopt, htoll, is_a_number
from crashpy.helpers.tasks import TaskContext, TaskTable, str_to_context, task_table

if TYPE_CHECKING:
    from crashpy.session import Session

HELP = """\
NAME
  sig - task signal handling

SYNOPSIS
  sig [[-l] | [-s sigset]] | [-g] [pid | taskp] ...

DESCRIPTION
  Shows how a task handles signals: the current context's, or that of each
  task given by pid or task_struct address.  For each task it lists:

    1.  the signal_struct and its thread count, then for every signal its
        k_sigaction address, handler (or SIG_DFL, SIG_IGN, SIG_ERR), the
        signals masked while the handler runs (as a 64-bit value) and the
        sa_flags, named.
    2.  whether the task has a signal pending (TIF_SIGPENDING).
    3.  the blocked set and the task's own pending set, 64-bit values.
    4.  the signals queued to the task and to its thread group, each with
        its number and the address of its siginfo.

        pid  a process ID.
      taskp  a hexadecimal task_struct address.
         -g  every thread of the task's thread group: the group's handlers
             and shared queue once, then each thread's own pending data.
         -l  the signal numbers and their names.
  -s sigset  the names of the signals set in a hexadecimal 64-bit sigset.

EXAMPLES
  Names of the signals in a sigset:

    crash> sig -s 12345
    SIGHUP SIGQUIT SIGBUS SIGKILL SIGUSR1 SIGALRM SIGCHLD

  The handlers of pid 1 (abridged):

    crash> sig 1
    PID: 1        TASK: ffff888003dfb000  CPU: 1    COMMAND: "init"
    SIGNAL_STRUCT: ffff888003e22400  NR_THREADS: 1
     SIG    SIGACTION        HANDLER       MASK       FLAGS
     [1] ffff888003e10860    SIG_DFL 0000000000000000 0
     [2] ffff888003e10880     525892 fffffffe7ffbfeff 4000000 (SA_RESTORER)
    ...
"""

UVADDR_PRLEN = 10  # crash's width for user addresses on x86_64
VADDR_PRLEN = 16


def sigset_text(sigset: int) -> str:
    """crash's translate_sigset(): the names, wrapped before a line would pass 80 columns."""
    if not sigset:
        return "(none)\n"
    out: list[str] = []
    length = 0
    for n, name in enumerate(signals.sigset_names(sigset)):
        piece = f" {name}" if n else name
        if length + len(piece) > 80:
            piece = piece[1:]
            out.append("\n")
            length = 0
        length += len(piece)
        out.append(piece)
    return "".join(out) + "\n"


def signame_list_text() -> str:
    return "".join(f"{' ' if n < 10 else ''}[{n}] {name}\n" for n, name in signals.signal_list())


def _center(text: str, size: int) -> str:
    """crash's mkstring(CENTER|LJUST): an odd spare column goes right."""
    extra = size - len(text)
    if extra <= 0:
        return text
    left = extra // 2
    return " " * left + text + " " * (extra - left)


def _handler(value: int) -> str:
    if value == MASK64:
        return "SIG_ERR"
    if value == 0:
        return "SIG_DFL"
    if value == 1:
        return "SIG_IGN"
    return f"{value:x}"


def _queue_lines(queue: list[signals.QueuedSignal] | None, pad: str) -> list[str]:
    if queue is None:
        return [f"{pad}  SIGQUEUE: (empty)"]
    lines = [f"{pad}  SIGQUEUE:  SIG  {_center('SIGINFO', VADDR_PRLEN)}"]
    lines += [f"             {q.signo:3d}  {q.siginfo:x}" for q in queue]
    return lines


GROUP_LEVEL = 1
TASK_LEVEL = 2
INDENT = 4


def signal_data_lines(session: Session, tc: TaskContext, level: int) -> list[str]:
    """crash's dump_signal_data(): the group-level and/or task-level lines of a task's signals."""
    data = signals.task_signals(session.prog, tc.task)
    pad = "  " if level & INDENT else ""
    lines: list[str] = []
    if level & GROUP_LEVEL:
        if not data.signal_struct:
            return [f"{pad}SIGNAL_STRUCT: {0:x}  "]
        count = f"NR_THREADS: {data.nr_threads}" if data.nr_threads is not None else ""
        lines.append(f"{pad}SIGNAL_STRUCT: {data.signal_struct:x}  {count}")
        lines.append(
            f"{pad} SIG {_center('SIGACTION', VADDR_PRLEN)} {'HANDLER':>{UVADDR_PRLEN}} "
            f"{_center('MASK', 16)} {'FLAGS':<{VADDR_PRLEN}}"
        )
        for act in data.actions:
            text = f"{pad}{' ' if act.signo < 10 else ''}[{act.signo}] {act.address:<{UVADDR_PRLEN}x} "
            text += f"{_handler(act.handler):>{UVADDR_PRLEN}} {act.mask:016x} {act.flags:x} "
            names = signals.sa_flags_names(act.flags)
            if names:
                text += "(" + "|".join(names) + ")"
            lines.append(text)
    if level & TASK_LEVEL:
        lines.append(f"{pad}SIGPENDING: {'yes' if data.sigpending else 'no'}")
        lines.append(f"{pad}   BLOCKED: {data.blocked:016x}")
        lines.append(f"{pad}PRIVATE_PENDING")
        lines.append(f"{pad}    SIGNAL: {data.pending:016x}")
        lines += _queue_lines(data.queue, pad)
    if level & GROUP_LEVEL:
        lines.append("SHARED_PENDING")
        lines.append(f"{pad}    SIGNAL: {data.shared_pending:016x}")
        lines += _queue_lines(data.shared_queue, pad)
    return lines


def print_signal_data(session: Session, tc: TaskContext, level: int) -> None:
    for line in signal_data_lines(session, tc, level):
        session.println(line)


def sig_thread_group(
    session: Session, table: TaskTable, tc: TaskContext, specified: bool, shown: dict[str, bool]
) -> None:
    """crash's do_sig_thread_group(): the group's handlers once, then each thread's own data."""
    leader = group_leader_shown(table, tc, specified, shown)
    if leader is None:
        return
    tc = leader
    session.println(task_header(tc))
    print_signal_data(session, tc, GROUP_LEVEL)
    session.println()
    session.println("  " + task_header(tc))
    print_signal_data(session, tc, TASK_LEVEL | INDENT)
    for c in table.thread_group(tc.tgid):
        if c.task == tc.task:
            continue
        session.println()
        session.println("  " + task_header(c))
        print_signal_data(session, c, TASK_LEVEL | INDENT)
        if c.pid == 0:
            shown["idle"] = True
    session.println()


@command("sig", summary="task signal handling", help=HELP)
def cmd_sig(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage

    parsed = getopt(args, "lR:s:g")
    bad = False
    group = False
    refs: list[str] = []
    for err in parsed.errors:
        session.println(f"sig: {err}")
        bad = True
    for opt, val in parsed.opts:
        if opt == "s":
            notes: list[str] = []
            value = htoll(val or "", notes)
            if value is None:
                raise CommandError(notes[0] if notes else f'invalid input: "{val}"')
            session.write(sigset_text(value))
            return
        if opt == "l":
            session.write(signame_list_text())
            return
        if opt == "R" and val is not None:
            refs.append(val)
        if opt == "g":
            group = True
    if bad:
        print_usage(session, "sig")
        return
    table = task_table(session.prog)
    prog = session.prog
    tasks: list[TaskContext] = []
    bogus = 0
    for arg in parsed.args:
        if is_a_number(arg):
            kind, value, tc = str_to_context(table, arg)
            if tc is None:
                bogus += 1
                session.println(f"sig: invalid task or pid value: {arg}")
                session.println()
            elif kind == "pid":
                tasks.extend(table.by_pid(value))
            else:
                tasks.append(tc)
        elif "," in arg or prog.has_member("task_struct", arg):
            refs.append(arg)
        else:
            session.println(f"sig: invalid task or pid value: {arg}")
            session.println()
    if not tasks and not bogus:
        tasks.append(session.current_context())
    shown: dict[str, bool] = {}
    for tc in tasks:
        if group:
            sig_thread_group(session, table, tc, True, shown)
            continue
        if refs:
            raise CommandError("-R not supported yet")
        session.println(task_header(tc))
        print_signal_data(session, tc, GROUP_LEVEL | TASK_LEVEL)
        session.println()
