"""bt: backtraces of tasks, as crash prints them (the unwinding is in unwind/x86_64.py)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from crashpy.commands.ps import task_header
from crashpy.commands.registry import command
from crashpy.errors import CommandError
from crashpy.helpers.numbers import getopt, htol, make_cpumask
from crashpy.helpers.tasks import TaskContext, TaskTable, str_to_context, task_table
from crashpy.unwind.x86_64 import Backtrace, BtOptions, Tracer, _Stop, unwinder

if TYPE_CHECKING:
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


def backtrace(session: Session, tc: TaskContext, opts: BtOptions) -> Backtrace:
    """One task's backtrace (text and frames), with the session's output radix."""
    table = task_table(session.prog)
    return Tracer(session.prog, table, tc, opts, session.radix).run()


class _Runner:
    def __init__(self, session: Session, opts: BtOptions) -> None:
        self.session = session
        self.opts = opts
        self.subsequent = 0
        self.table: TaskTable = task_table(session.prog)

    def header(self, tc: TaskContext) -> None:
        if self.subsequent:
            self.session.println()
        self.subsequent += 1
        self.session.println(task_header(tc))

    def do_task(self, tc: TaskContext) -> None:
        s = self.session
        if self.opts.raw:
            self.header(tc)
            base = unwinder(s.prog).read_u64(tc.task + unwinder(s.prog).stack_off) or 0
            buf = io.StringIO()
            s.run_command(f"rd -s {base:x} {16384 // 8}", buf)
            s.write(buf.getvalue())
            return
        if self.opts.ref is not None:
            quiet = BtOptions(**{**self.opts.__dict__})
            result = self._trace(tc, quiet)
            if result.ref_found:
                s.println(task_header(tc))
                plain = BtOptions(**{**self.opts.__dict__, "ref": None})
                self._print(self._trace(tc, plain))
                s.println()
            return
        self.header(tc)
        self._print(self._trace(tc, self.opts))

    def _trace(self, tc: TaskContext, opts: BtOptions) -> Backtrace:
        tracer = Tracer(self.session.prog, self.table, tc, opts, self.session.radix)
        try:
            tracer._run()
        except _Stop:
            pass
        except Exception as e:  # BtFatal and any bad read: crash's one line, the listing goes on
            from crashpy.errors import FaultError
            from crashpy.unwind.x86_64 import BtFatal

            if isinstance(e, BtFatal):
                tracer.result.error = str(e)
            elif isinstance(e, FaultError):
                tracer.result.error = e.message()
            else:
                raise
        return tracer.result

    def _print(self, result: Backtrace) -> None:
        for line in result.lines:
            self.session.println(line)
        if result.error:
            self.session.println(f"bt: {result.error}")


@command("bt", summary="backtrace", help=HELP)
def cmd_bt(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage

    prog = session.prog
    parsed = getopt(args, "D:fFI:S:c:n:aAloreEgstTdxR:Ovp")
    opts = BtOptions()
    active = panic = group = eframe_all = False
    cpus: str | None = None
    bad = False
    for err in parsed.errors:
        session.println(f"bt: {err}")
        bad = True
    for opt, val in parsed.opts:
        if opt == "f":
            opts.full = True
        elif opt == "F":
            opts.full = True
            opts.full_sym_slab = 2 if opts.full_sym_slab else 1
        elif opt == "o":
            opts.old = True
        elif opt == "O":
            uw = unwinder(prog)
            uw.use_old_bt = not uw.use_old_bt
            session.println(f"bt: use {'old' if uw.use_old_bt else 'new'} bt method by default")
            return
        elif opt == "R":
            if opts.ref is not None:
                session.println("bt: only one -R option allowed")
            else:
                opts.ref = val
        elif opt == "l":
            opts.line_numbers = True
        elif opt == "E":
            eframe_all = True
            opts.eframe_search = True
        elif opt == "e":
            opts.eframe_search = True
        elif opt == "g":
            group = True
        elif opt == "x":
            if opts.radix == 10:
                raise CommandError("-d and -x are mutually exclusive")
            opts.radix = 16
        elif opt == "d":
            if opts.radix == 16:
                raise CommandError("-d and -x are mutually exclusive")
            opts.radix = 10
        elif opt == "I" and val is not None:
            opts.hook_ip = _address(session, val)
        elif opt == "S" and val is not None:
            notes: list[str] = []
            sp = htol(val, notes)
            if sp is None:
                raise CommandError(notes[0] if notes else f'invalid input: "{val}"')
            opts.hook_sp = sp
            if not opts.hook_sp:
                raise CommandError("invalid stack address for this task: 0")
        elif opt == "D":
            session.println(FRAMESIZE_DEBUG_MESSAGE)
            return
        elif opt == "c":
            if cpus is not None:
                session.println("bt: only one -c option allowed")
                bad = True
            else:
                cpus = val
        elif opt == "A":
            raise CommandError("-A option not supported or applicable on this architecture or kernel")
        elif opt == "a":
            active = True
        elif opt == "n":
            if val != "idle":
                raise CommandError("-n option not supported or applicable on this architecture or kernel")
        elif opt == "r":
            opts.raw = True
        elif opt == "s":
            opts.symbol_offset = True
        elif opt == "T":
            opts.text_symbols_all = True
            opts.text_symbols = True
        elif opt == "t":
            opts.text_symbols = True
        elif opt == "v":
            _check_stack_overflow(session)
            return
        elif opt == "p":
            panic = True
    if bad:
        print_usage(session, "bt")
        return

    table = task_table(prog)
    runner = _Runner(session, opts)
    if eframe_all:
        _eframe_all(session, opts, cpus)
        return
    if cpus is not None:
        if group:
            raise CommandError("-c option cannot be used with the -g option")
        for cpu in make_cpumask(cpus, len(table.active)):
            task = table.active[cpu]
            tc = table.by_task.get(task)
            if tc is None:
                raise CommandError(f"cannot determine active task on cpu {cpu}")
            runner.do_task(tc)
        return
    if active:
        if group:
            raise CommandError("-a option cannot be used with the -g option")
        for cpu, task in enumerate(table.active):
            tc = table.by_task.get(task)
            if tc is not None:
                runner.do_task(tc)
            else:  # crash prints nothing for such a cpu; say why there is no trace
                session.println(f"bt: cannot determine active task on cpu {cpu}")
        return
    if not parsed.args:
        tc = table.panic_context() if panic else session.current_context()
        if group and tc.pid:
            _group(runner, table, tc)
        else:
            runner.do_task(tc)
        return
    for arg in parsed.args:
        kind, value, found = str_to_context(table, arg)
        if kind == "pid":
            for tc in table.by_pid(value):
                if tc.pid and group:
                    _group(runner, table, tc)
                    break
                runner.do_task(tc)
        elif kind == "task" and found is not None:
            if found.pid and group:
                _group(runner, table, found)
            else:
                runner.do_task(found)
        else:
            session.println(f"{'' if not runner.subsequent else chr(10)}bt: invalid task or pid value: {arg}")
            runner.subsequent += 1


def _address(session: Session, text: str) -> int:
    """A -I argument as crash's convert(NUM_HEX|NUM_EXPR) reads it: an expression, a symbol or a
    hexadecimal number."""
    from crashpy.helpers.numbers import calculate, can_eval, eval_expression
    from crashpy.symbols.crash_view import symbol_lookup

    lookup = symbol_lookup(session.prog)
    t = text.strip()
    value = eval_expression(t, lookup, hex_bias=True) if can_eval(t) else calculate(t, lookup, hex_bias=True)
    if value is None:
        raise CommandError(f'cannot convert "{text}"')
    return value


def _group(runner: _Runner, table: TaskTable, tc: TaskContext) -> None:
    leader = table.first_by_pid(tc.tgid) or tc
    runner.do_task(leader)
    for other in table.thread_group(tc.tgid):
        if other.task != leader.task:
            runner.do_task(other)


def _eframe_all(session: Session, opts: BtOptions, cpus: str | None) -> None:
    """bt -E: exception frames found on every CPU's IRQ stack, then on every exception stack."""
    from crashpy.unwind.stacks import stack_info

    prog = session.prog
    si = stack_info(prog)
    table = task_table(prog)
    wanted = set(make_cpumask(cpus, len(si.irq_base))) if cpus is not None else set(range(len(si.irq_base)))
    tc = table.panic_context()

    def search(base: int, size: int) -> None:
        tracer = Tracer(prog, table, tc, opts, session.radix)
        tracer.f_eframe_search = True
        try:
            tracer.stack = tracer.read_stack(base, base + size, "irqstack contents")
        except Exception:
            session.println(f"bt: read of stack at {base:x} failed")
            return
        tracer.stkptr = base
        tracer.eframe_search()
        if tracer.result.lines:
            for line in tracer.result.lines:
                session.println(line)
            session.println()
        else:
            session.println("(none found)")
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
    prog = session.prog
    table = task_table(prog)
    uw = unwinder(prog)
    init_task = prog.symbol_address("init_task") if prog.has_symbol("init_task") else 0
    total = 0
    for tc in table.contexts:
        base = uw.read_u64(tc.task + uw.stack_off)
        if base is None:
            continue
        magic = uw.read_u64(base)
        if magic is None:
            continue
        if tc.pid == 0 and tc.task == init_task:
            continue
        if magic != 0x57AC6E9D:
            session.println(task_header(tc))
            session.println(f"  possible stack overflow: {base:x}: {magic:x} != STACK_END_MAGIC")
            session.println()
            total += 1
    if not total:
        session.println("No stack overflows detected")
