"""The kernel log (printk): records of the lockless ring buffer (5.10+), of the variable-length log_buf
(3.5-5.9) and the plain text log_buf before that; the audit queues; the printk-safe per-CPU buffers.

Pure functions that return data. Which layout a kernel has is decided by its own symbols (`prb`,
`log_first_idx`), never by its version. Struct offsets come from the type information (BTF) and fall
back to the VMCOREINFO entries the kernel exports for dump tools (makedumpfile's way).

An unreadable page never loses more than what lies on it: the descriptor array, the info array and
the text ring are each read with one `prog.read` where possible, and page by page around faults; a
record whose descriptor, info or text is unreadable becomes a `MissingRecord` in its place.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

from crashpy.errors import CommandError, CrashpyError, FaultError

U64 = (1 << 64) - 1
PAGE_SIZE = 4096

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


class ProgramLike(Protocol):
    """What these helpers use of crashpy.program.Program (tests pass a fake)."""

    @property
    def vmcoreinfo(self) -> VmcoreInfoLike: ...

    def read(self, addr: int, size: int, *, what: str = "") -> bytes: ...
    def read_u64(self, addr: int) -> int: ...
    def read_u32(self, addr: int) -> int: ...
    def symbol_address(self, name: str) -> int: ...
    def has_symbol(self, name: str) -> bool: ...
    def offsetof(self, struct_name: str, member: str) -> int: ...
    def sizeof(self, name: str) -> int: ...


class VmcoreInfoLike(Protocol):
    def offset(self, struct: str, member: str) -> int | None: ...
    def size(self, name: str) -> int | None: ...


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


# ---- reading ranges that may hold bad pages -----------------------------------------------------------


class SparseBuffer:
    """The bytes of [address, address + size): read in as few prog.read calls as the faults allow.

    Unreadable pages read as zeros and are remembered; `fault(off, n)` says whether a range touches one.
    """

    def __init__(self, prog: ProgramLike, address: int, size: int, what: str, page_size: int = PAGE_SIZE):
        self.address = address
        self.size = size
        self.what = what
        self.page_size = page_size
        self.data = bytearray(size)
        self.bad: list[tuple[int, int, FaultError]] = []  # (start offset, end offset, fault), ascending
        self._fill(prog)

    def _read(self, prog: ProgramLike, addr: int, size: int) -> bytes:
        return prog.read(addr, size, what=self.what)

    def _fill(self, prog: ProgramLike) -> None:
        cur, end = 0, self.size
        while cur < end:
            try:
                chunk = self._read(prog, self.address + cur, end - cur)
                self.data[cur:end] = chunk
                return
            except FaultError as e:
                fault_off = e.address - self.address
                page_start = (self.address + fault_off) & ~(self.page_size - 1)
                bad_off = max(page_start - self.address, cur)
                if not cur <= fault_off < end:
                    # The fault names an address outside what was asked: go page by page.
                    cur = self._fill_pages(prog, cur, end)
                    return
                if bad_off > cur:
                    self._fill_pages(prog, cur, bad_off, whole_first=True)
                bad_end = min(end, bad_off + self.page_size - ((self.address + bad_off) % self.page_size))
                self.bad.append((bad_off, bad_end, e))
                cur = bad_end

    def _fill_pages(self, prog: ProgramLike, start: int, end: int, whole_first: bool = False) -> int:
        if whole_first:
            try:
                self.data[start:end] = self._read(prog, self.address + start, end - start)
                return end
            except FaultError:
                pass
        cur = start
        while cur < end:
            nxt = min(end, cur + self.page_size - ((self.address + cur) % self.page_size))
            try:
                self.data[cur:nxt] = self._read(prog, self.address + cur, nxt - cur)
            except FaultError as e:
                self.bad.append((cur, nxt, e))
            cur = nxt
        self.bad.sort(key=lambda b: b[0])
        return end

    def fault(self, off: int, length: int) -> FaultError | None:
        """The fault of the first unreadable page within [off, off + length), if any."""
        if not self.bad or length <= 0:
            return None
        for start, end, e in self.bad:
            if start >= off + length:
                break
            if end > off:
                addr = self.address + max(start, off)
                return e.with_context(addr, e.space, self.what)
        return None

    def u64(self, off: int) -> int:
        return int.from_bytes(self.data[off : off + 8], "little")

    def u32(self, off: int) -> int:
        return int.from_bytes(self.data[off : off + 4], "little")

    def u16(self, off: int) -> int:
        return int.from_bytes(self.data[off : off + 2], "little")


# ---- type information with VMCOREINFO fallback ---------------------------------------------------------


def _offset(prog: ProgramLike, struct: str, member: str, vmcoreinfo_name: str | None = None) -> int | None:
    """offsetof(struct, member) from the type information, else VMCOREINFO's OFFSET(), else None."""
    try:
        return int(prog.offsetof(struct, member))
    except Exception:  # no type information or no such member: whatever the type layer raises
        pass
    vi = getattr(prog, "vmcoreinfo", None)
    if vi:
        return vi.offset(vmcoreinfo_name or struct, member)
    return None


def _bitfield_byte(prog: ProgramLike, struct: str, member: str) -> int | None:
    """The byte offset of the byte holding bit-field `member` (its bit offset / 8, as crash's
    MEMBER_OFFSET() has it), from the type information; None without it."""
    try:
        return int(prog.btf.member(struct, member).bit_offset) // 8  # type: ignore[attr-defined]
    except Exception:  # no type information or no such member
        return None


def _size(prog: ProgramLike, name: str, vmcoreinfo_name: str | None = None) -> int | None:
    try:
        return int(prog.sizeof(name))
    except Exception:  # no type information
        pass
    vi = getattr(prog, "vmcoreinfo", None)
    if vi:
        return vi.size(vmcoreinfo_name or name)
    return None


def _need(value: int | None, what: str) -> int:
    if value is None:
        raise CommandError(f"cannot determine {what}: no type information and no VMCOREINFO entry")
    return value


def _cstring(buf: bytes | bytearray, off: int, limit: int) -> bytes:
    """The NUL-terminated string at buf[off], not reading past buf[limit]."""
    end = buf.find(b"\0", off, limit)
    return bytes(buf[off : limit if end < 0 else end])


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
        return _need(_offset(prog, struct, member), f"offsetof({struct}, {member})")

    text_len = off("printk_info", "text_len")
    # `facility` and the flags/level bitfield byte follow text_len (struct printk_info, 5.10+);
    # VMCOREINFO names neither, so without type information they are placed from text_len.
    facility = _offset(prog, "printk_info", "facility")
    if facility is None:
        facility = text_len + 2
    level_byte = _bitfield_byte(prog, "printk_info", "level")
    if level_byte is None:
        level_byte = facility + 1
    counter = _offset(prog, "atomic_long_t", "counter")
    desc_ring = off("printk_ringbuffer", "desc_ring")
    text_data_ring = off("printk_ringbuffer", "text_data_ring")
    rb_size = _size(prog, "printk_ringbuffer")
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
        desc_size=_need(_size(prog, "prb_desc"), "sizeof(struct prb_desc)"),
        state_var=off("prb_desc", "state_var"),
        text_blk_lpos=off("prb_desc", "text_blk_lpos"),
        lpos_begin=off("prb_data_blk_lpos", "begin"),
        lpos_next=off("prb_data_blk_lpos", "next"),
        info_size=_need(_size(prog, "printk_info"), "sizeof(struct printk_info)"),
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
        prb = _symbol_data(prog, "prb", 8)
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
    subsystem = _cstring(infos.data, dev + lay.subsystem, info_end)
    device = _cstring(infos.data, dev + lay.device, info_end)

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
        size = _size(prog, name)
        if size is None:
            continue
        ts = _offset(prog, name, "ts_nsec")
        ln = _offset(prog, name, "len")
        tl = _offset(prog, name, "text_len")
        dl = _offset(prog, name, "dict_len")
        if ts is None or ln is None or tl is None or dl is None:
            continue
        # `u8 facility; u8 flags:5; u8 level:3;` follow dict_len; VMCOREINFO names neither.
        facility = _offset(prog, name, "facility")
        if facility is None:
            facility = dl + 2
        level_byte = _bitfield_byte(prog, name, "level")
        if level_byte is None:
            level_byte = facility + 1
        caller = _offset(prog, name, "caller_id")
        if caller is None and not _has_type_info(prog) and size >= level_byte + 1 + 4:
            caller = (level_byte + 1 + 3) & ~3  # `u32 caller_id` makes the record larger
        return VariableLayout(size, ts, ln, tl, dl, level_byte, facility, caller)
    raise CommandError("log buf data structure(s) have changed")


def _has_type_info(prog: ProgramLike) -> bool:
    try:
        prog.sizeof("printk_log")
    except Exception:  # no type information at all
        try:
            prog.sizeof("log")
        except Exception:
            return False
    return True


MAX_LOG_BUF = 1 << 31


def read_variable_log(prog: ProgramLike, layout: VariableLayout | None = None) -> PrintkLog:
    """The records of the variable-length log_buf from log_first_idx to log_next_idx, as crash walks
    them (a zero `len` marks the end of the buffer: the walk goes on at its start)."""
    lay = layout or variable_layout(prog)
    log = PrintkLog("variable", has_caller_id=lay.caller_id is not None)
    first = _symbol_data(prog, "log_first_idx", 4)
    last = _symbol_data(prog, "log_next_idx", 4)
    buf_len = _symbol_data(prog, "log_buf_len", 4)
    buf_addr = _symbol_data(prog, "log_buf", 8)
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
    buf_len = _symbol_data(prog, "log_buf_len", 4)
    buf_addr = _symbol_data(prog, "log_buf", 8)
    log_end = _symbol_data(prog, "log_end", 4)
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
        return _symbol_data(prog, "pid_max", 4)
    except CrashpyError:
        return None


# ---- the boot time crash computes for `log -T` ---------------------------------------------------------------


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
        tick = _symbol_data(prog, "tick_nsec", 8) if prog.has_symbol("tick_nsec") else 0
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
            slice_async = _symbol_data(prog, "cfq_slice_async", 4)
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
    xtime = _offset(prog, "timekeeper", "xtime")  # a struct timespec: tv_sec first
    xtime_sec = _offset(prog, "timekeeper", "xtime_sec")
    candidates: list[tuple[str, int]] = []
    if xtime is not None:
        candidates.append(("timekeeper", xtime))
    elif xtime_sec is not None:
        candidates += [("timekeeper", xtime_sec), ("shadow_timekeeper", xtime_sec)]
    candidates.append(("xtime", 0))
    for name, off in candidates:
        if prog.has_symbol(name):
            try:
                return _signed64(prog.read_u64(prog.symbol_address(name) + off))
            except FaultError:
                return 0
    return 0


def crash_uptime_jiffies(prog: ProgramLike, hz: int) -> int:
    """jiffies since boot as crash's get_uptime() computes them from jiffies_64 (INITIAL_JIFFIES
    is -300 s of jiffies, truncated to 32 bits)."""
    if prog.has_symbol("jiffies_64"):
        j = _symbol_data(prog, "jiffies_64", 8)
        wrapped = j & 0xFFFFFFFF00000000
        if wrapped:
            wrapped = (wrapped - 0x100000000) & U64
            j = ((j & 0xFFFFFFFF) | wrapped) + 300 * hz
        else:
            j = j - ((-300 * hz) & 0xFFFFFFFF)
        return j & U64
    return _symbol_data(prog, "jiffies", 8)


def boot_time(prog: ProgramLike, hz: int) -> int:
    """The boot time (seconds since the epoch) as crash derives it for `log -T` (task_init():
    kt->boot_date): xtime less the uptime, jiffies since boot divided by `hz`."""
    uptime = crash_uptime_jiffies(prog, hz) // hz
    return _signed64((wall_clock_seconds(prog) - uptime) & U64)


def crash_boot_time(prog: ProgramLike) -> int:
    """boot_time() with the HZ crash assumes (crash_hz): exactly crash's kt->boot_date."""
    return boot_time(prog, crash_hz(prog))


def _signed64(v: int) -> int:
    v &= U64
    return v - (1 << 64) if v >> 63 else v


# ---- the audit queues (crash: dump_audit) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRecord:
    queue: str  # the sk_buff_head symbol it was queued on
    type: int  # nlmsghdr.nlmsg_type
    text: bytes  # the message after the netlink header, up to its first NUL


AUDIT_QUEUES_OLD = ("audit_skb_hold_queue", "audit_skb_queue")  # before 4.11
AUDIT_QUEUES = ("audit_hold_queue", "audit_retry_queue", "audit_queue")
NLMSG_ALIGNTO = 4


def audit_queue_names(prog: ProgramLike) -> tuple[str, ...] | None:
    """The kernel's audit sk_buff queues in the order crash dumps them, or None (no audit)."""
    names: tuple[str, ...]
    if prog.has_symbol("audit_skb_queue"):
        names = AUDIT_QUEUES_OLD
    elif prog.has_symbol("audit_queue"):
        names = AUDIT_QUEUES
    else:
        return None
    return tuple(n for n in names if prog.has_symbol(n))


def iter_audit_records(prog: ProgramLike, queue: str) -> Iterator[AuditRecord]:
    """The records on one audit queue (struct sk_buff_head), head to tail. A read that fails
    raises FaultError after the records before it were yielded, as crash stops there."""

    def off(struct: str, member: str) -> int:
        return _need(_offset(prog, struct, member), f"offsetof({struct}, {member})")

    head = prog.symbol_address(queue)
    qlen = _read(prog, head + off("sk_buff_head", "qlen"), 4, "audit_skb_queue.qlen")
    if not qlen:
        return
    nlmsghdr = _need(_size(prog, "nlmsghdr"), "sizeof(struct nlmsghdr)")
    hdr = (nlmsghdr + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1)  # NLMSG_DATA()
    type_off = off("nlmsghdr", "nlmsg_type")
    skb_len, skb_data, skb_next = off("sk_buff", "len"), off("sk_buff", "data"), off("sk_buff", "next")
    p = _read(prog, head + off("sk_buff_head", "next"), 8, "audit_skb_queue.next")
    if not p:
        raise CommandError("audit_skb_queue.next: NULL")
    seen: set[int] = set()
    while True:
        if p in seen:  # a loop that does not come back to the head
            return
        seen.add(p)
        length = _read(prog, p + skb_len, 4, "sk_buff.len")
        data_len = (length - hdr) & 0xFFFFFFFF
        data = _read(prog, p + skb_data, 8, "sk_buff.data")
        if not data:
            raise CommandError("sk_buff.data: NULL")
        nlmsg_type = _read(prog, data + type_off, 2, "nlmsghdr.nlmsg_type")
        if data_len > (1 << 20):  # a corrupt length: crash would try to allocate it
            data_len = 0
        raw = _read_bytes(prog, data + hdr, data_len, "sk_buff.data + sizeof(struct nlmsghdr)")
        nul = raw.find(b"\0")
        yield AuditRecord(queue, nlmsg_type, raw if nul < 0 else raw[:nul])
        p = _read(prog, p + skb_next, 8, "skb_buff.next")
        if p == head:
            return


def _symbol_data(prog: ProgramLike, name: str, size: int) -> int:
    """The little-endian integer in kernel variable `name` (crash: get_symbol_data; a fault names it)."""
    return _read(prog, prog.symbol_address(name), size, name)


def _read_bytes(prog: ProgramLike, addr: int, size: int, what: str) -> bytes:
    return prog.read(addr, size, what=what)


def _read(prog: ProgramLike, addr: int, size: int, what: str) -> int:
    return int.from_bytes(_read_bytes(prog, addr, size, what), "little")


# ---- the printk-safe per-CPU buffers (4.11-5.14; crash: dump_printk_safe_seq_buf) ------------------------------------------


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
    except Exception:  # no such struct (or no type information): crash prints nothing
        return None
    try:
        ln = int(prog.offsetof("printk_safe_seq_buf", "len"))
        lost = int(prog.offsetof("printk_safe_seq_buf", "message_lost"))
        buf = int(prog.offsetof("printk_safe_seq_buf", "buffer"))
    except Exception as e:
        raise CommandError("-s not supported with this kernel version") from e
    counter = _offset(prog, "atomic_t", "counter") or 0
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
        ln = _signed32(_read(prog, addr + layout.len + layout.counter, 4, "printk_safe_seq_buf len"))
        lost = 0
        if message_lost:
            lost_addr = addr + layout.message_lost + layout.counter
            lost = _signed32(_read(prog, lost_addr, 4, "printk_safe_seq_buf message_lost"))
        buffer = b""
        if ln > 0:
            buffer = _read_bytes(prog, addr + layout.buffer, layout.buffer_size, "printk_safe_seq_buf buffer")
        yield SafeSeqBufCpu(cpu, addr, ln, lost, buffer)


def _signed32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v
