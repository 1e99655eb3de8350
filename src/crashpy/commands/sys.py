"""sys: system data, crash's start-up banner."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crashpy.commands.registry import command
from crashpy.commands.rows import no_arguments
from crashpy.errors import CommandError, CrashpyError
from crashpy.helpers import printk, sysinfo

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

    -t  show the kernel's taint flags.

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
    p(f"      KERNEL: {prog.vmlinux_path}{livepatch}" + ("  [TAINTED]" if taint else ""))
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


@command("sys", summary="system data", help=HELP, json=sys_document)
def cmd_sys(session: Session, args: list[str]) -> None:
    if not args:
        show_sys(session)
        return
    raise CommandError(f"option not supported yet: {' '.join(args)}")
