"""autopsy (crashpy's own command): what failed, where, and why, from the dump alone.

The findings come from crashpy/analysis/autopsy.py; this module writes them as a report, and as
JSON (`autopsy --json`, docs/autopsy.md) from the same record.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from crashpy.commands.registry import command
from crashpy.errors import CommandError
from crashpy.helpers.numbers import getopt

if TYPE_CHECKING:
    from crashpy.analysis.autopsy import Autopsy
    from crashpy.session import Session

HELP = """\
NAME
  autopsy - explain the crash (crashpy's own command)

SYNOPSIS
  autopsy [--json]

DESCRIPTION
  Walks the dump the way an engineer starts on one, and reports what it found:

    KIND       the kind of failure: sysrq, panic, bug, warn, null-deref,
               page-fault, gpf, soft-lockup, hard-lockup, hung-task, oom,
               list-corruption, stack-overflow, double-fault, machine-check
    TASK       the task the failure is about, and its CPU (for a hung-task
               panic the blocked task, for a soft lockup the stuck CPU's)
    CULPRIT    the function, with its module, and the file:line the kernel
               recorded for a BUG() or WARN() (else the debuginfo's line)
    EVIDENCE   what each conclusion rests on: the log's report, the panic
               string, the exception frame, the BUG table, the watchdog's
               timestamps, the lock a blocked task waits on, ...
    FAULT      for a page fault or protection fault: the address, read or
               write, and the faulting instruction
    DETAILS    per kind: the stuck CPU, the blocked task's lock and its
               owner, the largest memory users, the corrupted list nodes
    the disassembly around the faulting instruction (marked "=>"), the
    registers it read, the backtrace, the log lines that matter, and a
    SIGNATURE: a key made of the kind, the culprit and its callers (no
    addresses, offsets or pids), equal for the same bug on any machine.

  --json writes the same findings as one JSON document (docs/autopsy.md).
  From the shell, "crashpy --autopsy vmlinux vmcore" prints the report and
  exits; "crashpy triage" runs it over many dumps.

EXAMPLES
    crash> autopsy
        KIND: bug -- BUG() in oracle_BUG [oracle_crash] at oracle_crash.c:38
       PANIC: "Fatal exception"
        TASK: ffff888004d02300  PID: 1  COMMAND: "init"  CPU: 1
     CULPRIT: oracle_BUG+0x11 [oracle_crash]  oracle_crash.c:38 (__bug_table)
      MODULE: oracle_crash  taints: OE (out-of-tree module, unsigned module)
    ...
"""


def _hex(value: int | None) -> str | None:
    return None if value is None else f"{value:#x}"


def document(ev: Autopsy) -> dict[str, Any]:
    """The findings as JSON (docs/autopsy.md): addresses and register values as hex strings."""
    doc = dataclasses.asdict(ev)
    if ev.task is not None:
        doc["task"]["address"] = _hex(ev.task.address)
    if ev.culprit is not None:
        doc["culprit"]["address"] = _hex(ev.culprit.address)
    if ev.module is not None:
        doc["module"]["address"] = _hex(ev.module.address)
    if ev.fault is not None:
        doc["fault"]["address"] = _hex(ev.fault.address)
    doc["registers"] = {k: _hex(v) for k, v in ev.registers.items()}
    doc["registers_used"] = {k: _hex(v) for k, v in ev.registers_used.items()}
    for line in doc["disassembly"]:
        line["address"] = _hex(line["address"])
    doc["details"] = _hex_details(doc["details"])
    return doc


def _hex_details(value: Any, key: str = "") -> Any:
    """Addresses in the per-kind details as hex strings (keys that name an address or a pointer)."""
    if isinstance(value, dict):
        return {k: _hex_details(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_hex_details(v, key) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and key in ("address", "task", "owner", "next", "prev"):
        return _hex(value)
    return value


def text(ev: Autopsy) -> list[str]:
    """The report's lines."""
    out = [f"     KIND: {ev.kind} -- {ev.title}"]
    if ev.panic:
        out.append(f'    PANIC: "{ev.panic}"')
    if ev.task is not None:
        t = ev.task
        out.append(f'     TASK: {t.address:x}  PID: {t.pid}  COMMAND: "{t.comm}"  CPU: {t.cpu}')
    if ev.culprit is not None:
        c = ev.culprit
        module = f" [{c.module}]" if c.module else ""
        where = f"  {c.source} ({c.source_from})" if c.source else ""
        out.append(f"  CULPRIT: {c.function}+{c.offset:#x}{module}{where}")
    if ev.exception:
        out.append(f"EXCEPTION: {ev.exception}")
    if ev.fault is not None:
        f = ev.fault
        address = f"{f.address:#x}" if f.address is not None else "unknown address"
        note = f" ({f.note})" if f.note else ""
        out.append(f"    FAULT: {f.access or 'access'} of {address}{note}")
        if f.instruction:
            out.append(f"           by: {f.instruction}")
    if ev.module is not None:
        m = ev.module
        names = f" ({', '.join(m.taint_names)})" if m.taint_names else ""
        out.append(f"   MODULE: {m.name}  taints: {m.taints or '-'}{names}")
    out.append(f"   KERNEL: {ev.release}  tainted: {ev.kernel_taints or '-'}")
    out.append(f"SIGNATURE: {ev.signature}  {ev.signature_text}")
    out.append("")
    out.append("EVIDENCE:")
    out += [f"  - {line}" for line in ev.evidence]
    details = _details_text(ev)
    if details:
        out += ["", "DETAILS:", *details]
    if ev.disassembly:
        out += ["", "DISASSEMBLY:"]
        for d in ev.disassembly:
            out.append(f"{'=>' if d.marked else '  '} {d.address:#x} <{d.location}>:\t{d.text}")
    if ev.registers_used:
        used = "  ".join(f"{k.upper()}: {v:016x}" for k, v in ev.registers_used.items())
        out += ["", f"REGISTERS READ BY THE FAULTING INSTRUCTION: {used}"]
    if ev.registers:
        out += ["", "EXCEPTION FRAME:"]
        regs = [k for k in ev.registers if k != "orig_ax"]
        for i in range(0, len(regs), 3):
            out.append("  " + "  ".join(f"{k.upper():>3}: {ev.registers[k]:016x}" for k in regs[i : i + 3]))
    if ev.backtrace:
        out += ["", "BACKTRACE:"]
        out += [f"  #{i:<2} {line}" for i, line in enumerate(ev.backtrace)]
    if ev.log:
        out += ["", "LOG:"]
        out += [f"  {line}" for line in ev.log]
    return out


def _details_text(ev: Autopsy) -> list[str]:
    d = ev.details
    out: list[str] = []
    if ev.kind in ("soft-lockup", "hard-lockup") and "cpu" in d:
        task = d.get("task")
        who = f', running PID {task["pid"]} ("{task["comm"]}")' if task else ""
        stuck = f" for {d['stuck_seconds']} s" if "stuck_seconds" in d else ""
        out.append(f"  CPU {d['cpu']} stuck{stuck}{who}")
    if ev.kind == "hung-task" and "task" in d:
        t = d["task"]
        line = f'  PID {t["pid"]} ("{t["comm"]}") blocked'
        if "blocked_seconds" in d:
            line += f" for more than {d['blocked_seconds']} s"
        out.append(line)
        lock = d.get("waits_on")
        if lock is not None:
            out.append(f"  waits on {lock['type']} {lock['symbol'] or hex(lock['address'])} at {lock['address']:x}")
            owner = lock.get("owner_task")
            if owner is not None:
                out.append(f'  held by PID {owner["pid"]} ("{owner["comm"]}"), which is in: '
                           + " < ".join(lock.get("owner_backtrace", [])))
            elif lock.get("owner") is not None:
                out.append(f"  owner field: {lock['owner']:x}")
        if "detected_by" in d:
            out.append(f'  reported by PID {d["detected_by"]["pid"]} ("{d["detected_by"]["comm"]}")')
    if ev.kind == "oom":
        if "memory" in d:
            out.append(f"  memory: {d['memory']['free_kb']} kB free of {d['memory']['total_kb']} kB")
        if d.get("largest"):
            out.append("  largest users:     PID  RSS (kB)  COMMAND")
            out += [f"                 {u['pid']:>7}  {u['rss_kb']:>8}  {u['comm']}" for u in d["largest"]]
    if ev.kind == "list-corruption":
        for node in d.get("nodes", []):
            name = f" ({node['symbol']})" if node.get("symbol") else ""
            if "error" in node:
                out.append(f"  {node['address']:x}{name}: {node['error']}")
                continue
            nsym = f" ({node['next_symbol']})" if node.get("next_symbol") else ""
            psym = f" ({node['prev_symbol']})" if node.get("prev_symbol") else ""
            out.append(f"  {node['address']:x}{name}: next {node['next']:x}{nsym}  prev {node['prev']:x}{psym}")
    if ev.kind == "stack-overflow" and "recursing_function" in d:
        out.append(f"  {d['frames_of_it']} frames of {d['recursing_function']}")
    return out


def _run(session: Session, args: list[str]) -> Autopsy:
    from crashpy.analysis.autopsy import autopsy

    parsed = getopt([a for a in args if a != "--json"], "")
    if parsed.errors or parsed.args:
        raise CommandError("usage: autopsy [--json]")
    return autopsy(session.prog)


def autopsy_document(session: Session, args: list[str]) -> dict[str, Any]:
    return document(_run(session, args))


@command("autopsy", summary="explain the crash (crashpy)", help=HELP, json=autopsy_document)
def cmd_autopsy(session: Session, args: list[str]) -> None:
    for line in text(_run(session, args)):
        session.println(line)
