"""ps: the process list, crash's columns and options."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crashpy.commands.registry import command
from crashpy.commands.rows import hex_address, reject_options
from crashpy.errors import CommandError, FaultError
from crashpy.helpers.numbers import Options, getopt, make_cpumask
from crashpy.helpers.sysinfo import format_uptime, hz, uptime_jiffies
from crashpy.helpers.tasks import (
    TaskContext,
    TaskTable,
    mem_usage,
    read_task_u64s,
    str_to_context,
    task_table,
)

if TYPE_CHECKING:
    from crashpy.session import Session

HELP = """\
NAME
  ps - display process status information

SYNOPSIS
  ps [-k|-u|-G|-y policy] [-s] [-p|-c|-t|-[l|m][-C cpu]|-a|-g|-r|-S|-A|-H]
     [pid | task | command] ...

DESCRIPTION
  Shows the tasks of the dumped system, one line each, much as ps(1) does.  With
  no argument every task is shown; otherwise only the tasks named by a pid, a
  hexadecimal task_struct address, a command name, or a 'regular expression'
  in single quotes matched against command names.  A command name that looks
  like a number or an option may be preceded by a backslash.

  The columns are the pid, the parent's pid, the cpu the task last ran on, the
  task_struct address, the state (RU, IN, UN, ZO, ST, TR, DE, SW, WA, PA, ID or
  NE), the share of physical memory, the virtual size and the resident size in
  kilobytes, and the command name; kernel threads are shown in [brackets].  A
  line that begins with ">" is a task that was running on a cpu at the time of
  the dump.

       -k  kernel threads only.
       -u  user tasks only.
       -G  only the thread group leader of each thread group.
 -y policy  only tasks with this scheduling policy: a number or one of
           normal, fifo, rr, batch, iso, idle and deadline (comma-separated).
       -s  the kernel stack pointer in place of the task_struct address.
       -p  the parental line of each task, from the idle task down.
       -c  the children of each task.
       -t  run time, start time, and user and system time of each task.
       -l  the last-run timestamp of each task, most recent first.
       -m  the time since each task last ran, as days hh:mm:ss.ms.
   -C cpu  with -l or -m: the tasks of the given cpus, per cpu.
       -a  the command-line arguments and environment of user tasks.
       -g  the threads of each thread group, under the group leader.
       -r  the resource limits of each task.
       -S  a count of the tasks in each state.
       -A  only the tasks active on a cpu.
       -H  no header line.

EXAMPLES
  All tasks:

    crash> ps
       PID    PPID  CPU       TASK        ST  %MEM      VSZ      RSS  COMM
          0       0   0  ffffffff82a1aa40  RU   0.0        0        0  [swapper/0]
    >     1       0   1  ffff888003dfb000  RU   0.3     2260     1724  init
    ...

  The parents of pid 104:

    crash> ps -p 104
    PID: 0        TASK: ffffffff82a1aa40  CPU: 0    COMMAND: "swapper/0"
     PID: 1        TASK: ffff888003dfb000  CPU: 1    COMMAND: "init"
      PID: 104      TASK: ffff888005364800  CPU: 1    COMMAND: "nc"
"""

EXCLUSIVE = "-a, -t, -c, -p, -g, -l, -m, -S, -r and -A flags are all mutually-exclusive"
EXCLUSIVE_FLAGS = "atcpglmSrA"


def task_header(tc: TaskContext) -> str:
    """crash's print_task_header() line."""
    return f'PID: {tc.pid:<7}  TASK: {tc.task:<16x}  CPU: {tc.cpu!s:<3}  COMMAND: "{tc.comm}"'


@dataclass(frozen=True)
class PsRow:
    """One task's line of `ps`, as data: the text and the JSON document are both written from it."""

    pid: int
    ppid: int
    tgid: int
    cpu: int
    task: int  # struct task_struct *
    state: str  # crash's two-letter code (RU, IN, ...)
    state_value: int
    mem_pct: float
    vsz_kb: int
    rss_kb: int
    comm: str
    kernel_thread: bool
    active: bool  # running on a cpu at the time of the dump (or the panic task): ">" in the text
    panic: bool

    def json(self) -> dict[str, Any]:
        """The row as `ps --json` shows it (docs/json.md): addresses as hexadecimal strings."""
        return {**dataclasses.asdict(self), "task": hex_address(self.task)}


def ps_row(session: Session, table: TaskTable, tc: TaskContext, active: set[int]) -> PsRow:
    """The row of `tc`; `active` is the set of active tasks (Session.active_tasks)."""
    try:
        mem = mem_usage(session.prog, table, tc)
        ppid = table.ppid(tc)
    except FaultError as e:
        raise CommandError(str(e)) from None
    return PsRow(
        pid=tc.pid,
        ppid=ppid,
        tgid=tc.tgid,
        cpu=tc.cpu,
        task=tc.task,
        state=tc.st,
        state_value=tc.state,
        mem_pct=mem.pct_physmem,
        vsz_kb=mem.total_vm * 4,
        rss_kb=mem.rss * 4,
        comm=tc.comm,
        kernel_thread=tc.is_kernel_thread,
        active=tc.task in active,
        panic=tc.task == table.panic_task,
    )


def ps_line(session: Session, row: PsRow, kstackp: bool) -> str:
    """The row as crash's `ps` line; with -s (`kstackp`) the kernel stack pointer in place of the task."""
    prog = session.prog
    mark = "> " if row.active else "  "
    if kstackp:
        if row.active:
            ptr = f"{'--':^16}"
        else:
            try:
                ptr = f"{prog.read_u64(row.task + prog.offsetof('task_struct', 'thread.sp')):16x}"
            except FaultError as e:
                raise CommandError(str(e)) from None
    else:
        ptr = f"{row.task:16x}"
    st = row.state
    pct = f"{row.mem_pct:.1f}"
    if len(pct) == 3:
        pct = f"{pct:>4}"
    comm = f"[{row.comm}]" if row.kernel_thread else row.comm
    pad = " " if len(st) > 3 else "  "
    return (
        f"{mark}{row.pid:7d} {row.ppid:7d} {row.cpu!s:>3}  {ptr} {st:>3}{pad}{pct} "
        f"{row.vsz_kb:8d} {row.rss_kb:8d}  {comm}"
    )


def _parents(table: TaskTable, session: Session, tc: TaskContext) -> None:
    chain = [tc.task]
    child, parent = tc.task, tc.parent
    while child != parent and len(chain) < 100000:
        chain.append(parent)
        child = parent
        p = table.by_task.get(child)
        parent = (
            p.parent
            if p is not None
            else session.prog.read_u64(child + session.prog.offsetof("task_struct", "parent"))
        )
    for depth, task in enumerate(reversed(chain)):
        p = table.by_task.get(task)
        if p is not None:
            session.println(" " * depth + task_header(p))


def _children(table: TaskTable, session: Session, tc: TaskContext) -> None:
    session.println(task_header(tc))
    kids = [c for c in table.contexts if c.parent == tc.task]
    for c in kids:
        session.println("  " + task_header(c))
    if not kids:
        session.println("  (no children)")


def _last_run(session: Session, tc: TaskContext) -> int:
    from crashpy.helpers.sched import task_last_run

    return task_last_run(session.prog, tc.task)


def _show_times(session: Session, table: TaskTable, tcs: list[TaskContext]) -> None:
    prog = session.prog
    hz_value = hz(prog)
    j64 = uptime_jiffies(prog, hz_value)
    offsets = tuple(prog.offsetof("task_struct", name) for name in ("start_time", "utime", "stime"))
    rows = []
    for tc in tcs:
        start, utime, stime = read_task_u64s(prog, tc.task, offsets)
        rows.append((start, tc, utime, stime))
    rows.sort(key=lambda r: r[0])  # glibc's qsort here is a stable merge sort
    for start, tc, utime, stime in rows:
        secs = start // 1_000_000_000
        run = 0 if secs * hz_value > j64 else j64 - secs * hz_value
        session.println(task_header(tc))
        session.println(f"    RUN TIME: {format_uptime(run, hz_value)}")
        session.println(f"  START TIME: {start}")
        session.println(f"       UTIME: {utime}")
        session.println(f"       STIME: {stime}")
        session.println()


def group_leader_shown(
    table: TaskTable, tc: TaskContext, specified: bool, shown: dict[str, bool]
) -> TaskContext | None:
    """The thread group leader a -g listing shows for `tc` (crash's rule for ps -g and sig -g); the idle
    tasks are shown once."""
    leader = group_leader(table, tc, specified)
    if leader is None or (leader.pid == 0 and shown.get("idle")):
        return None
    return leader


def group_leader(table: TaskTable, tc: TaskContext, specified: bool) -> TaskContext | None:
    """The leader of `tc`'s thread group: a thread stands for its group only when it was named itself
    (`specified`); None when it was not, or when the leader is not in the task table."""
    if tc.pid == tc.tgid:
        return tc
    if not specified:
        return None
    return table.first_by_pid(tc.tgid)


def _tgid_list(
    session: Session, table: TaskTable, tc: TaskContext, specified: bool, shown: dict[str, bool]
) -> None:
    leader = group_leader_shown(table, tc, specified, shown)
    if leader is None:
        return
    tc = leader
    session.println(task_header(tc))
    cnt = 0
    for c in table.thread_group(tc.tgid):
        if c.task != tc.task:
            session.println("  " + task_header(c))
            cnt += 1
            if c.pid == 0:
                shown["idle"] = True
    if not cnt:
        session.println("  (no threads)")
    session.println()


@dataclass
class PsArgs:
    """ps's parsed command line."""

    flags: set[str]
    policy: int
    cpuspec: str | None
    args: list[str]


def _parse_args(args: list[str]) -> tuple[PsArgs, Options]:
    """ps's options (and getopt's answer); the mutually exclusive ones are refused here."""
    parsed = getopt(args, "HASgstcpkuGlmarC:y:")
    flags: set[str] = set()
    policy = 0
    cpuspec: str | None = None
    for opt, _val in parsed.opts:
        if opt == "?":
            continue
        if opt in "ku" and ("u" if opt == "k" else "k") in flags:
            raise CommandError("-u and -k are mutually exclusive")
        if opt in EXCLUSIVE_FLAGS and any(f in flags for f in EXCLUSIVE_FLAGS if f != opt):
            raise CommandError(EXCLUSIVE)
        if opt == "y":
            policy = make_sched_policy(_val or "")
        if opt == "C":
            cpuspec = _val or ""
        flags.add(opt)
    return PsArgs(flags, policy, cpuspec, parsed.args), parsed


def _selected(
    session: Session, table: TaskTable, args: list[str], flags: set[str], invalid: Callable[[str], None]
) -> list[TaskContext] | None:
    """The tasks the arguments name, in table order (every task without arguments); a task matched by
    several arguments is there once per match.  `invalid` is told of each argument that names no task;
    None after a bad regular expression."""
    if not args:
        return list(table.contexts)
    wanted: list[tuple[str, object]] = []
    for arg in args:
        if _is_number(arg):
            kind, value, _tc = str_to_context(table, arg)
            if kind == "invalid":
                invalid(f"invalid task or pid value: {arg}")
                continue
            wanted.append((kind, value))
        elif len(arg) >= 2 and arg[0] == "'" and arg[-1] == "'":
            try:
                wanted.append(("regex", re.compile(arg[1:-1])))
            except re.error:
                invalid(f"invalid regular expression: {arg[1:-1]}")
                return None
        else:
            wanted.append(("comm", (arg[1:] if arg.startswith("\\") else arg)[:15]))
    if len(wanted) == 1 and wanted[0][0] in ("pid", "task"):  # one task or pid: no pass over them all
        how, what = wanted[0]
        assert isinstance(what, int)
        one = table.by_task.get(what)
        return table.by_pid(what) if how == "pid" else [one] if one is not None else []
    return _matching(table, wanted, bool(flags & set("gG")))


def _shown(
    session: Session, table: TaskTable, selected: list[TaskContext], opts: PsArgs
) -> Iterator[TaskContext]:
    """The selected tasks ps lists: -k, -u and -y filter them, -G puts each group's leader in their
    place (once)."""
    flags = opts.flags
    specified = bool(opts.args)
    seen_groups: set[int] = set()
    for tc in selected:
        if not _keep(session, tc, opts):
            continue
        if "G" in flags:
            leader = group_leader(table, tc, specified)
            if leader is None or leader.task in seen_groups:
                continue
            tc = leader
            seen_groups.add(tc.task)
        yield tc


def _keep(session: Session, tc: TaskContext, opts: PsArgs) -> bool:
    if "u" in opts.flags and tc.is_kernel_thread:
        return False
    if "k" in opts.flags and not tc.is_kernel_thread:
        return False
    return not ("y" in opts.flags and not (_task_policy(session, tc) & opts.policy))


def ps_rows(session: Session, table: TaskTable, selected: list[TaskContext], opts: PsArgs) -> Iterator[PsRow]:
    """The rows of ps's table (no -t, -l, -m, -p, -c, -g, -a, -r or -S) of the selected tasks, in order."""
    active = session.active_tasks()
    for tc in _shown(session, table, selected, opts):
        if "A" in opts.flags and not opts.args and tc.task not in active:
            continue
        yield ps_row(session, table, tc, active)


def ps_document(session: Session, argv: list[str]) -> dict[str, Any]:
    """`ps --json [-k|-u] [-G] [-A] [-H] [pid | task | command | 'regex'] ...`: ps's rows as data."""
    opts, parsed = _parse_args(argv)
    reject_options(parsed, "kuGAH")

    def invalid(message: str) -> None:
        raise CommandError(message)

    table = task_table(session.prog)
    selected = _selected(session, table, opts.args, opts.flags, invalid) or []
    return {"tasks": [row.json() for row in ps_rows(session, table, selected, opts)]}


@command("ps", summary="display process status information", help=HELP, json=ps_document)
def cmd_ps(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage

    opts, parsed = _parse_args(args)
    for err in parsed.errors:
        session.println(f"ps: {err}")
    if parsed.errors:
        print_usage(session, "ps")
        return
    flags = opts.flags

    table = task_table(session.prog)
    for warning in table.warnings:
        session.println(f"ps: WARNING: {warning}")
    cpus: list[int] | None = None
    if opts.cpuspec is not None:
        cpus = make_cpumask(opts.cpuspec, len(table.active))
        if not flags & set("lm"):
            session.println("ps: -C option is only applicable with -l and -m")
            return
    specified = bool(opts.args)
    if specified and "S" in flags:
        raise CommandError("-S option takes no arguments")
    if specified and cpus is not None:
        session.println("ps: -C option is not applicable with specified tasks")

    def invalid(message: str) -> None:
        session.println(f"ps: {message}")
        if message.startswith("invalid task"):
            session.println()

    # Which tasks, in table order; a task matched by several arguments is shown once per match.
    selected = _selected(session, table, opts.args, flags, invalid)
    if selected is None:
        return

    if not (flags & set("atcpglmSr")):  # the table: the same rows as ps --json
        if "H" not in flags:
            name = f"{'KSTACKP':>12}    " if "s" in flags else f"{'TASK':^16}"
            session.println(f"      PID    PPID  CPU {name}  ST  %MEM      VSZ      RSS  COMM")
        for row in ps_rows(session, table, selected, opts):
            session.println(ps_line(session, row, "s" in flags))
        return

    if "S" in flags:
        if flags & set("kuG"):
            raise CommandError("-S option cannot be used with other options")
        counts: dict[str, int] = {}
        for tc in table.contexts:
            counts[tc.st] = counts.get(tc.st, 0) + 1
        for st, n in counts.items():
            session.println(f"  {st}: {n}")
        return

    if "t" in flags:
        tcs = [tc for tc in selected if _keep(session, tc, opts)]
        if "G" in flags:
            tcs = _group_leaders(table, tcs, specified)
        _show_times(session, table, tcs)
        return

    if flags & set("lm"):
        if "G" in flags:
            raise CommandError(f"-G not supported with -{'l' if 'l' in flags else 'm'} option")
        _show_last_run(
            session,
            table,
            selected if specified else None,
            lambda tc: _keep(session, tc, opts),
            cpus,
            "m" in flags,
            opts.policy,
        )
        return

    shown: dict[str, bool] = {}
    for tc in _shown(session, table, selected, opts):
        if "p" in flags:
            _parents(table, session, tc)
            session.println()
        elif "c" in flags:
            _children(table, session, tc)
            session.println()
        elif "g" in flags:
            _tgid_list(session, table, tc, specified, shown)
        elif "a" in flags:
            _show_args(session, tc)
        elif "r" in flags:
            _show_rlimits(session, tc)


def _matching(table: TaskTable, wanted: list[tuple[str, object]], leaders_only: bool) -> list[TaskContext]:
    """The tasks the arguments name, in table order, once per argument that names them; a command
    name or regular expression names only thread group leaders with -g or -G."""
    selected: list[TaskContext] = []
    for tc in table.contexts:
        for how, what in wanted:
            if how == "pid" and tc.pid == what:
                selected.append(tc)
            elif how == "task" and tc.task == what:
                selected.append(tc)
            elif (how == "comm" and tc.comm == what) or (
                how == "regex" and isinstance(what, re.Pattern) and what.search(tc.comm)
            ):
                if leaders_only and tc.pid != tc.tgid:
                    continue
                selected.append(tc)
    return selected


def _translate_ns(value: int) -> str:
    """crash's translate_nanoseconds(): "days hh:mm:ss.ms"."""
    value //= 1_000_000
    ms = value % 1000
    value //= 1000
    secs = value % 60
    value //= 60
    mins = value % 60
    value //= 60
    hours = value % 24
    days = value // 24
    return f"{days} {hours:02d}:{mins:02d}:{secs:02d}.{ms:03d}"


def _rq_clock(session: Session, cpu: int) -> int:
    prog = session.prog
    rq = prog.percpu_address(prog.symbol_address("runqueues"), cpu)
    return prog.read_u64(rq + prog.offsetof("rq", "clock"))


def _show_last_run(
    session: Session,
    table: TaskTable,
    selected: list[TaskContext] | None,
    keep: object,
    cpus: list[int] | None,
    millis: bool,
    policy: int,
) -> None:
    """-l and -m: crash sorts its whole task table by last run, most recent first (a stable sort)."""
    from crashpy.helpers.sched import tasks_by_last_run

    ordered = tasks_by_last_run(session.prog, table)
    if not ordered:  # no task could be read (crash cannot open such a dump): nothing to list
        return
    first = ordered[0]
    lr0 = _last_run(session, first)
    width = len(str(lr0) if session.radix == 10 else f"{lr0:x}")
    clocks: dict[int, int] = {}

    def rq_clock(cpu: int) -> int:
        clock = clocks.get(cpu)
        if clock is None:
            clock = clocks[cpu] = _rq_clock(session, cpu)
        return clock

    def stamp(tc: TaskContext, pad_days: int | None = None) -> str:
        if millis:
            delta = max(rq_clock(tc.cpu) - _last_run(session, tc), 0)
            text = _translate_ns(delta)
            if pad_days is not None:
                text = " " * (pad_days - text.index(" ")) + text
            return f"[{text}] "
        lr = _last_run(session, tc)
        return f"[{lr:{width}d}] " if session.radix == 10 else f"[{lr:{width}x}] "

    def line(tc: TaskContext, pad_days: int | None = None) -> str:
        return f"{stamp(tc, pad_days)}[{tc.st}]  {task_header(tc)}"

    if cpus is not None:
        for n, cpu in enumerate(cpus):
            session.println(f"{'' if n == 0 else chr(10)}CPU: {cpu}")
            pad = _translate_ns(rq_clock(cpu)).index(" ") if millis else None
            for tc in ordered:
                if tc.cpu == cpu:
                    session.println(line(tc, pad))
        return
    if selected is None:
        for tc in ordered:
            session.println(line(tc))
        return
    # The named tasks in the table's last-run order, each as often as it was named.
    position = {tc.task: n for n, tc in enumerate(ordered)} if len(selected) > 1 else {}
    for tc in sorted(selected, key=lambda tc: position.get(tc.task, 0)):
        if callable(keep) and not keep(tc):
            continue
        pad = _translate_ns(rq_clock(tc.cpu)).index(" ") if millis else None
        session.println(line(tc, pad))


SCHED_POLICIES = ["NORMAL", "FIFO", "RR", "BATCH", "ISO", "IDLE", "DEADLINE"]


def make_sched_policy(spec: str) -> int:
    """crash's make_sched_policy(): a bitmask of the comma-separated policy names or numbers."""
    mask = 0
    for word in spec.split(","):
        upper = word.upper()
        for value, name in enumerate(SCHED_POLICIES):
            if upper.startswith(name) or upper == str(value) or upper == f"0X{value:X}":
                mask |= 1 << value
                break
        else:
            raise CommandError(f"{word}: invalid scheduling policy")
    return mask


def _task_policy(session: Session, tc: TaskContext) -> int:
    prog = session.prog
    return 1 << prog.read_u32(tc.task + prog.offsetof("task_struct", "policy"))


RLIMIT_NAMES = [
    "CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE",
    "MEMLOCK", "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME",
]  # fmt: skip
RLIM_INFINITY = 0xFFFFFFFFFFFFFFFF


def _center(text: str, size: int, rjust: bool) -> str:
    """crash's mkstring(CENTER|RJUST or CENTER|LJUST): an odd spare column goes left for RJUST."""
    extra = size - len(text)
    if extra <= 0:
        return text
    left = extra // 2 + (extra % 2 if rjust else 0)
    return " " * left + text + " " * (extra - left)


def _show_rlimits(session: Session, tc: TaskContext) -> None:
    prog = session.prog
    session.println(task_header(tc))
    signal = prog.read_u64(tc.task + prog.offsetof("task_struct", "signal"))
    n = len(RLIMIT_NAMES)
    try:
        raw = prog.read(
            signal + prog.offsetof("signal_struct", "rlim"), 16 * n, what="signal_struct rlimit array"
        )
    except FaultError:
        return
    width = max(len(x) for x in RLIMIT_NAMES)
    ul = len("(unlimited)")
    session.println(
        f"  {'RLIMIT':>{width}}   {_center('CURRENT', ul, True)}   {_center('MAXIMUM', ul, True)}"
    )
    for i, name in enumerate(RLIMIT_NAMES):
        cur = int.from_bytes(raw[i * 16 : i * 16 + 8], "little")
        mx = int.from_bytes(raw[i * 16 + 8 : i * 16 + 16], "little")
        c = "(unlimited)" if cur == RLIM_INFINITY else _center(str(cur), ul, False)
        m = "(unlimited)" if mx == RLIM_INFINITY else _center(str(mx), ul, False)
        session.println(f"  {name:>{width}}   {c}   {m}")
    session.println()


def _read_user(session: Session, tc: TaskContext, start: int, end: int) -> bytes | None:
    """User memory of the task, page by page, or None after crash's message for the failing page."""

    prog = session.prog
    user = prog.user_memory(prog.read_u64(tc.mm + prog.offsetof("mm_struct", "pgd")))
    out = bytearray()
    addr = start
    while addr < end:
        cnt = min(4096 - (addr & 4095), end - addr)
        try:
            out += user.read(addr, cnt)
        except FaultError as e:
            if prog.crash_reads_zeros(e):  # crash shows such a page's strings as empty
                out += bytes(cnt)
                addr += cnt
                continue
            session.println(f"ps: cannot access user stack address: {addr:x}")
            session.println()
            return None
        addr += cnt
    return bytes(out)


def _show_args(session: Session, tc: TaskContext) -> None:
    prog = session.prog
    session.println(task_header(tc))
    if not tc.mm:
        session.println("ps: no user stack")
        session.println()
        return
    mm = tc.mm
    arg_start, arg_end, env_start, env_end = (
        prog.read_u64(mm + prog.offsetof("mm_struct", name))
        for name in ("arg_start", "arg_end", "env_start", "env_end")
    )
    args = _read_user(session, tc, arg_start, arg_end)
    if args is None:
        return
    text = ["ARG: "]
    c = 0
    for b in args:
        if b == 0:
            if c:
                text.append(" ")
            c = 0
        else:
            text.append(chr(b))
            c += 1
    session.write("".join(text))
    env = _read_user(session, tc, env_start, env_end)
    if env is None:
        return
    text = ["\nENV: "]
    c = d = 0
    for i, b in enumerate(env):
        if b == 0:
            if c:
                text.append("\n")
            c = 0
        else:
            text.append(("     " if not c and i != 0 else "") + chr(b))
            c += 1
            d += 1
    text.append("\n" + ("" if d else "\n"))
    session.write("".join(text))


def _group_leaders(table: TaskTable, tcs: list[TaskContext], specified: bool) -> list[TaskContext]:
    out: list[TaskContext] = []
    seen: set[int] = set()
    for tc in tcs:
        leader = group_leader(table, tc, specified)
        if leader is None:
            continue
        tc = leader
        if tc.task in seen:
            continue
        seen.add(tc.task)
        out.append(tc)
    return out


def _is_number(s: str) -> bool:
    from crashpy.helpers.numbers import is_a_number

    return is_a_number(s)
