"""Swap devices and swap entries: `swap_info[]`'s used slots (struct swap_info_struct), the path and
kind of each device, and what a not-present page-table entry says about where its page went
(x86_64's swp_entry encoding, inverted since the L1TF fix of v4.19)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import FaultError
from crashpy.helpers.vma import dentry_path
from crashpy.object import Object, has_member, object_for_symbol, resolve
from crashpy.types.model import ArrayType

if TYPE_CHECKING:
    from crashpy.program import Program

SWP_USED = 1  # include/linux/swap.h: the slot is in use
S_IFMT, S_IFBLK = 0o170000, 0o060000
UNKNOWN = "(unknown swap location)"


@dataclass(frozen=True)
class SwapDevice:
    """One used swap_info_struct: its size and use in pages, its priority, and its file."""

    swap_info: Object  # struct swap_info_struct *
    pages: int
    inuse_pages: int
    prio: int

    @property
    def address(self) -> int:
        return int(self.swap_info)


def swap_devices(prog: Program) -> list[SwapDevice]:
    """The swap_info[] entries up to nr_swapfiles with SWP_USED set."""
    nr = int(object_for_symbol(prog, "nr_swapfiles"))
    swap_info = object_for_symbol(prog, "swap_info")
    out = []
    for i in range(nr):
        try:
            si = swap_info.index_(i)
            if not int(si):
                continue
            s = si.deref_()
            if not int(s.member_("flags")) & SWP_USED:
                continue
            out.append(
                SwapDevice(si, int(s.member_("pages")), int(s.member_("inuse_pages")), int(s.member_("prio")))
            )
        except FaultError:
            continue
    return out


def is_partition(prog: Program, device: SwapDevice) -> bool:
    """Whether the device is a block device (crash's "PARTITION") rather than a swap file. Kernels
    before v6.10 keep `old_block_size` (set only for block devices); later ones are asked the mode
    of the swap file's inode."""
    s = device.swap_info.deref_()
    if has_member(prog, "struct swap_info_struct", "swap_device"):
        return bool(int(s.member_("swap_device")))
    if has_member(prog, "struct swap_info_struct", "old_block_size"):
        return bool(int(s.member_("old_block_size")))
    mode = int(s.member_("swap_file").deref_().member_("f_inode").deref_().member_("i_mode"))
    return mode & S_IFMT == S_IFBLK


def swap_file_path(prog: Program, swap_info: Object) -> str:
    """The path of a swap_info_struct's swap file: from the root of its mount tree, with "/dev" put
    in front when the file lies on a devtmpfs mount that the path does not already start with."""
    s = swap_info.deref_()
    file = int(s.member_("swap_file"))
    if not file:
        return "(unknown)"
    f_path = Object(prog, "struct file", file).member_("f_path")
    mnt = int(f_path.member_("mnt"))
    path = dentry_path(prog, int(f_path.member_("dentry")), mnt)
    if mnt:
        mount = Object(prog, "struct vfsmount", mnt).container_of_("struct mount", "mnt").deref_()
        name = int(mount.member_("mnt_devname"))
        devname = prog.read_cstring(name).decode("latin-1") if name else ""
        if devname in ("devtmpfs", "udev") and not path.startswith("/dev/"):
            path = "/dev" + path
    return path


def _l1tf(prog: Program) -> bool:
    value: bool = prog.cache("swap.l1tf", lambda: prog.has_symbol("l1tf_mitigation"))
    return value


def swp_type_offset(prog: Program, pte: int) -> tuple[int, int]:
    """The swap type (swap_info[] index) and page offset a not-present x86_64 entry holds: the top
    five bits and the inverted bits below them (v4.19's L1TF layout), else bits 9-13 and 14 up."""
    if _l1tf(prog):
        return pte >> 59, ((~pte << 5) & ((1 << 64) - 1)) >> 14
    return (pte >> 9) & 0x1F, pte >> 14


def swap_device_name(prog: Program, swap_type: int) -> str:
    """The path of swap_info[swap_type]'s file, or crash's "(unknown swap location)"."""
    name: str = prog.cache(f"swap.device.{swap_type}", lambda: _device_name(prog, swap_type))
    return name


def _device_name(prog: Program, swap_type: int) -> str:
    try:
        swap_info = object_for_symbol(prog, "swap_info")
    except FaultError:
        return UNKNOWN
    kind = resolve(swap_info.type_)
    length = kind.length if isinstance(kind, ArrayType) and kind.length else 0
    if swap_type >= length:
        return UNKNOWN
    try:
        si = swap_info.index_(swap_type)
        if not int(si):
            return UNKNOWN
        return swap_file_path(prog, si)
    except FaultError:
        return UNKNOWN


def swap_location(prog: Program, pte: int) -> str | None:
    """crash's "<device>  OFFSET: <decimal offset>" for a not-present entry; None for a zero entry
    or a kernel without swap_info."""
    if not pte or not prog.has_symbol("nr_swapfiles") or not prog.has_symbol("swap_info"):
        return None
    swap_type, offset = swp_type_offset(prog, pte)
    return f"{swap_device_name(prog, swap_type)}  OFFSET: {offset}"
