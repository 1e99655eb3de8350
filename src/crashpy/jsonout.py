"""`--json`: the data of the table and record commands (sys, ps, mod, log, task) as JSON, for automation.

The schemas are documented in docs/json.md.  Each document is built from the same helpers the text
command prints from, so the two never disagree.  Every document is one JSON object with
"command" (the command's name) and "schema_version" (a field is only ever added within a schema
version, never renamed or removed) besides the command's own fields.  Addresses are strings of lowercase hexadecimal digits
without "0x", as crash prints them; counts and sizes are numbers.

    from crashpy import jsonout
    text = jsonout.render(session_or_prog, "ps", ["--json", "-k"])
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crashpy.api import Kernel
from crashpy.errors import CommandError, CrashpyError
from crashpy.helpers.numbers import Options, getopt, is_a_number

if TYPE_CHECKING:
    from crashpy.helpers.printk import PrintkRecord
    from crashpy.object import Object
    from crashpy.program import Program
    from crashpy.session import Session

SCHEMA_VERSION = 1
JSON_FLAG = "--json"


def _hex(value: int) -> str:
    return f"{value:x}"


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _reject_options(parsed: Options, allowed: str) -> None:
    """One line for the first option the JSON document cannot honour: an invalid one, in getopt's
    words, or one of the command's own that selects other data than the schema describes."""
    errors = iter(parsed.errors)
    for opt, _val in parsed.opts:
        if opt == "?":
            raise CommandError(next(errors, "invalid option"))
        if opt not in allowed:
            raise CommandError(f"-{opt} is not supported with --json")


# ---- sys ---------------------------------------------------------------------------------------------


def sys_document(prog: Program, argv: list[str]) -> dict[str, Any]:
    """`sys --json`: the system record `sys` shows, with numbers where `sys` shows formatted text."""
    from crashpy.helpers import printk, sysinfo

    if argv:
        raise CommandError(f"{' '.join(argv)}: not supported with --json")
    try:
        lines: list[str] = prog.cache("printk.text_lines", lambda: printk.text_lines(prog))
    except CrashpyError:
        lines = []
    info = sysinfo.sysinfo(prog, lines)
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


# ---- ps ----------------------------------------------------------------------------------------------


def ps_document(prog: Program, argv: list[str]) -> dict[str, Any]:
    """`ps --json [-k|-u] [-G] [-A] [-H] [pid | task | command | 'regex'] ...`: one object per task, in ps's order."""
    from crashpy.helpers.tasks import mem_usage, str_to_context, task_table

    parsed = getopt(argv, "HASgstcpkuGlmarC:y:")  # ps's own options
    _reject_options(parsed, "kuGAH")
    flags = {opt for opt, _ in parsed.opts}
    if {"k", "u"} <= flags:
        raise CommandError("-u and -k are mutually exclusive")
    table = task_table(prog)
    wanted: list[tuple[str, Any]] = []
    for arg in parsed.args:
        if is_a_number(arg):
            kind, value, _tc = str_to_context(table, arg)
            if kind == "invalid":
                raise CommandError(f"invalid task or pid value: {arg}")
            wanted.append((kind, value))
        elif len(arg) >= 2 and arg[0] == "'" and arg[-1] == "'":
            try:
                wanted.append(("regex", re.compile(arg[1:-1])))
            except re.error:
                raise CommandError(f"invalid regular expression: {arg[1:-1]}") from None
        else:
            wanted.append(("comm", (arg[1:] if arg.startswith("\\") else arg)[:15]))

    def selected(tc: Any) -> bool:
        if "k" in flags and not tc.is_kernel_thread:
            return False
        if "u" in flags and tc.is_kernel_thread:
            return False
        if "G" in flags and tc.pid != tc.tgid:
            return False
        if "A" in flags and not table.is_active(tc.task):
            return False
        if not wanted:
            return True
        for how, what in wanted:
            if (how == "pid" and tc.pid == what) or (how == "task" and tc.task == what):
                return True
            if how == "comm" and tc.comm == what:
                return True
            if how == "regex" and what.search(tc.comm):
                return True
        return False

    rows = []
    for tc in table.contexts:
        if not selected(tc):
            continue
        mem = mem_usage(prog, table, tc)
        rows.append(
            {
                "pid": tc.pid,
                "ppid": table.ppid(tc),
                "tgid": tc.tgid,
                "cpu": tc.cpu,
                "task": _hex(tc.task),
                "state": tc.st,
                "state_value": tc.state,
                "mem_pct": mem.pct_physmem,
                "vsz_kb": mem.total_vm * 4,
                "rss_kb": mem.rss * 4,
                "comm": tc.comm,
                "kernel_thread": tc.is_kernel_thread,
                "active": table.is_active(tc.task),
                "panic": tc.task == table.panic_task,
            }
        )
    return {"tasks": rows}


# ---- mod ---------------------------------------------------------------------------------------------


def mod_document(prog: Program, argv: list[str]) -> dict[str, Any]:
    """`mod --json`: one object per loaded module, by base address, as `mod` lists them."""
    from crashpy.commands.mod import _has_kallsyms
    from crashpy.helpers.modules import module_symtab

    if argv:
        raise CommandError(f"{' '.join(argv)}: not supported with --json")
    if prog.has_symbol("modules") and prog.has_member("module", "mem"):
        raise CommandError("modules of Linux 6.4 and later (module.mem[]) are not supported yet")
    rows = []
    for lm in module_symtab(prog).modules:
        rows.append(
            {
                "module": _hex(lm.struct_addr),
                "name": lm.name,
                "base": _hex(lm.base),
                "size": lm.size,
                "text_size": lm.text_size,
                "object_file": None,
                "kallsyms": _has_kallsyms(prog, lm),
            }
        )
    return {"modules": rows}


# ---- log ---------------------------------------------------------------------------------------------


def _caller(caller_id: int | None) -> str | None:
    from crashpy.helpers.printk import CALLER_CPU

    if caller_id is None:
        return None
    return ("C" if caller_id & CALLER_CPU else "T") + str(caller_id & ~CALLER_CPU)


def _record(rec: PrintkRecord) -> dict[str, Any]:
    return {
        "seq": rec.seq,
        "ts_nsec": rec.ts_nsec,
        "level": rec.level,
        "facility": rec.facility,
        "caller": _caller(rec.caller_id),
        "text": _text(rec.text),
        "subsystem": _text(rec.subsystem) or None,
        "device": _text(rec.device) or None,
        "dict": [_text(e) for e in rec.dict.split(b"\0") if e],
    }


def log_document(prog: Program, argv: list[str]) -> dict[str, Any]:
    """`log --json`: every record of the kernel log, oldest first, each with all its data (so the
    display options -T -t -d -m -c change nothing); records that could not be read are listed apart."""
    from crashpy.helpers.printk import MissingRecord, PrintkRecord, read_printk_log

    parsed = getopt(argv, "Ttdmasc")  # log's own options
    _reject_options(parsed, "Ttdmc")
    if parsed.args:
        raise CommandError(f"{' '.join(parsed.args)}: not supported with --json")
    log = read_printk_log(prog)
    records = []
    missing = []
    for entry in log.entries:
        if isinstance(entry, PrintkRecord):
            records.append(_record(entry))
        elif isinstance(entry, MissingRecord):
            missing.append(
                {
                    "seq": entry.seq,
                    "address": _hex(entry.address) if entry.address is not None else None,
                    "error": str(entry.fault),
                }
            )
    return {
        "layout": log.layout,
        "records": records,
        "missing": missing,
        "plain_text": _text(log.plain_text) if log.layout == "plain" else None,
    }


# ---- task ------------------------------------------------------------------------------------------


def object_data(obj: Object, depth: int = 0) -> Any:
    """An Object as JSON data: integers and enums as numbers, pointers and functions as addresses,
    char arrays as strings (up to the first NUL), other arrays as lists, structs and unions as
    objects of their members (those of anonymous structs and unions among them); null where the
    memory cannot be read."""
    from crashpy.object import _member_names, resolve
    from crashpy.types.model import ArrayType, IntType, StructType, TypeKind

    r = resolve(obj.type_)
    try:
        if r.kind in (TypeKind.INT, TypeKind.ENUM):
            v = obj.value_()
            return bool(v) if isinstance(r, IntType) and r.is_bool else int(v)
        if r.kind is TypeKind.POINTER:
            return _hex(int(obj.value_()))
        if r.kind is TypeKind.FUNCTION:
            return _hex(obj.address_ or 0)
        if r.kind is TypeKind.FLOAT:
            return float(obj.value_())
        if isinstance(r, ArrayType):
            elt = resolve(r.element)
            if isinstance(elt, IntType) and elt.size == 1 and not elt.is_bool:
                return _text(obj.data_().split(b"\0", 1)[0])
            snap = obj.read_() if obj.address_ is not None else obj
            return [object_data(snap.index_(i), depth + 1) for i in range(r.length or 0)]
        if isinstance(r, StructType) and r.is_complete and depth < 64:
            snap = obj.read_() if obj.address_ is not None and depth == 0 else obj
            return {name: object_data(snap.member_(name), depth + 1) for name in _member_names(r)}
    except CrashpyError:
        return None
    return None


def task_document(session_or_prog: Session | Program, argv: list[str]) -> dict[str, Any]:
    """`task --json [-R member[,member]] [pid | task] ...`: each task's task_struct (and thread_info)
    as data; without a task, the session's current context."""
    from crashpy.helpers.tasks import str_to_context, task_table
    from crashpy.program import Program

    prog = session_or_prog if isinstance(session_or_prog, Program) else session_or_prog.prog
    api = Kernel.of(prog)
    parsed = getopt(argv, "xdhR:")
    _reject_options(parsed, "xdhR")
    members = [m for opt, val in parsed.opts if opt == "R" and val for m in val.split(",") if m]
    table = task_table(prog)
    tasks = []
    for arg in parsed.args:
        if is_a_number(arg):
            kind, value, tc = str_to_context(table, arg)
            if tc is None:
                raise CommandError(f"invalid task or pid value: {arg}")
            tasks.extend(table.by_pid(value) if kind == "pid" else [tc])
        elif "," in arg or "." in arg or "[" in arg or prog.has_member("task_struct", arg):
            members += [m for m in arg.split(",") if m]
        else:
            raise CommandError(f"invalid task, pid, or task_struct member: {arg}")
    if not tasks:
        if isinstance(session_or_prog, Program):
            tasks = [table.panic_context()]
        else:
            from crashpy.commands.set import current_context

            tasks = [current_context(session_or_prog)]
    rows = []
    for tc in tasks:
        ts = api.object("struct task_struct", tc.task)
        row: dict[str, Any] = {"pid": tc.pid, "task": _hex(tc.task), "cpu": tc.cpu, "comm": tc.comm}
        if members:
            chosen: dict[str, Any] = {}
            for member in members:
                try:
                    chosen[member] = object_data(api.eval(f"((struct task_struct *)0x{tc.task:x})->{member}"))
                except CrashpyError:
                    raise CommandError(f"{member}: not a task_struct member") from None
            row["task_struct"] = chosen
        else:
            row["task_struct"] = object_data(ts)
            row["thread_info"] = object_data(api.object("struct thread_info", _thread_info(prog, tc.task)))
        rows.append(row)
    return {"tasks": rows}


def bt_document(session_or_prog: Session | Program, argv: list[str]) -> dict[str, Any]:
    """`bt --json`: written from the unwinder's records, for the tasks bt's parser selects
    (commands/bt_json.py)."""
    from crashpy.commands.bt_json import json_document

    return json_document(session_or_prog, argv)


def _thread_info(prog: Program, task: int) -> int:
    """Where a task's thread_info is: inside the task_struct since v4.9 (CONFIG_THREAD_INFO_IN_TASK),
    else at the bottom of its stack (task_struct.stack)."""
    if prog.has_member("task_struct", "thread_info"):
        return task + prog.offsetof("task_struct", "thread_info")
    return prog.read_u64(task + prog.offsetof("task_struct", "stack"))


# ---- the entry points --------------------------------------------------------------------------------

DOCUMENTS: dict[str, Callable[[Program, list[str]], dict[str, Any]]] = {
    "sys": sys_document,
    "ps": ps_document,
    "mod": mod_document,
    "log": log_document,
}
# Documents that depend on the session (its current task context), not only on the dump.
SESSION_DOCUMENTS: dict[str, Callable[[Session | Program, list[str]], dict[str, Any]]] = {
    "task": task_document,
    "bt": bt_document,
}


def supports(command: str) -> bool:
    """Whether `command --json` has a JSON document."""
    return command in DOCUMENTS or command in SESSION_DOCUMENTS


def document(session_or_prog: Session | Program, command: str, argv: list[str]) -> dict[str, Any]:
    """The JSON document of `command argv` (argv may hold --json; it is dropped) as Python data."""
    from crashpy.program import Program

    args = [a for a in argv if a != JSON_FLAG]
    with_session = SESSION_DOCUMENTS.get(command)
    if with_session is not None:
        return {"command": command, "schema_version": SCHEMA_VERSION, **with_session(session_or_prog, args)}
    prog = session_or_prog if isinstance(session_or_prog, Program) else session_or_prog.prog
    make = DOCUMENTS.get(command)
    if make is None:
        raise CommandError(f"--json is not supported by {command}")
    return {"command": command, "schema_version": SCHEMA_VERSION, **make(prog, args)}


def render(session_or_prog: Session | Program, command: str, argv: list[str]) -> str:
    """The JSON text of `command argv` (argv may hold --json), indented, with a final newline."""
    return json.dumps(document(session_or_prog, command, argv), indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "DOCUMENTS",
    "JSON_FLAG",
    "SCHEMA_VERSION",
    "SESSION_DOCUMENTS",
    "document",
    "object_data",
    "render",
    "supports",
]
