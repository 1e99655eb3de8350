"""timer: the pending timer-wheel timers of each CPU, or (-r) its high-resolution timers.

Laid out as crash 8.0.6's cmd_timer (kernel.c dump_timer_data_timer_bases, dump_hrtimer_data,
dump_active_timers, print_timer); the kernel knowledge is in helpers/timer.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crashpy.commands.registry import command
from crashpy.commands.rows import hex_address, mkstring
from crashpy.errors import CommandError
from crashpy.helpers import timer as timers
from crashpy.helpers.numbers import getopt, make_cpumask
from crashpy.helpers.sysinfo import cpu_count
from crashpy.symbols.crash_view import crash_symtab

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

VADDR_PRLEN = 16

HELP = """\
NAME
  timer - timer queue data

SYNOPSIS
  timer [-r][-C cpu]

DESCRIPTION
  Shows the current jiffies count, then for each CPU each of its timer-wheel
  bases and the timers pending on it, soonest first: the jiffies value at
  which each expires, how many jiffies away that is (TTE, negative when
  overdue), the struct timer_list and the function it will call.

       -r  the high-resolution timers instead: for each CPU, each clock base
           of its struct hrtimer_cpu_base with the clock's current time and
           the queued hrtimers (soft and hard expiry in nanoseconds, time to
           expiry, the struct hrtimer and its function).
   -C cpu  only these CPUs ("1", "0,2", "1-3", "a" or "all").

EXAMPLES
    crash> timer -C 1
    JIFFIES
    4294893651

    TIMER_BASES[1][BASE_STD]: ffff88801f520980
      EXPIRES        TTE        TIMER_LIST     FUNCTION
      4294893898      247  ffff88801f520870  ffffffff810b79d0  <delayed_work_timer_fn>
    TIMER_BASES[1][BASE_DEF]: ffff88801f521c00
      EXPIRES        TTE        TIMER_LIST     FUNCTION
      4294893747       96  ffff88801f52dde0  ffffffff810b79d0  <delayed_work_timer_fn>
"""



def _function_of(prog: Program, fn: int) -> int:
    """crash shows the function itself when it is kernel text, else what it points to if that is."""
    from crashpy.errors import FaultError

    table = crash_symtab(prog)
    if table.is_kernel_text(fn):
        return fn
    try:
        target = prog.read_u64(fn)
    except FaultError:
        return fn
    return target if table.is_kernel_text(target) else fn


def _wheel_rows(prog: Program, cpus: list[int]) -> tuple[int, list[tuple[int, list[timers.TimerBase]]]]:
    """jiffies, and for each of these CPUs its timer-wheel bases with their pending timers."""
    now = timers.jiffies(prog)
    return now, [(cpu, timers.timer_bases(prog, cpu, now)) for cpu in cpus]


def _wheel_text(prog: Program, cpus: list[int]) -> str:
    now, rows = _wheel_rows(prog, cpus)
    flen = max(len(str(now)), len("JIFFIES"))
    out = [mkstring("JIFFIES", flen) + "\n", mkstring(str(now), flen, "r") + "\n\n"]
    for k, (cpu, bases) in enumerate(rows):
        if k:
            out.append("\n")
        for base in bases:
            out.append(f"TIMER_BASES[{cpu}][{base.name}]: {base.address:x}\n")
            highest = max((abs(t.tte) for t in base.timers), default=0)
            tlen = max(len(str(highest)) + 1, len("TTE"))
            out.append(
                f"  {mkstring('EXPIRES', flen)}     {mkstring('TTE', tlen)}     TIMER_LIST     FUNCTION\n"
            )
            for t in base.timers:
                addr = mkstring(mkstring(f"{t.address:x}", VADDR_PRLEN, "r"), 16, "c")
                out.append(
                    f"  {mkstring(str(t.expires), flen, 'r')}  {mkstring(str(t.tte), tlen, 'r')}  {addr}  "
                    f"{mkstring(f'{t.function:x}', VADDR_PRLEN, 'r')}  <{crash_symtab(prog).value_to_symstr(_function_of(prog, t.function))}>\n"
                )
            if not base.timers:
                out.append("  (none)\n")
    return "".join(out)


def _clock_text(prog: Program, cb: timers.ClockBase) -> str:
    out = [f"  CLOCK: {cb.index}  HRTIMER_CLOCK_BASE: {cb.address:x}  [{crash_symtab(prog).value_to_symstr(cb.get_time)}]\n"]
    if not cb.timers:
        return out[0] + "  (empty)\n"
    last = cb.timers[-1]
    exp_len = max(len(str(last.expires)), 7)
    tte_len = len(str(timers._signed(last.expires - cb.now)))
    soft = last.softexpires is not None
    width = max(len(str(last.softexpires)), 11) if soft else exp_len
    out.append(f"  {mkstring('CURRENT', width, 'cr')}\n  {mkstring(str(cb.now), width, 'cr')}\n")
    cols = [mkstring("SOFTEXPIRES", width, "cr")] if soft else []
    cols += [mkstring("EXPIRES", exp_len, "cr"), mkstring("TTE", tte_len, "cr")]
    cols += [mkstring("HRTIMER", VADDR_PRLEN, "cl"), mkstring("FUNCTION", VADDR_PRLEN, "cl")]
    out.append("  " + "  ".join(cols) + "\n")
    for t in cb.timers:
        line = "  "
        if t.destroyed:
            out.append(line + "(destroyed timer)\n")
            continue
        if soft:
            line += mkstring(str(t.softexpires), width, "cr") + "  "
        line += mkstring(str(t.expires), exp_len, "cr") + "  "
        line += mkstring(str(timers._signed(t.expires - cb.now)), tte_len, "r") + "  "
        line += f"{t.address:x}  "
        if t.function is not None:
            line += f"{t.function:x}  <{crash_symtab(prog).value_to_symstr(t.function)}>"
        out.append(line + "\n")
    return "".join(out)


def _hrtimer_rows(prog: Program, cpus: list[int]) -> list[tuple[int, int, list[timers.ClockBase]]]:
    """(cpu, its struct hrtimer_cpu_base, its clock bases with their queued hrtimers) for these CPUs."""
    from crashpy.helpers.printk_clock import crash_hz, crash_uptime_jiffies

    hz = crash_hz(prog)
    uptime = crash_uptime_jiffies(prog, hz)
    return [
        (cpu, timers.hrtimer_cpu_base(prog, cpu), timers.clock_bases(prog, cpu, uptime, hz)) for cpu in cpus
    ]


def _hrtimer_text(prog: Program, cpus: list[int]) -> str:
    out = []
    for k, (cpu, cpu_base, clocks) in enumerate(_hrtimer_rows(prog, cpus)):
        if k:
            out.append("\n")
        out.append(f"CPU: {cpu}  HRTIMER_CPU_BASE: {cpu_base:x}\n")
        for j, cb in enumerate(clocks):
            if j:
                out.append("\n")
            out.append(_clock_text(prog, cb))
    return "".join(out)


def _options(prog: Program, args: list[str], errors: list[str]) -> tuple[bool, list[int]] | None:
    """(-r given, the CPUs) or None after a bad option (its getopt lines are added to `errors`)."""
    parsed = getopt(args, "rC:")
    errors += parsed.errors
    bad = bool(parsed.errors)
    hr = False
    ncpus = cpu_count(prog)
    cpus = list(range(ncpus))
    for c, optarg in parsed.opts:
        if c == "r":
            hr = True
        elif c == "C":
            cpus = make_cpumask(optarg or "", ncpus)
        else:
            bad = True
    return None if bad else (hr, cpus)


def timer_document(session: Session, args: list[str]) -> dict[str, Any]:
    """`timer --json [-r] [-C cpu]`: the rows of the text (docs/json.md)."""
    prog = session.prog
    errors: list[str] = []
    opts = _options(prog, [a for a in args if a != "--json"], errors)
    if opts is None:
        raise CommandError(errors[0] if errors else "usage: timer [-r][-C cpu]")
    hr, cpus = opts
    if hr:
        return {
            "hrtimer_cpu_bases": [
                {
                    "cpu": cpu,
                    "address": hex_address(cpu_base),
                    "clocks": [_clock_json(prog, cb) for cb in clocks],
                }
                for cpu, cpu_base, clocks in _hrtimer_rows(prog, cpus)
            ]
        }
    now, rows = _wheel_rows(prog, cpus)
    return {
        "jiffies": now,
        "timer_bases": [
            {
                "cpu": base.cpu,
                "base": base.name,
                "address": hex_address(base.address),
                "timers": [
                    {
                        "expires": t.expires,
                        "tte": t.tte,
                        "timer_list": hex_address(t.address),
                        "function": hex_address(t.function),
                        "symbol": crash_symtab(prog).value_to_symstr(_function_of(prog, t.function)),
                    }
                    for t in base.timers
                ],
            }
            for _cpu, bases in rows
            for base in bases
        ],
    }


def _clock_json(prog: Program, cb: timers.ClockBase) -> dict[str, Any]:
    return {
        "index": cb.index,
        "address": hex_address(cb.address),
        "get_time": crash_symtab(prog).value_to_symstr(cb.get_time),
        "current": cb.now,
        "hrtimers": [
            {
                "address": hex_address(t.address),
                "destroyed": t.destroyed,
                "softexpires": None if t.destroyed else t.softexpires,
                "expires": None if t.destroyed else t.expires,
                "tte": None if t.destroyed else timers._signed(t.expires - cb.now),
                "function": None if t.destroyed or t.function is None else hex_address(t.function),
                "symbol": None if t.destroyed or t.function is None else crash_symtab(prog).value_to_symstr(t.function),
            }
            for t in cb.timers
        ],
    }


@command("timer", summary="timer queue data", help=HELP, json=timer_document)
def cmd_timer(session: Session, args: list[str]) -> None:
    prog = session.prog
    errors: list[str] = []
    opts = _options(prog, args, errors)
    for err in errors:
        session.println(f"timer: {err}")
    if opts is None:
        from crashpy.commands.help import print_usage

        print_usage(session, "timer")
        return
    hr, cpus = opts
    session.write(_hrtimer_text(prog, cpus) if hr else _wheel_text(prog, cpus))
