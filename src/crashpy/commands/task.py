"""task: the task_struct (and thread_info) of the current context or of given tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crashpy.commands.ps import task_header
from crashpy.commands.registry import command
from crashpy.commands.rows import hex_address, object_data, reject_options
from crashpy.errors import CommandError, CrashpyError
from crashpy.helpers.numbers import getopt, is_a_number, radix_option
from crashpy.helpers.tasks import TaskContext, str_to_context, task_table

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

HELP = """\
NAME
  task - task_struct and thread_info contents

SYNOPSIS
  task [-R member[,member]] [-dx] [pid | taskp] ...

DESCRIPTION
  Shows the task_struct of the current context, or of each task given by a pid
  or a hexadecimal task_struct address, as the struct command would, followed
  by its thread_info.  Each task is preceded by its PID/TASK/CPU/COMMAND line.

  -R member  only the named task_struct or thread_info members; several may be
             given as a comma-separated list, or with repeated -R options.  A
             member may name an embedded member ("se.on_rq") or an array
             element ("pids[1]").  Bare member names after the tasks are taken
             as -R members too.
         -x  integers in hexadecimal.
         -d  integers in decimal.

EXAMPLES
  The pid and comm of the current context:

    crash> task -R pid,comm
    PID: 1        TASK: ffff888003dfb000  CPU: 1    COMMAND: "init"
      pid = 1,
      comm = "init\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000",
"""


def _struct_text(session: Session, name: str, addr: int, radix: int) -> str:
    """What `struct <name> <addr>` prints, in the given radix (0: the session's); crash's read-error
    lines, named after the task command, where they happen (crash's dump_struct())."""
    from crashpy.commands.struct import struct_text
    from crashpy.commands.whatis import STRUCT_REQUEST, arg_to_datatype
    from crashpy.expr.gdb import render_errors

    code, dm = arg_to_datatype(session, name)
    if code != 1 or dm is None:
        raise CommandError(f"invalid data structure reference: {name}")
    return render_errors(struct_text(session, dm, STRUCT_REQUEST, addr, radix or session.radix), inline=True)[
        1
    ]


def _member_lines(text: str, members: list[str]) -> str:
    """crash's parse_task_thread(): the lines of the named top-level members, nested blocks included."""
    out: list[str] = []
    lookfor2 = ""
    lookfor3 = ""
    randomized = False
    for line in text.splitlines(keepends=True):
        if line == "  {\n":
            randomized = True
        elif randomized and line in ("  }, \n", "  },\n"):
            randomized = False
        if lookfor2:
            out.append(line)
            if line.startswith(lookfor2):
                lookfor2 = ""
            continue
        if lookfor3:
            out.append(line)
            if lookfor3 in line:
                lookfor3 = ""
            continue
        for member in members:
            lookfor1 = f"{'  ' if randomized else ''}  {member} = "
            if line.startswith(lookfor1):
                out.append(line)
                if "{{\n" in line:
                    lookfor2 = f"{'  ' if randomized else ''}    }},"
                elif " = {\n" in line:
                    lookfor2 = " " * (len(line) - len(line.lstrip(" "))) + "}"
                elif "{" in line:
                    lookfor3 = "},"
                break
    return "".join(out)


def _extended(text: str, member: str) -> str | None:
    from crashpy.expr.struct_members import parse_for_member_extended

    return parse_for_member_extended(text.splitlines(keepends=True), member)


def do_task(session: Session, tc: TaskContext, members: list[str] | None, radix: int) -> None:
    """One task: its header and task_struct and thread_info, or only `members` (-R; maybe none)."""
    session.println(task_header(tc))
    text = _struct_text(session, "task_struct", tc.task, radix)
    thread = _struct_text(session, "thread_info", tc.task, radix)
    if members is not None:
        both = text + thread
        prog = session.prog
        for member in members:
            if "." in member or "[" in member:
                part = _extended(both, member)
                if part is None:
                    session.println(
                        f"{session.current_cmd}: invalid data structure member reference: {member}"
                    )
                session.write(part or "")
                continue
            if not prog.has_member("task_struct", member) and not prog.has_member("thread_info", member):
                session.println(f"task: {member}: not a task_struct or thread_info member")
            session.write(_member_lines(both, [member]))
    else:
        session.write(text)
        session.println()
        session.write(thread)
    session.println()


def _selection(
    session: Session, args: list[str], invalid: Callable[[str], None]
) -> tuple[list[TaskContext], list[str], int]:
    """The tasks the arguments name (pids, task addresses), the task_struct members they name, and how
    many named no task; `invalid` is told of each argument that is neither."""
    prog = session.prog
    table = task_table(prog)
    tasks: list[TaskContext] = []
    members: list[str] = []
    bogus = 0
    for arg in args:
        if is_a_number(arg):
            kind, value, tc = str_to_context(table, arg)
            if tc is None:
                bogus += 1
                invalid(f"invalid task or pid value: {arg}")
            elif kind == "pid":
                tasks.extend(table.by_pid(value))
            else:
                tasks.append(tc)
        elif "," in arg or prog.has_member("task_struct", arg) or "." in arg or "[" in arg:
            members.extend(arg.split(","))
        else:
            invalid(f"invalid task, pid, or task_struct member: {arg}")
    return tasks, members, bogus


def _thread_info(prog: Program, task: int) -> int:
    """Where a task's thread_info is: inside the task_struct since v4.9 (CONFIG_THREAD_INFO_IN_TASK),
    else at the bottom of its stack (task_struct.stack)."""
    if prog.has_member("task_struct", "thread_info"):
        return task + prog.offsetof("task_struct", "thread_info")
    return prog.read_u64(task + prog.offsetof("task_struct", "stack"))


def task_document(session: Session, argv: list[str]) -> dict[str, Any]:
    """`task --json [-R member[,member]] [pid | task] ...`: the task_struct (and thread_info) Objects
    `task` prints, as data; without a task, the session's current context."""
    from crashpy.expr import evaluate, lookup_type
    from crashpy.object import Object

    prog = session.prog
    parsed = getopt(argv, "xdhR:")
    reject_options(parsed, "xdhR")
    members = [m for opt, val in parsed.opts if opt == "R" and val for m in val.split(",") if m]

    def invalid(message: str) -> None:
        raise CommandError(message)

    tasks, named, _bogus = _selection(session, parsed.args, invalid)
    members += [m for m in named if m]
    if not tasks:
        tasks = [session.current_context()]
    rows = []
    for tc in tasks:
        row: dict[str, Any] = {"pid": tc.pid, "task": hex_address(tc.task), "cpu": tc.cpu, "comm": tc.comm}
        if members:
            chosen: dict[str, Any] = {}
            for member in members:
                try:
                    chosen[member] = object_data(evaluate(prog, f"((struct task_struct *)0x{tc.task:x})->{member}"))
                except CrashpyError:
                    raise CommandError(f"{member}: not a task_struct member") from None
            row["task_struct"] = chosen
        else:
            row["task_struct"] = object_data(Object(prog, lookup_type(prog, "struct task_struct"), tc.task))
            thread_info = Object(prog, lookup_type(prog, "struct thread_info"), _thread_info(prog, tc.task))
            row["thread_info"] = object_data(thread_info)
        rows.append(row)
    return {"tasks": rows}


@command("task", summary="task_struct and thread_info contents", help=HELP, json=task_document)
def cmd_task(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage

    parsed = getopt(args, "xdhR:")
    radix = 0
    members: list[str] = []
    referenced = False  # -R or a member named: only members are shown, maybe none
    bad = False
    for err in parsed.errors:
        session.println(f"task: {err}")
        bad = True
    for opt, val in parsed.opts:
        if opt in "hxd":
            radix = radix_option(radix, 10 if opt == "d" else 16)
        elif opt == "R" and val is not None:
            members.extend(val.split(","))
            referenced = True
    if bad:
        print_usage(session, "task")
        return

    def invalid(message: str) -> None:
        session.println(f"task: {message}")
        session.println()

    tasks, named, bogus = _selection(session, parsed.args, invalid)
    if named:
        members.extend(named)
        referenced = True
    if not tasks and not bogus:
        tasks.append(session.current_context())
    for tc in tasks:
        do_task(session, tc, [m for m in members if m] if referenced else None, radix)
