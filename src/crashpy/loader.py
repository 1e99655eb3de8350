"""Opening a dump: tell the vmlinux from the dump by content, open both, check they belong together."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from crashpy.arch.x86_64 import MASK64, START_KERNEL_MAP
from crashpy.elf.bzimage import is_bzimage, is_stripped_kernel
from crashpy.elf.constants import ET_DYN, ET_EXEC
from crashpy.elf.errors import ElfError
from crashpy.elf.file import ElfFile, peek_type
from crashpy.errors import CrashpyError, FaultError, StartupError
from crashpy.program import Program


@dataclass
class Inputs:
    vmlinux: str | None
    dumps: list[str]
    system_map: str | None = None
    image: str | None = None  # a kernel image without symbols: a bzImage (vmlinuz) or a stripped vmlinux


def _elf_kind(path: str) -> str:
    """'vmlinux' for an executable ELF file with symbols or debuginfo, 'image' for a stripped one."""
    try:
        with ElfFile(path) as elf:
            return "image" if is_stripped_kernel(elf) else "vmlinux"
    except ElfError:
        return "vmlinux"  # opening it as the vmlinux says what is wrong with it


def _file_kind(path: str) -> str:
    """'vmlinux', 'image' (bzImage, stripped vmlinux), 'dump', 'system.map' or 'unknown', judged by the
    file's contents."""
    from crashpy.dumpfile.sniff import sniff

    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise StartupError(f"{path}: {e.strerror}") from None
    if sniff(path) is not None:
        return "dump"
    if peek_type(head) in (ET_EXEC, ET_DYN):
        return _elf_kind(path)
    if is_bzimage(head):
        return "image"
    if re.match(rb"^[0-9a-fA-F]{8,16} [A-Za-z] \S+\n", head):
        return "system.map"
    return "unknown"


def classify(paths: list[str]) -> Inputs:
    """Sort command-line files into vmlinux, dump file(s), System.map and a kernel image without symbols
    (vmlinuz, stripped vmlinux), in any order, as crash does."""
    vmlinux: str | None = None
    dumps: list[str] = []
    system_map: str | None = None
    image: str | None = None
    for path in paths:
        if not os.path.exists(path):
            raise StartupError(f"{path}: No such file or directory")
        if os.path.isdir(path):
            raise StartupError(f"{path}: Is a directory")
        kind = _file_kind(path)
        if kind == "dump":
            dumps.append(path)
        elif kind == "vmlinux" and vmlinux is None:
            vmlinux = path
        elif kind == "system.map" and system_map is None:
            system_map = path
        elif kind == "image" and image is None:
            image = path
        elif kind == "image":
            raise StartupError(f"{path}: a second kernel image ({image} is one): give one vmlinuz or stripped vmlinux")
        else:
            raise StartupError(f"{path}: not a supported file format")
    return Inputs(vmlinux, dumps, system_map, image)


def _vmlinux_release(prog: Program) -> bytes | None:
    """linux_banner as the vmlinux file has it."""
    image = prog.image
    sym = prog.symbols.lookup("linux_banner")
    if image is None or sym is None:
        return None
    raw = image.read_address(sym.address - prog.kaslr_offset, 512)
    if raw is None:
        return None
    end = raw.find(b"\0")
    return raw[:end] if end >= 0 else raw


def check_match(prog: Program) -> None:
    """Refuse a vmlinux that is not the dump's kernel: compare linux_banner in the file and in memory."""
    file_banner = _vmlinux_release(prog)
    if file_banner is None:
        raise StartupError(f"{prog.vmlinux_path}: no linux_banner symbol: not a kernel (vmlinux) file")
    osrelease = prog.vmcoreinfo.osrelease
    if osrelease is not None and f" {osrelease} ".encode() not in file_banner:
        raise StartupError(f"{prog.vmlinux_path} and {prog.dump_path} do not match!")
    try:
        mem_banner = prog.read_cstring(prog.symbol_address("linux_banner"), 512)
    except FaultError:
        return  # an incomplete dump may lack the page; VMCOREINFO already agreed, if present
    except CrashpyError:
        return
    if mem_banner != file_banner:
        raise StartupError(f"{prog.vmlinux_path} and {prog.dump_path} do not match!")


def check_no_vmlinux(prog: Program) -> None:
    """A dump opened without a vmlinux must carry what replaces it: VMCOREINFO, kallsyms that decode,
    and BTF; StartupError in one line when one is missing."""
    where = prog.dump_path
    if not prog.vmcoreinfo:
        raise StartupError(f"{where}: no VMCOREINFO in the dump: give the kernel's debug vmlinux")
    try:
        prog.symbols.lookup("_stext")
    except CrashpyError as e:
        raise StartupError(f"{where}: {e}") from None
    try:
        _ = prog.btf
    except CrashpyError as e:
        raise StartupError(f"{where}: {e}: give the kernel's debug vmlinux") from None


def check_stripped_image(prog: Program) -> None:
    """Refuse a kernel image (bzImage, stripped vmlinux) that is not the dump's kernel: its build-id
    against VMCOREINFO's, its linux_banner against the one in the dump's memory, else against the
    release VMCOREINFO names."""
    image, path = prog.stripped_image, prog.stripped_image_path
    if image is None:
        return
    mismatch = StartupError(f"{path} and {prog.dump_path} do not match!")
    dump_id = prog.vmcoreinfo.build_id
    if dump_id is not None and image.build_id is not None and dump_id.lower() != image.build_id.lower():
        raise mismatch
    found = image.banner()
    if found is None:
        raise StartupError(f"{path}: no linux_banner in it: not a kernel image")
    addr, banner = found
    osrelease = prog.vmcoreinfo.osrelease
    if osrelease is not None and f" {osrelease} ".encode() not in banner:
        raise mismatch
    if not prog.vmcoreinfo:
        return  # no KASLR offset to find the dump's copy with: nothing to compare
    paddr = (addr + prog.kaslr_offset - START_KERNEL_MAP + prog.phys_base) & MASK64
    try:
        in_memory = prog.read_physical(paddr, len(banner))  # the dump's own copy, never the image's
    except CrashpyError:
        return  # the dump lacks the page: VMCOREINFO agreed, if present
    if in_memory != banner:
        raise mismatch


def open_program(
    vmlinux: str | None,
    dumps: list[str],
    *,
    kaslr: int | str | None = None,
    check: bool = True,
    stripped_image: str | None = None,
) -> Program:
    """Open `dumps` (one dump file, or the parts of a split dump in any order) with `vmlinux` (and a
    kernel image without symbols); StartupError in crash's words on failure."""
    from crashpy.dumpfile.sniff import open_dump
    from crashpy.dumpfile.split import open_split

    if not dumps:
        raise StartupError("no dump file given")
    dump = open_dump(dumps[0]) if len(dumps) == 1 else open_split(dumps)
    if vmlinux is not None and stripped_image is None and os.path.isfile(vmlinux) and _file_kind(vmlinux) == "image":
        vmlinux, stripped_image = None, vmlinux  # a vmlinuz given as the kernel: the image without symbols
    prog = Program(dump, vmlinux, kaslr_offset=kaslr, dump_path=dumps[0], stripped_image=stripped_image)
    if check and vmlinux is not None:
        check_match(prog)
    if check:
        check_stripped_image(prog)
        if vmlinux is None:
            check_no_vmlinux(prog)
    return prog
