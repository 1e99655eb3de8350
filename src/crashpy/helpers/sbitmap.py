"""Scalable bitmaps: struct sbitmap (its words and their cleared bits) and struct sbitmap_queue.

Kernel knowledge behind `sbitmapq` and `dev -d`'s blk-mq counts: where the depth, word shift, word
count and per-CPU allocation hint live (the hint and round_robin moved from sbitmap_queue into sbitmap
in 5.13; sbitmap_word.cleared appeared in 5.0), which bits are busy (word & ~cleared, within each
word's depth), and the state of the queue's wait queues.  Rows only; commands/sbitmapq.py prints them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, FaultError
from crashpy.helpers.crash_reads import read_as_crash

if TYPE_CHECKING:
    from crashpy.program import Program

SBQ_WAIT_QUEUES = 8
MASK64 = (1 << 64) - 1


@dataclass
class Sbitmap:
    """A struct sbitmap's fields and its words as (word, cleared) pairs."""

    depth: int
    shift: int
    map_nr: int
    map_addr: int
    alloc_hint: int = 0  # per-CPU unsigned int * (5.13 and later)
    round_robin: bool | None = None  # None: not a member of struct sbitmap
    words: list[tuple[int, int]] = field(default_factory=list)

    def word_depth(self, index: int) -> int:
        shift = self.shift & 31  # C's unsigned int shift (x86 takes the count modulo 32): a damaged
        if index == self.map_nr - 1:  # shift must not make a number of gigabytes
            return (self.depth - (index << shift)) & 0xFFFFFFFF
        return (1 << shift) & 0xFFFFFFFF


@dataclass
class SbitmapQueue:
    """A struct sbitmap_queue: its sbitmap and the queue's own fields (None where the kernel has no such member)."""

    address: int
    sb: Sbitmap
    wake_batch: int
    wake_index: int
    ws_addr: int
    ws_active: int | None
    round_robin: bool | None
    min_shallow_depth: int | None
    alloc_hint: int | None  # per-CPU pointer, before 5.13


def _int(buf: bytes, off: int, size: int, signed: bool = False) -> int:
    return int.from_bytes(buf[off : off + size], "little", signed=signed)


def has_sbitmap(prog: Program) -> bool:
    from crashpy.errors import CrashpyError
    from crashpy.object import lookup_type

    try:
        lookup_type(prog, "struct sbitmap")
    except CrashpyError:
        return False
    return prog.sizeof("sbitmap") > 0


def load_sbitmap(prog: Program, addr: int, *, words: bool = True) -> Sbitmap:
    """The struct sbitmap at `addr` (crash's sbitmap_context_load), its words read when `words`."""
    size = prog.sizeof("sbitmap")
    try:
        buf = read_as_crash(prog, addr, size, what="sbitmap")
    except FaultError as e:
        raise SbitmapReadError("sbitmap", e) from e
    off = {m: prog.offsetof("sbitmap", m) for m in ("depth", "shift", "map_nr", "map")}
    sb = Sbitmap(
        _int(buf, off["depth"], 4),
        _int(buf, off["shift"], 4),
        _int(buf, off["map_nr"], 4),
        _int(buf, off["map"], 8),
    )
    if prog.has_member("sbitmap", "alloc_hint"):
        sb.alloc_hint = _int(buf, prog.offsetof("sbitmap", "alloc_hint"), 8)
    if prog.has_member("sbitmap", "round_robin"):
        sb.round_robin = bool(buf[prog.offsetof("sbitmap", "round_robin")])
    if words:
        sb.words = list(read_words(prog, sb))
    return sb


class SbitmapReadError(CommandError):
    """A part of the sbitmap that does not read: crash's read error line, then its own one."""

    def __init__(self, what: str, fault: FaultError) -> None:
        super().__init__(f"cannot read {what}")
        self.fault = fault


def read_words(prog: Program, sb: Sbitmap) -> Iterator[tuple[int, int]]:
    """(word, cleared) of each of the sbitmap's map_nr words (cleared is 0 before 5.0)."""
    size = prog.sizeof("sbitmap_word")
    w_off = prog.offsetof("sbitmap_word", "word")
    c_off = prog.offsetof("sbitmap_word", "cleared") if prog.has_member("sbitmap_word", "cleared") else None
    for i in range(sb.map_nr):
        try:
            buf = read_as_crash(prog, sb.map_addr + i * size, size, what="sbitmap_word")
        except FaultError as e:
            raise SbitmapReadError("sbitmap_word", e) from e
        yield _int(buf, w_off, 8), (_int(buf, c_off, 8) if c_off is not None else 0)


def set_bits(sb: Sbitmap) -> Iterator[int]:
    """The busy bit numbers (word & ~cleared) in order, within the depth."""
    scanned = 0
    for index, (word, cleared) in enumerate(sb.words):
        if scanned >= sb.depth:
            break
        depth = min(sb.word_depth(index), sb.depth - scanned)
        scanned += depth
        busy = word & ~cleared & MASK64
        for nr in range(min(depth, 64)):
            if busy >> nr & 1:
                yield ((index << (sb.shift & 63)) + nr) & MASK64


def sbitmap_set_bits(prog: Program, addr: int) -> list[int]:
    """The busy bits of the struct sbitmap at `addr`."""
    return list(set_bits(load_sbitmap(prog, addr)))


def _weight(value: int, bits: int) -> int:
    """The bits set among the low `bits` of a word (crash 8.0.6 counts a short word's bits twice:
    the whole word, then the masked one again; the kernel's sbitmap_weight counts them once)."""
    return bin(value & (MASK64 >> (-bits & 63) if bits % 64 else MASK64)).count("1")


def weight(sb: Sbitmap, cleared: bool = False) -> int:
    return sum(_weight(c if cleared else w, sb.word_depth(i)) for i, (w, c) in enumerate(sb.words))


def bitmap_bytes(sb: Sbitmap) -> bytes:
    """The busy bits packed into bytes, low bit first, word after word (each word its depth's bits)."""
    out = bytearray()
    byte = byte_bits = 0
    for i, (word, cleared) in enumerate(sb.words):
        word &= ~cleared & MASK64
        bits_left = sb.word_depth(i)
        while bits_left > 0:
            n = min(8 - byte_bits, bits_left)
            byte |= (word & ((1 << n) - 1)) << byte_bits
            byte_bits += n
            if byte_bits == 8:
                out.append(byte)
                byte = byte_bits = 0
            word >>= n
            bits_left -= n
    if byte_bits:
        out.append(byte)
    return bytes(out)


def load_queue(prog: Program, addr: int) -> SbitmapQueue:
    """The struct sbitmap_queue at `addr` and its sbitmap (crash's sbitmap_queue_context_load)."""
    size = prog.sizeof("sbitmap_queue")
    try:
        buf = read_as_crash(prog, addr, size, what="sbitmap_queue")
    except FaultError as e:
        raise SbitmapReadError("sbitmap_queue", e) from e

    def opt(member: str, width: int, signed: bool = False) -> int | None:
        if not prog.has_member("sbitmap_queue", member):
            return None
        return _int(buf, prog.offsetof("sbitmap_queue", member), width, signed)

    rr = opt("round_robin", 1)
    sb = load_sbitmap(prog, addr + prog.offsetof("sbitmap_queue", "sb"))
    return SbitmapQueue(
        addr,
        sb,
        _int(buf, prog.offsetof("sbitmap_queue", "wake_batch"), 4),
        _int(buf, prog.offsetof("sbitmap_queue", "wake_index"), 4, True),
        _int(buf, prog.offsetof("sbitmap_queue", "ws"), 8),
        opt("ws_active", 4, True),
        None if rr is None else bool(rr),
        opt("min_shallow_depth", 4),
        opt("alloc_hint", 8),
    )


def possible_cpus(prog: Program) -> int:
    """crash's get_cpus_possible(): the bits set in cpu_possible_mask."""
    for name in ("__cpu_possible_mask", "cpu_possible_mask", "cpu_possible_map"):
        if prog.has_symbol(name):
            try:
                raw = read_as_crash(prog, prog.symbol_address(name), prog.sizeof("cpumask"))
            except FaultError:
                return 0
            return bin(int.from_bytes(raw, "little")).count("1")
    return 0


def alloc_hints(prog: Program, q: SbitmapQueue) -> list[int]:
    """Each possible CPU's allocation hint."""
    hint = q.alloc_hint if q.alloc_hint is not None else q.sb.alloc_hint
    base = prog.symbol_address("__per_cpu_offset")
    out = []
    for cpu in range(possible_cpus(prog)):
        off = int.from_bytes(read_as_crash(prog, base + 8 * cpu, 8), "little")
        out.append(int.from_bytes(read_as_crash(prog, (off + hint) & MASK64, 4, what="alloc_hint"), "little"))
    return out


def wait_states(prog: Program, q: SbitmapQueue) -> list[tuple[int | None, bool]]:
    """(wait_cnt, active) of each of the SBQ_WAIT_QUEUES sbq_wait_state: active when its wait list's
    next and prev differ; wait_cnt None where the kernel has none (6.1's stable updates and 6.2 on)."""
    size = prog.sizeof("sbq_wait_state")
    cnt_off = (
        prog.offsetof("sbq_wait_state", "wait_cnt") if prog.has_member("sbq_wait_state", "wait_cnt") else None
    )
    head = prog.offsetof("sbq_wait_state", "wait") + prog.offsetof("wait_queue_head", "head")
    out: list[tuple[int | None, bool]] = []
    for i in range(SBQ_WAIT_QUEUES):
        try:
            buf = read_as_crash(prog, q.ws_addr + size * i, size, what="sbq_wait_state")
        except FaultError as e:
            raise SbitmapReadError("sbq_wait_state", e) from e
        cnt = _int(buf, cnt_off, 4, True) & MASK64 if cnt_off is not None else None
        out.append((cnt, _int(buf, head, 8) != _int(buf, head + 8, 8)))
    return out
