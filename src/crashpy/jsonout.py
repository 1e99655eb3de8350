"""`--json`: a command's rows as a JSON document, for automation (sys, ps, mod, log, task, bt).

The schemas are documented in docs/json.md.  A table command writes its text and its JSON document
from the same rows (commands/ps.py `PsRow`, commands/mod.py `ModRow`, the printk records of
commands/log.py, ...): the command registers its document function beside its text one
(`@command(..., json=...)`), and this module only adds what every document has, "command" (the
command's name) and "schema_version" (a field is only ever added within a schema version, never
renamed or removed).  Addresses are strings of lowercase hexadecimal digits without "0x", as crash
prints them; counts and sizes are numbers.

    from crashpy import jsonout
    text = jsonout.render(session_or_prog, "ps", ["--json", "-k"])
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from crashpy.commands.registry import COMMANDS, JSON_COMMANDS
from crashpy.commands.rows import hex_address as _hex
from crashpy.commands.rows import object_data
from crashpy.commands.rows import reject_options as _reject_options
from crashpy.errors import CommandError
from crashpy.helpers.numbers import getopt
from crashpy.program import Program
from crashpy.session import Session

SCHEMA_VERSION = 1
JSON_FLAG = "--json"


# ---- bt ----------------------------------------------------------------------------------------------


def bt_document(session_or_prog: Session | Program, argv: list[str]) -> dict[str, Any]:
    """`bt --json [-a | -p | pid | task ...]`: each task's frames as data, and the exception frames'
    registers; without a task, the session's current context."""
    from crashpy.helpers.tasks import str_to_context, task_table
    from crashpy.unwind.x86_64 import BtOptions, Tracer

    prog = session_or_prog if isinstance(session_or_prog, Program) else session_or_prog.prog
    parsed = getopt(argv, "ap")
    _reject_options(parsed, "ap")
    table = task_table(prog)
    tasks = []
    opts = {opt for opt, _ in parsed.opts}
    if "a" in opts:
        tasks = [table.by_task[t] for t in table.active if t in table.by_task]
    for arg in parsed.args:
        kind, value, tc = str_to_context(table, arg)
        if tc is None:
            raise CommandError(f"invalid task or pid value: {arg}")
        tasks.extend(table.by_pid(value) if kind == "pid" else [tc])
    if not tasks:
        if "p" in opts or isinstance(session_or_prog, Program):
            tasks = [table.panic_context()]
        else:
            tasks = [session_or_prog.current_context()]
    rows = []
    for tc in tasks:
        result = Tracer(prog, table, tc, BtOptions(), 10).run()
        rows.append({
            "pid": tc.pid,
            "task": _hex(tc.task),
            "cpu": tc.cpu,
            "comm": tc.comm,
            "frames": [
                {"level": f.level, "sp": _hex(f.sp), "pc": _hex(f.pc), "function": f.function, "module": f.module}
                for f in result.frames
            ],
            "error": result.error,
        })
    return {"tasks": rows}



# ---- the entry points --------------------------------------------------------------------------------

# Documents still written here rather than from the command's own rows.
SESSION_DOCUMENTS: dict[str, Callable[[Session | Program, list[str]], dict[str, Any]]] = {
    "bt": bt_document,
}


def supports(command: str) -> bool:
    """Whether `command --json` has a JSON document."""
    return command in JSON_COMMANDS or command in SESSION_DOCUMENTS


def document(session_or_prog: Session | Program, command: str, argv: list[str]) -> dict[str, Any]:
    """The JSON document of `command argv` (argv may hold --json; it is dropped) as Python data; a
    Program stands for a new session over it (its current context is the panic task)."""
    args = [a for a in argv if a != JSON_FLAG]
    with_session = SESSION_DOCUMENTS.get(command)
    if with_session is not None:
        return {"command": command, "schema_version": SCHEMA_VERSION, **with_session(session_or_prog, args)}
    make = COMMANDS[command].json if command in JSON_COMMANDS else None
    if make is None:
        raise CommandError(f"--json is not supported by {command}")
    session = session_or_prog if isinstance(session_or_prog, Session) else Session(session_or_prog, io.StringIO())
    return {"command": command, "schema_version": SCHEMA_VERSION, **make(session, args)}


def render(session_or_prog: Session | Program, command: str, argv: list[str]) -> str:
    """The JSON text of `command argv` (argv may hold --json), indented, with a final newline."""
    return json.dumps(document(session_or_prog, command, argv), indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "JSON_FLAG",
    "SCHEMA_VERSION",
    "SESSION_DOCUMENTS",
    "document",
    "object_data",
    "render",
    "supports",
]
