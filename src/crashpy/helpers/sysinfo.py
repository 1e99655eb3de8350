"""What `sys` reports: utsname, time, uptime, load, tasks, memory, CPUs, the panic message."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.bits import MASK64
from crashpy.errors import CrashpyError, FaultError
from crashpy.helpers import tasks

if TYPE_CHECKING:
    from crashpy.program import Program

UTS_FIELDS = ("sysname", "nodename", "release", "version", "machine", "domainname")
_UTS_LEN = 65

# Panic strings in order of severity, searched in the kernel log as crash does.
PANIC_MESSAGES = (
    "SysRq : Crash",
    "SysRq : Trigger a crash",
    "SysRq : Netdump",
    "Kernel panic: ",
    "Kernel panic - ",
    "Kernel BUG at",
    "kernel BUG at",
    "Unable to handle kernel paging request",
    "Unable to handle kernel NULL pointer dereference",
    "BUG: unable to handle kernel ",
    "general protection fault: ",
    "double fault: ",
    "divide error: ",
    "stack segment: ",
    "[Hardware Error]: ",
    "Bad mode in ",
    "Oops: ",
)


def utsname(prog: Program) -> dict[str, str]:
    """init_uts_ns.name (struct new_utsname) as strings."""
    base = prog.symbol_address("init_uts_ns") + prog.offsetof("uts_namespace", "name")
    raw = prog.read(base, _UTS_LEN * len(UTS_FIELDS))
    out = {}
    for i, name in enumerate(UTS_FIELDS):
        field = raw[i * _UTS_LEN : (i + 1) * _UTS_LEN]
        out[name] = field.split(b"\0", 1)[0].decode("utf-8", "replace")
    return out


TAINT_LIVEPATCH = 15


def tainted_mask(prog: Program) -> int:
    """The kernel's taint bits (tainted_mask; `tainted` on old kernels); 0 when unreadable."""
    for name, size in (("tainted", 4), ("tainted_mask", 8)):
        sym = prog.symbols.lookup(name)
        if sym is not None:
            try:
                return int.from_bytes(prog.read(sym.address, size), "little")
            except CrashpyError:
                return 0
    return 0


def hz(prog: Program) -> int:
    """The kernel's HZ: from tick_nsec (NSEC_PER_SEC / HZ, rounded), else crash's default of 1000."""
    sym = prog.symbols.lookup("tick_nsec")
    if sym is not None:
        try:
            tick = prog.read_u64(sym.address)
        except FaultError:
            tick = 0
        if tick:
            return round(1_000_000_000 / tick)
    return 1000


def uptime_jiffies(prog: Program, hz_value: int) -> int:
    """jiffies since boot (jiffies_64 less INITIAL_JIFFIES, -300*HZ as a 32-bit value)."""
    if prog.has_symbol("jiffies_64"):
        j = prog.read_u64(prog.symbol_address("jiffies_64"))
        wrapped = j & 0xFFFFFFFF00000000
        if wrapped:
            wrapped -= 0x100000000
            j = ((j & 0xFFFFFFFF) | wrapped) + 300 * hz_value
        else:
            j = (j - ((-300 * hz_value) & 0xFFFFFFFF)) & MASK64
        return j
    return prog.read_u64(prog.symbol_address("jiffies"))


def format_uptime(jiffies: int, hz_value: int) -> str:
    total = jiffies // hz_value
    days, total = divmod(total, 86400)
    hours, total = divmod(total, 3600)
    minutes, seconds = divmod(total, 60)
    prefix = f"{days} days, " if days else ""
    return f"{prefix}{hours:02d}:{minutes:02d}:{seconds:02d}"


def xtime_sec(prog: Program) -> int | None:
    """The wall-clock seconds at the crash: (shadow_)timekeeper.xtime_sec, as crash reads it."""
    off = prog.offsetof("timekeeper", "xtime_sec")
    for name in ("timekeeper", "shadow_timekeeper"):
        sym = prog.symbols.lookup(name)
        if sym is not None:
            try:
                return prog.read_s64(sym.address + off)
            except FaultError:
                return None
    return None


def format_date(seconds: int) -> str:
    """ctime-like with the time zone, as crash prints DATE: `Thu Nov 26 07:14:52 UTC 2026`."""
    return time.strftime("%a %b %e %T %Z %Y", time.localtime(seconds))


def load_average(prog: Program) -> str:
    raw = prog.read(prog.symbol_address("avenrun"), 24)
    parts = []
    for i in range(3):
        v = int.from_bytes(raw[i * 8 : i * 8 + 8], "little", signed=True) + (2048 // 200)
        parts.append(f"{v >> 11}.{((v & 2047) * 100) >> 11:02d}")
    return ", ".join(parts)


def cpumask_weight(prog: Program, name: str) -> int:
    sym = prog.symbols.lookup(name)
    if sym is None:
        return 0
    size = prog.sizeof("cpumask")
    try:
        data = prog.read(sym.address, size)
    except FaultError:
        return 0
    return int.from_bytes(data, "little").bit_count()


def cpu_count(prog: Program) -> int:
    """CPUs as crash counts them: per-CPU cpu_number matching its index, capped by the present mask."""
    sym = prog.symbols.lookup("cpu_number")
    if sym is None:
        return prog.nr_cpus
    cpus = 0
    for i, off in enumerate(prog.percpu_offsets):
        try:
            n = prog.read_u32((sym.address + off) & MASK64)
        except FaultError:
            break
        if n != i:
            break
        cpus += 1
    present = cpumask_weight(prog, "__cpu_present_mask")
    if present and (not cpus or present < cpus):
        cpus = present
    return cpus


def crash_cpu_count(prog: Program) -> int:
    """kt->cpus, as crash's commands count CPUs (cpu_count(), or one per per-CPU offset), kept on `prog`."""

    def count() -> int:
        try:
            return cpu_count(prog)
        except CrashpyError:
            return len(prog.percpu_offsets)

    return prog.cache("crash_cpus", count)  # type: ignore[no-any-return]


def memory_bytes(prog: Program) -> int:
    """Total memory: node_present_pages of every online node (crash's total_node_memory)."""
    page = prog.vmcoreinfo.page_size
    off_present = prog.offsetof("pglist_data", "node_present_pages")
    off_spanned = prog.offsetof("pglist_data", "node_spanned_pages")
    nodes: list[int] = []
    node_data = prog.symbols.lookup("node_data")
    if node_data is not None:
        nr = min(prog.vmcoreinfo.length("node_data") or 1, 1 << 10)  # MAX_NUMNODES: NODES_SHIFT is at most 10
        for i in range(nr):
            p = prog.read_u64(node_data.address + 8 * i)
            if p:
                nodes.append(p)
    else:
        nodes.append(prog.symbol_address("contig_page_data"))
    total = 0
    for pgdat in nodes:
        present = prog.read_u64(pgdat + off_present)
        total += (present or prog.read_u64(pgdat + off_spanned)) * page
    return total


def format_memory(total: int, page: int = 4096) -> str:
    """crash's get_memory_size: round up to the next GB when within 64 MB of it, then pages_to_size."""
    gig = 1 << 30
    next_gig = -(-total // gig) * gig
    if next_gig and next_gig - total <= 64 << 20:
        total = next_gig
    size = (total // page) * page
    if size == 0:
        return "0"
    if size >= gig:
        text = f"{size / gig:.1f} GB"
    elif size >= 1 << 20:
        text = f"{size / (1 << 20):.1f} MB"
    else:
        return f"{size // 1024} KB"
    return text.replace(".0 ", " ")


def panic_message(log_lines: list[str]) -> str:
    """The panic string: the first log line carrying the most severe panic message, as crash picks it."""
    for msg in PANIC_MESSAGES:
        for line in log_lines:
            if msg in line:
                return line.rstrip("\n")
    return ""


@dataclass
class SysInfo:
    cpus: int
    cpus_online: int
    date: str
    uptime: str
    load_average: str
    tasks: int
    uts: dict[str, str]
    mhz: int
    memory: str
    panic: str


def _safe(fn, default):  # type: ignore[no-untyped-def]
    try:
        return fn()
    except (CrashpyError, ArithmeticError):  # a damaged value (HZ 0 read from a corrupt page)
        return default


def sysinfo(prog: Program, log_lines: list[str]) -> SysInfo:
    """Everything `sys` prints, read from the dump."""
    hz_value = hz(prog)
    secs = _safe(lambda: xtime_sec(prog), None)
    khz_sym = prog.symbols.lookup("cpu_khz")
    mhz = _safe(lambda: prog.read_u32(khz_sym.address) // 1000, 0) if khz_sym else 0
    return SysInfo(
        cpus=_safe(lambda: cpu_count(prog), prog.nr_cpus),
        cpus_online=_safe(lambda: cpumask_weight(prog, "__cpu_online_mask"), 0),
        date=format_date(secs) if secs is not None else "(unknown)",
        uptime=_safe(lambda: format_uptime(uptime_jiffies(prog, hz_value), hz_value), "(unknown)"),
        load_average=_safe(lambda: load_average(prog), "(unknown)"),
        tasks=_safe(lambda: len(tasks.all_tasks(prog)), 0),
        uts=_safe(lambda: utsname(prog), dict.fromkeys(UTS_FIELDS, "(unknown)")),
        mhz=mhz,
        memory=_safe(lambda: format_memory(memory_bytes(prog), prog.vmcoreinfo.page_size), "(unknown)"),
        panic=panic_message(log_lines),
    )
