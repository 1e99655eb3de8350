"""A task's memory areas (struct vm_area_struct) and the path of the file one maps."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.helpers.maple_tree import mt_entries, mt_for_each
from crashpy.object import Object

if TYPE_CHECKING:
    from crashpy.program import Program

PATH_LIMIT = 256  # dentries followed at most (a loop in a damaged tree ends here)


@dataclass(frozen=True)
class Vma:
    """One memory area as crash's `vm` lists it."""

    address: int  # the struct vm_area_struct
    start: int
    end: int
    flags: int
    file: str  # the mapped file's path, "" for an anonymous area
    pgoff: int = 0  # vm_pgoff: the area's first page in its file
    mm: int = 0  # vm_mm


def vma_addresses(prog: Program, mm: int) -> list[int]:
    """The struct vm_area_struct addresses of mm_struct `mm`, in address order (maple tree, 6.1+)."""
    if prog.has_member("mm_struct", "mm_mt"):
        return [entry for _, _, entry in mt_entries(prog, mm + prog.offsetof("mm_struct", "mm_mt"))]
    mm_obj = Object(prog, "struct mm_struct", mm)
    out: list[int] = []
    vma = int(mm_obj.mmap)
    while vma and len(out) < 1 << 20:
        out.append(vma)
        vma = int(Object(prog, "struct vm_area_struct", vma).vm_next)
    return out


def find_vma(prog: Program, mm: int, vaddr: int) -> Vma | None:
    """The area of mm_struct `mm` holding `vaddr` (its maple tree, 6.1+; else its mmap list)."""
    mm_obj = Object(prog, "struct mm_struct", mm)
    if mm_obj.has_member_("mm_mt"):
        for first, last, entry in mt_for_each(mm_obj.mm_mt):
            if first <= vaddr <= last:
                return _vma(prog, int(entry))
        return None
    vma = int(mm_obj.mmap)
    for _ in range(1 << 20):
        if not vma:
            break
        obj = Object(prog, "struct vm_area_struct", vma)
        if int(obj.vm_start) <= vaddr < int(obj.vm_end):
            return _vma(prog, vma)
        vma = int(obj.vm_next)
    return None


_VMA_FIELDS = ("vm_start", "vm_end", "vm_flags", "vm_file", "vm_pgoff", "vm_mm")


def _vma_layout(prog: Program) -> tuple[int, tuple[int, ...]]:
    """sizeof(struct vm_area_struct) and the offsets of the members a Vma holds."""

    def build() -> tuple[int, tuple[int, ...]]:
        return prog.sizeof("vm_area_struct"), tuple(prog.offsetof("vm_area_struct", m) for m in _VMA_FIELDS)

    result: tuple[int, tuple[int, ...]] = prog.cache("helpers.vma.layout", build)
    return result


def _vma(prog: Program, address: int, paths: dict[int, str] | None = None) -> Vma:
    """The area at `address`, read as one block (crash's fill_vma_cache)."""
    size, offsets = _vma_layout(prog)
    buf = prog.read(address, size, what="fill_vma_cache")
    start, end, flags, file, pgoff, mm = (int.from_bytes(buf[o : o + 8], "little") for o in offsets)
    path = ""
    if file:
        if paths is None:
            path = file_path(prog, file)
        else:
            path = paths.get(file) or paths.setdefault(file, file_path(prog, file))
    return Vma(address, start, end, flags, path, pgoff, mm)


def mm_vmas(prog: Program, mm: int) -> list[Vma]:
    """Every area of mm_struct `mm`, in address order, with its file's path (crash's `vm` rows)."""
    return list(iter_vmas(prog, mm))


def iter_vmas(prog: Program, mm: int) -> Iterator[Vma]:
    """mm_vmas() one area at a time (a bad area fails when it is reached)."""
    paths: dict[int, str] = {}
    for vma in vma_addresses(prog, mm):
        if vma:
            yield _vma(prog, vma, paths)


def file_path(prog: Program, file: int) -> str:
    """The path of struct file `file` from the root of its mount tree (crash's get_pathname)."""
    path = Object(prog, "struct file", file).f_path
    key = (int(path.dentry), int(path.mnt))
    known: dict[tuple[int, int], str] = prog.cache("helpers.vma.paths", dict)
    name = known.get(key)
    if name is None:
        if len(known) >= 1 << 16:
            known.clear()
        name = known[key] = dentry_path(prog, *key)
    return name


def dentry_path(prog: Program, dentry: int, vfsmnt: int) -> str:
    """The path of `dentry` under the struct vfsmount `vfsmnt`, up through the mounts above it."""
    parts: list[str] = []
    mount = Object(prog, "struct vfsmount", vfsmnt).container_of_("struct mount", "mnt").deref_() if vfsmnt else None
    for _ in range(PATH_LIMIT):
        d = Object(prog, "struct dentry", dentry)
        parent = int(d.d_parent)
        if mount is not None and dentry == int(mount.mnt.mnt_root):
            up = int(mount.mnt_parent)
            if not up or up == mount.address_:
                break
            dentry = int(mount.mnt_mountpoint)
            mount = Object(prog, "struct mount", up)
            continue
        if parent == dentry or not parent:
            break
        name = d.d_name
        parts.append(prog.read_cstring(int(name.name)).decode("utf-8", "surrogateescape"))
        dentry = parent
    return "/" + "/".join(reversed(parts))
