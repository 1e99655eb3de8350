"""log: the kernel message buffer, as crash's `log` prints it (kernel.c cmd_log, printk.c)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crashpy.commands.registry import command
from crashpy.commands.rows import hex_address, no_arguments, reject_options
from crashpy.commands.rows import text as json_text
from crashpy.errors import CommandError
from crashpy.helpers import printk
from crashpy.helpers.numbers import getopt
from crashpy.helpers.printk import LogEntry, LogNote, MissingRecord, PrintkLog, PrintkRecord, SafeSeqBufCpu

if TYPE_CHECKING:
    from crashpy.session import Session

SYNOPSIS = "[-Ttdmasc]"

HELP = """\
NAME
  log - dump system message buffer

SYNOPSIS
  log [-Ttdmasc]

DESCRIPTION
  Prints the kernel's message buffer, oldest message first.  All of the kernel's
  buffer layouts are understood: the old plain-text log_buf (with or without a
  timestamp written into each line), the variable-length record log_buf whose
  records carry their own timestamp, and the lockless printk ring buffer.

    -T  Print each message's timestamp as a date and time of day.
        (Treat it with care: the kernel stamps messages with local_clock(),
         which need not agree with the time that passed on the wall clock.)
    -t  Leave the timestamps out; only for the record formats.
    -d  Also print the key/value properties (the dictionary) that dev_printk()
        attaches to a message, such as SUBSYSTEM= and DEVICE=; only for the
        record formats.
    -m  Print each message's log level in angle brackets before it.  The record
        formats show the level in hexadecimal.  In older kernels the level is
        shown without the facility and flag bits that share its storage; 'set
        debug 1' keeps them.
    -a  Print the audit records still waiting in the kernel's audit queues,
        those the user-space audit daemon has not collected yet.
    -s  Print the messages still held in the kernel's per-CPU printk-safe
        buffers that were never moved into log_buf.
    -c  Print the caller id of each message: the task id (T) or, for a message
        printed in CPU context, the processor (C).  Kernels record it from
        Linux 5.1 to 5.9 with CONFIG_PRINTK_CALLER, and always from 5.10 on.

EXAMPLES
  Print the message buffer:

    crash> log
    [    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) ...
    [    0.000000] Command line: console=ttyS0 panic=0 oops=panic nokaslr
    [    0.000000] BIOS-provided physical RAM map:
    ...

  The same with each message's log level:

    crash> log -m
    [    0.000000] <5>Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) ...
    [    0.000000] <6>Command line: console=ttyS0 panic=0 oops=panic nokaslr
    ...

  Without timestamps, with each message's dictionary:

    crash> log -td
    virtio-pci 0000:00:02.0: enabling device (0000 -> 0003)
    SUBSYSTEM=pci
    DEVICE=+pci:0000:00:02.0
    ...

  With timestamps as dates:

    crash> log -T
    [Thu Nov 26 07:14:42 UTC 2026] Linux version 6.1.0-56-cloud-amd64 ...
    ...

  With the caller id, a task (T) or a CPU (C):

    crash> log -c
    [    0.000000] [     T0] Linux version 6.1.0-56-cloud-amd64 ...
    [    0.271828] [     T1] smpboot: CPU0: AMD EPYC Processor (with IBPB)
    [   11.139812] [     C1] sysrq: Trigger a crash
    ...

  The audit records auditd has not read yet:

    crash> log -a
    type=1130 audit(1764141282.120:87): pid=1 uid=0 auid=4294967295 ...
    ...

  The printk-safe buffers exist only in kernels 4.11 to 5.14; for each of
  them (nmi_print_seq, safe_print_seq) "log -s" gives every CPU's buffer
  address, length and lost-message count, then the text still in it.
"""


@dataclass(frozen=True)
class LogOptions:
    ctime: bool = False  # -T
    no_time: bool = False  # -t
    dict: bool = False  # -d
    level: bool = False  # -m
    audit: bool = False  # -a
    safe: bool = False  # -s
    caller: bool = False  # -c


OPTION_FIELDS = {
    "T": "ctime",
    "t": "no_time",
    "d": "dict",
    "m": "level",
    "a": "audit",
    "s": "safe",
    "c": "caller",
}


def parse_options(args: list[str]) -> tuple[LogOptions, list[str]]:
    """Parse like getopt(argc, argv, "Ttdmasc"): option clusters anywhere ("--" ends them);
    returns the options and the characters that are not options."""
    seen: dict[str, bool] = {}
    bad: list[str] = []
    for arg in args:
        if arg == "--":
            break
        if len(arg) < 2 or not arg.startswith("-"):
            continue  # an operand: crash's log ignores them
        for ch in arg[1:]:
            if ch in OPTION_FIELDS:
                seen[OPTION_FIELDS[ch]] = True
            else:
                bad.append(ch)
    return LogOptions(**seen), bad


def usage() -> str:
    return f'Usage:\n  log {SYNOPSIS}\nEnter "help log" for details.\n'


# ---- text as crash prints it -----------------------------------------------------------------------------

# crash writes a message byte as itself when isprint() or isspace() in the C locale, else '.'.
_TEXT_TABLE = bytes(c if 0x20 <= c <= 0x7E or c in b" \t\n\v\f\r" else ord(".") for c in range(256))
# Dictionary bytes: only isprint() ones; NUL separates entries (handled before translating).
_DICT_TABLE = bytes(c if 0x20 <= c <= 0x7E else ord(".") for c in range(256))


def message_text(text: bytes, indent: int) -> str:
    """A message's text: non-printable bytes as '.', each embedded newline followed by `indent` spaces."""
    out = text.translate(_TEXT_TABLE).decode("ascii")
    if indent and "\n" in out:
        out = out.replace("\n", "\n" + " " * indent)
    return out


def timestamp(ts_nsec: int) -> str:
    """`[%5lld.%06ld] `"""
    return f"[{ts_nsec // 1_000_000_000:5d}.{ts_nsec % 1_000_000_000 // 1000:06d}] "


def ctime_tz(seconds: int) -> str:
    """crash's ctime_tz(): strftime("%a %b %e %T %Z %Y") of the local time, or the number."""
    try:
        return time.strftime("%a %b %e %T %Z %Y", time.localtime(seconds))
    except (OverflowError, OSError, ValueError):
        return str(seconds)


class Prefixer:
    """The `[timestamp] [caller] <level>` prefix of a record, as crash builds it."""

    def __init__(self, opts: LogOptions, boot_time: int = 0, caller_width: int = 8) -> None:
        self.opts = opts
        self.boot_time = boot_time
        self.caller_width = caller_width
        self._ctime: dict[int, str] = {}

    def time(self, ts_nsec: int) -> str:
        if self.opts.no_time:
            return ""
        if self.opts.ctime:
            sec = ts_nsec // 1_000_000_000
            text = self._ctime.get(sec)
            if text is None:
                text = self._ctime[sec] = f"[{ctime_tz(self.boot_time + sec)}] "
            return text
        return timestamp(ts_nsec)

    def caller(self, caller_id: int | None) -> str:
        if not self.opts.caller or caller_id is None:
            return ""
        kind = "C" if caller_id & printk.CALLER_CPU else "T"
        return f"[{kind + str(caller_id & ~printk.CALLER_CPU):>{self.caller_width}}] "


def format_lockless_record(rec: PrintkRecord, pre: Prefixer) -> str:
    """One record of the lockless ring buffer, with its final newline (printk.c: dump_record)."""
    if rec.dataless:
        return "\n"  # crash prints an empty line for a record without text, prefix and all
    head = pre.time(rec.ts_nsec) + pre.caller(rec.caller_id)
    if pre.opts.level:
        head += f"<{rec.level:x}>"
    indent = len(head)
    out = head + message_text(rec.text, indent)
    if pre.opts.dict:
        if rec.subsystem:
            out += "\n" + " " * indent + "SUBSYSTEM=" + rec.subsystem.decode("utf-8", "replace")
        if rec.device:
            out += "\n" + " " * indent + "DEVICE=" + rec.device.decode("utf-8", "replace")
    return out + "\n"


def format_variable_record(rec: PrintkRecord, pre: Prefixer) -> str:
    """One record of the variable-length log_buf, with its final newline (kernel.c: dump_log_entry)."""
    head = pre.time(rec.ts_nsec) + pre.caller(rec.caller_id)
    if pre.opts.level:
        # crash reads the byte that holds `flags:5, level:3` and keeps its low 3 bits (LOG_LEVEL()),
        # which are flag bits: printed as crash prints them.
        head += f"<{(rec.flags | rec.level << 5) & 7:x}>"
    indent = len(head)
    out = head + message_text(rec.text, indent)
    # crash tests `dict_len & (msg_flags & SHOW_LOG_DICT)`: a bitwise AND with 0x2, so a dictionary
    # shows only when bit 1 of its length is set. Printed as crash prints it.
    if pre.opts.dict and len(rec.dict) & 2:
        pad = " " * indent
        *entries, tail = (e.translate(_DICT_TABLE).decode("ascii") for e in rec.dict.split(b"\0"))
        # Each NUL ends a line; the next line is indented only once a byte (or NUL) follows.
        out += "\n" + "\n".join([pad + e for e in entries] + [pad + tail if tail else ""])
    return out + "\n"


def format_plain_log(text: bytes, level_at_start: bool, show_level: bool) -> str:
    """The old character log_buf (kernel.c: dump_log): "<N>" level prefixes dropped unless -m,
    NULs skipped, non-ASCII bytes as '.', and a final newline if the text lacks one."""
    out: list[str] = []
    loglevel = level_at_start
    last = 0
    for c in text:
        if loglevel and not show_level:
            if c == ord(">"):
                loglevel = False
                continue
            if c == ord("<") or ord("0") <= c <= ord("7"):
                continue
            loglevel = False
        if c:
            out.append(chr(c) if c <= 0x7F else ".")
            loglevel = c == ord("\n")
            last = c
    if last != ord("\n"):
        out.append("\n")
    return "".join(out)


def format_missing(run: list[MissingRecord]) -> str:
    """A run of unreadable records, in one line that names them and the first fault."""
    first, last = run[0], run[-1]
    if len(run) == 1:
        return f"log: {first.describe()} unreadable: {first.fault}\n"
    return f"log: {len(run)} records unreadable ({first.describe()} to {last.describe()}): {first.fault}\n"


def format_entries(log: PrintkLog, entries: Iterable[LogEntry], pre: Prefixer) -> Iterable[str]:
    fmt: Callable[[PrintkRecord, Prefixer], str]
    fmt = format_lockless_record if log.layout == "lockless" else format_variable_record
    run: list[MissingRecord] = []
    for entry in entries:
        if isinstance(entry, MissingRecord):
            run.append(entry)
            continue
        if run:
            yield format_missing(run)
            run = []
        if isinstance(entry, LogNote):
            yield f"\nlog: {entry.message}\n"
        else:
            yield fmt(entry, pre)
    if run:
        yield format_missing(run)


def format_log(log: PrintkLog, opts: LogOptions, boot_time: int = 0, caller_width: int = 8) -> str:
    """The whole `log` text of a PrintkLog (without the printk-safe buffers)."""
    if log.layout == "plain":
        for flag, ch in ((opts.ctime, "T"), (opts.dict, "d"), (opts.no_time, "t")):
            if flag:
                raise CommandError(f"-{ch} option not supported or applicable on this architecture or kernel")
        text = format_plain_log(log.plain_text, log.plain_level_at_start, opts.level)
    else:
        text = "".join(format_entries(log, log.entries, Prefixer(opts, boot_time, caller_width)))
    notes = "".join(f"log: {note}\n" for note in log.notes)
    return notes + "".join(f"\nWARNING: {w}\n" for w in log.warnings) + text


def caller_width(pid_max: int | None) -> int:
    """The width crash gives a lockless record's caller id: room for the largest pid."""
    if pid_max is None:
        return 8
    if pid_max <= 99999:
        return 6
    if pid_max <= 999999:
        return 7
    return 8


# ---- printk-safe buffers ------------------------------------------------------------------------------------

SAFE_INDENT = 2


def format_safe_buffer(name: str, cpus: Iterable[SafeSeqBufCpu], opts: LogOptions) -> Iterable[str]:
    """One printk_safe_seq_buf per CPU, as kernel.c: __dump_printk_safe_seq_buf prints it (the
    header lines with -s; else each line tagged "[name] " like log lines)."""
    header = opts.safe
    if header:
        yield f"PRINTK_SAFE_SEQ_BUF: {name}\n"
    for c in cpus:
        if header:
            yield f"CPU: {c.cpu}  ADDR: {c.address:x} LEN: {c.len}  MESSAGE_LOST: {c.message_lost}\n"
        if c.len > 0:
            yield _safe_text(name, c.buffer[: min(c.len, len(c.buffer))], opts)
            if header:
                yield "\n"
        elif header:
            yield " " * SAFE_INDENT + "(empty)\n\n"


def _safe_text(name: str, buf: bytes, opts: LogOptions) -> str:
    header = opts.safe
    if header:
        indent = SAFE_INDENT
    else:
        indent = 0 if opts.no_time else len(name) + 3
    if opts.level:
        indent += 3
    out: list[str] = []
    start_of_line = True
    i, n = 0, len(buf)
    while i < n:
        sol, start_of_line = start_of_line, False
        c = buf[i]
        if c == 0x01:  # KERN_SOH: a new message, its level follows
            i += 1
            if not sol:
                out.append("\n")
            if header:
                out.append(" " * SAFE_INDENT)
            elif not opts.no_time:
                out.append(f"[{name}] ")
            if opts.level and i < n and buf[i] in b"01234567c":
                out.append(f"<{chr(buf[i])}>")
        else:
            if sol:
                out.append(" " * indent)
            out.append(chr(_TEXT_TABLE[c]))
            if c == 0x0A:
                start_of_line = True
        i += 1
    if not start_of_line:
        out.append("\n")
    return "".join(out)


def show_safe_buffers(session: Session, opts: LogOptions) -> None:
    """The printk-safe buffers: with -s their dump, else (after the log) their lines, if any."""
    prog = session.prog
    try:
        layout = printk.printk_safe_layout(prog)
    except CommandError:
        if opts.safe:  # crash says so only when asked for them
            raise
        return
    if layout is None:
        return
    for name in printk.PRINTK_SAFE_BUFFERS:
        if not prog.has_symbol(name):
            continue
        cpus = printk.read_printk_safe_buffer(prog, name, layout, prog.percpu_offsets, message_lost=opts.safe)
        for text in format_safe_buffer(name, cpus, opts):
            session.write(text)


def show_audit(session: Session) -> None:
    prog = session.prog
    queues = printk.audit_queue_names(prog)
    if queues is None:
        raise CommandError("-a option not supported or applicable on this architecture or kernel")
    count = 0
    for queue in queues:
        for rec in printk.iter_audit_records(prog, queue):
            session.write(f"type={rec.type} {rec.text.decode('utf-8', 'replace')}\n")
            count += 1
    if not count:
        session.println("log: kernel audit log is empty")


def boot_time(session: Session) -> int:
    """The boot time for -T, as crash computes it: xtime less the uptime in crash's HZ."""
    return printk.crash_boot_time(session.prog)


def caller_text(caller_id: int | None) -> str | None:
    """A record's caller as the JSON document gives it: "T<pid>" or "C<cpu>"."""
    if caller_id is None:
        return None
    return ("C" if caller_id & printk.CALLER_CPU else "T") + str(caller_id & ~printk.CALLER_CPU)


def record_json(rec: PrintkRecord) -> dict[str, Any]:
    """A record of the log as `log --json` shows it (docs/json.md)."""
    return {
        "seq": rec.seq,
        "ts_nsec": rec.ts_nsec,
        "level": rec.level,
        "facility": rec.facility,
        "caller": caller_text(rec.caller_id),
        "text": json_text(rec.text),
        "subsystem": json_text(rec.subsystem) or None,
        "device": json_text(rec.device) or None,
        "dict": [json_text(e) for e in rec.dict.split(b"\0") if e],
    }


def missing_json(entry: MissingRecord) -> dict[str, Any]:
    """A record that could not be read, as `log --json` lists it."""
    return {
        "seq": entry.seq,
        "address": hex_address(entry.address) if entry.address is not None else None,
        "error": str(entry.fault),
    }


def log_document(session: Session, argv: list[str]) -> dict[str, Any]:
    """`log --json`: every record of the kernel log (the entries `log` prints), oldest first, each with
    all its data (so the display options -T -t -d -m -c change nothing); records that could not be
    read are listed apart."""
    parsed = getopt(argv, "Ttdmasc")  # log's own options
    reject_options(parsed, "Ttdmc")
    no_arguments(parsed.args)
    log = printk.read_printk_log(session.prog)
    return {
        "layout": log.layout,
        "records": [record_json(e) for e in log.entries if isinstance(e, PrintkRecord)],
        "missing": [missing_json(e) for e in log.entries if isinstance(e, MissingRecord)],
        "plain_text": json_text(log.plain_text) if log.layout == "plain" else None,
    }


@command("log", summary="dump system message buffer", help=HELP, minimal=True, json=log_document)
def cmd_log(session: Session, args: list[str]) -> None:
    opts, bad = parse_options(args)
    if bad:
        for ch in bad:
            session.println(f"log: invalid option -- '{ch}'")
        session.write(usage())
        return
    if opts.ctime and session.minimal:
        session.println("WARNING: the option '-T' is not available in minimal mode")
        return
    if opts.audit:
        show_audit(session)
        return
    if opts.safe:
        show_safe_buffers(session, opts)
        return
    prog = session.prog
    log = printk.read_printk_log(prog)
    width = 8
    if opts.caller and log.layout == "lockless":
        width = caller_width(printk.pid_max(prog))
    boot = boot_time(session) if opts.ctime and not opts.no_time and log.layout != "plain" else 0
    session.write(format_log(log, opts, boot, width))
    show_safe_buffers(session, opts)
