"""`log` and helpers/printk.py on synthetic kernels: a fake Program over a memory image built here."""

from __future__ import annotations

import io
import re
import struct
import time
from dataclasses import dataclass

import pytest

from crashpy.commands import log as logcmd
from crashpy.dumpfile.vmcoreinfo import VmcoreInfo
from crashpy.errors import AddressSpace, FaultError, FaultKind
from crashpy.helpers import printk
from crashpy.helpers.printk import DESC_FLAGS_SHIFT, MissingRecord, PrintkRecord

PAGE = 4096
BASE = 0xFFFF888000000000


class FakeProgram:
    """Program's read/symbol/type API over one flat image mapped at BASE; `bad` pages fault."""

    def __init__(
        self,
        image: bytearray,
        symbols: dict[str, int],
        offsets: dict[tuple[str, str], int] | None,
        sizes: dict[str, int] | None,
        vmcoreinfo: str = "",
    ) -> None:
        self.image = image
        self.symbols = symbols
        self.offsets = offsets
        self.sizes = sizes
        self.vmcoreinfo = VmcoreInfo(vmcoreinfo.encode())
        self.bad: set[int] = set()  # page addresses
        self.reads = 0
        self.percpu_offsets = [0]
        self.symbol_sizes: dict[str, int] = {}
        self._cache: dict[str, object] = {}

    def read(self, addr: int, size: int, what: str = "") -> bytes:
        self.reads += 1
        page = addr & ~(PAGE - 1)
        while page < addr + size:
            if page in self.bad:
                raise FaultError(max(page, addr), FaultKind.EXCLUDED, AddressSpace.KVADDR, what)
            page += PAGE
        off = addr - BASE
        if off < 0 or off + size > len(self.image):
            raise FaultError(addr, FaultKind.INVALID, AddressSpace.KVADDR, what)
        return bytes(self.image[off : off + size])

    def read_u64(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 8), "little")

    def read_u32(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 4), "little")

    def symbol_address(self, name: str) -> int:
        return self.symbols[name]

    def has_symbol(self, name: str) -> bool:
        return name in self.symbols

    def offsetof(self, struct_name: str, member: str) -> int:
        if self.offsets is None:
            raise LookupError("no type information")
        return self.offsets[(struct_name, member)]

    def sizeof(self, name: str) -> int:
        if self.sizes is None:
            raise LookupError("no type information")
        return self.sizes[name]

    def symbol(self, name: str) -> object:
        sizes = self.symbol_sizes

        class Sym:
            address = self.symbols[name]
            size = sizes.get(name, 0)

        return Sym()

    def cache(self, key: str, factory):  # type: ignore[no-untyped-def]
        if key not in self._cache:
            self._cache[key] = factory()
        return self._cache[key]


class Image:
    """A growing memory image: allocate page-aligned areas, write into them."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.symbols: dict[str, int] = {}

    def alloc(self, size: int, name: str | None = None, align: int = PAGE) -> int:
        start = (len(self.buf) + align - 1) // align * align
        self.buf.extend(b"\0" * (start + size - len(self.buf)))
        if name:
            self.symbols[name] = BASE + start
        return BASE + start

    def write(self, addr: int, data: bytes) -> None:
        self.buf[addr - BASE : addr - BASE + len(data)] = data


# ---- the lockless ring buffer (6.1 layout) -----------------------------------------------------------------

LOCKLESS_OFFSETS = {
    ("printk_ringbuffer", "desc_ring"): 0,
    ("printk_ringbuffer", "text_data_ring"): 48,
    ("printk_ringbuffer", "fail"): 80,
    ("prb_desc_ring", "count_bits"): 0,
    ("prb_desc_ring", "descs"): 8,
    ("prb_desc_ring", "infos"): 16,
    ("prb_desc_ring", "head_id"): 24,
    ("prb_desc_ring", "tail_id"): 32,
    ("prb_data_ring", "size_bits"): 0,
    ("prb_data_ring", "data"): 8,
    ("prb_data_ring", "head_lpos"): 16,
    ("prb_data_ring", "tail_lpos"): 24,
    ("prb_desc", "state_var"): 0,
    ("prb_desc", "text_blk_lpos"): 8,
    ("prb_data_blk_lpos", "begin"): 0,
    ("prb_data_blk_lpos", "next"): 8,
    ("printk_info", "seq"): 0,
    ("printk_info", "ts_nsec"): 8,
    ("printk_info", "text_len"): 16,
    ("printk_info", "facility"): 18,
    ("printk_info", "caller_id"): 20,
    ("printk_info", "dev_info"): 24,
    ("dev_printk_info", "subsystem"): 0,
    ("dev_printk_info", "device"): 16,
    ("atomic_long_t", "counter"): 0,
}
LOCKLESS_SIZES = {"printk_ringbuffer": 88, "prb_desc": 24, "printk_info": 88, "prb_data_blk_lpos": 16}

# What kernel/printk/printk.c: log_buf_vmcoreinfo_setup() exports (no level, no facility).
LOCKLESS_VMCOREINFO = "\n".join(
    [f"OFFSET({s}.{m})={v}" for (s, m), v in LOCKLESS_OFFSETS.items() if m not in ("facility",)]
    + [f"SIZE({n})={v}" for n, v in LOCKLESS_SIZES.items()]
)

COMMITTED, FINALIZED, REUSABLE, RESERVED = 1, 2, 3, 0


@dataclass
class Rec:
    text: bytes
    ts: int = 0
    level: int = 6
    caller: int = 1
    subsystem: bytes = b""
    device: bytes = b""
    state: int = FINALIZED
    dataless: bool = False
    facility: int = 0
    flags: int = 0


def build_lockless(
    records: list[Rec],
    count_bits: int = 4,
    size_bits: int = 8,
    first_id: int = 0,
    start_lpos: int = 0,
    info_align: int = PAGE,
) -> tuple[FakeProgram, Image, dict[str, int]]:
    """A printk_ringbuffer holding `records`, written as the kernel writes them: ids from first_id,
    data blocks (id + text, aligned to 8) from logical position start_lpos, wrapping blocks placed
    at the start of the ring."""
    img = Image()
    count, size = 1 << count_bits, 1 << size_bits
    prb = img.alloc(88, "_printk_rb_static")
    ptr = img.alloc(8, "prb")
    img.write(ptr, struct.pack("<Q", prb))
    descs = img.alloc(24 * count)
    infos = img.alloc(88 * count, align=info_align)
    data = img.alloc(size)
    img.symbols["pid_max"] = img.alloc(4, align=8)
    img.write(img.symbols["pid_max"], struct.pack("<I", 32768))
    lpos = start_lpos
    ids = []
    for n, rec in enumerate(records):
        desc_id = first_id + n
        ids.append(desc_id)
        idx = desc_id % count
        if rec.dataless:
            begin = nxt = 3  # NO_LPOS
        else:
            blk = (8 + len(rec.text) + 7) & ~7
            begin = lpos
            end = lpos + blk
            if begin // size != (end - 1) // size and end % size:  # wraps: data at the start
                end = (end // size) * size + blk
                at = 0
            else:
                at = begin % size
            img.write(data + at, struct.pack("<Q", desc_id) + rec.text)
            nxt = end
            lpos = end
        sv = (rec.state << DESC_FLAGS_SHIFT) | desc_id
        img.write(descs + idx * 24, struct.pack("<QQQ", sv, begin, nxt))
        info = struct.pack(
            "<QQHBBI16s48s",
            n + 100,  # seq
            rec.ts,
            len(rec.text),
            rec.facility,
            rec.flags | rec.level << 5,
            rec.caller,
            rec.subsystem,
            rec.device,
        )
        img.write(infos + idx * 88, info)
    tail, head = ids[0], ids[-1]
    img.write(prb, struct.pack("<I4xQQQQ", count_bits, descs, infos, head, tail))
    img.write(prb + 48, struct.pack("<I4xQ", size_bits, data))
    prog = FakeProgram(img.buf, img.symbols, dict(LOCKLESS_OFFSETS), dict(LOCKLESS_SIZES))
    return prog, img, {"descs": descs, "infos": infos, "data": data}


class FakeBTF:
    def member(self, struct_name: str, member: str) -> object:
        assert (struct_name, member) == ("printk_info", "level")

        class M:
            bit_offset = 19 * 8 + 5

        return M()


def render(prog: FakeProgram, opts: str = "", boot: int = 0) -> str:
    log = printk.read_printk_log(prog)
    o, bad = logcmd.parse_options([opts] if opts else [])
    assert not bad
    width = logcmd.caller_width(printk.pid_max(prog)) if log.layout == "lockless" else 8
    return logcmd.format_log(log, o, boot, width)


def test_lockless_basic() -> None:
    prog, _, _ = build_lockless(
        [
            Rec(b"Linux version 6.1", ts=0, level=5, caller=0),
            Rec(b"second", ts=1_234_567_890, level=6, caller=1),
            Rec(b"from an irq", ts=12_000_001_000, level=4, caller=printk.CALLER_CPU | 1),
        ]
    )
    assert render(prog) == (
        "[    0.000000] Linux version 6.1\n[    1.234567] second\n[   12.000001] from an irq\n"
    )
    assert render(prog, "-t") == "Linux version 6.1\nsecond\nfrom an irq\n"
    assert render(prog, "-m") == (
        "[    0.000000] <5>Linux version 6.1\n[    1.234567] <6>second\n[   12.000001] <4>from an irq\n"
    )
    assert render(prog, "-c") == (
        "[    0.000000] [    T0] Linux version 6.1\n"
        "[    1.234567] [    T1] second\n"
        "[   12.000001] [    C1] from an irq\n"
    )
    assert (
        render(prog, "-tcm") == "[    T0] <5>Linux version 6.1\n[    T1] <6>second\n[    C1] <4>from an irq\n"
    )
    recs = printk.read_printk_log(prog).records
    assert [r.seq for r in recs] == [100, 101, 102]
    assert [r.level for r in recs] == [5, 6, 4]


def test_caller_width_follows_pid_max() -> None:
    assert [logcmd.caller_width(p) for p in (32768, 99999, 100000, 999999, 4194304, None)] == [
        6,
        6,
        7,
        7,
        8,
        8,
    ]


def test_lockless_multiline_and_unprintable() -> None:
    prog, _, _ = build_lockless([Rec(b"first line\nsecond\tline\x01\x7f\xe9\n", ts=5_000_000)])
    assert render(prog) == "[    0.005000] first line\n               second\tline...\n               \n"
    assert render(prog, "-tm") == "<6>first line\n   second\tline...\n   \n"


def test_lockless_dev_info() -> None:
    prog, _, _ = build_lockless(
        [
            Rec(b"virtio-pci 0000:00:02.0: enabling device", subsystem=b"pci", device=b"+pci:0000:00:02.0"),
            Rec(b"plain message"),
            Rec(b"only a subsystem", subsystem=b"acpi"),
        ]
    )
    assert render(prog, "-d") == (
        "[    0.000000] virtio-pci 0000:00:02.0: enabling device\n"
        "               SUBSYSTEM=pci\n"
        "               DEVICE=+pci:0000:00:02.0\n"
        "[    0.000000] plain message\n"
        "[    0.000000] only a subsystem\n"
        "               SUBSYSTEM=acpi\n"
    )
    assert render(prog, "-td").splitlines()[1:3] == ["SUBSYSTEM=pci", "DEVICE=+pci:0000:00:02.0"]


def test_lockless_states_and_dataless() -> None:
    prog, _, _ = build_lockless(
        [
            Rec(b"kept"),
            Rec(b"reusable", state=REUSABLE),
            Rec(b"", dataless=True),
            Rec(b"committed", state=COMMITTED),
            Rec(b"being written", state=RESERVED),
        ]
    )
    # A data-less record is an empty line without a timestamp, as crash prints it.
    assert render(prog) == "[    0.000000] kept\n\n[    0.000000] committed\n"


def test_lockless_wraps_and_reuses_descriptors() -> None:
    # 16 descriptors, 256 bytes of text: ids 40..49 fill descriptors 8..15 and 0..1; the text ring
    # is on its third lap, and the block of "message 5" (at 240) does not fit before the ring's end:
    # its data sits at the ring's start.
    texts = [b"message %d" % i for i in range(7)] + [b"a longer data block here", b"after", b"last"]
    prog, _, _ = build_lockless(
        [Rec(t, ts=i * 1000) for i, t in enumerate(texts)], first_id=40, start_lpos=2 * 256 + 120
    )
    log = printk.read_printk_log(prog)
    assert [r.text for r in log.records] == texts
    assert [r.desc_id for r in log.records] == list(range(40, 50))
    # An id that no longer matches its descriptor (overwritten) is skipped.
    prog2, img, areas = build_lockless([Rec(b"x%d" % i) for i in range(5)], first_id=16)
    img.write(areas["descs"] + 2 * 24, struct.pack("<Q", (FINALIZED << DESC_FLAGS_SHIFT) | 34))
    assert [r.text for r in printk.read_printk_log(prog2).records] == [b"x0", b"x1", b"x3", b"x4"]


def test_lockless_span_longer_than_ring() -> None:
    # A corrupt head_id far past tail_id: the ids crash would print are those whose descriptors
    # hold an id in the span, in id order.
    prog, img, _ = build_lockless([Rec(b"x%d" % i) for i in range(5)], first_id=16)
    img.write(prog.symbols["_printk_rb_static"] + 24, struct.pack("<Q", 16 + 1000))
    assert [r.text for r in printk.read_printk_log(prog).records] == [b"x%d" % i for i in range(5)]


def test_lockless_truncated_record() -> None:
    prog, img, areas = build_lockless([Rec(b"0123456789abcdef")])
    # Claim a longer text than the block holds: crash prints what the block has.
    img.write(areas["infos"] + 16, struct.pack("<H", 200))
    assert printk.read_printk_log(prog).records[0].text == b"0123456789abcdef"


def test_lockless_missing_text_page() -> None:
    # 12 bits of text (3 pages): messages of 400 bytes, so about 10 per page.
    recs = [Rec(b"%03d " % i + b"x" * 396, ts=i) for i in range(30)]
    prog, _, areas = build_lockless(recs, count_bits=6, size_bits=14)
    prog.bad.add(areas["data"] + PAGE)
    prog.reads = 0
    log = printk.read_printk_log(prog)
    missing = log.missing
    assert missing and all(m.fault.kind is FaultKind.EXCLUDED for m in missing)
    assert all(areas["data"] + PAGE <= m.fault.address < areas["data"] + 2 * PAGE for m in missing)
    assert all(m.fault.what == "prb_text_data_ring contents" for m in missing)
    got = [r.text[:3] for r in log.records]
    lost = {m.seq - 100 for m in missing if m.seq is not None}
    assert len(got) + len(missing) == 30
    assert sorted(int(t) for t in got) == sorted(set(range(30)) - lost)
    # A handful of reads, not one per page or per record.
    assert prog.reads <= 10
    out = render(prog)
    assert re.search(
        r"^log: 11 records unreadable \(seq 110 to seq 120\): page excluded: kernel virtual address: "
        r"ffff888000006000  type: \"prb_text_data_ring contents\"$",
        out,
        re.M,
    )
    assert out.count("\n") == len(got) + 1  # the run of missing records is one line


def test_lockless_missing_info_page() -> None:
    recs = [Rec(b"m%d" % i) for i in range(60)]
    prog, _, areas = build_lockless(recs, count_bits=6, size_bits=12)
    prog.bad.add(areas["infos"] + PAGE)  # infos 46..63 (88 bytes each)
    log = printk.read_printk_log(prog)
    lost = [m.desc_id for m in log.missing]
    assert lost == list(range(46, 60))  # info 46 straddles the page boundary
    assert [r.text for r in log.records] == [b"m%d" % i for i in range(46)]
    line = render(prog).splitlines()[-1]
    assert line.startswith("log: 14 records unreadable (descriptor 46 to descriptor 59): page excluded:")
    assert 'type: "prb_info_ring contents"' in line


def test_lockless_unreadable_header() -> None:
    prog, _, _ = build_lockless([Rec(b"a")])
    prog.bad.add(prog.symbols["_printk_rb_static"])
    assert render(prog) == "\nWARNING: cannot read printk_ringbuffer contents\n"


def test_lockless_recovered_from_static_arrays() -> None:
    texts = [b"message %d" % i for i in range(12)]
    states = [FINALIZED] * 11 + [RESERVED]
    recs = [Rec(t, ts=i, state=st) for i, (t, st) in enumerate(zip(texts, states, strict=True))]
    prog, _, areas = build_lockless(recs, first_id=40, start_lpos=300)
    expected = printk.read_printk_log(prog).records
    assert len(expected) == 11
    for name, area, size in (
        ("_printk_rb_static_descs", areas["descs"], 16 * 24),
        ("_printk_rb_static_infos", areas["infos"], 16 * 88),
        ("__log_buf", areas["data"], 256),
    ):
        prog.symbols[name] = area
        prog.symbol_sizes[name] = size
    header = FakeProgram(prog.image, prog.symbols, dict(LOCKLESS_OFFSETS), dict(LOCKLESS_SIZES))
    header.symbol_sizes = prog.symbol_sizes
    header.bad.add(prog.symbols["_printk_rb_static"])
    log = printk.read_printk_log(header)
    assert log.records == expected and not log.warnings
    assert log.notes == [
        'page excluded: kernel virtual address: ffff888000000000  type: "printk_ringbuffer contents": '
        "the log is read from _printk_rb_static_descs, _printk_rb_static_infos, __log_buf"
    ]
    assert render(header).startswith("log: page excluded: kernel virtual address: ffff888000000000")
    # Without its pointer either: the same.
    pointer = FakeProgram(prog.image, prog.symbols, dict(LOCKLESS_OFFSETS), dict(LOCKLESS_SIZES))
    pointer.symbol_sizes = prog.symbol_sizes
    pointer.bad.add(prog.symbols["prb"])
    assert printk.read_printk_log(pointer).records == expected
    # Without the arrays' sizes there is nothing to go on: crash's warning.
    header.symbol_sizes = {}
    header._cache.clear()
    assert render(header) == "\nWARNING: cannot read printk_ringbuffer contents\n"


def test_lockless_from_vmcoreinfo_only() -> None:
    prog, _, _ = build_lockless([Rec(b"hello", level=3, facility=1, subsystem=b"pci")])
    ref = printk.read_printk_log(prog).records
    bare = FakeProgram(prog.image, prog.symbols, None, None, LOCKLESS_VMCOREINFO)
    got = printk.read_printk_log(bare).records
    assert got == ref and got[0].level == 3 and got[0].facility == 1


def test_level_bitfield_from_btf_member() -> None:
    prog, _, _ = build_lockless([Rec(b"hello", level=2, flags=0x1F)])
    prog.btf = FakeBTF()  # type: ignore[attr-defined]
    rec = printk.read_printk_log(prog).records[0]
    assert (rec.level, rec.flags) == (2, 0x1F)


def test_ctime_timestamps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        prog, _, _ = build_lockless([Rec(b"boot", ts=0), Rec(b"later\nmore", ts=61_500_000_000)])
        boot = 1_790_000_000
        assert render(prog, "-T", boot) == (
            "[Mon Sep 21 14:13:20 UTC 2026] boot\n"
            "[Mon Sep 21 14:14:21 UTC 2026] later\n"
            "                               more\n"
        )
        assert render(prog, "-Tt", boot) == "boot\nlater\nmore\n"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_crash_boot_time() -> None:
    img = Image()
    tk = img.alloc(256, "shadow_timekeeper")
    img.write(tk + 24, struct.pack("<Q", 1_790_000_600))
    jif = img.alloc(8, "jiffies_64", align=8)
    prog = FakeProgram(img.buf, img.symbols, {("timekeeper", "xtime_sec"): 24}, {})
    # HZ=250 kernel, 10 s up: INITIAL_JIFFIES (u32)(-300*250) plus 2500.
    img.write(jif, struct.pack("<Q", ((-300 * 250) & 0xFFFFFFFF) + 2500))
    assert printk.boot_time(prog, 250) == 1_790_000_590
    # Without a config, a CFQ or deadline scheduler, crash assumes HZ=1000:
    # (0xfffedb08 + 2500 - 0xfffb6c20) / 1000 = 227 s of uptime.
    assert printk.crash_hz(prog) == 1000
    assert printk.crash_boot_time(prog) == 1_790_000_600 - 227
    # With mq-deadline, crash has HZ from write_expire (5 * HZ): the same as tick_nsec's.
    img.symbols["dd_init_sched"] = BASE
    img.symbols["tick_nsec"] = img.alloc(8, align=8)
    img.write(img.symbols["tick_nsec"], struct.pack("<Q", 4_000_000))
    assert printk.crash_hz(prog) == 250
    assert printk.crash_boot_time(prog) == 1_790_000_590
    # After the 32-bit wrap (300 s of jiffies later).
    img.write(jif, struct.pack("<Q", ((-300 * 250) & 0xFFFFFFFF) + 250 * 400))
    assert printk.boot_time(prog, 250) == 1_790_000_600 - 400


# ---- the variable-length log_buf (3.5-5.9) ---------------------------------------------------------------------

VARIABLE_OFFSETS = {
    ("printk_log", "ts_nsec"): 0,
    ("printk_log", "len"): 8,
    ("printk_log", "text_len"): 10,
    ("printk_log", "dict_len"): 12,
    ("printk_log", "facility"): 14,
    ("printk_log", "caller_id"): 16,
}


def variable_record(text: bytes, dict_: bytes = b"", ts: int = 0, level: int = 6, flags: int = 2) -> bytes:
    size = 24 + len(text) + len(dict_)
    ln = (size + 7) & ~7
    hdr = struct.pack("<QHHHBBI4x", ts, ln, len(text), len(dict_), 0, flags | level << 5, 7)
    return (hdr + text + dict_).ljust(ln, b"\0")


def build_variable(recs: list[bytes], buf_len: int = 512, start: int = 0) -> tuple[FakeProgram, Image, int]:
    """A log_buf of printk_log records from offset `start`; a record that does not fit before the
    end goes to offset 0 after a zero-length marker, as log_store() does."""
    img = Image()
    buf = img.alloc(buf_len)
    for name in ("log_buf", "log_buf_len", "log_first_idx", "log_next_idx"):
        img.alloc(8, name, align=8)
    idx = start
    for r in recs:
        if idx + len(r) + 24 > buf_len:
            img.write(buf + idx, b"\0" * 24)
            idx = 0
        img.write(buf + idx, r)
        idx += len(r)
    img.write(img.symbols["log_buf"], struct.pack("<Q", buf))
    img.write(img.symbols["log_buf_len"], struct.pack("<I", buf_len))
    img.write(img.symbols["log_first_idx"], struct.pack("<I", start))
    img.write(img.symbols["log_next_idx"], struct.pack("<I", idx))
    prog = FakeProgram(img.buf, img.symbols, dict(VARIABLE_OFFSETS), {"printk_log": 24})
    return prog, img, buf


def test_variable_layout() -> None:
    recs = [
        variable_record(b"Linux version 4.18", ts=0, level=5),
        variable_record(b"two\nlines", ts=2_500_000_000),
        variable_record(b"e1000 0000:00:03.0: up", b"SUBSYSTEM=pci\0DEVICE=+pci:0000:00:03.0", ts=3),
        variable_record(b"wrapped to the start", ts=4_000_000),
    ]
    prog, _, _ = build_variable(recs, buf_len=320, start=96)
    log = printk.read_printk_log(prog)
    assert log.layout == "variable"
    assert [r.text for r in log.records] == [
        b"Linux version 4.18",
        b"two\nlines",
        b"e1000 0000:00:03.0: up",
        b"wrapped to the start",
    ]
    assert render(prog) == (
        "[    0.000000] Linux version 4.18\n"
        "[    2.500000] two\n"
        "               lines\n"
        "[    0.000000] e1000 0000:00:03.0: up\n"
        "[    0.004000] wrapped to the start\n"
    )
    # crash shows the low 3 bits of the flags/level byte (here LOG_NEWLINE, 2) and a caller id 8 wide.
    assert render(prog, "-tmc").splitlines()[0] == "[      T7] <2>Linux version 4.18"
    # The dictionary (38 bytes: bit 1 set, so crash shows it).
    assert render(prog, "-td").splitlines()[3:6] == [
        "e1000 0000:00:03.0: up",
        "SUBSYSTEM=pci",
        "DEVICE=+pci:0000:00:03.0",
    ]


def test_variable_dict_shown_only_when_crash_shows_it() -> None:
    # crash tests `dict_len & SHOW_LOG_DICT` (0x2): a 36-byte dictionary never shows.
    prog, _, _ = build_variable([variable_record(b"msg", b"SUBSYSTEM=pci\0DEVICE=+pci:0000:00:03")])
    assert render(prog, "-td") == "msg\n"
    prog, _, _ = build_variable([variable_record(b"msg", b"A=1\0\0B=22\0")])  # 10 bytes
    assert render(prog, "-d") == (
        "[    0.000000] msg\n               A=1\n               \n               B=22\n\n"
    )


def test_variable_missing_page_resyncs() -> None:
    recs = [variable_record(b"%04d " % i + b"y" * 200, ts=i) for i in range(60)]
    prog, _, buf = build_variable(recs, buf_len=4 * PAGE)
    prog.bad.add(buf + PAGE)
    log = printk.read_printk_log(prog)
    # Records are 232 bytes: 17 has its header before the bad page but text on it; 18-35 have their
    # headers on it, so the walk looks for the next believable header (36) after it.
    good = [int(r.text[:4]) for r in log.records]
    assert good == list(range(17)) + list(range(36, 60))
    assert [m.address for m in log.missing] == [buf + 17 * 232, buf + 18 * 232]


def test_variable_duplicate_pointer() -> None:
    prog, img, buf = build_variable([variable_record(b"a"), variable_record(b"b")], buf_len=128)
    img.write(img.symbols["log_first_idx"], struct.pack("<I", 32))
    img.write(img.symbols["log_next_idx"], struct.pack("<I", 8))  # never reached
    img.write(buf + 32 + 8, struct.pack("<H", 0))  # zero length: wrap to 0 forever
    # crash prints the record again before it notices the pointer was seen.
    assert render(prog, "-t") == "a\na\n\nlog: duplicate log_buf message pointer\n"


# ---- the plain log_buf (before 3.5) ---------------------------------------------------------------------------


def test_plain_log_formats() -> None:
    text = b"<4>Linux version 2.6.32\n<6>second \x01line\n<7>last"
    assert logcmd.format_plain_log(text, True, False) == "Linux version 2.6.32\nsecond \x01line\nlast\n"
    assert (
        logcmd.format_plain_log(text, True, True) == "<4>Linux version 2.6.32\n<6>second \x01line\n<7>last\n"
    )
    assert logcmd.format_plain_log(b"a\0b\xff\n", False, False) == "ab.\n"


def test_plain_log_reads_wrapped_buffer() -> None:
    img = Image()
    buf = img.alloc(16)
    for name in ("log_buf", "log_buf_len", "log_end"):
        img.alloc(8, name, align=8)
    img.write(buf, b"xyz\n<6>abc\n<6>de")
    img.write(img.symbols["log_buf"], struct.pack("<Q", buf))
    img.write(img.symbols["log_buf_len"], struct.pack("<I", 16))
    img.write(img.symbols["log_end"], struct.pack("<I", 16 + 4))
    prog = FakeProgram(img.buf, img.symbols, {}, {})
    log = printk.read_printk_log(prog)
    assert log.layout == "plain" and log.plain_text == b"<6>abc\n<6>dexyz\n"
    # crash strips a level prefix at the start only when the buffer has not wrapped.
    assert render(prog) == "<6>abc\ndexyz\n"
    with pytest.raises(Exception, match="-t option not supported"):
        render(prog, "-t")


# ---- options, safe buffers, audit --------------------------------------------------------------------------------


def test_parse_options() -> None:
    opts, bad = logcmd.parse_options(["-Tt", "foo", "-m", "--", "-x"])
    assert opts == logcmd.LogOptions(ctime=True, no_time=True, level=True) and bad == []
    _, bad = logcmd.parse_options(["-tx"])
    assert bad == ["x"]


class Out:
    def __init__(self) -> None:
        self.buf = io.StringIO()
        self.minimal = False

    def write(self, text: str) -> None:
        self.buf.write(text)

    def println(self, text: str = "") -> None:
        self.buf.write(text + "\n")


def test_bad_option_prints_usage() -> None:
    out = Out()
    logcmd.cmd_log(out, ["-q"])  # type: ignore[arg-type]
    assert out.buf.getvalue() == (
        "log: invalid option -- 'q'\nUsage:\n  log [-Ttdmasc]\nEnter \"help log\" for details.\n"
    )


def test_minimal_mode_refuses_ctime() -> None:
    out = Out()
    out.minimal = True
    logcmd.cmd_log(out, ["-T"])  # type: ignore[arg-type]
    assert out.buf.getvalue() == "WARNING: the option '-T' is not available in minimal mode\n"


def test_help_lists_crash_options() -> None:
    assert "log [-Ttdmasc]" in logcmd.HELP
    for opt in "Ttdmasc":
        assert f"    -{opt}  " in logcmd.HELP


def safe_cpus(data: bytes) -> list[printk.SafeSeqBufCpu]:
    return [
        printk.SafeSeqBufCpu(0, 0xFFFF8CA4FBC19CE0, len(data), 0, data + b"\0" * 32),
        printk.SafeSeqBufCpu(1, 0xFFFF8CA4FBD19CE0, 0, 2, b""),
    ]


def test_safe_buffer_formats() -> None:
    data = b"\x014Uhhuh. NMI received\n\x01cDazed\n and confused"
    header = logcmd.LogOptions(safe=True)
    assert "".join(logcmd.format_safe_buffer("nmi_print_seq", safe_cpus(data), header)) == (
        "PRINTK_SAFE_SEQ_BUF: nmi_print_seq\n"
        "CPU: 0  ADDR: ffff8ca4fbc19ce0 LEN: 43  MESSAGE_LOST: 0\n"
        "  Uhhuh. NMI received\n"
        "  Dazed\n"
        "   and confused\n"
        "\n"
        "CPU: 1  ADDR: ffff8ca4fbd19ce0 LEN: 0  MESSAGE_LOST: 2\n"
        "  (empty)\n"
        "\n"
    )
    plain = logcmd.LogOptions(level=True)
    assert "".join(logcmd.format_safe_buffer("nmi_print_seq", safe_cpus(data), plain)) == (
        "[nmi_print_seq] <4>Uhhuh. NMI received\n[nmi_print_seq] <c>Dazed\n                    and confused\n"
    )


def test_log_with_safe_buffers() -> None:
    """A 4.11-5.14 kernel: `log` ends with the unflushed printk-safe lines, `log -s` dumps them."""
    prog, img, _ = build_variable([variable_record(b"Linux version 5.4", ts=1_000)])
    seq_buf = {"len": 0, "message_lost": 4, "buffer": 32}
    prog.offsets.update({("printk_safe_seq_buf", m): off for m, off in seq_buf.items()})  # type: ignore[union-attr]
    prog.sizes["printk_safe_seq_buf"] = 128  # type: ignore[index]
    per_cpu = img.alloc(2 * PAGE)
    prog.percpu_offsets = [per_cpu - BASE, per_cpu - BASE + PAGE]
    prog.symbols["nmi_print_seq"] = BASE  # per-CPU symbols are offsets into the per-CPU areas
    prog.symbols["safe_print_seq"] = BASE + 0x100
    text = b"\x014Uhhuh. NMI 3d\n"
    img.write(per_cpu + PAGE, struct.pack("<ii", len(text), 1))
    img.write(per_cpu + PAGE + 32, text)
    out = Out()
    out.prog = prog  # type: ignore[attr-defined]
    logcmd.cmd_log(out, [])  # type: ignore[arg-type]
    assert out.buf.getvalue() == "[    0.000001] Linux version 5.4\n[nmi_print_seq] Uhhuh. NMI 3d\n"
    out = Out()
    out.prog = prog  # type: ignore[attr-defined]
    logcmd.cmd_log(out, ["-s"])  # type: ignore[arg-type]
    assert out.buf.getvalue() == (
        "PRINTK_SAFE_SEQ_BUF: nmi_print_seq\n"
        f"CPU: 0  ADDR: {per_cpu:x} LEN: 0  MESSAGE_LOST: 0\n"
        "  (empty)\n\n"
        f"CPU: 1  ADDR: {per_cpu + PAGE:x} LEN: 16  MESSAGE_LOST: 1\n"
        "  Uhhuh. NMI 3d\n\n"
        "PRINTK_SAFE_SEQ_BUF: safe_print_seq\n"
        f"CPU: 0  ADDR: {per_cpu + 0x100:x} LEN: 0  MESSAGE_LOST: 0\n"
        "  (empty)\n\n"
        f"CPU: 1  ADDR: {per_cpu + PAGE + 0x100:x} LEN: 0  MESSAGE_LOST: 0\n"
        "  (empty)\n\n"
    )


def test_no_safe_buffers_on_new_kernels() -> None:
    prog, _, _ = build_lockless([Rec(b"a")])
    assert printk.printk_safe_layout(prog) is None


def build_audit(messages: list[tuple[int, bytes]]) -> FakeProgram:
    img = Image()
    offsets = {
        ("sk_buff_head", "next"): 0,
        ("sk_buff_head", "qlen"): 16,
        ("sk_buff", "next"): 0,
        ("sk_buff", "len"): 112,
        ("sk_buff", "data"): 200,
        ("nlmsghdr", "nlmsg_type"): 4,
    }
    for q in ("audit_hold_queue", "audit_retry_queue", "audit_queue"):
        img.alloc(24, q, align=8)
    head = img.symbols["audit_queue"]
    prev = head
    for typ, text in messages:
        skb = img.alloc(256)
        data = img.alloc(16 + len(text) + 1)
        img.write(data, struct.pack("<IHHII", 16 + len(text), typ, 0, 0, 0) + text)
        img.write(skb + 112, struct.pack("<I", 16 + len(text)))
        img.write(skb + 200, struct.pack("<Q", data))
        img.write(prev, struct.pack("<Q", skb))
        prev = skb
    img.write(prev, struct.pack("<Q", head))
    img.write(head + 16, struct.pack("<I", len(messages)))
    return FakeProgram(img.buf, img.symbols, offsets, {"nlmsghdr": 16})


def test_audit_records() -> None:
    prog = build_audit([(1320, b"audit(1489384479.809:4342):"), (1300, b"audit(1.2:3): arch=c000003e")])
    assert printk.audit_queue_names(prog) == printk.AUDIT_QUEUES
    recs = [r for q in printk.AUDIT_QUEUES for r in printk.iter_audit_records(prog, q)]
    assert [(r.type, r.text) for r in recs] == [
        (1320, b"audit(1489384479.809:4342):"),
        (1300, b"audit(1.2:3): arch=c000003e"),
    ]
    empty = build_audit([])
    assert [r for q in printk.AUDIT_QUEUES for r in printk.iter_audit_records(empty, q)] == []


def test_text_lines() -> None:
    prog, _, _ = build_lockless([Rec(b"one"), Rec(b"two\nthree"), Rec(b"Kernel panic - not syncing: x")])
    assert printk.text_lines(prog) == ["one", "two", "three", "Kernel panic - not syncing: x"]


def test_sparse_buffer_reads_around_faults() -> None:
    img = Image()
    area = img.alloc(8 * PAGE)
    img.write(area, bytes(range(256)) * (8 * PAGE // 256))
    prog = FakeProgram(img.buf, img.symbols, {}, {})
    prog.bad |= {area + 2 * PAGE, area + 5 * PAGE}
    sb = printk.SparseBuffer(prog, area + 100, 8 * PAGE - 200, "test")
    assert [(s + 100, e + 100) for s, e, _ in sb.bad] == [(2 * PAGE, 3 * PAGE), (5 * PAGE, 6 * PAGE)]
    assert prog.reads <= 6
    assert sb.fault(0, 2 * PAGE - 100) is None
    f = sb.fault(PAGE, 2 * PAGE)
    assert f is not None and f.address == area + 2 * PAGE and f.what == "test"
    assert bytes(sb.data[:10]) == bytes(range(100, 110))
    assert bytes(sb.data[2 * PAGE - 100 : 2 * PAGE - 90]) == b"\0" * 10


def test_missing_record_describe() -> None:
    f = FaultError(0x1000, FaultKind.EXCLUDED, AddressSpace.KVADDR, "x")
    assert MissingRecord(f, seq=5).describe() == "seq 5"
    assert MissingRecord(f, desc_id=7).describe() == "descriptor 7"
    assert MissingRecord(f, address=0xFF).describe() == "record at ff"
    assert PrintkRecord(1, 0, 0, 0, 0, None, b"").dataless is False
