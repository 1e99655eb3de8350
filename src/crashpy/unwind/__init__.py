"""crashpy.unwind: kernel stacks unwound into records (see docs/architecture.md).

    from crashpy.unwind import UnwindOptions, unwind
    bt = unwind(prog, tc, UnwindOptions(source_lines=True))   # tc: a helpers.tasks.TaskContext
    for frame in bt.frames: ...                              # Frame: level, sp, pc, function, module, ...
    bt.exception_frames                                      # ExceptionFrame: address, regs, user_mode, ...
    bt.entries                                               # everything, in the order `bt` shows it

The modules: records.py (the record types), machdep.py (per-Program facts: symbols, frame sizes,
stacks), orc.py (ORC tables), stacks.py (each CPU's IRQ and exception stacks), eframes.py (a trace's
state and its pt_regs), start.py (where a trace starts), x86_64.py (the walk).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.unwind.machdep import unwinder
from crashpy.unwind.records import (
    Backtrace,
    Entry,
    ExceptionFrame,
    Frame,
    StackChange,
    StackWords,
    UnwindFatal,
    UnwindOptions,
)
from crashpy.unwind.x86_64 import search_exception_frames, unwind

if TYPE_CHECKING:
    from crashpy.program import Program


def stack_base(prog: Program, task: int) -> int | None:
    """task_struct.stack of `task` (struct task_struct *): the bottom of its kernel stack, or None."""
    return unwinder(prog).stack_base(task)


def stack_end_marker(prog: Program, task: int) -> tuple[int, int] | None:
    """(the bottom of the kernel stack of `task` (struct task_struct *), the word there: the kernel's
    STACK_END_MAGIC unless the stack overflowed), or None when either cannot be read."""
    uw = unwinder(prog)
    base = uw.stack_base(task)
    if base is None:
        return None
    magic = uw.read_u64(base)
    return None if magic is None else (base, magic)


def old_method(prog: Program, toggle: bool = False) -> bool:
    """Whether traces scan without frame sizes by default (`bt -O`); `toggle` switches it first."""
    uw = unwinder(prog)
    if toggle:
        uw.use_old_bt = not uw.use_old_bt
    return uw.use_old_bt


__all__ = [
    "Backtrace",
    "Entry",
    "ExceptionFrame",
    "Frame",
    "StackChange",
    "StackWords",
    "UnwindFatal",
    "UnwindOptions",
    "old_method",
    "search_exception_frames",
    "stack_base",
    "stack_end_marker",
    "unwind",
]
