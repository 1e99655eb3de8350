"""runq: the tasks on each cpu's run queue, crash's layouts (-t -T -m -g -d -c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.commands.registry import command
from crashpy.errors import CommandError
from crashpy.helpers import sched
from crashpy.helpers.numbers import getopt, make_cpumask
from crashpy.helpers.tasks import TaskContext, TaskTable, task_table

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

HELP = """\
NAME
  runq - run queue

SYNOPSIS
  runq [-t] [-T] [-m] [-g] [-c cpu(s)]

DESCRIPTION
  Lists, cpu by cpu, the tasks that are queued to run: the cpu's struct rq,
  the task running on it, then the real-time priority queues and the tree of
  the fair scheduler, each queued task with its priority.

     -t  the run queue clock of each cpu, and under it the time the cpu's
         running task last arrived on it, with that task's PID/TASK/COMMAND.
     -T  how far each cpu's run queue clock is behind the newest of them, in
         seconds, newest first.
     -m  how long the running task of each cpu has been on it, as
         days hh:mm:ss.ms.
     -g  the queues by task group: each group's queue under its parent's,
         with the group's cgroup name and a THROTTLED mark where that applies.
 -c cpu  only the listed cpus: "2", "0,3", "1-5" or "0,4-7".

EXAMPLES
  The run queues of a two-cpu system:

    crash> runq
    CPU 0 RUNQUEUE: ffff88801f431980
      CURRENT: PID: 102    TASK: ffff888005361800  COMMAND: "init"
      RT PRIO_ARRAY: ffff88801f431bc0
         [no tasks queued]
      CFS RB_ROOT: ffff88801f431a30
         [no tasks queued]

    CPU 1 RUNQUEUE: ffff88801f531980
      CURRENT: PID: 1      TASK: ffff888003dfb000  COMMAND: "init"
      RT PRIO_ARRAY: ffff88801f531bc0
         [no tasks queued]
      CFS RB_ROOT: ffff88801f531a30
         [120] PID: 15     TASK: ffff888003e4b000  COMMAND: "rcu_preempt"

  How long each cpu's task has been running:

    crash> runq -m
     CPU 0: [0 00:00:00.015]  PID: 102    TASK: ffff888005361800  COMMAND: "init"
     CPU 1: [0 00:00:00.002]  PID: 1      TASK: ffff888003dfb000  COMMAND: "init"
"""


def _ident(tc: TaskContext) -> str:
    return f'PID: {tc.pid:<5}  TASK: {tc.task:x}  COMMAND: "{tc.comm}"'


def _current_line(table: TaskTable, task: int) -> str:
    tc = table.by_task.get(task)
    return f"  CURRENT: {_ident(tc)}" if tc is not None else f"  CURRENT: {task:x}"


def _cpus(table: TaskTable, wanted: list[int] | None) -> list[int]:
    ncpus = len(table.active)
    return [c for c in range(ncpus) if wanted is None or c in wanted]


def _log10(x: int) -> int:
    n = 1
    while x > 9:
        n += 1
        x //= 10
    return n


def _timestamps(session: Session, table: TaskTable, active: list[int], cpus: list[int]) -> None:
    prog = session.prog
    for cpu in cpus:
        clock = sched.rq_clock(prog, cpu)
        text = f"{clock}" if session.radix == 10 else f"{clock:x}"
        session.println(f"{' ' if cpu < 10 else ''}CPU {cpu}: {text}")
        tc = table.by_task.get(active[cpu])
        if tc is None:
            session.println()
            continue
        indent = 7 if cpu < 10 else 8 if cpu < 100 else 9
        if cpu < 10:
            indent += 1
        last = sched.task_last_run(prog, tc.task)
        stamp = f"{last:0{len(text)}d}" if session.radix == 10 else f"{last:0{len(text)}x}"
        session.println(f"{' ' * indent}{stamp}  {_ident(tc)}")


def _lag(session: Session, table: TaskTable) -> None:
    prog = session.prog
    ncpus = len(table.active)
    stamps = sorted(((sched.rq_clock(prog, cpu), cpu) for cpu in range(ncpus)), key=lambda t: -t[0])
    newest = stamps[0][0]
    for ts, cpu in stamps:
        pad = 2 + _log10(ncpus) - _log10(cpu)
        session.println(f"{' ' * pad}CPU {cpu}: {(float(newest) - float(ts)) / 1e9:.2f} secs")


def _milliseconds(session: Session, table: TaskTable, active: list[int], cpus: list[int]) -> None:
    prog = session.prog
    ncpus = len(table.active)
    max_indent = 1 if ncpus < 10 else 2 if ncpus < 100 else 3 if ncpus < 1000 else 4
    max_days = 0
    for cpu in cpus:
        clock = sched.rq_clock(prog, cpu)
        if not max_days:
            max_days = sched.translate_ns(clock).index(" ")
        if cpu < 10:
            indent = max_indent
        elif cpu < 100:
            indent = max_indent - 1
        elif cpu < 1000:
            indent = max_indent - 2
        else:
            indent = max_indent - 4
        tc = table.by_task.get(active[cpu])
        if tc is None:
            session.println(f"{' ' * indent}CPU {cpu}: [unknown]")
            continue
        delta = max(clock - sched.task_last_run(prog, tc.task), 0)
        text = sched.translate_ns(delta)
        days = text.index(" ")
        session.println(f"{' ' * indent}CPU {cpu}: [{' ' * max(max_days - days, 0)}{text}]  {_ident(tc)}")


def _entry(
    session: Session, table: TaskTable, indent: int, task: int, prio: int, current: bool = False
) -> None:
    tc = table.by_task[task]
    session.println(f"{' ' * indent}[{prio:3d}] {_ident(tc)}{' [CURRENT]' if current else ''}")


def _on_rq(session: Session, table: TaskTable, cpus: list[int]) -> None:
    prog = session.prog
    for cpu in cpus:
        session.println(f"{chr(10) if cpu else ''}CPU {cpu}")
        n = 0
        for tc in table.contexts:
            if tc.cpu != cpu or not sched.on_rq(prog, tc.task):
                continue
            _entry(session, table, 5, tc.task, sched.task_prio(prog, tc.task))
            n += 1
        if not n:
            session.println("     [no tasks queued]")


def _warn_duplicate(session: Session, task: int) -> None:
    session.println(f"runq: WARNING: duplicate CFS runqueue node: task {task:x}")


def _runqueues(session: Session, table: TaskTable, active: list[int], cpus: list[int]) -> None:
    prog = session.prog
    for n, cpu in enumerate(cpus):
        rq = sched.cpu_runqueue(prog, table, cpu)
        session.println(f"{chr(10) if n else ''}CPU {cpu} RUNQUEUE: {rq.rq:x}")
        session.println(_current_line(table, active[cpu]))
        session.println(f"  RT PRIO_ARRAY: {rq.rt_array:x}")
        for rt in rq.rt:
            _entry(session, table, 5, rt.task, rt.prio)
        if not rq.rt:
            session.println("     [no tasks queued]")
        session.println(f"  CFS RB_ROOT: {rq.cfs_root:x}")
        shown = 0
        for e in rq.cfs:
            if e.duplicate:
                _warn_duplicate(session, e.task)
                break
            _entry(session, table, 5, e.task, e.prio)
            shown += 1
        if not shown:
            session.println("     [no tasks queued]")


def _cfs_group_header(depth: int, cfs_rq: int, group: sched.TaskGroup, throttled: bool) -> str:
    name = f" <{group.name}>" if group.name else ""
    mark = " (THROTTLED)" if throttled else ""
    return f"{' ' * (2 + 3 * depth)}TASK_GROUP: {group.address:x}  CFS_RQ: {cfs_rq:x} {name}{mark}"


class RtGroupWalk:
    """The RT half of `runq -g` on one cpu, as crash lays it out: a group queue's "[prio] " and its
    TASK_GROUP header share a line, and the groups are indented six columns a level."""

    def __init__(self, prog: Program, table: TaskTable, groups: list[sched.TaskGroup], cpu: int) -> None:
        self.prog = prog
        self.table = table
        self.groups = groups
        self.cpu = cpu
        self.out: list[str] = []
        for g in groups:
            g.use = bool(g.depth)

    def run(self, rt_rq: int) -> str:
        self.walk(0, rt_rq)
        return "".join(self.out)

    def header(self, rt_rq: int, group: sched.TaskGroup) -> None:
        name = f" <{group.name}>" if group.name else ""
        mark = " (THROTTLED)" if sched.rt_throttled(self.prog, rt_rq) else ""
        self.out.append(f"TASK_GROUP: {group.address:x}  RT_RQ: {rt_rq:x}{name}{mark}\n")

    def cfs_parents(self, group: sched.TaskGroup) -> None:
        # crash climbs the parents of an RT group with its CFS routine: CFS_RQ header lines
        parent = group.parent
        if parent is None or not parent.use:
            return
        self.cfs_parents(parent)
        cfs_rq = sched.group_cfs_rq(self.prog, parent.address, self.cpu)
        throttled = sched.cfs_throttled(self.prog, cfs_rq)
        self.out.append(_cfs_group_header(parent.depth, cfs_rq, parent, throttled) + "\n")
        parent.use = False

    def parents(self, group: sched.TaskGroup) -> None:
        parent = group.parent
        if parent is None or not parent.use:
            return
        self.cfs_parents(parent)
        rt_rq = sched.group_rt_rq(self.prog, parent.address, self.cpu)
        prio = sched.rt_rq_highest_prio(self.prog, rt_rq)
        self.out.append(f"{' ' * max(-1 + 6 * parent.depth, 0)}[{prio:3d}] ")
        self.header(rt_rq, parent)
        parent.use = False

    def lower_dequeued(self, depth: int, rt_rq: int) -> int:
        prog = self.prog
        total = 0
        for g in self.groups:
            delta = g.depth - depth
            if delta > 1:
                break
            if not g.use or delta < 1:
                continue
            tg = sched.rt_rq_group(prog, rt_rq)
            if g.parent is None or tg != g.parent.address:
                continue
            child = sched.group_rt_rq(prog, g.address, self.cpu)
            if child == rt_rq:
                continue
            if sched.rt_rq_nr_running(prog, child) == 0:
                total += self.lower_dequeued(depth + 1, child)
                continue
            self.parents(g)
            prio = sched.rt_rq_highest_prio(prog, child)
            self.out.append(f"{' ' * (5 + 6 * depth)}[{prio:3d}] ")
            total += 1
            self.walk(depth + 1, child)
        return total

    def walk(self, depth: int, rt_rq: int) -> None:
        prog = self.prog
        if depth:
            tg = sched.rt_rq_group(prog, rt_rq)
            for g in self.groups:
                if g.address == tg:
                    self.header(rt_rq, g)
                    g.use = False
                    break
        total = 0
        pad = " " * (5 + 6 * depth)
        for prio, rt_se, my_q in sched.rt_queue_entities(prog, rt_rq):
            if my_q:
                self.out.append(f"{pad}[{prio:3d}] ")
                total += 1
                self.walk(depth + 1, my_q)
                continue
            tc = self.table.by_task.get(sched.rt_entity_task(rt_se, prog))
            if tc is None:
                continue
            self.out.append(f"{pad}[{prio:3d}] {_ident(tc)}\n")
            total += 1
        total += self.lower_dequeued(depth, rt_rq)
        if not total:
            self.out.append(f"{pad}[no tasks queued]\n")


def _by_task_group(session: Session, table: TaskTable, active: list[int], cpus: list[int]) -> None:
    prog = session.prog
    cfs_ok, rt_ok = sched.has_group_sched(prog)
    if not (cfs_ok or rt_ok) or not prog.has_member("task_group", "parent"):
        raise CommandError("-g option not supported or applicable on this architecture or kernel")
    root, label = sched.root_task_group(prog)
    groups = sched.task_groups(prog)
    for n, cpu in enumerate(cpus):
        cfs_rq, rt_rq = sched.root_group_queues(prog, cpu)
        session.println(f"{chr(10) if n else ''}CPU {cpu}")
        session.println(_current_line(table, active[cpu]))
        if rt_ok:
            session.println(f"  {label}_TASK_GROUP: {root:x}  RT_RQ: {rt_rq:x}")
            session.write(RtGroupWalk(prog, table, groups, cpu).run(rt_rq))
        if cfs_ok:
            session.println(f"  {label}_TASK_GROUP: {root:x}  CFS_RQ: {cfs_rq:x}")
            current = active[cpu] if active[cpu] in table.by_task else 0
            walk = sched.CfsGroupWalk(prog, table, groups, cpu, current)
            walk.walk(0, cfs_rq)
            for row in walk.rows:
                indent = 5 + 3 * row.depth
                if row.kind == "cfs_group" and row.group is not None:
                    session.println(_cfs_group_header(row.depth, row.queue, row.group, row.throttled))
                elif row.kind == "task":
                    _entry(session, table, indent, row.task, row.prio, row.current)
                elif row.kind == "duplicate":
                    _warn_duplicate(session, row.task)
                else:
                    session.println(f"{' ' * indent}[no tasks queued]")


@command("runq", summary="run queue", help=HELP)
def cmd_runq(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage

    parsed = getopt(args, "dtTgmc:")
    flags: set[str] = set()
    cpuspec: str | None = None
    bad = False
    for err in parsed.errors:
        session.println(f"runq: {err}")
        bad = True
    table = task_table(session.prog)
    wanted: list[int] | None = None
    for opt, val in parsed.opts:
        if opt == "?":
            continue
        if opt == "c":
            if cpuspec is not None:
                session.println("runq: only one -c option allowed")
                bad = True
                continue
            cpuspec = val or ""
            wanted = make_cpumask(cpuspec, len(table.active))
        flags.add(opt)
    if bad:
        print_usage(session, "runq")
        return
    active = session.active_set()
    cpus = _cpus(table, wanted)
    if "t" in flags:
        _timestamps(session, table, active, cpus)
    elif "T" in flags:
        _lag(session, table)
    elif "m" in flags:
        _milliseconds(session, table, active, cpus)
    elif "d" in flags:
        _on_rq(session, table, cpus)
    elif "g" in flags:
        _by_task_group(session, table, active, cpus)
    else:
        _runqueues(session, table, active, cpus)
