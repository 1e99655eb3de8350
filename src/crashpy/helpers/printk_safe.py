"""The printk-safe per-CPU buffers (4.11-5.14; crash's dump_printk_safe_seq_buf, `log -s`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from crashpy.errors import CommandError, CrashpyError
from crashpy.helpers.printk_access import U64, ProgramLike, read_bytes, read_int, signed32, type_offset

PRINTK_SAFE_BUFFERS = ("nmi_print_seq", "safe_print_seq")


@dataclass(frozen=True)
class SafeSeqBufCpu:
    cpu: int
    address: int  # this CPU's struct printk_safe_seq_buf
    len: int
    message_lost: int
    buffer: bytes  # the whole buffer[] (crash reads all of it; `len` says how much is used)


@dataclass(frozen=True)
class SafeSeqBufLayout:
    len: int
    message_lost: int
    buffer: int
    buffer_size: int
    counter: int  # atomic_t.counter


def printk_safe_layout(prog: ProgramLike) -> SafeSeqBufLayout | None:
    """struct printk_safe_seq_buf's layout; None when the kernel has no such struct (5.15+ and
    before 4.11), CommandError when it has one crash cannot read."""
    try:
        size = int(prog.sizeof("printk_safe_seq_buf"))
    except (CrashpyError, LookupError):  # no such struct (or no type information): crash prints nothing
        return None
    try:
        ln = int(prog.offsetof("printk_safe_seq_buf", "len"))
        lost = int(prog.offsetof("printk_safe_seq_buf", "message_lost"))
        buf = int(prog.offsetof("printk_safe_seq_buf", "buffer"))
    except (CrashpyError, LookupError) as e:
        raise CommandError("-s not supported with this kernel version") from e
    counter = type_offset(prog, "atomic_t", "counter") or 0
    # buffer[] is the last member and SAFE_LOG_BUF_LEN makes the struct a power of two: no padding.
    return SafeSeqBufLayout(ln, lost, buf, size - buf, counter)


def read_printk_safe_buffer(
    prog: ProgramLike,
    name: str,
    layout: SafeSeqBufLayout,
    percpu_offsets: list[int],
    message_lost: bool = True,
) -> Iterator[SafeSeqBufCpu]:
    """Each CPU's copy of the per-CPU printk_safe_seq_buf `name` (FaultError stops the walk).
    message_lost=False leaves that counter unread (0), as crash does without -s."""
    base = prog.symbol_address(name)
    for cpu, pcpu in enumerate(percpu_offsets):
        addr = (base + pcpu) & U64
        ln = signed32(read_int(prog, addr + layout.len + layout.counter, 4, "printk_safe_seq_buf len"))
        lost = 0
        if message_lost:
            lost_addr = addr + layout.message_lost + layout.counter
            lost = signed32(read_int(prog, lost_addr, 4, "printk_safe_seq_buf message_lost"))
        buffer = b""
        if ln > 0:
            buffer = read_bytes(prog, addr + layout.buffer, layout.buffer_size, "printk_safe_seq_buf buffer")
        yield SafeSeqBufCpu(cpu, addr, ln, lost, buffer)
