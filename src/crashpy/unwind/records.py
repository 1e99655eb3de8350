"""What the unwinder finds, as data: frames, exception frames and the marks between them.

A `Backtrace` is the ordered list of what a trace met on the stacks (`entries`): `Frame`s, the
`ExceptionFrame`s (pt_regs) the entry code left, the moves from an IRQ or exception stack back to
the stack it interrupted (`StackChange`), and, when asked, the stack words of each frame
(`StackWords`).  (Records are dataclasses; those nobody compares skip the generated __eq__, as
each generated method costs import time on every `bt`.)  `bt` writes crash's text from these (commands/bt.py); the Python API and
`bt --json` hand them out as they are.  Nothing here is text for a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crashpy.errors import CrashpyError, FaultError


class UnwindFatal(CrashpyError):
    """crash's error(FATAL, ...) inside bt: this task's trace ends here, with the message."""


@dataclass(eq=False)
class UnwindOptions:
    """What a trace follows and what it gathers besides the frames."""

    stack_words: bool = False  # bt -f: each frame's stack words (StackWords entries)
    source_lines: bool = False  # bt -l: each frame's source line
    text_scan: bool = False  # bt -t: every text address from the start on, no frame following
    text_scan_all: bool = False  # bt -T: like text_scan, from the bottom of the stack
    no_frame_sizes: bool = False  # bt -o: each text address is a frame
    eframe_search: bool = False  # bt -e: search the stack for exception frames only
    hook_ip: int = 0  # bt -I: start at this text address
    hook_sp: int = 0  # bt -S: start at this stack address


@dataclass
class Frame:
    """One return address on a stack: the slot it sits in and what it returns into."""

    level: int  # crash's #N
    sp: int  # the stack slot of the return address (crash's [address])
    pc: int  # the return address (or, for the first frame of a trace, where it stopped)
    function: str  # the symbol `pc` lies in
    module: str | None = None  # the module of a module's function, None for vmlinux
    offset: int = 0  # pc - the symbol's address
    source: str | None = None  # "file: line" (UnwindOptions.source_lines; None for module text)
    sizes_given_up: bool = False  # frame sizes could not be followed here: a plain scan from here on


@dataclass
class ExceptionFrame:
    """A saved register set: a struct pt_regs on a stack, or a CPU's registers from the dump's note."""

    address: int  # where the pt_regs lies; 0 for the registers of the NT_PRSTATUS note
    regs: dict[str, int]  # pt_regs' members by name: ip, sp, cs, ss, flags, orig_ax, bp, ax, ... r15
    user_mode: bool  # interrupted in user mode
    function: str | None = None  # the symbol regs["ip"] lies in (kernel mode), None when none
    offset: int = 0
    rip_in_vmalloc: bool = False  # no symbol, but regs["ip"] is a mapped vmalloc address
    source: str | None = None  # "file: line" of regs["ip"] (UnwindOptions.source_lines)
    searched: bool = False  # found by the exception-frame search (bt -e / -E)
    from_note: bool = False  # the registers of the dump's NT_PRSTATUS note (no orig_ax)


@dataclass(eq=False)
class StackWords:
    """The words of the stack between two frames (UnwindOptions.stack_words), from `address` up."""

    address: int
    words: tuple[int, ...]


@dataclass
class StackChange:
    """The trace leaves an IRQ or exception stack for the stack it interrupted."""

    stack: str  # "IRQ", or the exception stack's name ("NMI", "DOUBLEFAULT", ...)
    exception: bool  # an IST exception stack (not the IRQ stack)


Entry = Frame | ExceptionFrame | StackWords | StackChange


@dataclass(eq=False)
class Backtrace:
    """One task's trace: where a text scan started, its entries in the order found, and how it ended."""

    entries: list[Entry] = field(default_factory=list)
    start: tuple[str, int] | None = None  # a text scan's start (function, pc): the task's resume point
    recursion: str | None = None  # the exception stack that linked back into itself, ending the trace
    error: str | None = None  # the message the trace ended with (crash's error(FATAL))
    fault: FaultError | None = None  # the failed read of a stack that ended it, when one did
    no_stack: bool = False  # the task has no stack (task_struct.stack is 0)
    no_start: bool = False  # no readable starting stack pointer

    @property
    def frames(self) -> list[Frame]:
        return [e for e in self.entries if isinstance(e, Frame)]

    @property
    def exception_frames(self) -> list[ExceptionFrame]:
        return [e for e in self.entries if isinstance(e, ExceptionFrame)]


__all__ = [
    "Backtrace",
    "Entry",
    "ExceptionFrame",
    "Frame",
    "StackChange",
    "StackWords",
    "UnwindFatal",
    "UnwindOptions",
]
