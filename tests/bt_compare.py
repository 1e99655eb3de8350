"""Where crash 8.0.6's backtrace is wrong, and how a test tells that from a crashpy bug.

Two faults of crash's x86_64 unwinder show on some boots of the test kernel and not on others (they
depend on what the stack holds):

1. **Stale frames in do_syscall_64's random gap.**  With CONFIG_RANDOMIZE_KSTACK_OFFSET,
   do_syscall_64 allocates a random 0-1 KiB on the stack before it calls the system call, and its
   ORC entry finds its caller through rbp.  When crash cannot follow that, it scans the gap and
   reports the stale return addresses left there by earlier calls (enqueue_entity, do_fault, ...)
   as frames between do_syscall_64 and entry_SYSCALL_64_after_hwframe.  crashpy follows rbp, as
   the kernel's own unwinder does.
2. **Lost caller frames after a call at a function's very end.**  A function that ends in a call
   to a noreturn function (oracle_panic's `call panic`) leaves a return address equal to the next
   symbol's start (here a `.cold` part of another function).  crash names and sizes that frame as
   the next symbol and skips the callers up to do_syscall_64; the kernel's own Call Trace on the
   console, and crashpy, keep them.  On a BUG, crash can lose the whole trap path the same way
   (do_trap, do_error_trap, exc_invalid_op, asm_exc_invalid_op and the exception frame of the
   trapped function, which the console's oops report names in its RIP line); on a NULL pointer
   write, the page fault's way to the oops (page_fault_oops, exc_page_fault, asm_exc_page_fault),
   and then it shows the trapped function as a plain frame at the exception frame's saved RIP
   (`#1 [ffffc90000013d18] oracle_null_write at ffffffffc022c4a8`), where crashpy shows the
   exception frame (`[exception RIP: oracle_null_write+24]`, `RIP: ffffffffc022c4a8`).

`explained(crash, crashpy, console)` accepts two outputs of one backtrace command that differ only
this way: the same task headers, the same first frame, the same exception frame at the end, the
frames they share in the same order, every frame only crash shows inside a do_syscall_64 gap or
standing for one of crashpy's exception frames (the same function and address), every frame only crashpy shows named in the kernel's console Call Trace, and the same value at every stack
address both print (bt -f).
"""

from __future__ import annotations

import re
from pathlib import Path

FRAME = re.compile(r"^\s*#\s*\d+ \[([0-9a-f]+)\] ([\w.]+?)(?:\+(?:0x)?[0-9a-f]+)? at ([0-9a-f]+)")
WORDS = re.compile(r"^\s+([0-9a-f]{16}): ((?:[0-9a-f]{16} ?)+)$")
REGISTERS = re.compile(r"^\s+(?:RIP|RAX|RDX|RBP|R10|R13|ORIG_RAX): ")
CALL_TRACE = re.compile(r"^\[\s*[\d.]+\]\s+(?:\? |RIP: 0010:)?([\w.]+)\+0x[0-9a-f]+/0x[0-9a-f]+")
EXCEPTION_RIP = re.compile(r"^\s+\[exception RIP: ([\w.]+)")
# a trap handler's own frames, between panic (oops=panic) and the trapped code: the console's oops
# report starts at the trapped code and does not list them
TRAP_PATH = re.compile(
    r"^(?:asm_)?exc_\w+$|^do_(?:error_)?trap$|^handle_bug$|^(?:oops_end|__?die|die_addr)$"
    # a kernel-mode page fault's way to the oops (a NULL or bad pointer dereference)
    r"|^handle_page_fault$|^do_(?:user|kern)_addr_fault$|^_*bad_area(?:_nosemaphore)?$"
    r"|^kernelmode_fixup_or_oops$|^no_context$|^page_fault_oops$"
)


def console_functions(console: Path) -> set[str]:
    """The functions the kernel's own backtraces on the console name."""
    if not console.exists():
        return set()
    return {m.group(1) for line in console.read_text(errors="replace").splitlines() if (m := CALL_TRACE.match(line))}


def _blocks(text: str) -> list[str]:
    return re.split(r"\n(?=PID: )", text.strip("\n"))


def _frames(block: str) -> list[tuple[int, str]]:
    return [(int(m.group(1), 16), m.group(2)) for line in block.splitlines() if (m := FRAME.match(line))]


def _frames_at(block: str) -> list[tuple[int, str, int]]:
    """(stack slot, function, the address the frame names) of each frame."""
    return [(int(m.group(1), 16), m.group(2), int(m.group(3), 16)) for line in block.splitlines()
            if (m := FRAME.match(line))]


def _exception_rips(block: str) -> set[tuple[str, int]]:
    """(function, RIP) of each exception frame: the trapped code."""
    lines = block.splitlines()
    found = set()
    for line, after in zip(lines, lines[1:], strict=False):
        m = EXCEPTION_RIP.match(line)
        rip = re.match(r"^\s+RIP: ([0-9a-f]{16})", after)
        if m and rip:
            found.add((m.group(1), int(rip.group(1), 16)))
    return found


def _words(block: str) -> dict[int, int]:
    words: dict[int, int] = {}
    for line in block.splitlines():
        m = WORDS.match(line)
        if m:
            base = int(m.group(1), 16)
            for i, value in enumerate(m.group(2).split()):
                words[base + 8 * i] = int(value, 16)
    return words


def _last_registers(block: str) -> list[str]:
    """The register lines after the last frame: the user-mode state the trace ends with."""
    lines = block.splitlines()
    last = max((i for i, line in enumerate(lines) if FRAME.match(line)), default=-1)
    return [line for line in lines[last + 1 :] if REGISTERS.match(line)]


def _in_syscall_gap(slot: int, ours: list[tuple[int, str]]) -> bool:
    for (start, func), (end, _next) in zip(ours, ours[1:], strict=False):
        if func == "do_syscall_64" and start < slot < end:
            return True
    return False


def _block_explained(want: str, got: str, console: set[str]) -> bool:
    if want == got:
        return True
    if want.splitlines()[0] != got.splitlines()[0]:
        return False
    crash, ours = _frames(want), _frames(got)
    if not crash or not ours or crash[0] != ours[0]:
        return False
    if _last_registers(want) != _last_registers(got):
        return False
    for line in got.splitlines():
        m = EXCEPTION_RIP.match(line)
        if m and line not in want and m.group(1) not in console:
            return False
    common = [f for f in crash if f in ours]
    if common != [f for f in ours if f in crash]:
        return False
    trapped = _exception_rips(got)
    if not all(
        _in_syscall_gap(slot, ours) or (func, at) in trapped
        for slot, func, at in _frames_at(want)
        if (slot, func) not in ours
    ):
        return False
    if not all(func in console or TRAP_PATH.match(func) for slot, func in ours if (slot, func) not in crash):
        return False
    crash_words, our_words = _words(want), _words(got)
    return all(crash_words.get(a, v) == v for a, v in our_words.items())


def explained(want: str, got: str, console: set[str]) -> bool:
    """True when crashpy's backtrace output differs from crash's only by crash's two known faults."""
    if want == got:
        return True
    wants, gots = _blocks(want), _blocks(got)
    if len(wants) != len(gots):
        return False
    return all(_block_explained(w, g, console) for w, g in zip(wants, gots, strict=True))
