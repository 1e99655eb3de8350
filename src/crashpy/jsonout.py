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
from crashpy.commands.rows import object_data
from crashpy.errors import CommandError
from crashpy.program import Program
from crashpy.session import Session

SCHEMA_VERSION = 1
JSON_FLAG = "--json"


# ---- bt ----------------------------------------------------------------------------------------------


def bt_document(session_or_prog: Session | Program, argv: list[str]) -> dict[str, Any]:
    """`bt --json`: written from the unwinder's records, for the tasks bt's parser selects
    (commands/bt_json.py)."""
    from crashpy.commands.bt_json import json_document

    return json_document(session_or_prog, argv)


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
    session = (
        session_or_prog if isinstance(session_or_prog, Session) else Session(session_or_prog, io.StringIO())
    )
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
