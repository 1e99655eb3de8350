"""bt: backtraces of tasks, as crash prints them, and as JSON (`bt --json`).

The unwinder (crashpy.unwind) returns records; bt's text is written from them here and in
commands/bt_text.py, its JSON in commands/bt_json.py; this module parses bt's arguments for both.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crashpy.commands.bt_text import BtOptions, backtrace_lines, mentions
from crashpy.commands.ps import task_header
from crashpy.commands.registry import command
from crashpy.errors import CommandError
from crashpy.helpers.numbers import Options, getopt, htol, make_cpumask, radix_option
from crashpy.helpers.tasks import TaskContext, TaskTable, str_to_context, task_table
from crashpy.unwind import Backtrace, old_method, search_exception_frames, stack_base, unwind

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

HELP = """\
NAME
  bt - backtrace

SYNOPSIS
  bt [-a|-c cpu(s)|-g|-r|-t|-T|-l|-e|-E|-f|-F|-o|-O|-v|-p] [-R ref] [-s [-x|d]]
     [-I ip] [-S sp] [-n idle] [pid | task]

DESCRIPTION
  Shows the kernel stack of a task: one line per frame found on the stack, with
  the stack address where the return address sits, the function and the return
  address itself.  Where entry code saved a pt_regs block (an exception, an
  interrupt, a system call from user space), its registers follow.  Without an
  argument the current context's task is shown.

    -a  every CPU's active task.
    -c cpu  the active task of each listed CPU ("1", "0,2", "0-3", "all").
    -p  the panic task, whatever the current context is.
    -g  every thread of the task's thread group.
    -f  the stack words of each frame as well.
    -F  like -f, with each word that is a symbol or a slab object shown as the
        symbol or [cache name]; -FF shows [address:cache name].
    -l  the source file and line of each return address.
    -s  symbol+offset instead of the symbol.
    -x  offsets in hexadecimal (with -s).
    -d  offsets in decimal (with -s).
    -t  every kernel text address found on the stack from the starting point on,
        without following frames.
    -T  like -t, from the bottom of the stack.
    -e  search the stack for exception frames and show each one.
    -E  search every CPU's IRQ and exception stacks for exception frames.
    -r  the whole raw stack, words with their symbols.
    -o  this time, scan without frame sizes (each text address is a frame).
    -O  switch the default between frame sizes and plain scanning.
    -v  check every task's stack for an overwritten end marker.
    -R ref  show only the backtraces that mention a symbol or a value.
    -n idle  accepted; idle tasks are traced as any other.
    -I ip  start the trace at this text address (a value or a symbol expression).
    -S sp  start the trace at this stack address (the task's stack or one of its
           CPU's IRQ or exception stacks).

  Where crash cannot unwind a CPU that the panic stopped (its exception stacks
  are missized), this bt unwinds it: the frames on its IRQ or NMI stack, then
  the interrupted context.

EXAMPLES
  The panic task:

    crash> bt
    PID: 1        TASK: ffff888003dfb000  CPU: 1    COMMAND: "init"
     #0 [ffffc90000013d10] panic at ffffffff819cd21a
     #1 [ffffc90000013d90] sysrq_handle_crash at ffffffff816a8a06
     ...
"""

FRAMESIZE_DEBUG_MESSAGE = "bt: -D options are not supported"
OPTSTRING = "D:fFI:S:c:n:aAloreEgstTdxR:Ovp"


@dataclass(eq=False, repr=False)
class BtRequest:
    """One bt command line, parsed: the options and which tasks."""

    opts: BtOptions = field(default_factory=BtOptions)
    active: bool = False  # -a
    panic: bool = False  # -p
    group: bool = False  # -g
    eframe_all: bool = False  # -E
    cpus: str | None = None  # -c
    args: list[str] = field(default_factory=list)
    action: str | None = None  # an option that does its job instead of a trace: O, D or v
    bad: bool = False  # an option error: the usage follows


def parse(prog: Program, parsed: Options, say: Callable[[str], None]) -> BtRequest:
    """bt's options, in crash's order: `say` gets the one-line notes crash prints on the way; an
    error that ends the command raises CommandError."""
    req = BtRequest(args=list(parsed.args))
    opts = req.opts
    uo = opts.unwind
    for opt, val in parsed.opts:
        if opt == "f":
            uo.stack_words = True
        elif opt == "F":
            uo.stack_words = True
            opts.full_sym_slab = 2 if opts.full_sym_slab else 1
        elif opt == "o":
            uo.no_frame_sizes = True
        elif opt in ("O", "D", "v"):
            req.action = opt
            return req
        elif opt == "R":
            if opts.ref is not None:
                say("bt: only one -R option allowed")
            else:
                opts.ref = val
        elif opt == "l":
            uo.source_lines = True
        elif opt == "E":
            req.eframe_all = True
            uo.eframe_search = True
        elif opt == "e":
            uo.eframe_search = True
        elif opt == "g":
            req.group = True
        elif opt in "xd":
            opts.radix = radix_option(opts.radix, 16 if opt == "x" else 10)
        elif opt == "I" and val is not None:
            uo.hook_ip = _address(prog, val)
        elif opt == "S" and val is not None:
            notes: list[str] = []
            sp = htol(val, notes)
            if sp is None:
                raise CommandError(notes[0] if notes else f'invalid input: "{val}"')
            uo.hook_sp = sp
            if not uo.hook_sp:
                raise CommandError("invalid stack address for this task: 0")
        elif opt == "c":
            if req.cpus is not None:
                say("bt: only one -c option allowed")
                req.bad = True
            else:
                req.cpus = val
        elif opt == "A":
            raise CommandError("-A option not supported or applicable on this architecture or kernel")
        elif opt == "a":
            req.active = True
        elif opt == "n":
            if val != "idle":
                raise CommandError("-n option not supported or applicable on this architecture or kernel")
        elif opt == "r":
            opts.raw = True
        elif opt == "s":
            opts.symbol_offset = True
        elif opt == "T":
            uo.text_scan_all = True
            uo.text_scan = True
        elif opt == "t":
            uo.text_scan = True
        elif opt == "p":
            req.panic = True
    return req


def select_tasks(
    table: TaskTable, req: BtRequest, current: Callable[[], TaskContext]
) -> Iterator[TaskContext | str]:
    """The tasks a request names, in bt's order, with the one-line note (a str) where an argument
    or a CPU names no task; `current()` is the task without an argument (the current context)."""
    if req.cpus is not None:
        if req.group:
            raise CommandError("-c option cannot be used with the -g option")
        for cpu in make_cpumask(req.cpus, len(table.active)):
            tc = table.by_task.get(table.active[cpu])
            if tc is None:
                raise CommandError(f"cannot determine active task on cpu {cpu}")
            yield tc
        return
    if req.active:
        if req.group:
            raise CommandError("-a option cannot be used with the -g option")
        for cpu, task in enumerate(table.active):
            tc = table.by_task.get(task)
            # crash prints nothing for such a cpu; say why there is no trace
            yield tc if tc is not None else f"cannot determine active task on cpu {cpu}"
        return
    if not req.args:
        tc = table.panic_context() if req.panic else current()
        yield from _group(table, tc) if req.group and tc.pid else [tc]
        return
    for arg in req.args:
        kind, value, found = str_to_context(table, arg)
        if kind == "pid":
            for tc in table.by_pid(value):
                if tc.pid and req.group:
                    yield from _group(table, tc)
                    break
                yield tc
        elif kind == "task" and found is not None:
            yield from _group(table, found) if found.pid and req.group else [found]
        else:
            yield f"invalid task or pid value: {arg}"


def _group(table: TaskTable, tc: TaskContext) -> Iterator[TaskContext]:
    leader = table.first_by_pid(tc.tgid) or tc
    yield leader
    for other in table.thread_group(tc.tgid):
        if other.task != leader.task:
            yield other


def backtrace(session: Session, tc: TaskContext, opts: BtOptions | None = None) -> Backtrace:
    """One task's backtrace as records (the unwinder's, with bt's options)."""
    return unwind(session.prog, tc, (opts or BtOptions()).unwind)


class _Runner:
    def __init__(self, session: Session, opts: BtOptions) -> None:
        self.session = session
        self.opts = opts
        self.subsequent = 0

    def header(self, tc: TaskContext) -> None:
        if self.subsequent:
            self.session.println()
        self.subsequent += 1
        self.session.println(task_header(tc))

    def note(self, message: str) -> None:
        self.session.println(f"{'' if not self.subsequent else chr(10)}bt: {message}")
        self.subsequent += 1

    def do_task(self, tc: TaskContext) -> None:
        s = self.session
        if self.opts.raw:
            self.header(tc)
            base = stack_base(s.prog, tc.task) or 0
            buf = io.StringIO()
            s.run_command(f"rd -s {base:x} {16384 // 8}", buf)
            s.write(buf.getvalue())
            return
        bt = unwind(s.prog, tc, self.opts.unwind)
        if self.opts.ref is not None:
            if mentions(bt, self.opts.ref):
                s.println(task_header(tc))
                self._print(bt)
                s.println()
            return
        self.header(tc)
        self._print(bt)

    def _print(self, bt: Backtrace) -> None:
        for line in backtrace_lines(self.session.prog, bt, self.opts, self.session.radix):
            self.session.println(line)


@command("bt", summary="backtrace", help=HELP)
def cmd_bt(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage

    prog = session.prog
    parsed = getopt(args, OPTSTRING)
    for err in parsed.errors:
        session.println(f"bt: {err}")
    req = parse(prog, parsed, session.println)
    if req.action == "O":
        old = old_method(prog, toggle=True)
        session.println(f"bt: use {'old' if old else 'new'} bt method by default")
        return
    if req.action == "D":
        session.println(FRAMESIZE_DEBUG_MESSAGE)
        return
    if req.action == "v":
        _check_stack_overflow(session)
        return
    if parsed.errors or req.bad:
        print_usage(session, "bt")
        return
    if req.opts.unwind.source_lines and not prog.debuginfo:
        from crashpy.commands.dis import NO_SOURCE_LINES
        from crashpy.object import module_types

        session.println(f"bt: {NO_SOURCE_LINES.format(opt='-l')}")
        # frames in a module whose debuginfo mod -s loaded still have theirs
        req.opts.unwind.source_lines = bool(module_types(prog))
    if req.eframe_all:
        _eframe_all(session, req)
        return
    table = task_table(prog)
    runner = _Runner(session, req.opts)
    for item in select_tasks(table, req, session.current_context):
        if isinstance(item, str):
            if req.active:
                session.println(f"bt: {item}")
            else:
                runner.note(item)
        else:
            runner.do_task(item)


def _address(prog: Program, text: str) -> int:
    """A -I argument as crash's convert(NUM_HEX|NUM_EXPR) reads it: an expression, a symbol or a
    hexadecimal number."""
    from crashpy.helpers.numbers import calculate, can_eval, eval_expression
    from crashpy.symbols.crash_view import symbol_lookup

    lookup = symbol_lookup(prog)
    t = text.strip()
    value = eval_expression(t, lookup, hex_bias=True) if can_eval(t) else calculate(t, lookup, hex_bias=True)
    if value is None:
        raise CommandError(f'cannot convert "{text}"')
    return value


def _eframe_all(session: Session, req: BtRequest) -> None:
    """bt -E: exception frames found on every CPU's IRQ stack, then on every exception stack."""
    from crashpy.unwind.stacks import stack_info

    prog = session.prog
    si = stack_info(prog)
    table = task_table(prog)
    cpus = req.cpus
    wanted = set(make_cpumask(cpus, len(si.irq_base))) if cpus is not None else set(range(len(si.irq_base)))
    tc = table.panic_context()
    opts = req.opts

    def search(base: int, size: int) -> None:
        bt = search_exception_frames(prog, tc, base, size, opts.unwind)
        lines = backtrace_lines(prog, bt, opts, session.radix)
        for line in lines or ["(none found)"]:
            session.println(line)
        session.println()

    for c, base in enumerate(si.irq_base):
        if c not in wanted:
            continue
        if not base:
            break
        session.println(f"CPU {c} IRQ STACK:")
        search(base, si.irq_size)
    for c, row in enumerate(si.estacks):
        if c not in wanted:
            continue
        for es in row:
            if not es.base or not es.available:
                break
            if not es.size:
                continue  # an IST slot crash cannot size; it fails here
            session.println(f"CPU {c} {es.name} EXCEPTION STACK:")
            search(es.base, es.size)


def _check_stack_overflow(session: Session) -> None:
    """bt -v: every task's STACK_END_MAGIC at the bottom of its stack."""
    from crashpy.unwind import stack_end_marker

    prog = session.prog
    table = task_table(prog)
    init_task = prog.symbol_address("init_task") if prog.has_symbol("init_task") else 0
    total = 0
    for tc in table.contexts:
        found = stack_end_marker(prog, tc.task)
        if found is None:
            continue
        base, magic = found
        if tc.pid == 0 and tc.task == init_task:
            continue
        if magic != 0x57AC6E9D:
            session.println(task_header(tc))
            session.println(f"  possible stack overflow: {base:x}: {magic:x} != STACK_END_MAGIC")
            session.println()
            total += 1
    if not total:
        session.println("No stack overflows detected")
