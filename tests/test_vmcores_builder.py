"""The test-dump builder (tools/vmcores.py): the whole set exists and each file has its format's shape.

Its tests take conftest's session fixture `dumps`, which builds the set through ensure() when it is
not cached yet (a few minutes, cold); with the cache warm the whole file runs in about a second.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from tools.vmcores import AUTOPSY_KINDS, DUMP_NAMES, RUNS, TRUNCATED, ensure, phdrs_first_copy

ELF_DUMPS = [
    "sysrq.elf",
    "kaslr.elf",
    "bug.elf",
    "null.elf",
    "panic.elf",
    "nmi.elf",
    "la57.elf",
    "la57bug.elf",
    "swap.elf",
    "sysrq.d31.elf",
    "sysrq.elf.trunc40",
]
KDUMP_DUMPS = [
    "sysrq.d31.zlib",
    "sysrq.d31.lzo",
    "sysrq.d31.zlib.trunc40",
    "la57.d31.zlib",
    "la57bug.d31.zlib",
    "scale.d31.zlib",
    *(f"{kind}.d31.zlib" for kind in AUTOPSY_KINDS),
]
FLATTENED_DUMPS = ["sysrq.d31.flat", "sysrq.qemu-kdump"]

# What each guest run's serial console must show about its crash.
CONSOLE_SIGNS = {
    "swap": [
        "swap on /dev/vda",
        "oracle: swap on",
        "spawn: hog of 320 MB started",
        "Kernel panic - not syncing: sysrq triggered crash",
    ],
    "sysrq": [
        "Kernel panic - not syncing: sysrq triggered crash",
        "sysrq_handle_crash",
        "Kernel Offset: disabled",
    ],
    "kaslr": ["Kernel panic - not syncing: sysrq triggered crash", "sysrq_handle_crash", "Kernel Offset: 0x"],
    "bug": [
        "kernel BUG at oracle_crash.c:",
        "RIP: 0010:oracle_BUG+",
        "Kernel panic - not syncing: Fatal exception",
    ],
    "null": [
        "BUG: kernel NULL pointer dereference",
        "RIP: 0010:oracle_null_write+",
        "Kernel panic - not syncing: Fatal exception",
    ],
    "panic": ["Kernel panic - not syncing: oracle_crash: panic", "oracle_panic+"],
    "nmi": [
        "spins with interrupts off; calling panic()",
        "Kernel panic - not syncing: oracle_crash: nmi",
        "Shutting down cpus with NMI",
    ],
    # 5-level paging: the kernel's physical address limit is 52 bits (max_arch_pfn 2^40)
    "la57": [
        "Kernel panic - not syncing: sysrq triggered crash",
        "max_arch_pfn = 0x10000000000",
        "Kernel Offset: 0x",
    ],
    "la57bug": ["kernel BUG at oracle_crash.c:", "max_arch_pfn = 0x10000000000", "Kernel Offset: 0x"],
    "warn": ["WARNING: CPU:", "oracle_warn+", "Kernel panic - not syncing: kernel: panic_on_warn set"],
    "softlockup": ["BUG: soft lockup - CPU#", "oracle_softlockup+", "Kernel panic - not syncing: softlockup: hung tasks"],
    "hung": ["INFO: task oracle_waiter:", "Kernel panic - not syncing: hung_task: blocked tasks"],
    "list": ["list_del corruption", "kernel BUG at lib/list_debug.c", "Kernel panic - not syncing: Fatal exception"],
    "gpf": ["general protection fault, probably for non-canonical address 0xdead000000000100", "oracle_gpf+"],
    "stack": ["stack guard page was hit", "oracle_recurse+", "Kernel panic - not syncing: Fatal exception"],
    "oom": ["invoked oom-killer", "Kernel panic - not syncing: Out of memory"],
    "scale": [
        "Kernel panic - not syncing: sysrq triggered crash",
        "smp: Brought up 2 nodes, 4 CPUs",
        "spawn: 500 processes of up to 4 tasks started",
    ],
}


def _head(path: Path, size: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(size)


def test_every_dump_exists(dumps: dict[str, Path]) -> None:
    for name in (*DUMP_NAMES, *(f"{run}.console" for run in RUNS)):
        assert dumps[name].is_file(), name
        assert dumps[name].stat().st_size > 0, name
    assert dumps["vmlinux"].is_file()
    assert dumps["vmlinuz"].is_file()
    assert _head(dumps["oracle_crash.ko"], 4) == b"\x7fELF"
    assert (dumps["modules_dir"] / "modules.dep").is_file()
    assert set(ELF_DUMPS + KDUMP_DUMPS + FLATTENED_DUMPS) == set(DUMP_NAMES)
    # No temporaries are left behind (makedumpfile's input copy included).
    assert not list(dumps["sysrq.elf"].parent.glob("*.tmp-*"))


@pytest.mark.parametrize("name", ELF_DUMPS)
def test_elf_magic(dumps: dict[str, Path], name: str) -> None:
    assert _head(dumps[name], 4) == b"\x7fELF"


@pytest.mark.parametrize("name", KDUMP_DUMPS)
def test_kdump_magic(dumps: dict[str, Path], name: str) -> None:
    assert _head(dumps[name], 8) == b"KDUMP   "


@pytest.mark.parametrize("name", FLATTENED_DUMPS)
def test_flattened_magic(dumps: dict[str, Path], name: str) -> None:
    assert _head(dumps[name], 12) == b"makedumpfile"


@pytest.mark.parametrize("name", sorted(TRUNCATED))
def test_truncated_is_40_percent(dumps: dict[str, Path], name: str) -> None:
    original = dumps[TRUNCATED[name]]
    assert dumps[name].stat().st_size == original.stat().st_size * 40 // 100
    assert _head(original, 1 << 16) == _head(dumps[name], 1 << 16)


@pytest.mark.parametrize("run", sorted(RUNS))
def test_console_shows_the_crash(dumps: dict[str, Path], run: str) -> None:
    console = dumps[f"{run}.console"].read_text(errors="replace")
    assert "Kernel panic" in console
    assert "oracle: tasks started" in console
    for sign in CONSOLE_SIGNS[run]:
        assert sign in console, f"{run}.console lacks {sign!r}"


@pytest.mark.parametrize("run", sorted(RUNS))
def test_dump_has_vmcoreinfo(dumps: dict[str, Path], run: str) -> None:
    """-device vmcoreinfo plus qemu_fw_cfg in the guest put the VMCOREINFO note in the dump."""
    if not RUNS[run].keep_elf:
        pytest.skip(f"{run} is kept only as makedumpfile forms (its ELF is several GB)")
    head = _head(dumps[f"{run}.elf"], 1 << 16)
    match = re.search(rb"KERNELOFFSET=([0-9a-f]+)\n", head)
    assert match, "no VMCOREINFO in the first 64 KiB"
    assert b"OSRELEASE=" in head
    assert (int(match.group(1), 16) != 0) == RUNS[run].kaslr


def test_cached_ensure_rebuilds_nothing(dumps: dict[str, Path]) -> None:
    before = {name: p.stat().st_mtime_ns for name, p in dumps.items() if p.is_file()}
    again = ensure()
    assert again == dumps
    assert {name: p.stat().st_mtime_ns for name, p in again.items() if p.is_file()} == before


def test_phdrs_first_copy(tmp_path: Path) -> None:
    """A QEMU-shaped ELF core (shdrs at 64, phdrs at 192) is rewritten with phdrs at 64, no shdrs."""
    data = b"segment data" * 10
    data_off = 0x200
    phdr = struct.pack("<IIQQQQQQ", 1, 0, data_off, 0xFFFF888000000000, 0, len(data), len(data), 0)
    ident = b"\x7fELF\x02\x01\x01" + b"\0" * 9
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", ident, 4, 62, 1, 0, 192, 64, 0, 8, 56, 1, 64, 2, 1)
    src = tmp_path / "qemu.elf"
    image = bytearray(data_off + len(data))
    image[:64] = ehdr
    image[64:192] = b"\xaa" * 128  # two section headers
    image[192 : 192 + 56] = phdr
    image[data_off:] = data
    src.write_bytes(bytes(image))
    dst = tmp_path / "fixed.elf"
    phdrs_first_copy(src, dst)
    out = dst.read_bytes()
    assert len(out) == len(image)
    fields = struct.unpack_from("<16sHHIQQQIHHHHHH", out)
    assert fields[5:7] == (64, 0)  # e_phoff, e_shoff
    assert fields[8] == 64  # e_ehsize
    assert fields[10] == 1  # e_phnum
    assert fields[11:14] == (0, 0, 0)  # e_shentsize, e_shnum, e_shstrndx
    assert out[64 : 64 + 56] == phdr
    assert out[64 + 56 : data_off] == b"\0" * (data_off - 64 - 56)
    assert out[data_off:] == data
