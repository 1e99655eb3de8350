"""task: the task_struct (and thread_info) of the current context or of given tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.commands.ps import task_header
from crashpy.commands.registry import command
from crashpy.errors import CommandError
from crashpy.helpers.numbers import getopt, is_a_number
from crashpy.helpers.tasks import TaskContext, str_to_context, task_table

if TYPE_CHECKING:
    from crashpy.session import Session

HELP = """\
NAME
  task - task_struct contents

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
    from crashpy.commands.p import render_errors
    from crashpy.commands.struct import struct_text
    from crashpy.commands.whatis import STRUCT_REQUEST, arg_to_datatype

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
    from crashpy.commands.struct import parse_for_member_extended

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


@command("task", summary="task_struct contents", help=HELP)
def cmd_task(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage
    from crashpy.commands.set import current_context

    parsed = getopt(args, "xdhR:")
    radix = 0
    members: list[str] = []
    referenced = False  # -R or a member named: only members are shown, maybe none
    bad = False
    for err in parsed.errors:
        session.println(f"task: {err}")
        bad = True
    for opt, val in parsed.opts:
        if opt in "hx":
            if radix == 10:
                raise CommandError("-d and -x are mutually exclusive")
            radix = 16
        elif opt == "d":
            if radix == 16:
                raise CommandError("-d and -x are mutually exclusive")
            radix = 10
        elif opt == "R" and val is not None:
            members.extend(val.split(","))
            referenced = True
    if bad:
        print_usage(session, "task")
        return
    table = task_table(session.prog)
    tasks: list[TaskContext] = []
    bogus = 0
    prog = session.prog
    for arg in parsed.args:
        if is_a_number(arg):
            kind, value, tc = str_to_context(table, arg)
            if tc is None:
                bogus += 1
                session.println(f"task: invalid task or pid value: {arg}")
                session.println()
            elif kind == "pid":
                tasks.extend(table.by_pid(value))
            else:
                tasks.append(tc)
        elif "," in arg or prog.has_member("task_struct", arg) or "." in arg or "[" in arg:
            members.extend(arg.split(","))
            referenced = True
        else:
            session.println(f"task: invalid task, pid, or task_struct member: {arg}")
            session.println()
    if not tasks and not bogus:
        tasks.append(current_context(session))
    for tc in tasks:
        do_task(session, tc, [m for m in members if m] if referenced else None, radix)
