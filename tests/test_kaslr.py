"""KASLR: the offset from VMCOREINFO, from --kaslr, and found from the dump's CPU state without VMCOREINFO."""

from __future__ import annotations

from pathlib import Path

from crashpy.dumpfile.sniff import open_dump
from crashpy.dumpfile.vmcoreinfo import VmcoreInfo
from crashpy.program import Program
from tests.kernel_facts import banner as kernel_banner


def test_kaslr_found_without_vmcoreinfo(dumps: dict[str, Path]) -> None:
    dump = open_dump(str(dumps["kaslr.elf"]))
    info = VmcoreInfo(dump.info.vmcoreinfo)
    assert info.kerneloffset  # the dump really is randomised
    dump.info.vmcoreinfo = None  # as if the kernel had left no VMCOREINFO
    prog = Program(dump, str(dumps["vmlinux"]))
    assert prog.kaslr_offset == info.kerneloffset
    assert prog.phys_base == (info.number("phys_base") or 0) & 0xFFFFFFFFFFFFFFFF
    assert prog.read_cstring(prog.symbol_address("linux_banner")) == kernel_banner(dumps["vmlinux"])


def test_explicit_and_auto_kaslr(dumps: dict[str, Path]) -> None:
    info = VmcoreInfo(open_dump(str(dumps["kaslr.elf"])).info.vmcoreinfo)
    for kaslr in (info.kerneloffset, "auto"):
        prog = Program(open_dump(str(dumps["kaslr.elf"])), str(dumps["vmlinux"]), kaslr_offset=kaslr)
        assert prog.kaslr_offset == info.kerneloffset
        assert prog.read_cstring(prog.symbol_address("linux_banner")).startswith(b"Linux version")


def test_nokaslr_dump_has_no_offset(dumps: dict[str, Path]) -> None:
    prog = Program(open_dump(str(dumps["sysrq.elf"])), str(dumps["vmlinux"]), kaslr_offset="auto")
    assert prog.kaslr_offset == 0
