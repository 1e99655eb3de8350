"""The kernel log (printk): records of the lockless ring buffer (5.10+), of the variable-length log_buf
(3.5-5.9) and the plain text log_buf before that. The boot time of `log -T` (printk_clock), the audit
queues (printk_audit) and the printk-safe per-CPU buffers (printk_safe) have their own modules.

Pure functions that return data. Which layout a kernel has is decided by its own symbols (`prb`,
`log_first_idx`), never by its version. Struct offsets come from the type information (BTF) and fall
back to the VMCOREINFO entries the kernel exports for dump tools (makedumpfile's way).

An unreadable page never loses more than what lies on it: the descriptor array, the info array and
the text ring are each read with one `prog.read` where possible, and page by page around faults; a
record whose descriptor, info or text is unreadable becomes a `MissingRecord` in its place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum

from crashpy.errors import CommandError, CrashpyError, FaultError
from crashpy.helpers.printk_access import (
    PAGE_SIZE,
    U64,
    ProgramLike,
    SparseBuffer,
    VmcoreInfoLike,
    bitfield_byte,
    cstring,
    need,
    symbol_data,
    type_offset,
    type_size,
)

# The log's neighbours live in their own modules; their names are here too, for the commands that
# read them with the log (log -T, log -a, log -s).
from crashpy.helpers.printk_audit import (
    AUDIT_QUEUES,
    AUDIT_QUEUES_OLD,
    AuditRecord,
    audit_queue_names,
    iter_audit_records,
)
from crashpy.helpers.printk_clock import boot_time, crash_boot_time, crash_hz, tick_hz, wall_clock_seconds
from crashpy.helpers.printk_safe import (
    PRINTK_SAFE_BUFFERS,
    SafeSeqBufCpu,
    SafeSeqBufLayout,
    printk_safe_layout,
    read_printk_safe_buffer,
)

__all__ = [
    "AUDIT_QUEUES",
    "AUDIT_QUEUES_OLD",
    "PAGE_SIZE",
    "PRINTK_SAFE_BUFFERS",
    "AuditRecord",
    "ProgramLike",
    "SafeSeqBufCpu",
    "SafeSeqBufLayout",
    "SparseBuffer",
    "VmcoreInfoLike",
    "audit_queue_names",
    "boot_time",
    "crash_boot_time",
    "crash_hz",
    "iter_audit_records",
    "printk_safe_layout",
    "read_printk_safe_buffer",
    "tick_hz",
    "wall_clock_seconds",
]

# struct prb_desc.state_var (kernel/printk/printk_ringbuffer.h): the state in the top 2 bits of an
# atomic_long, the descriptor id below them.
DESC_SV_BITS = 64
DESC_FLAGS_SHIFT = DESC_SV_BITS - 2
DESC_ID_MASK = (1 << DESC_FLAGS_SHIFT) - 1

# printk_info.caller_id: a CPU number with this bit set, otherwise a task id.
CALLER_CPU = 0x80000000


class DescState(IntEnum):
    """enum desc_state (printk_ringbuffer.c); MISS when the descriptor holds another id."""

    MISS = -1
    RESERVED = 0
    COMMITTED = 1
    FINALIZED = 2
    REUSABLE = 3


def desc_state(desc_id: int, state_var: int) -> DescState:
    """get_desc_state(): the state of descriptor `desc_id` given its state_var."""
    if desc_id != state_var & DESC_ID_MASK:
        return DescState.MISS
    return DescState((state_var >> DESC_FLAGS_SHIFT) & 3)


# ---- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrintkRecord:
    """One log record. `dataless`: a record without a text block (crash prints an empty line)."""

    seq: int | None  # None in the variable-length log_buf, which numbers nothing
    ts_nsec: int
    level: int  # syslog level, 0-7
    facility: int
    flags: int  # the 5 internal flag bits that share the level's byte
    caller_id: int | None  # None where the kernel does not record it
    text: bytes
    subsystem: bytes = b""  # dev_printk_info.subsystem (lockless ring)
    device: bytes = b""  # dev_printk_info.device (lockless ring)
    dict: bytes = b""  # the raw KEY=value\0... dictionary (variable-length log_buf)
    dataless: bool = False
    desc_id: int | None = None  # the descriptor id (lockless ring)
    address: int | None = None  # where the record header lives (variable-length log_buf)


@dataclass(frozen=True)
class MissingRecord:
    """A record that could not be read: `fault` says where. `seq` is known when its info was read."""

    fault: FaultError
    seq: int | None = None
    desc_id: int | None = None
    address: int | None = None  # variable-length log_buf: the record header's address

    def describe(self) -> str:
        if self.seq is not None:
            return f"seq {self.seq}"
        if self.desc_id is not None:
            return f"descriptor {self.desc_id}"
        if self.address is not None:
            return f"record at {self.address:x}"
        return "record"


@dataclass(frozen=True)
class LogNote:
    """A note crash prints in the middle of the log (e.g. "duplicate log_buf message pointer")."""

    message: str


LogEntry = PrintkRecord | MissingRecord | LogNote


@dataclass
class PrintkLog:
    """The kernel log. `layout`: "lockless" (printk_ringbuffer), "variable" (log_buf of struct
    printk_log records) or "plain" (log_buf text before 3.5: `plain_text` holds it in order)."""

    layout: str
    entries: list[LogEntry] = field(default_factory=list)
    plain_text: bytes = b""
    plain_level_at_start: bool = False  # crash: the plain buffer has not wrapped and starts with '<'
    warnings: list[str] = field(default_factory=list)  # crash's WARNING text when the log is unreadable
    notes: list[str] = field(default_factory=list)  # how the log was read where crash would not read it
    has_caller_id: bool = False

    @property
    def records(self) -> list[PrintkRecord]:
        return [e for e in self.entries if isinstance(e, PrintkRecord)]

    @property
    def missing(self) -> list[MissingRecord]:
        return [e for e in self.entries if isinstance(e, MissingRecord)]


# ---- the lockless ring buffer (5.10+) ------------------------------------------------------------------


@dataclass(frozen=True)
class LocklessLayout:
    """Offsets and sizes of the printk_ringbuffer structures."""

    rb_size: int
    desc_ring: int
    text_data_ring: int
    count_bits: int
    descs: int
    infos: int
    head_id: int
    tail_id: int
    size_bits: int
    data: int
    counter: int  # atomic_long_t.counter
    desc_size: int
    state_var: int
    text_blk_lpos: int
    lpos_begin: int
    lpos_next: int
    info_size: int
    seq: int
    ts_nsec: int
    text_len: int
    facility: int
    level_byte: int  # the byte holding `u8 flags:5, level:3`
    caller_id: int
    dev_info: int
    subsystem: int
    device: int


def lockless_layout(prog: ProgramLike) -> LocklessLayout:
    def off(struct: str, member: str) -> int:
        return need(type_offset(prog, struct, member), f"offsetof({struct}, {member})")

    text_len = off("printk_info", "text_len")
    # `facility` and the flags/level bitfield byte follow text_len (struct printk_info, 5.10+);
    # VMCOREINFO names neither, so without type information they are placed from text_len.
    facility = type_offset(prog, "printk_info", "facility")
    if facility is None:
        facility = text_len + 2
    level_byte = bitfield_byte(prog, "printk_info", "level")
    if level_byte is None:
        level_byte = facility + 1
    counter = type_offset(prog, "atomic_long_t", "counter")
    desc_ring = off("printk_ringbuffer", "desc_ring")
    text_data_ring = off("printk_ringbuffer", "text_data_ring")
    rb_size = type_size(prog, "printk_ringbuffer")
    data = off("prb_data_ring", "data")
    tail_id = off("prb_desc_ring", "tail_id")
    head_id = off("prb_desc_ring", "head_id")
    return LocklessLayout(
        rb_size=rb_size or max(desc_ring + max(tail_id, head_id), text_data_ring + data) + 8,
        desc_ring=desc_ring,
        text_data_ring=text_data_ring,
        count_bits=off("prb_desc_ring", "count_bits"),
        descs=off("prb_desc_ring", "descs"),
        infos=off("prb_desc_ring", "infos"),
        head_id=head_id,
        tail_id=tail_id,
        size_bits=off("prb_data_ring", "size_bits"),
        data=data,
        counter=counter or 0,
        desc_size=need(type_size(prog, "prb_desc"), "sizeof(struct prb_desc)"),
        state_var=off("prb_desc", "state_var"),
        text_blk_lpos=off("prb_desc", "text_blk_lpos"),
        lpos_begin=off("prb_data_blk_lpos", "begin"),
        lpos_next=off("prb_data_blk_lpos", "next"),
        info_size=need(type_size(prog, "printk_info"), "sizeof(struct printk_info)"),
        seq=off("printk_info", "seq"),
        ts_nsec=off("printk_info", "ts_nsec"),
        text_len=text_len,
        facility=facility,
        level_byte=level_byte,
        caller_id=off("printk_info", "caller_id"),
        dev_info=off("printk_info", "dev_info"),
        subsystem=off("dev_printk_info", "subsystem"),
        device=off("dev_printk_info", "device"),
    )


MAX_RING_BITS = 30  # a larger count_bits or size_bits is a corrupt header, not a ring


# The static ring buffer's parts (kernel/printk/printk.c: DEFINE_PRINTKRB(printk_rb_static, ...)):
# what is left to read when the ring buffer's header is not in the dump.
STATIC_RING = ("_printk_rb_static_descs", "_printk_rb_static_infos", "__log_buf")


def read_lockless_log(prog: ProgramLike, layout: LocklessLayout | None = None) -> PrintkLog:
    """The records of the printk_ringbuffer `*prb`, oldest first, as crash walks them: every
    descriptor id from tail_id to head_id (both included) whose state is committed or finalized.

    Beyond crash: when `prb` or the ring buffer it points to is unreadable, the log is recovered
    from the static ring buffer's arrays, if the dump has them (see recover_static_ring)."""
    lay = layout or lockless_layout(prog)
    log = PrintkLog("lockless", has_caller_id=True)
    try:
        prb = symbol_data(prog, "prb", 8)
    except FaultError as e:
        if _recover_static_ring(prog, lay, log, e):
            return log
        raise  # crash: get_symbol_data() fails with this error
    try:
        rb = prog.read(prb, lay.rb_size, what="printk_ringbuffer contents")
    except FaultError as e:
        if not _recover_static_ring(prog, lay, log, e):
            log.warnings.append("cannot read printk_ringbuffer contents")
        return log

    def rb_u64(off: int) -> int:
        return int.from_bytes(rb[off : off + 8], "little")

    def rb_u32(off: int) -> int:
        return int.from_bytes(rb[off : off + 4], "little")

    dr, tr = lay.desc_ring, lay.text_data_ring
    count_bits = rb_u32(dr + lay.count_bits)
    size_bits = rb_u32(tr + lay.size_bits)
    if count_bits > MAX_RING_BITS or size_bits > MAX_RING_BITS:
        log.warnings.append("cannot read printk_ringbuffer contents")
        return log
    count = 1 << count_bits
    ring_size = 1 << size_bits
    tail_id = rb_u64(dr + lay.tail_id + lay.counter)
    head_id = rb_u64(dr + lay.head_id + lay.counter)

    descs = SparseBuffer(prog, rb_u64(dr + lay.descs), lay.desc_size * count, "prb_desc_ring contents")
    infos = SparseBuffer(prog, rb_u64(dr + lay.infos), lay.info_size * count, "prb_info_ring contents")
    text = SparseBuffer(prog, rb_u64(tr + lay.data), ring_size, "prb_text_data_ring contents")

    ids: Iterator[int]
    n = ((head_id - tail_id) & DESC_ID_MASK) + 1
    if n <= count:
        ids = ((tail_id + i) & DESC_ID_MASK for i in range(n))
    else:
        ids = iter(_ids_in_range(descs, lay, count, tail_id, head_id))
    _add_lockless_entries(log, lay, descs, infos, text, count, ring_size, ids)
    return log


def _add_lockless_entries(
    log: PrintkLog,
    lay: LocklessLayout,
    descs: SparseBuffer,
    infos: SparseBuffer,
    text: SparseBuffer,
    count: int,
    ring_size: int,
    ids: Iterable[int],
) -> None:
    for desc_id in ids:
        entry = _lockless_entry(lay, descs, infos, text, count, ring_size, desc_id)
        if entry is not None:
            log.entries.append(entry)


def _symbol_size(prog: ProgramLike, name: str) -> int:
    symbol = getattr(prog, "symbol", None)
    try:
        return int(symbol(name).size) if symbol is not None else 0
    except CrashpyError:
        return 0


def _recover_static_ring(prog: ProgramLike, lay: LocklessLayout, log: PrintkLog, fault: FaultError) -> bool:
    """The log from the static ring buffer's arrays when its header (head and tail ids, array
    pointers) is lost: the array sizes come from the symbol table, and the records are every
    descriptor whose own id matches its slot and whose state is committed or finalized, in id order
    (the kernel makes a descriptor reusable before the tail passes it). Ids in that span whose
    descriptor is unreadable become MissingRecords. Not used when the kernel had moved to a
    dynamically allocated buffer (printk_rb_dynamic initialised): its arrays are elsewhere."""
    if not all(prog.has_symbol(name) for name in STATIC_RING):
        return False
    if prog.has_symbol("printk_rb_dynamic"):
        try:
            dyn = prog.read(prog.symbol_address("printk_rb_dynamic") + lay.desc_ring + lay.descs, 8)
            if int.from_bytes(dyn, "little"):
                return False
        except FaultError:
            pass  # unknown: setup_log_buf() only allocates for log_buf_len= or many CPUs
    sizes = [_symbol_size(prog, name) for name in STATIC_RING]
    count = sizes[0] // lay.desc_size
    ring_size = sizes[2]
    if not count or count & (count - 1) or sizes[1] != count * lay.info_size or ring_size & (ring_size - 1):
        return False
    descs = SparseBuffer(prog, prog.symbol_address(STATIC_RING[0]), sizes[0], "prb_desc_ring contents")
    infos = SparseBuffer(prog, prog.symbol_address(STATIC_RING[1]), sizes[1], "prb_info_ring contents")
    text = SparseBuffer(prog, prog.symbol_address(STATIC_RING[2]), ring_size, "prb_text_data_ring contents")
    found: list[int] = []
    for idx in range(count):
        off = idx * lay.desc_size
        if descs.fault(off, lay.desc_size) is not None:
            continue
        state_var = descs.u64(off + lay.state_var + lay.counter)
        desc_id = state_var & DESC_ID_MASK
        if desc_id % count == idx and desc_state(desc_id, state_var) in (
            DescState.COMMITTED,
            DescState.FINALIZED,
        ):
            found.append(desc_id)
    if not found:
        return False
    found.sort()
    log.notes.append(f"{fault}: the log is read from {', '.join(STATIC_RING)}")
    ids = range(found[0], found[-1] + 1) if found[-1] - found[0] < count else found
    _add_lockless_entries(log, lay, descs, infos, text, count, ring_size, ids)
    return True


def _ids_in_range(
    descs: SparseBuffer, lay: LocklessLayout, count: int, tail_id: int, head_id: int
) -> list[int]:
    """For a tail..head span longer than the ring (a corrupt header): the ids crash would find, i.e.
    the descriptors whose own id lies in the span, in walk order."""
    span = (head_id - tail_id) & DESC_ID_MASK
    found = []
    for idx in range(count):
        off = idx * lay.desc_size + lay.state_var + lay.counter
        desc_id = descs.u64(off) & DESC_ID_MASK
        if desc_id % count == idx and (desc_id - tail_id) & DESC_ID_MASK <= span:
            found.append(desc_id)
    found.sort(key=lambda i: (i - tail_id) & DESC_ID_MASK)
    return found


def _lockless_entry(
    lay: LocklessLayout,
    descs: SparseBuffer,
    infos: SparseBuffer,
    text: SparseBuffer,
    count: int,
    ring_size: int,
    desc_id: int,
) -> PrintkRecord | MissingRecord | None:
    idx = desc_id % count
    d = idx * lay.desc_size
    bad = descs.fault(d, lay.desc_size)
    if bad is not None:
        return MissingRecord(bad, desc_id=desc_id)
    state_var = descs.u64(d + lay.state_var + lay.counter)
    if desc_state(desc_id, state_var) not in (DescState.COMMITTED, DescState.FINALIZED):
        return None  # reserved, reusable or overwritten: crash skips it, so do we
    i = idx * lay.info_size
    bad = infos.fault(i, lay.info_size)
    if bad is not None:
        return MissingRecord(bad, desc_id=desc_id)
    seq = infos.u64(i + lay.seq)
    ts_nsec = infos.u64(i + lay.ts_nsec)
    text_len = infos.u16(i + lay.text_len)
    facility = infos.data[i + lay.facility]
    flags_level = infos.data[i + lay.level_byte]
    caller_id = infos.u32(i + lay.caller_id)
    info_end = i + lay.info_size
    dev = i + lay.dev_info
    subsystem = cstring(infos.data, dev + lay.subsystem, info_end)
    device = cstring(infos.data, dev + lay.device, info_end)

    begin = descs.u64(d + lay.text_blk_lpos + lay.lpos_begin) % ring_size
    nxt = descs.u64(d + lay.text_blk_lpos + lay.lpos_next) % ring_size
    body = b""
    dataless = begin == nxt
    if not dataless:  # equal: a data-less block (FAILED_LPOS / NO_LPOS), no text at all
        if begin > nxt:  # a wrapping block keeps its data at the start of the ring
            begin = 0
        begin += 8  # the block starts with its descriptor id
        if (nxt - begin) & U64 < text_len:  # a truncated record
            text_len = nxt - begin
        end = min(begin + text_len, ring_size)
        bad = text.fault(begin, end - begin)
        if bad is not None:
            return MissingRecord(bad, seq=seq, desc_id=desc_id)
        body = bytes(text.data[begin:end])
    return PrintkRecord(
        seq=seq,
        ts_nsec=ts_nsec,
        level=flags_level >> 5,
        facility=facility,
        flags=flags_level & 0x1F,
        caller_id=caller_id,
        text=body,
        subsystem=subsystem,
        device=device,
        dataless=dataless,
        desc_id=desc_id,
    )


# ---- the variable-length record log_buf (3.5-5.9) --------------------------------------------------------


@dataclass(frozen=True)
class VariableLayout:
    """struct printk_log (struct log before 3.11) offsets."""

    size: int
    ts_nsec: int
    len: int
    text_len: int
    dict_len: int
    level_byte: int  # the byte holding `u8 flags:5, level:3`
    facility: int
    caller_id: int | None  # CONFIG_PRINTK_CALLER (5.1+)


def variable_layout(prog: ProgramLike) -> VariableLayout:
    # The struct was renamed from `log` to `printk_log` in 3.11 (62e32ac3505a).
    for name in ("printk_log", "log"):
        size = type_size(prog, name)
        if size is None:
            continue
        ts = type_offset(prog, name, "ts_nsec")
        ln = type_offset(prog, name, "len")
        tl = type_offset(prog, name, "text_len")
        dl = type_offset(prog, name, "dict_len")
        if ts is None or ln is None or tl is None or dl is None:
            continue
        # `u8 facility; u8 flags:5; u8 level:3;` follow dict_len; VMCOREINFO names neither.
        facility = type_offset(prog, name, "facility")
        if facility is None:
            facility = dl + 2
        level_byte = bitfield_byte(prog, name, "level")
        if level_byte is None:
            level_byte = facility + 1
        caller = type_offset(prog, name, "caller_id")
        if caller is None and not _has_type_info(prog) and size >= level_byte + 1 + 4:
            caller = (level_byte + 1 + 3) & ~3  # `u32 caller_id` makes the record larger
        return VariableLayout(size, ts, ln, tl, dl, level_byte, facility, caller)
    raise CommandError("log buf data structure(s) have changed")


def _has_type_info(prog: ProgramLike) -> bool:
    try:
        prog.sizeof("printk_log")
    except (CrashpyError, LookupError):  # no type information at all
        try:
            prog.sizeof("log")
        except (CrashpyError, LookupError):
            return False
    return True


MAX_LOG_BUF = 1 << 31


def read_variable_log(prog: ProgramLike, layout: VariableLayout | None = None) -> PrintkLog:
    """The records of the variable-length log_buf from log_first_idx to log_next_idx, as crash walks
    them (a zero `len` marks the end of the buffer: the walk goes on at its start)."""
    lay = layout or variable_layout(prog)
    log = PrintkLog("variable", has_caller_id=lay.caller_id is not None)
    first = symbol_data(prog, "log_first_idx", 4)
    last = symbol_data(prog, "log_next_idx", 4)
    buf_len = symbol_data(prog, "log_buf_len", 4)
    buf_addr = symbol_data(prog, "log_buf", 8)
    if buf_len > MAX_LOG_BUF:
        log.warnings.append("cannot read log_buf contents")
        return log
    buf = SparseBuffer(prog, buf_addr, buf_len, "log_buf contents")
    seen: set[int] = set()
    idx = first
    while idx != last:
        if idx + lay.size > buf_len:
            log.entries.append(LogNote("invalid log_buf entry encountered"))
            break
        bad = buf.fault(idx, lay.size)
        if bad is not None:  # the header is unreadable: its length too, so look for the next one
            log.entries.append(MissingRecord(bad, address=buf_addr + idx))
            resync = _variable_resync(buf, lay, idx, first, last)
            if resync is None:
                break
            idx = resync
            continue
        msglen = buf.u16(idx + lay.len)
        ptr = idx if msglen else 0  # log_from_idx(): a zero length wraps to the start
        log.entries.append(_variable_entry(lay, buf, ptr))
        if ptr in seen:
            log.entries.append(LogNote("duplicate log_buf message pointer"))
            break
        seen.add(ptr)
        if msglen:  # log_next()
            idx += msglen
        else:
            if buf.fault(lay.len, 2) is not None:
                break
            idx = buf.u16(lay.len)
        if idx >= buf_len:
            if first > last:
                idx = 0
            else:
                log.entries.append(LogNote("invalid log_buf entry encountered"))
                break
    return log


def _variable_entry(lay: VariableLayout, buf: SparseBuffer, ptr: int) -> LogEntry:
    if ptr + lay.size > buf.size:
        return LogNote("invalid log_buf entry encountered")
    address = buf.address + ptr
    bad = buf.fault(ptr, lay.size)
    if bad is not None:
        return MissingRecord(bad, address=address)
    text_len = buf.u16(ptr + lay.text_len)
    dict_len = buf.u16(ptr + lay.dict_len)
    flags_level = buf.data[ptr + lay.level_byte]
    msg = ptr + lay.size
    end = min(msg + text_len + dict_len, buf.size)
    bad = buf.fault(msg, end - msg)
    if bad is not None:
        return MissingRecord(bad, address=address)
    text_end = min(msg + text_len, end)
    return PrintkRecord(
        seq=None,
        ts_nsec=buf.u64(ptr + lay.ts_nsec),
        level=flags_level >> 5,
        facility=buf.data[ptr + lay.facility],
        flags=flags_level & 0x1F,
        caller_id=buf.u32(ptr + lay.caller_id) if lay.caller_id is not None else None,
        text=bytes(buf.data[msg:text_end]),
        dict=bytes(buf.data[text_end:end]),
        address=address,
    )


def _variable_header_ok(buf: SparseBuffer, lay: VariableLayout, idx: int) -> bool:
    if idx + lay.size > buf.size or buf.fault(idx, lay.size) is not None:
        return False
    ln = buf.u16(idx + lay.len)
    used = lay.size + buf.u16(idx + lay.text_len) + buf.u16(idx + lay.dict_len)
    return ln == (used + 7) & ~7 and idx + ln <= buf.size  # msg_used_size(): padded to LOG_ALIGN


RESYNC_CHAIN = 4  # sane headers in a row that make a resync point believable


def _variable_resync(buf: SparseBuffer, lay: VariableLayout, idx: int, first: int, last: int) -> int | None:
    """After an unreadable record header at `idx`: the next offset (in walk order, up to log_next_idx)
    where a chain of sane headers starts, or log_next_idx itself; None when there is none."""
    spans = [(idx + 8, buf.size), (0, last + 1)] if idx > last else [(idx + 8, last + 1)]
    for start, stop in spans:
        cand = start
        while cand < stop:
            if cand == last:
                return cand
            if buf.fault(cand, 1) is not None:  # skip the rest of an unreadable page
                page_end = buf.page_size - (buf.address + cand) % buf.page_size
                cand += (page_end + 7) & ~7
                continue
            cur, ok = cand, 0
            while ok < RESYNC_CHAIN and cur != last and _variable_header_ok(buf, lay, cur):
                cur += buf.u16(cur + lay.len)
                ok += 1
            if ok and (ok == RESYNC_CHAIN or cur == last):
                return cand
            cand += 8
    return None


# ---- the plain text log_buf (before 3.5) -------------------------------------------------------------------


def read_plain_log(prog: ProgramLike) -> PrintkLog:
    """The text of the old character log_buf, oldest first (log_end counts every character written)."""
    log = PrintkLog("plain")
    buf_len = symbol_data(prog, "log_buf_len", 4)
    buf_addr = symbol_data(prog, "log_buf", 8)
    log_end = symbol_data(prog, "log_end", 4)
    if buf_len == 0 or buf_len > MAX_LOG_BUF:
        log.warnings.append("cannot read log_buf contents")
        return log
    try:
        data = prog.read(buf_addr, buf_len)
    except FaultError:
        log.warnings.append("cannot read log_buf contents")
        return log
    index = 0 if log_end < buf_len else log_end & (buf_len - 1)
    log.plain_level_at_start = log_end < buf_len and index == 0 and data[:1] == b"<"
    log.plain_text = data[index:] + data[:index]
    return log


# ---- which layout ----------------------------------------------------------------------------------------


def read_printk_log(prog: ProgramLike) -> PrintkLog:
    """The kernel log in whichever layout this kernel has (decided by its symbols, as crash does);
    cached on the Program."""
    cache = getattr(prog, "cache", None)
    if cache is not None:
        log: PrintkLog = cache("printk.log", lambda: _read_printk_log(prog))
        return log
    return _read_printk_log(prog)


def _read_printk_log(prog: ProgramLike) -> PrintkLog:
    if prog.has_symbol("prb"):
        return read_lockless_log(prog)
    if prog.has_symbol("log_first_idx") and prog.has_symbol("log_next_idx"):
        return read_variable_log(prog)
    return read_plain_log(prog)


_PRINTABLE = bytes(c if 0x20 <= c <= 0x7E or c in b" \t\n\v\f\r" else ord(".") for c in range(256))


def text_lines(prog: ProgramLike) -> list[str]:
    """The log's lines as `log -t` prints them (crash's '.' for unprintable bytes); unreadable
    records are left out. For searches such as the panic message."""
    log = read_printk_log(prog)
    if log.layout == "plain":
        text = log.plain_text.replace(b"\0", b"").translate(_PRINTABLE).decode("ascii")
        return text.splitlines()
    lines: list[str] = []
    for rec in log.records:
        lines += rec.text.translate(_PRINTABLE).decode("ascii").split("\n")
    return lines


def pid_max(prog: ProgramLike) -> int | None:
    """The kernel's pid_max, or None when it cannot be read."""
    try:
        return symbol_data(prog, "pid_max", 4)
    except CrashpyError:
        return None
