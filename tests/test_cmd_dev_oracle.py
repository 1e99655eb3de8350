"""dev, sbitmapq, bpf, wr and extend: crashpy against crash 8.0.6, text for text, one crash session per dump.

dev's listings (-i, -p, -d, -D, the device dumps of -V / -v) on every dump; swap.elf is the guest
with a virtio disk, so its `dev -d` has a row, and its disk's blk-mq tag bitmaps (found from the dump:
gendisk -> request_queue -> hardware contexts -> blk_mq_tags.bitmap_tags) are what sbitmapq shows.
The guests load no eBPF program or map: bpf is compared on its empty listings, its errors and its
option checks; the listing of programs and maps is written from crash's formats and checked on
made-up rows (test_bpf_listing_from_rows), not against crash.
wr refuses on a dump before it reads its arguments; extend has no library loaded and answers crash's
errors for what it cannot find or cannot take.

Named differences:
- sbitmapq on 6.1: Debian's 6.1 has struct sbq_wait_state without wait_cnt (removed by the stable
  update of the sbitmap wake-up code); crash 8.0.6 stops after `ws_active` with "invalid structure
  member offset: sbq_wait_state_wait_cnt".  crashpy prints what crash prints up to there, then the
  wait queues' states without a count, round_robin and min_shallow_depth, and the bitmap.
- crash counts busy and cleared bits of a word whose depth is not a multiple of 64 twice
  (bitmap_weight adds the masked word to the whole one); crashpy counts the bits within each word's
  depth, as the kernel's sbitmap_weight() does.  The disks' tag bitmaps here have 64-bit words,
  where the two agree.
- `extend -s` lists files of the current directory and is not compared (crash runs elsewhere).
"""

from __future__ import annotations

import json
from functools import cache

import pytest

from crashpy.helpers import dev as devs
from tests.crashpy_runner import describe, program, run_crashpy
from tests.oracle import run_crash
from tools.vmcores import ensure

# kaslr.elf is left out for crash's start-up time: dev's text depends on KASLR only through symbol
# look-ups, which every other oracle test covers on it
DUMPS = ["sysrq.elf", "sysrq.d31.zlib", "la57.elf", "scale.d31.zlib", "swap.elf"]

DEV = [
    "dev",
    "dev -i",
    "dev -p",
    "dev -d",
    "dev -D",
    "dev -V",
]

# dump-independent commands: compared on swap.elf only
OTHERS = [
    "dev -v 0",
    "dev -v 0 /tmp/crashpy-devdump-never-written",
    "dev -v -1",
    "dev x",
    "dev -x",
    "dev -d -x",
    "bpf",
    "bpf -P",
    "bpf -M",
    "bpf -P -M",
    "bpf -p 1",
    "bpf -m 3",
    "bpf -p zz",
    "bpf -m",
    "bpf -s",
    "bpf -t",
    "bpf -j",
    "bpf -T",
    "bpf -x",
    "bpf -d",
    "bpf -x -d",
    "bpf -P -s",
    "bpf -M -s -x",
    "bpf -P -t -j",
    "bpf extra",
    "bpf -S",
    "wr",
    "wr jiffies 0",
    "wr -8 -p 1000 0",
    "wr -x",
    "extend",
    "extend -u",
    "extend crashpy-no-such-extension.so",
    "extend ./crashpy-no-such-extension.so",
    "extend /etc/passwd",
    "extend -u crashpy-no-such-extension.so",
    "extend -u /etc/passwd",
    "extend -l",
    "extend -s -u",
    "extend -u -l",
    "extend -l -s",
    "extend -x",
    "sbitmapq",
    "sbitmapq zz",
    "sbitmapq 1 2",
    "sbitmapq 1000",
    "sbitmapq -q",
    "sbitmapq -d -x 1",
    "sbitmapq -a zz 1",
    "sbitmapq -a 10 1",
    "sbitmapq -s a -s b 1",
]


@cache
def tag_bitmaps(name: str) -> list[tuple[int, int]]:
    """(bitmap_tags sbitmap_queue, static_rqs array) of each hardware queue of each disk of the dump."""
    paths = ensure([name])
    prog = program(paths["vmlinux"], paths[name])
    out = []
    for disk in devs.disk_io(prog):
        for hctx in devs.hw_contexts(prog, disk.queue):
            _tags, sbq, static_rqs = devs.tag_bitmaps(prog, hctx)
            out.append((sbq, static_rqs))
    return out


def sbitmapq_commands(name: str) -> tuple[list[str], list[str]]:
    """(exact, prefix): commands on the dump's own tag bitmaps; `prefix` ones are the full queue
    listings, where crash 8.0.6 stops at the wait counts (see the module's docstring)."""
    exact, prefix = [], []
    for sbq, rqs in tag_bitmaps(name):
        prefix.append(f"sbitmapq {sbq:x}")
        exact += [
            f"sbitmapq -s request -a {rqs:x} -p {sbq:x}",
            f"sbitmapq -s request -a {rqs:x} -p -v {sbq:x}",
            f"sbitmapq -s request.q,tag -a {rqs:x} -p -v -x {sbq:x}",
            f"sbitmapq -s request -a {rqs:x} {sbq:x}",
            f"sbitmapq -s request {sbq:x}",
            f"sbitmapq -a {rqs:x} {sbq:x}",
            f"sbitmapq -p {sbq:x}",
            f"sbitmapq -s crashpy_no_such_struct -a {rqs:x} {sbq:x}",
        ]
    return exact, prefix


@cache
def commands(name: str) -> tuple[list[str], list[str]]:
    exact = list(DEV)
    if name == "swap.elf":
        exact += OTHERS
    more, prefix = sbitmapq_commands(name)
    return exact + more, prefix


@cache
def outputs(name: str) -> tuple[dict[str, str], dict[str, str]]:
    paths = ensure([name])
    exact, prefix = commands(name)
    cmds = exact + prefix
    expected = run_crash(paths["vmlinux"], paths[name], cmds)
    got = run_crashpy(paths["vmlinux"], paths[name], cmds)
    return dict(zip(cmds, expected, strict=True)), dict(zip(cmds, got, strict=True))


@pytest.mark.parametrize("name", DUMPS)
def test_dev_bpf_wr_extend_sbitmapq_match_crash(name: str) -> None:
    exact, _ = commands(name)
    expected, got = outputs(name)
    bad = [(c, expected[c], got[c]) for c in exact if expected[c] != got[c]]
    assert not bad, describe(bad)
    assert got["dev"].startswith("CHRDEV    NAME ") and "\nBLKDEV    NAME " in got["dev"]
    assert "PCI Bus" in got["dev -i"] and "System RAM" in got["dev -i"]
    assert "ROOT BUS" in got["dev -p"]


def test_swap_has_a_disk_and_its_tag_bitmaps() -> None:
    """swap.elf's virtio disk: a `dev -d` row, and sbitmapq's listing of each hardware queue's tags
    equal to crash's up to where crash stops (named difference: sbq_wait_state has no wait_cnt)."""
    expected, got = outputs("swap.elf")
    rows = got["dev -d"].splitlines()[1:]
    assert rows and any(" vd" in row for row in rows)
    _, prefix = commands("swap.elf")
    assert prefix
    for cmd in prefix:
        crash_lines = [
            line for line in expected[cmd].splitlines() if line.strip() and not line.startswith((" ", "sbitmapq:", "["))
        ]
        ours = got[cmd].splitlines()
        assert crash_lines and ours[: len(crash_lines)] == crash_lines, describe([(cmd, expected[cmd], got[cmd])])
        assert crash_lines[-1].startswith("ws_active = ")
        assert "invalid structure member offset: sbq_wait_state_wait_cnt" in expected[cmd]
        rest = "\n".join(ours[len(crash_lines) :])
        assert rest.startswith("ws = {\n") and rest.count(".wait = ") == 8
        assert "min_shallow_depth = " in rest and "\n00000000: " in rest


def test_dev_json_is_the_rows_of_the_text() -> None:
    paths = ensure(["swap.elf"])
    text, doc_text = run_crashpy(paths["vmlinux"], paths["swap.elf"], ["dev", "dev --json"])
    doc = json.loads(doc_text)
    chars, blocks = text.split("\n\n")
    char_lines = chars.splitlines()[1:]
    assert len(doc["character_devices"]) == len(char_lines)
    for row, line in zip(doc["character_devices"], char_lines, strict=True):
        assert line.startswith(f" {row['major']:3d}      {row['name']}")
        assert (row["cdev"] is None) == line.rstrip().endswith("(none)")
        if row["cdev"] is not None:
            assert f" {row['cdev']}  {row['operations']}" in line
    block_lines = blocks.splitlines()[1:]
    assert [r["name"] for r in doc["block_devices"]] == [line[10:23].strip() for line in block_lines]
    assert any(r["gendisk"] for r in doc["block_devices"])


def test_sbitmap_counting_and_bytes() -> None:
    """Busy bits, weights and the byte dump of a made-up sbitmap (no dump needed)."""
    from crashpy.helpers.sbitmap import Sbitmap, bitmap_bytes, set_bits, weight

    sb = Sbitmap(depth=100, shift=6, map_nr=2, map_addr=0, words=[(0b1011, 0b0010), (1 << 35 | 1, 0)])
    assert list(set_bits(sb)) == [0, 3, 64, 99]
    assert weight(sb) == 3 + 2 and weight(sb, cleared=True) == 1
    assert bitmap_bytes(sb)[:1] == b"\x09" and len(bitmap_bytes(sb)) == 13


def test_extend_names_what_it_cannot_load() -> None:
    """A real shared object: crash would dlopen() it; crashpy finds and checks it as crash does, then
    says in one line that it loads no crash extension (a named difference)."""
    import sys
    import sysconfig
    from pathlib import Path

    libdir = Path(sysconfig.get_config_var("LIBDIR") or "/usr/lib")
    candidates = [p for p in (Path("/lib/x86_64-linux-gnu/libc.so.6"), *libdir.glob("libpython3*.so*")) if p.is_file()]
    if not candidates or sys.platform != "linux":
        pytest.skip("no x86_64 shared object at hand")
    lib = str(candidates[0])
    paths = ensure(["sysrq.elf"])
    (out,) = run_crashpy(paths["vmlinux"], paths["sysrq.elf"], [f"extend {lib}"])
    assert out == f"extend: {lib}: crashpy cannot load crash extension libraries\n"


def test_bpf_listing_from_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guests load no eBPF program or map, so the listing is checked on made-up rows against
    crash's formats (bpf.c do_bpf): the column widths come from the kernel's own enums."""
    from crashpy.helpers import bpf as bpfs

    paths = ensure(["sysrq.elf"])
    prog = program(paths["vmlinux"], paths["sysrq.elf"])
    prog_types = {v: k for k, v in bpfs.enum_names(prog, "bpf_prog_type").items()}
    map_types = {v: k for k, v in bpfs.enum_names(prog, "bpf_map_type").items()}
    p_addr, aux, m_addr = 0xFFFFC90000111000, 0xFFFF888000222000, 0xFFFF888000333000
    row = bpfs.BpfProg(
        7, p_addr, aux, prog_types["BPF_PROG_TYPE_KPROBE"], bytes(range(8)), [m_addr], 37, 229, None, None, "probe", 0
    )
    m = bpfs.BpfMap(3, m_addr, map_types["BPF_MAP_TYPE_HASH"], 1, 4, 8, 100, None, "", None)
    monkeypatch.setattr(bpfs, "idr_entries", lambda prog, sym: [(7, p_addr)] if sym == "prog_idr" else [(3, m_addr)])
    monkeypatch.setattr(bpfs, "read_prog", lambda prog, pid, addr: row)
    monkeypatch.setattr(bpfs, "read_map", lambda prog, mid, addr: m)
    from tests.crashpy_runner import run_session

    plain, one, maps = run_session(prog, ["bpf", "bpf -p 7", "bpf -M"])
    type_w = bpfs.type_width(prog, "bpf_prog_type", 13)
    map_w = bpfs.type_width(prog, "bpf_map_type", None)
    def cl(text: str, width: int) -> str:  # crash's mkstring(CENTER|LJUST): the odd blank on the right
        extra = max(width - len(text), 0)
        return " " * (extra // 2) + text + " " * (extra - extra // 2)

    prog_head = " ID      BPF_PROG       BPF_PROG_AUX   BPF_PROG_TYPE       TAG        USED_MAPS\n"
    prog_line = f" 7   {p_addr:x} {aux:x} {cl('KPROBE', type_w)} 0001020304050607 {cl('3', 9)} \n"
    map_head = f" ID  {cl('BPF_MAP', 16)} {cl('BPF_MAP_TYPE', map_w)} MAP_FLAGS\n"
    map_line = f" 3   {m_addr:x} {cl('HASH', map_w)}  00000001 \n"
    assert plain == prog_head + prog_line + "\n" + map_head + map_line
    assert one == prog_head + prog_line + (
        "     XLATED: 296  JITED: 229  MEMLOCK: (unknown)\n"
        "     LOAD_TIME: (unknown)\n"
        '     GPL_COMPATIBLE: (unknown)  NAME: "probe"  UID: 0\n'
    )
    assert maps == map_head + map_line + (
        "     KEY_SIZE: 4  VALUE_SIZE: 8  MAX_ENTRIES: 100  MEMLOCK: 4096\n     NAME: (unused)  UID: (unused)\n"
    )
