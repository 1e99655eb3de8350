"""System V IPC: an IPC namespace's semaphore sets, message queues and shared memory segments
(struct ipc_namespace, ipc/util.h, ipc/shm.c, ipc/sem.c, ipc/msg.c).

Each namespace holds `ids[3]` (struct ipc_ids: sem, msg, shm in that order); each ipc_ids counts its
objects in `in_use` and finds them through `ipcs_idr` (an IDR over an XArray since v4.20), whose
entries are the objects' struct kern_ipc_perm, embedded in shmid_kernel, sem_array or msg_queue.
A task's namespace is task->nsproxy->ipc_ns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, FaultError
from crashpy.helpers.list import read_pointer
from crashpy.helpers.xarray import xa_walk

if TYPE_CHECKING:
    from crashpy.program import Program

SEM_IDS, MSG_IDS, SHM_IDS = 0, 1, 2
SHM_DEST = 0o1000
SHM_LOCKED = 0o2000
HPAGE_SHIFT = 21  # x86_64, when hugetlbfs's hstate cannot be read


@dataclass
class IpcObject:
    """One IPC object as `ipcs` lists it; `kind` is "shm", "sem" or "msg"."""

    kind: str
    address: int  # the shmid_kernel / sem_array / msg_queue
    key: int
    id: int
    uid: int
    mode: int  # kern_ipc_perm.mode
    deleted: bool
    bytes: int = 0  # shm: shm_segsz; msg: q_cbytes
    nattch: int = 0  # shm
    nsems: int = 0  # sem
    messages: int = 0  # msg: q_qnum
    inode: int = 0  # shm: the segment's inode (the vfs_inode of its shmem_inode_info)
    rss: int = 0  # shm: resident pages
    swap: int = 0  # shm: swapped pages


def _check(prog: Program) -> None:
    if not (prog.has_member("ipc_namespace", "ids") and prog.has_member("ipc_ids", "ipcs_idr")):
        raise CommandError("cannot determine ipc_namespace location!")
    if not prog.has_member("idr", "idr_rt"):
        raise CommandError("the IDR of this kernel (without idr_rt) is not read")


def task_ipc_namespace(prog: Program, task: int) -> int:
    """task->nsproxy->ipc_ns (struct ipc_namespace *)."""
    _check(prog)
    nsproxy = read_pointer(prog, task + prog.offsetof("task_struct", "nsproxy"), "task_struct.nsproxy")
    try:
        return read_pointer(prog, nsproxy + prog.offsetof("nsproxy", "ipc_ns"), "nsproxy.ipc_ns")
    except FaultError:
        raise CommandError("cannot determine ipc_namespace location!") from None


def ipc_ids(prog: Program, ns: int, which: int) -> int:
    """&ns->ids[which] (struct ipc_ids *)."""
    return ns + prog.offsetof("ipc_namespace", "ids") + which * prog.sizeof("ipc_ids")


def in_use(prog: Program, ids: int) -> int:
    raw = prog.read(ids + prog.offsetof("ipc_ids", "in_use"), 4, what="ipc_ids.in_use")
    return int.from_bytes(raw, "little", signed=True)


def ipc_perms(prog: Program, ids: int) -> Iterator[int]:
    """The struct kern_ipc_perm of each object in the ipc_ids' IDR, in id order."""
    idr = ids + prog.offsetof("ipc_ids", "ipcs_idr") + prog.offsetof("idr", "idr_rt")
    for slot in xa_walk(prog, idr):
        if slot.slot:
            yield slot.slot


def _u(raw: bytes, off: int, size: int, signed: bool = False) -> int:
    return int.from_bytes(raw[off : off + size], "little", signed=signed)


def _perm_fields(prog: Program, raw: bytes, base: int) -> dict[str, int]:
    def off(member: str) -> int:
        return base + prog.offsetof("kern_ipc_perm", member)

    return {
        "key": _u(raw, off("key"), 4, True),
        "id": _u(raw, off("id"), 4, True),
        "uid": _u(raw, off("uid"), 4),
        "mode": _u(raw, off("mode"), 2),
        "deleted": raw[off("deleted")],
    }


def _member(prog: Program, struct: str, member: str) -> int:
    return prog.offsetof(struct, member)


def _read_object(
    prog: Program, struct: str, perm_member: str, perm: int
) -> tuple[int, bytes, dict[str, int]]:
    base = perm - _member(prog, struct, perm_member)
    raw = prog.read(base, prog.sizeof(struct), what=struct)
    fields = _perm_fields(prog, raw, _member(prog, struct, perm_member))
    return base, raw, fields


def _is_hugetlb_file(prog: Program, file: int) -> bool:
    """crash's is_file_hugepages(): the file's f_op is hugetlbfs's, or shm's huge operations."""
    f_op = read_pointer(prog, file + prog.offsetof("file", "f_op"), "file.f_op")
    for name in ("hugetlbfs_file_operations", "shm_file_operations_huge"):
        if prog.has_symbol(name) and f_op == prog.symbol_address(name):
            return True
    return False


def _shm_pages(prog: Program, file: int, inode: int) -> tuple[int, int]:
    """(resident, swapped) pages of a segment's inode (crash's add_rss_swap)."""
    mapping = read_pointer(prog, inode + prog.offsetof("inode", "i_mapping"), "inode.i_mapping")
    nrpages = read_pointer(prog, mapping + prog.offsetof("address_space", "nrpages"), "address_space.nrpages")
    if _is_hugetlb_file(prog, file):
        per_page = (1 << HPAGE_SHIFT) >> 12
        if prog.has_member("hstate", "order") and prog.has_member("hugetlbfs_sb_info", "hstate"):
            sb = read_pointer(prog, inode + prog.offsetof("inode", "i_sb"), "inode.i_sb")
            info = read_pointer(prog, sb + prog.offsetof("super_block", "s_fs_info"), "super_block.s_fs_info")
            hstate = read_pointer(
                prog, info + prog.offsetof("hugetlbfs_sb_info", "hstate"), "hugetlbfs_sb_info.hstate"
            )
            per_page = 1 << prog.read_u32(hstate + prog.offsetof("hstate", "order"))
        return per_page * nrpages, 0
    info = inode - prog.offsetof("shmem_inode_info", "vfs_inode")
    swapped = read_pointer(
        prog, info + prog.offsetof("shmem_inode_info", "swapped"), "shmem_inode_info.swapped"
    )
    return nrpages, swapped


def shm_object(prog: Program, perm: int) -> IpcObject:
    base, raw, f = _read_object(prog, "shmid_kernel", "shm_perm", perm)
    obj = IpcObject("shm", base, f["key"], f["id"], f["uid"], f["mode"], bool(f["deleted"]))
    obj.bytes = _u(raw, _member(prog, "shmid_kernel", "shm_segsz"), 8)
    obj.nattch = _u(raw, _member(prog, "shmid_kernel", "shm_nattch"), 8)
    file = _u(raw, _member(prog, "shmid_kernel", "shm_file"), 8)
    dentry = read_pointer(prog, file + prog.offsetof("file", "f_path.dentry"), "file.f_dentry")
    obj.inode = read_pointer(prog, dentry + prog.offsetof("dentry", "d_inode"), "dentry.d_inode")
    obj.rss, obj.swap = _shm_pages(prog, file, obj.inode)
    return obj


def sem_object(prog: Program, perm: int) -> IpcObject:
    base, raw, f = _read_object(prog, "sem_array", "sem_perm", perm)
    obj = IpcObject("sem", base, f["key"], f["id"], f["uid"], f["mode"], bool(f["deleted"]))
    # sem_nsems is an int: crash 8.0.6 reads a long there (taking complex_count into its upper half)
    obj.nsems = _u(raw, _member(prog, "sem_array", "sem_nsems"), 4, True)
    return obj


def msg_object(prog: Program, perm: int) -> IpcObject:
    base, raw, f = _read_object(prog, "msg_queue", "q_perm", perm)
    obj = IpcObject("msg", base, f["key"], f["id"], f["uid"], f["mode"], bool(f["deleted"]))
    obj.bytes = _u(raw, _member(prog, "msg_queue", "q_cbytes"), 8)
    obj.messages = _u(raw, _member(prog, "msg_queue", "q_qnum"), 8)
    return obj


READERS = {SHM_IDS: shm_object, SEM_IDS: sem_object, MSG_IDS: msg_object}


def ipc_objects(prog: Program, ns: int, which: int) -> list[IpcObject] | None:
    """The objects of one kind in the namespace, in id order (deleted ones included: the caller
    skips them); None when its ipc_ids counts none in use (crash then looks no further)."""
    ids = ipc_ids(prog, ns, which)
    if not in_use(prog, ids):
        return None
    return [READERS[which](prog, perm) for perm in ipc_perms(prog, ids)]
