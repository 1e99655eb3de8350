"""bt --json: each task's frames and exception frames as data, from the unwinder's records (the same
ones bt's text is written from), for the tasks bt's own parser selects (commands/bt.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crashpy.commands.bt import OPTSTRING, parse, select_tasks
from crashpy.errors import CommandError
from crashpy.helpers.numbers import getopt
from crashpy.helpers.tasks import TaskContext, task_table
from crashpy.unwind import Backtrace, ExceptionFrame, unwind

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

JSON_OPTIONS = "ap"  # the options the document honours: which tasks


def json_document(session_or_prog: Session | Program, argv: list[str]) -> dict[str, Any]:
    """`bt --json [-a | -p | pid | task ...]`: each task's frames and exception frames as data, from
    the records the text is written from; without a task, the session's current context."""
    from crashpy.program import Program

    prog = session_or_prog if isinstance(session_or_prog, Program) else session_or_prog.prog
    parsed = getopt(argv, OPTSTRING)
    errors = iter(parsed.errors)
    for opt, _val in parsed.opts:
        if opt == "?":
            raise CommandError(next(errors, "invalid option"))
        if opt not in JSON_OPTIONS:
            raise CommandError(f"-{opt} is not supported with --json")
    req = parse(prog, parsed, _ignore)
    table = task_table(prog)

    def current() -> TaskContext:
        if isinstance(session_or_prog, Program):
            return table.panic_context()
        return session_or_prog.current_context()

    rows = []
    for item in select_tasks(table, req, current):
        if isinstance(item, str):
            if req.active:
                continue  # a CPU without a known task: no row
            raise CommandError(item)
        rows.append(_json_row(item, unwind(prog, item, req.opts.unwind)))
    return {"tasks": rows}


def _ignore(_line: str) -> None:
    pass


def _json_row(tc: TaskContext, bt: Backtrace) -> dict[str, Any]:
    return {
        "pid": tc.pid,
        "task": f"{tc.task:x}",
        "cpu": tc.cpu,
        "comm": tc.comm,
        "frames": [
            {
                "level": f.level,
                "sp": f"{f.sp:x}",
                "pc": f"{f.pc:x}",
                "function": f.function,
                "offset": f.offset,
                "module": f.module,
            }
            for f in bt.frames
        ],
        "exception_frames": [_json_eframe(e) for e in bt.exception_frames],
        "error": bt.error,
    }


def _json_eframe(e: ExceptionFrame) -> dict[str, Any]:
    return {
        "address": f"{e.address:x}" if e.address else None,
        "user_mode": e.user_mode,
        "function": e.function,
        "offset": e.offset,
        "registers": {name: f"{value:x}" for name, value in e.regs.items()},
    }
