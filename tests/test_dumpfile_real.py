"""The dump readers on real QEMU/makedumpfile dumps of one crashed guest (built by tools/vmcores.py).

Every sysrq.* file is the same crash in a different format, so the same physical page must read the
same from each; makedumpfile -d 31 forms may instead say "page excluded", truncated ones "page
incomplete", and nothing may ever read different bytes.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from crashpy.dumpfile import open_dump
from crashpy.dumpfile.base import DumpFile
from crashpy.dumpfile.elf import ElfDump
from crashpy.dumpfile.kdump import KdumpCompressed
from crashpy.errors import FaultError, FaultKind
from tests.kernel_facts import banner as kernel_banner
from tests.kernel_facts import release as kernel_release

START_KERNEL_MAP = 0xFFFFFFFF80000000
PAGE = 4096

SAME_CRASH = [
    "sysrq.qemu-kdump",
    "sysrq.d31.zlib",
    "sysrq.d31.lzo",
    "sysrq.d31.flat",
    "sysrq.d31.elf",
    "sysrq.elf.trunc40",
    "sysrq.d31.zlib.trunc40",
]
ALL = ["sysrq.elf", *SAME_CRASH, "kaslr.elf", "bug.elf", "null.elf"]

# name -> (info.format, reader class, compression, dump_level, incomplete)
EXPECT: dict[str, tuple[str, type, str | None, int | None, bool]] = {
    "sysrq.elf": ("ELF", ElfDump, None, None, False),
    "sysrq.qemu-kdump": ("FLAT", KdumpCompressed, "zlib", None, False),
    "sysrq.d31.zlib": ("KDUMP", KdumpCompressed, "zlib", 31, False),
    "sysrq.d31.lzo": ("KDUMP", KdumpCompressed, "lzo", 31, False),
    "sysrq.d31.flat": ("FLAT", KdumpCompressed, "zlib", 31, False),
    "sysrq.d31.elf": ("ELF", ElfDump, None, None, False),
    "sysrq.elf.trunc40": ("ELF", ElfDump, None, None, True),
    "sysrq.d31.zlib.trunc40": ("KDUMP", KdumpCompressed, "zlib", 31, True),
    "kaslr.elf": ("ELF", ElfDump, None, None, False),
    "bug.elf": ("ELF", ElfDump, None, None, False),
    "null.elf": ("ELF", ElfDump, None, None, False),
}


@pytest.fixture(scope="module")
def banner_vaddr(paths: dict[str, Path]) -> int:
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("no nm")
    out = subprocess.run([nm, str(paths["vmlinux"])], capture_output=True, text=True, check=True).stdout
    m = re.search(r"^([0-9a-f]+) \w linux_banner$", out, re.M)
    assert m, "linux_banner not in vmlinux"
    return int(m.group(1), 16)


def vmcoreinfo(dump: DumpFile) -> dict[str, str]:
    assert dump.info.vmcoreinfo is not None
    return dict(line.split("=", 1) for line in dump.info.vmcoreinfo.decode().splitlines() if "=" in line)


@pytest.mark.parametrize("name", ALL)
def test_open(paths: dict[str, Path], name: str) -> None:
    dump = open_dump(str(paths[name]))  # how fast: benchmarks/timings.py
    fmt, cls, compression, level, incomplete = EXPECT[name]
    info = dump.info
    assert (info.format, type(dump), info.compression, info.incomplete) == (fmt, cls, compression, incomplete)
    if level is not None:
        assert info.dump_level == level
    assert info.nr_cpus == 2
    assert sum(1 for n in info.notes if n.name == "CORE" and n.type == 1) == 2
    assert sum(1 for n in info.notes if n.name == "QEMU") == 2
    assert all(len(n.desc) == 336 for n in info.notes if n.name == "CORE")
    vmci = vmcoreinfo(dump)
    assert vmci["OSRELEASE"] == kernel_release()
    assert (vmci["KERNELOFFSET"] != "0") == (name == "kaslr.elf")
    assert dump.ranges()[0] == (0, 0xA0000)
    dump.close()


def test_same_banner_everywhere(paths: dict[str, Path], banner_vaddr: int) -> None:
    """linux_banner's pages read the same from every form of the nokaslr sysrq dump (the cut
    kdump-compressed file lost them: there it must say so)."""
    paddr = banner_vaddr - START_KERNEL_MAP
    page = paddr & ~(PAGE - 1)
    with open_dump(str(paths["sysrq.elf"])) as ref:
        want = ref.read(page, 2 * PAGE)  # the banner crosses a page boundary
    assert want[paddr - page :].startswith(kernel_banner(paths["vmlinux"]))
    for name in SAME_CRASH:
        with open_dump(str(paths[name])) as dump:
            if name == "sysrq.d31.zlib.trunc40":
                with pytest.raises(FaultError) as err:
                    dump.read(paddr, 40)
                assert (err.value.kind, err.value.address) == (FaultKind.TRUNCATED, paddr)
                continue
            assert dump.read(page, 2 * PAGE) == want, name
            assert dump.read(paddr, 40) == want[paddr - page : paddr - page + 40], name


def test_banner_kaslr(paths: dict[str, Path], banner_vaddr: int) -> None:
    """On the KASLR dump the banner moved by KERNELOFFSET and phys_base (both from VMCOREINFO)."""
    with open_dump(str(paths["kaslr.elf"])) as dump:
        vmci = vmcoreinfo(dump)
        vaddr = banner_vaddr + int(vmci["KERNELOFFSET"], 16)
        paddr = vaddr - START_KERNEL_MAP + int(vmci["NUMBER(phys_base)"])
        banner = kernel_banner(paths["vmlinux"])
        assert banner.startswith(f"Linux version {kernel_release()} ".encode())
        assert dump.read(paddr, len(banner)) == banner


def test_pages_agree(paths: dict[str, Path]) -> None:
    """A random sample of pages: every form gives sysrq.elf's bytes, or a fault of the right kind."""
    rng = random.Random(5)
    with open_dump(str(paths["sysrq.elf"])) as ref:
        pages = [a for s, e in ref.ranges() for a in range(s, e, PAGE)]
        sample = sorted(rng.sample(pages, 3000))
        want = {a: ref.read(a, PAGE) for a in sample}
    allowed = {
        "sysrq.qemu-kdump": set(),
        "sysrq.d31.zlib": {FaultKind.EXCLUDED, FaultKind.SEEK},
        "sysrq.d31.lzo": {FaultKind.EXCLUDED, FaultKind.SEEK},
        "sysrq.d31.flat": {FaultKind.EXCLUDED, FaultKind.SEEK},
        "sysrq.d31.elf": {FaultKind.EXCLUDED},
        "sysrq.elf.trunc40": {FaultKind.TRUNCATED},
        "sysrq.d31.zlib.trunc40": {FaultKind.EXCLUDED, FaultKind.SEEK, FaultKind.TRUNCATED},
    }
    for name, kinds in allowed.items():
        seen: dict[str, int] = {}
        with open_dump(str(paths[name])) as dump:
            for a in sample:
                try:
                    got = dump.read(a, PAGE)
                except FaultError as err:
                    assert err.kind in kinds, (name, hex(a), err.kind)
                    assert err.address == a
                    seen[err.kind.name] = seen.get(err.kind.name, 0) + 1
                    continue
                assert got == want[a], (name, hex(a))
                seen["ok"] = seen.get("ok", 0) + 1
        assert seen.get("ok", 0) > (100 if "d31" in name else 500), (name, seen)
        if "d31" in name:
            assert seen.get("EXCLUDED", 0) > 500, (name, seen)
        if "trunc40" in name:
            assert seen.get("TRUNCATED", 0) > 100, (name, seen)


def test_truncated_elf_keeps_low_memory(paths: dict[str, Path]) -> None:
    with open_dump(str(paths["sysrq.elf.trunc40"])) as dump:
        assert dump.info.incomplete
        assert len(dump.read(0x100000, PAGE)) == PAGE
        with pytest.raises(FaultError) as err:
            dump.read(0x1F000000, 8)
        assert err.value.kind is FaultKind.TRUNCATED
        assert str(err.value) == 'read error: physical address: 1f000000  type: "64-bit PHYSADDR"'
