"""Dumps cut short: --minimal gets the log out, full mode starts, a missing page is one line in crash's words."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from crashpy.dumpfile.kdump import KdumpCompressed
from crashpy.dumpfile.sniff import open_dump
from crashpy.loader import open_program
from tests.crashpy_runner import program, run_crashpy
from tests.kernel_facts import symbol as kernel_symbol
from tests.oracle import run_crash_session


def test_minimal_truncated_elf_log_equals_crash(dumps: dict[str, Path]) -> None:
    vmlinux, dump = dumps["vmlinux"], dumps["sysrq.elf.trunc40"]
    crash = run_crash_session(vmlinux, dump, ["log"], minimal=True)
    (mine,) = run_crashpy(vmlinux, dump, ["log"], minimal=True)
    assert crash.outputs[0].count("\n") > 300
    assert mine == crash.outputs[0]


def test_truncated_kdump_crash_gives_nothing_crashpy_starts(dumps: dict[str, Path]) -> None:
    vmlinux, dump = dumps["vmlinux"], dumps["sysrq.d31.zlib.trunc40"]
    # crash 8.0.6 prints no log at all here, in either mode.
    crash = run_crash_session(vmlinux, dump, ["log"], minimal=True)
    assert "Linux version" not in crash.outputs[0]
    # The kernel's data pages (the whole printk ring) lie past the cut: crashpy says so in one line.
    (mine,) = run_crashpy(vmlinux, dump, ["log"], minimal=True)
    assert re.fullmatch(r'log: read error: kernel virtual address: [0-9a-f]+  type: "\w+"\n', mine), mine
    # Full mode starts too; what survived is readable and what did not is one line.
    text = kernel_symbol(vmlinux, "_text")  # nokaslr: link-time addresses are the running ones
    (banner, missing) = run_crashpy(vmlinux, dump, [f"rd -64 {text:#x} 2", "rd -64 linux_banner 2"])
    assert banner.startswith(f"{text:x}:  ")
    banner_addr = kernel_symbol(vmlinux, "linux_banner")
    assert missing == f'rd: read error: kernel virtual address: {banner_addr:x}  type: "64-bit KVADDR"\n'


def test_kdump_cut_inside_the_log(tmp_path: Path, dumps: dict[str, Path]) -> None:
    """Cut a kdump file in the middle of the printk text ring: the records before the cut are printed
    exactly as from the whole dump, and the lost ones are named."""
    vmlinux, whole = dumps["vmlinux"], dumps["sysrq.d31.zlib"]
    prog = open_program(str(vmlinux), [str(whole)])
    ring = prog.symbols.lookup("__log_buf")
    assert ring is not None and ring.size > 8 * 4096
    dump = open_dump(str(whole))
    assert isinstance(dump, KdumpCompressed)
    # The pages of the ring that hold text (the unused rest is makedumpfile's one shared zero page).
    pages = [dump.page_location(prog.kvtop(ring.address + off) >> 12) for off in range(0, ring.size, 4096)]
    written = [p for p in pages if p is not None and p[0] >= pages[0][0]]  # type: ignore[index]
    assert len(written) >= 4
    where = written[len(written) // 2]
    cut = tmp_path / "sysrq.d31.zlib.cut"
    with open(whole, "rb") as src, open(cut, "wb") as dst:
        shutil.copyfileobj(src, dst)
        dst.truncate(where[0])
    (full_log,) = run_crashpy(vmlinux, whole, ["log"])
    (cut_log,) = run_crashpy(vmlinux, cut, ["log"], minimal=True)
    kept = [line for line in cut_log.splitlines() if not line.startswith("log: ")]
    notes = [line for line in cut_log.splitlines() if line.startswith("log: ")]
    assert 10 < len(kept) < len(full_log.splitlines())
    assert set(kept) <= set(full_log.splitlines())
    assert notes and all("records unreadable" in n and "read error" in n for n in notes), notes


@pytest.mark.parametrize("name", ["sysrq.elf.trunc40", "sysrq.d31.zlib.trunc40"])
def test_full_mode_starts_and_says_incomplete(dumps: dict[str, Path], name: str) -> None:
    (out,) = run_crashpy(dumps["vmlinux"], dumps[name], ["sys"])
    assert out.splitlines()[1].endswith("[INCOMPLETE]")


def test_rd_at_the_cut_of_a_truncated_elf_dump(dumps: dict[str, Path]) -> None:
    """The page the cut runs through: crash reads an item at a time, so the items the file still holds
    show, and the first one past the end is the read error (crash --minimal is the oracle here)."""
    from crashpy.dumpfile.elf import ElfDump

    vmlinux, path = dumps["vmlinux"], dumps["sysrq.elf.trunc40"]
    dump = open_dump(str(path))
    assert isinstance(dump, ElfDump)
    size = path.stat().st_size
    seg = next(s for s in dump.segments if s.type == 1 and s.offset < size < s.offset + s.filesz)
    cut = seg.paddr + size - seg.offset  # the first physical byte the file lacks
    assert cut & 0xFFF, "the cut falls on a page boundary: nothing to show"
    direct = program(vmlinux, path, minimal=True).layout.page_offset
    start = (cut - 0x10) & ~7
    commands = [
        f"rd -p {start:x} 4",
        f"rd {start + direct:x} 4",
        f"rd -32 {start + direct:x} 8",
        f"rd -8 {cut + direct - 5:x} 8",
        f"rd {(cut | 0xFFF) + 1 + direct:x} 2",
    ]
    crash = run_crash_session(vmlinux, path, commands, minimal=True)
    mine = run_crashpy(vmlinux, path, commands, minimal=True)
    assert list(crash.outputs) == mine
    assert any(line.split(":")[0].strip() == f"{start:x}" for line in mine[0].splitlines())
