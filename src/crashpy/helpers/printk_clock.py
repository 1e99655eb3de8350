"""The boot time crash computes for `log -T`: the HZ crash assumes, xtime and the uptime in jiffies."""

from __future__ import annotations

import gzip
import re

from crashpy.errors import CrashpyError, FaultError
from crashpy.helpers.printk_access import U64, ProgramLike, signed64, symbol_data, type_offset


def _ikconfig_hz(prog: ProgramLike) -> int | None:
    """CONFIG_HZ from the in-kernel config (CONFIG_IKCONFIG), as crash reads it at start-up."""
    if not (prog.has_symbol("kernel_config_data") and prog.has_symbol("kernel_config_data_end")):
        return None
    try:
        start = prog.symbol_address("kernel_config_data")
        size = prog.symbol_address("kernel_config_data_end") - start
        if not 0 < size < (16 << 20):
            return None
        blob = prog.read(start, size)
        magic = blob.find(b"IKCFG_ST")
        text = gzip.decompress(blob[magic + 8 if magic >= 0 else 0 :].split(b"IKCFG_ED")[0])
    except (CrashpyError, OSError, EOFError, ValueError):
        return None
    m = re.search(rb"^CONFIG_HZ=(\d+)", text, re.M)
    return int(m.group(1)) if m else None


DEADLINE_SCHED_SYMBOLS = ("dd_init_queue", "dd_init_sched", "deadline_init_queue")


def tick_hz(prog: ProgramLike) -> int | None:
    """The kernel's HZ from tick_nsec (NSEC_PER_SEC / HZ, rounded), or None."""
    try:
        tick = symbol_data(prog, "tick_nsec", 8) if prog.has_symbol("tick_nsec") else 0
    except FaultError:
        tick = 0
    return round(1_000_000_000 / tick) if tick else None


def crash_hz(prog: ProgramLike) -> int:
    """The HZ crash uses (its machdep->hz): CONFIG_HZ from the in-kernel config; else from CFQ's
    cfq_slice_async (HZ / 25); else from mq-deadline's write_expire (5 * HZ, a constant crash has gdb
    evaluate; the same HZ tick_nsec gives); else x86_64's default of 1000."""
    hz = _ikconfig_hz(prog)
    if hz:
        return hz
    if prog.has_symbol("cfq_slice_async"):
        try:
            slice_async = symbol_data(prog, "cfq_slice_async", 4)
        except FaultError:
            slice_async = 0
        if slice_async:
            return slice_async * 25
    if any(prog.has_symbol(name) for name in DEADLINE_SCHED_SYMBOLS):
        hz = tick_hz(prog)
        if hz:
            return hz
    return 1000


def wall_clock_seconds(prog: ProgramLike) -> int:
    """xtime's seconds at the crash, read as crash's get_xtime() does (0 when it cannot be read):
    timekeeper.xtime (3.x), timekeeper.xtime_sec, shadow_timekeeper.xtime_sec (tk_core hides the live
    one since 3.10), the old global xtime."""
    xtime = type_offset(prog, "timekeeper", "xtime")  # a struct timespec: tv_sec first
    xtime_sec = type_offset(prog, "timekeeper", "xtime_sec")
    candidates: list[tuple[str, int]] = []
    if xtime is not None:
        candidates.append(("timekeeper", xtime))
    elif xtime_sec is not None:
        candidates += [("timekeeper", xtime_sec), ("shadow_timekeeper", xtime_sec)]
    candidates.append(("xtime", 0))
    for name, off in candidates:
        if prog.has_symbol(name):
            try:
                return signed64(prog.read_u64(prog.symbol_address(name) + off))
            except FaultError:
                return 0
    return 0


def crash_uptime_jiffies(prog: ProgramLike, hz: int) -> int:
    """jiffies since boot as crash's get_uptime() computes them from jiffies_64 (INITIAL_JIFFIES
    is -300 s of jiffies, truncated to 32 bits)."""
    if prog.has_symbol("jiffies_64"):
        j = symbol_data(prog, "jiffies_64", 8)
        wrapped = j & 0xFFFFFFFF00000000
        if wrapped:
            wrapped = (wrapped - 0x100000000) & U64
            j = ((j & 0xFFFFFFFF) | wrapped) + 300 * hz
        else:
            j = j - ((-300 * hz) & 0xFFFFFFFF)
        return j & U64
    return symbol_data(prog, "jiffies", 8)


def boot_time(prog: ProgramLike, hz: int) -> int:
    """The boot time (seconds since the epoch) as crash derives it for `log -T` (task_init():
    kt->boot_date): xtime less the uptime, jiffies since boot divided by `hz`."""
    uptime = crash_uptime_jiffies(prog, hz) // hz
    return signed64((wall_clock_seconds(prog) - uptime) & U64)


def crash_boot_time(prog: ProgramLike) -> int:
    """boot_time() with the HZ crash assumes (crash_hz): exactly crash's kt->boot_date."""
    return boot_time(prog, crash_hz(prog))
