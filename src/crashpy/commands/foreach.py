"""foreach: run bt, task, set, ps, sig, vm, vtop, files and net for chosen tasks."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from crashpy.commands.ps import EXCLUSIVE, make_sched_policy, task_header
from crashpy.commands.registry import command
from crashpy.errors import CommandError, CrashpyError
from crashpy.helpers.numbers import getopt
from crashpy.helpers.task_select import SelectionError, parse_selection, select_tasks
from crashpy.helpers.tasks import TaskContext, TaskTable, task_table
from crashpy.progress import Progress

if TYPE_CHECKING:
    from crashpy.session import Session

HELP = """\
NAME
  foreach - display command data for multiple tasks in the system

SYNOPSIS
  foreach [[pid | taskp | name | state | [kernel | user | gleader]] ...]
          command [flag] [argument]

DESCRIPTION
  Runs one command for each of a set of tasks, as if the context had been set
  to each in turn.  The words before the command choose the tasks; with none,
  every task is chosen.

      pid  the task(s) with this process ID.
    taskp  the task at this hexadecimal task_struct address.
     name  the tasks with this command name; a backslash in front keeps a
           name from being read as a command or state ("\\ps").  A name in
           single quotes is a POSIX extended regular expression that command
           names are matched against.
     user  only user tasks (no kernel threads).
  gleader  only user tasks that lead their thread group.
   kernel  only kernel threads.
   active  only the task running on each cpu.
    state  only the tasks in this state: RU, IN, UN, ST, ZO, TR, SW, DE, WA,
           PA, ID or NE.

  command  the command to run for each chosen task, one of:

              bt  its backtrace  (flags: -r -t -l -e -R -f -F -o -s -x -d)
              vm  its memory map  (flags: -p -v -m -R -d -x)
            task  its task_struct  (flags: -R -d -x)
           files  its open files  (flags: -c -R)
             net  its sockets  (flags: -s -S -R -d -x)
             set  its context, as "set" shows it
              ps  its ps line  (flags: -G -s -p -c -t -l -a -g -r -y)
             sig  its signal handling (flag: -g)
            vtop  a translation in its address space  (flags: -c -u -k)

     flag  an option handed on to the command.
 argument  an argument handed on to the command.

  Each task's output starts with its PID/TASK/CPU/COMMAND line, and tasks are
  separated by a blank line; ps prints one table instead, and task -R and
  sig -g print their own headers.

EXAMPLES
  The pid of every task named init:

    crash> foreach init task -R pid
    PID: 1        TASK: ffff888003dfb000  CPU: 1    COMMAND: "init"
      pid = 1,

    PID: 102      TASK: ffff888005361800  CPU: 0    COMMAND: "init"
      pid = 102,

  The running tasks, as ps lists them:

    crash> foreach RU ps
          PID    PPID  CPU       TASK        ST  %MEM      VSZ      RSS  COMM
            0       0   0  ffffffff82a1aa40  RU   0.0        0        0  [swapper/0]
    ...
"""

OPTSTRING = "R:vomlgersStTpukcfFxhdaGy:"
PS_EXCLUSIVE = "gatcplrm"


def _capture(session: Session, line: str) -> str:
    buf = io.StringIO()
    session.run_command(line, buf)
    return buf.getvalue()


def _strip_header(text: str, tc: TaskContext) -> str:
    """A command's output for one task without the PID/TASK/CPU/COMMAND line foreach prints itself."""
    head = task_header(tc) + "\n"
    return text[len(head) :] if text.startswith(head) else text


class Foreach:
    """One foreach run: the options, the chosen tasks and crash's header/blank-line bookkeeping."""

    def __init__(self, session: Session, table: TaskTable, opts: list[tuple[str, str | None]]) -> None:
        self.session = session
        self.table = table
        self.flags: set[str] = set()
        self.ref: str | None = None
        self.policy: str | None = None
        self.F_twice = False
        for opt, val in opts:
            if opt == "R":
                self.ref = val
            elif opt == "h":
                self.flags.add("x")
            elif opt == "y":
                make_sched_policy(val or "")
                self.policy = val
                self.flags.add("y")
            elif opt == "F" and "F" in self.flags:
                self.F_twice = True
            else:
                self.flags.add(opt)
        self.subsequent = 0
        self.vtop_page_header = True  # vtop's page header: once per foreach run, as crash prints it
        self.stopped = False

    def has(self, flags: str) -> bool:
        return any(f in self.flags for f in flags)

    def header(self, tc: TaskContext) -> None:
        self.session.println(("\n" if self.subsequent else "") + task_header(tc))
        self.subsequent += 1

    # ---- checks crash makes before the first task ----------------------------------------------

    def check(self, keyword: str, args: list[str]) -> None:
        s = self.session
        both_xd = "x" in self.flags and "d" in self.flags
        if keyword == "net":
            if "s" in self.flags and "S" in self.flags:
                s.println("WARNING: net -s and -S options are mutually exclusive!")
                self.flags = {"s"}  # crash drops every other flag here too
            elif not self.has("sS"):
                s.println("WARNING: net command requires -s or -S option")
                s.println()
                self.flags.add("s")
            if both_xd:
                raise CommandError("net: -x and -d options are mutually exclusive")
        elif keyword == "vtop":
            if not args:
                raise CommandError("foreach command requires address argument")
            if self.ref is not None:
                raise CommandError("vtop command does not support -R option")
            if "u" in self.flags and "k" in self.flags:
                raise CommandError("vtop: -u and -k options are mutually exclusive")
        elif keyword == "vm":
            if both_xd:
                raise CommandError("vm: -x and -d options are mutually exclusive")
            if sum(f in self.flags for f in "pmv") > 1:
                raise CommandError("vm command accepts only one of -p, -m or -v flags")
            if self.ref is not None:
                for f in "mv":
                    if f in self.flags:
                        raise CommandError(f"vm: -{f} is not applicable to the -R option")
        elif keyword == "bt":
            if both_xd:
                raise CommandError("bt: -x and -d options are mutually exclusive")
            if "g" in self.flags:
                raise CommandError("bt -g option is not supported when issued from foreach")
        elif keyword == "task":
            if both_xd:
                raise CommandError("task: -x and -d options are mutually exclusive")
        elif keyword == "set":
            if self.ref is not None:
                raise CommandError("set command does not support -R option")
        elif keyword == "sig":
            if self.has("ls"):
                raise CommandError("sig: -l and -s options are not applicable")
        elif keyword == "ps":
            if sum(f in self.flags for f in PS_EXCLUSIVE) > 1:
                raise CommandError(EXCLUSIVE)
            if self.has("lm") and "G" in self.flags:
                raise CommandError(f"-G not supported with -{'l' if 'l' in self.flags else 'm'} option")
        elif keyword == "files" and "p" in self.flags:
            raise CommandError("files command does not support -p option")

    # ---- the commands ---------------------------------------------------------------------------

    def run_task(self, tc: TaskContext) -> None:
        radix = " -x" if "x" in self.flags else " -d" if "d" in self.flags else ""
        if self.ref is not None:
            self.session.write(_capture(self.session, f"task -R {self.ref}{radix} {tc.task:x}"))
            return
        self.header(tc)
        self.session.write(_strip_header(_capture(self.session, f"task{radix} {tc.task:x}"), tc))

    def run_set(self, tc: TaskContext) -> None:
        from crashpy.commands.set import format_context

        self.header(tc)
        self.session.write(format_context(self.session, tc))

    def run_sig(self, tc: TaskContext, shown_groups: set[int], shown: dict[str, bool]) -> None:
        from crashpy.commands import sig

        if "g" in self.flags:
            leader = self.table.first_by_pid(tc.tgid)
            if leader is None or leader.task in shown_groups:
                return
            shown_groups.add(leader.task)
            sig.sig_thread_group(self.session, self.table, leader, False, shown)
            return
        if self.ref is not None:
            # crash fails each task in turn, under the sig command's name
            self.session.println("sig: sig: -R not supported yet")
            return
        self.header(tc)
        sig.print_signal_data(self.session, tc, sig.GROUP_LEVEL | sig.TASK_LEVEL)

    def ps_options(self) -> str:
        opts = []
        if "G" in self.flags:
            opts.append("-G")
        if "s" in self.flags:
            opts.append("-s")
        if self.policy is not None:
            opts.append(f"-y {self.policy}")
        for f in "actplmrg":
            if f in self.flags:
                opts.append(f"-{f}")
                break
        return "".join(f" {o}" for o in opts)

    def run_ps(self, tc: TaskContext, opts: str, shown_groups: set[int]) -> None:
        if "G" in self.flags:
            leader = tc
            if tc.pid != tc.tgid:
                leader = self.table.first_by_pid(tc.tgid) or tc
            if leader.task in shown_groups:
                self.subsequent += 1
                return
            shown_groups.add(leader.task)
        no_header = " -H" if self.subsequent else ""
        self.subsequent += 1
        self.session.write(_capture(self.session, f"ps{no_header}{opts} {tc.task:x}"))

    def run_other(self, keyword: str, tc: TaskContext, args: list[str]) -> None:
        """bt, vm, files, net, vtop: the command run for the task, under foreach's own header."""
        if keyword == "vtop":
            from crashpy.commands.vtop import foreach_vtop

            self.header(tc)
            header = foreach_vtop(self.session, tc, args, self.flags, self.vtop_page_header)
            self.stopped = header is None  # an error ends the run, as crash's does
            self.vtop_page_header = bool(header)
            return
        line = keyword + self.other_options(keyword) + f" {tc.task:x}"
        text = _capture(self.session, line)
        if self.ref is not None:
            self.session.write(text)
            return
        self.header(tc)
        self.session.write(_strip_header(text, tc))

    def other_options(self, keyword: str) -> str:
        wanted = {
            "bt": "rstTolefFxd",
            "vm": "pvmxd",
            "files": "c",
            "net": "sSxd",
            "vtop": "uk",
        }.get(keyword, "")
        opts = [f"-{f}" for f in wanted if f in self.flags]
        if keyword == "bt" and self.F_twice:
            opts.append("-F")
        if self.ref is not None:
            opts.append(f"-R {self.ref}")
        return "".join(f" {o}" for o in opts)


@command("foreach", summary="display command data for multiple tasks in the system", help=HELP)
def cmd_foreach(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage

    parsed = getopt(args, OPTSTRING)
    for err in parsed.errors:
        session.println(f"foreach: {err}")
    table = task_table(session.prog)
    run = Foreach(session, table, parsed.opts)  # a bad -y policy fails here, as in crash's getopt loop
    if parsed.errors or not parsed.args:
        print_usage(session, "foreach")
        return
    try:
        sel = parse_selection(table, parsed.args)
    except SelectionError as e:
        for msg in e.messages:
            session.println(f"foreach: {msg}")
        lines = str(e).rstrip("\n").split("\n")
        session.println(f"foreach: {lines[0]}")
        for line in lines[1:]:
            session.println(" " * len("foreach: ") + line)  # crash indents continuation lines under the message
        if e.usage:
            session.println()
            print_usage(session, "foreach")
            return
        session.errors += 1
        return
    for msg in sel.messages:
        session.println(f"foreach: {msg}")
    keyword = sel.keyword
    if keyword is None:
        session.println("foreach: no keywords specified")
        return
    run.check(keyword, sel.args)
    if keyword in ("bt", "vm", "files", "net", "vtop", "test") and session.lookup(keyword) is None:
        raise CommandError(f"{keyword}: not available in crashpy yet")

    order = None
    if keyword == "ps" and run.has("lm"):
        from crashpy.helpers.sched import tasks_by_last_run

        # crash sorts its task table by last run, most recent first, before the loop.
        order = tasks_by_last_run(session.prog, table)
    tasks = select_tasks(table, sel, session.active_tasks(), order)
    shown_groups: set[int] = set()
    shown: dict[str, bool] = {}
    ps_opts = run.ps_options()
    # a progress line on the terminal while the output goes elsewhere (foreach bt > file)
    out_tty = getattr(session.out, "isatty", lambda: False)()
    progress = Progress(f"foreach {keyword}", len(tasks), allowed=not out_tty)
    for n, tc in enumerate(tasks):
        progress.update(n)
        if keyword == "task":
            run.run_task(tc)
        elif keyword in ("set", "sig"):
            # a task that cannot be read fails alone, in the command's name, as in crash
            try:
                if keyword == "set":
                    run.run_set(tc)
                else:
                    run.run_sig(tc, shown_groups, shown)
            except CrashpyError as e:
                session.println(f"{keyword}: {e}")
        elif keyword == "ps":
            run.run_ps(tc, ps_opts, shown_groups)
        else:
            run.run_other(keyword, tc, sel.args)
            if run.stopped:
                break
    progress.close()
