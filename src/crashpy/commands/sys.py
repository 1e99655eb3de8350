"""sys: system data, crash's start-up banner."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crashpy.commands.registry import command
from crashpy.commands.rows import no_arguments
from crashpy.errors import CommandError, CrashpyError
from crashpy.helpers import printk, sysinfo, sysopts
from crashpy.helpers.numbers import getopt, is_a_number, stol

if TYPE_CHECKING:
    from crashpy.session import Session

HELP = """\
NAME
  sys - system data

SYNOPSIS
  sys [-c [name|number]] [-t] [-i] config

DESCRIPTION
  Shows system data of the crashed kernel: the kernel and dump files, CPU count, the time
  of the crash, uptime, load average, task count, utsname fields, processor speed, memory
  size and the panic message.  This is the display crash shows when a session starts.

    -c [name|number]
        list the system call table: each entry's number, the symbol of its handler and
        the source file and line of the handler (the build directory shown as "..").
        With a number, only that entry; with a name, every entry whose handler's
        symbol contains it.  Numbers follow the output radix.
    -t  show the kernel's taint mask in hex and one letter per taint flag, as the
        kernel's own taint string spells it (flags that are off and have a letter for
        "off" show that letter).
    -i  show the DMI strings the firmware gave the kernel (dmi_ident[]), one per
        field, named after the kernel's enum dmi_field.
    -panic
        refused: a dump file cannot be made to panic.
  config
        print the kernel's built-in .config; only kernels built with CONFIG_IKCONFIG
        carry one, others answer that kernel_config_data does not exist.

EXAMPLES
  Show the system data:

    crash> sys
          KERNEL: vmlinux
        DUMPFILE: vmcore
            CPUS: 2
            DATE: Thu Nov 26 07:14:52 UTC 2026
          UPTIME: 00:00:10
    LOAD AVERAGE: 0.00, 0.00, 0.00
           TASKS: 61
        NODENAME: (none)
         RELEASE: 6.1.0-56-cloud-amd64
         VERSION: #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-1
         MACHINE: x86_64  (2999 Mhz)
          MEMORY: 511.4 MB
           PANIC: "Kernel panic - not syncing: sysrq triggered crash"
"""


def log_text_lines(session: Session) -> list[str]:
    """The kernel log as `log -t` would print it, for the panic-message search (none when unreadable)."""
    prog = session.prog
    try:
        return prog.cache("printk.text_lines", lambda: printk.text_lines(prog))  # type: ignore[no-any-return]
    except CrashpyError:
        return []


def dumpfile_line(session: Session) -> str:
    prog = session.prog
    info = prog.dump.info
    text = prog.dump_path
    if info.format in ("KDUMP", "FLAT", "DISKDUMP"):
        partial = info.dump_level is not None and info.dump_level > 0
        if partial or info.incomplete:
            text += (
                " " + (" [PARTIAL DUMP]" if partial else "") + (" [INCOMPLETE]" if info.incomplete else "")
            )
    elif info.incomplete:
        text += "  [INCOMPLETE]"
    return text


def show_sys(session: Session) -> None:
    prog = session.prog
    info = sysinfo.sysinfo(prog, log_text_lines(session))
    p = session.println
    taint = sysinfo.tainted_mask(prog)
    livepatch = "  [LIVEPATCH]" if taint & (1 << sysinfo.TAINT_LIVEPATCH) else ""
    p(f"      KERNEL: {prog.kernel_name}{livepatch}" + ("  [TAINTED]" if taint else ""))
    p(f"    DUMPFILE: {dumpfile_line(session)}")
    offline = info.cpus - info.cpus_online if info.cpus_online else 0
    p(f"        CPUS: {info.cpus}" + (f" [OFFLINE: {offline}]" if offline else ""))
    p(f"        DATE: {info.date}")
    p(f"      UPTIME: {info.uptime}")
    p(f"LOAD AVERAGE: {info.load_average}")
    p(f"       TASKS: {info.tasks}")
    p(f"    NODENAME: {info.uts['nodename']}")
    p(f"     RELEASE: {info.uts['release']}")
    p(f"     VERSION: {info.uts['version']}")
    p(f"     MACHINE: {info.uts['machine']}  " + (f"({info.mhz} Mhz)" if info.mhz else "(unknown Mhz)"))
    p(f"      MEMORY: {info.memory}")
    suffix = " (check log for details)" if "Oops: " in info.panic else ""
    p(f'       PANIC: "{info.panic}"{suffix}')


def sys_document(session: Session, argv: list[str]) -> dict[str, Any]:
    """`sys --json`: the system record `sys` shows, with numbers where `sys` shows formatted text."""
    no_arguments(argv)
    prog = session.prog
    info = sysinfo.sysinfo(prog, log_text_lines(session))
    dump = prog.dump.info
    taint = sysinfo.tainted_mask(prog)

    def maybe(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except CrashpyError:
            return None

    hz = sysinfo.hz(prog)
    load = None
    if info.load_average != "(unknown)":
        load = [float(v) for v in info.load_average.split(", ")]
    return {
        "kernel": prog.vmlinux_path,
        "debuginfo": prog.debuginfo,
        "dumpfile": prog.dump_path,
        "dump_format": dump.format,
        "partial_dump": bool(dump.dump_level) and dump.format in ("KDUMP", "FLAT", "DISKDUMP"),
        "incomplete": bool(dump.incomplete),
        "cpus": info.cpus,
        "cpus_offline": info.cpus - info.cpus_online if info.cpus_online else 0,
        "date": info.date,
        "time": maybe(lambda: sysinfo.xtime_sec(prog)),
        "uptime": info.uptime,
        "uptime_seconds": maybe(lambda: sysinfo.uptime_jiffies(prog, hz) // hz),
        "load_average": load,
        "tasks": info.tasks,
        "nodename": info.uts["nodename"],
        "release": info.uts["release"],
        "version": info.uts["version"],
        "machine": info.uts["machine"],
        "mhz": info.mhz or None,
        "memory": info.memory,
        "memory_bytes": maybe(lambda: sysinfo.memory_bytes(prog)),
        "panic": info.panic,
        "taint_mask": taint,
        "tainted": bool(taint),
        "livepatch": bool(taint & (1 << sysinfo.TAINT_LIVEPATCH)),
    }


def _usage(session: Session) -> None:
    from crashpy.commands.help import print_usage

    print_usage(session, "sys")


def show_taints(session: Session) -> None:
    found = sysopts.taints(session.prog)
    if found is None:
        raise CommandError("-t option not supported or applicable on this architecture or kernel")
    if found.old_style:
        session.println(f"TAINTED: {found.mask:x}")
    else:
        session.println(f"TAINTED_MASK: {found.mask:x}  {found.letters}")


def show_dmi(session: Session) -> None:
    width, rows = sysopts.dmi_strings(session.prog)
    for name, text in rows:
        session.println(f"  {name:>{width}}: {text}")


SYSCALL_HEADER = "NUM  SYSTEM CALL                FILE AND LINE NUMBER"


def syscall_lines(session: Session) -> list[str]:
    from crashpy.symbols.crash_view import crash_symtab

    prog = session.prog
    symtab = crash_symtab(prog)
    number = "{:3x}  " if session.radix == 16 else "{:3d}  "
    lines = []
    for call in prog.cache("sys.syscall_table", lambda: sysopts.syscall_table(prog)):
        if call.name is None:
            where = symtab.value_to_symstr(call.handler, session.radix)
            lines.append(
                number.format(call.number)
                + f"invalid sys_call_table entry: {call.handler:x} "
                + (f"({where})" if where else "")
            )
            continue
        lines.append(number.format(call.number) + f"{call.name:<26} {call.source}")
    return lines


def show_syscalls(session: Session, spec: str | None, shown: int) -> int:
    """The table, or the entries whose number is `spec` or whose handler's name holds it; returns how
    many headers and rows have been printed so far (crash prints the header once per command)."""
    lines = syscall_lines(session)
    if spec is None:
        session.println(SYSCALL_HEADER)
        for line in lines:
            session.println(line)
        return shown
    want = None
    if is_a_number(spec):
        value = stol(spec)
        if value is None:
            raise CommandError(f"not a valid number: {spec}")
        want = f"{value:x}" if session.radix == 16 else f"{value:d}"
    for line in [SYSCALL_HEADER, *lines]:  # crash searches its whole output, the header too
        words = line.split()
        if len(words) < 2:
            continue
        if (want is not None and words[0] == want) or (want is None and spec in words[1]):
            if not shown:
                session.println(SYSCALL_HEADER)
            shown += 1
            session.println(line)
            if want is not None:
                break
    return shown


def show_config(session: Session) -> None:
    for line in sysopts.kernel_config(session.prog):
        session.println(line)


@command("sys", summary="system data", help=HELP, json=sys_document)
def cmd_sys(session: Session, args: list[str]) -> None:
    if not args:
        show_sys(session)
        return
    parsed = getopt(args, "ctip:")
    argerrs = 0
    errors = iter(parsed.errors)
    calls = False
    for c, optarg in parsed.opts:
        if c == "?":
            session.println(f"sys: {next(errors, '')}")
            argerrs += 1
        elif c == "p":
            if optarg == "anic":
                raise CommandError("cannot panic a dumpfile!")
            argerrs += 1
        elif c == "c":
            calls = True
        elif c == "t":
            show_taints(session)
            return
        elif c == "i":
            show_dmi(session)
            return
        else:
            argerrs += 1
    if argerrs:
        _usage(session)
        return
    if not parsed.args:
        if calls:
            show_syscalls(session, None, 0)
        else:
            show_sys(session)
        return
    shown = 0
    for arg in parsed.args:
        if calls:
            shown = show_syscalls(session, arg, shown)
        elif arg == "config":
            show_config(session)
        else:
            _usage(session)
            return
