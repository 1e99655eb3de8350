"""The virtual file system as crash reads it: a task's open files (files_struct / fdtable), a file's
dentry and inode, a dentry's path across mounts (crash's get_pathname), the mounts of a mount
namespace, and an inode's page cache.

Every read goes through a whole-struct read named as crash names it ("fill_dentry_cache", "fdtable
buffer", ...), so a page a filtered dump left out fails with crash's words.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CrashpyError, FaultError
from crashpy.helpers.list import walk_list

if TYPE_CHECKING:
    from crashpy.program import Program

BUFSIZE = 1500  # crash's BUFSIZE: the longest path get_pathname() builds
PATH_LIMIT = 4096  # dentries and mounts followed at most (a loop in a damaged tree ends here)
S_IFMT = 0o170000
_TYPES = {
    0o100000: "REG ",
    0o120000: "LNK ",
    0o040000: "DIR ",
    0o020000: "CHR ",
    0o060000: "BLK ",
    0o010000: "FIFO",
    0o140000: "SOCK",
}


@dataclass(frozen=True)
class FsLayout:
    """The offsets and sizes of the VFS structures crash reads."""

    dentry_size: int
    d_name_len: int
    d_name_name: int
    d_parent: int
    d_inode: int
    d_iname: int
    d_iname_size: int
    d_sb: int
    inode_size: int
    i_mode: int
    i_op: int
    i_sb: int
    i_mapping: int
    file_size: int
    f_dentry: int
    f_vfsmnt: int
    mount_size: int
    mnt: int  # mount.mnt: the struct vfsmount inside
    mnt_parent: int
    mnt_mountpoint: int
    mnt_devname: int
    mnt_list: int
    mnt_sb: int  # vfsmount.mnt_sb
    files_size: int
    fdt: int
    open_fds_init: int
    fdtable_size: int
    max_fds: int
    fd: int
    open_fds: int
    fs_size: int
    fs_root: int
    fs_pwd: int
    path_dentry: int
    path_mnt: int
    task_fs: int
    task_files: int
    task_nsproxy: int
    nsproxy_mnt_ns: int
    ns_root: int
    ns_list: int
    sb_size: int
    s_type: int
    fst_name: int
    nrpages: int
    i_pages: int


def fs_layout(prog: Program) -> FsLayout:
    def build() -> FsLayout:
        o = prog.offsetof
        return FsLayout(
            prog.sizeof("dentry"),
            o("dentry", "d_name.len"),
            o("dentry", "d_name.name"),
            o("dentry", "d_parent"),
            o("dentry", "d_inode"),
            o("dentry", "d_iname"),
            _member_size(prog, "dentry", "d_iname"),
            o("dentry", "d_sb"),
            prog.sizeof("inode"),
            o("inode", "i_mode"),
            o("inode", "i_op"),
            o("inode", "i_sb"),
            o("inode", "i_mapping"),
            prog.sizeof("file"),
            o("file", "f_path.dentry"),
            o("file", "f_path.mnt"),
            prog.sizeof("mount"),
            o("mount", "mnt"),
            o("mount", "mnt_parent"),
            o("mount", "mnt_mountpoint"),
            o("mount", "mnt_devname"),
            o("mount", "mnt_list"),
            o("vfsmount", "mnt_sb"),
            prog.sizeof("files_struct"),
            o("files_struct", "fdt"),
            o("files_struct", "open_fds_init"),
            prog.sizeof("fdtable"),
            o("fdtable", "max_fds"),
            o("fdtable", "fd"),
            o("fdtable", "open_fds"),
            prog.sizeof("fs_struct"),
            o("fs_struct", "root"),
            o("fs_struct", "pwd"),
            o("path", "dentry"),
            o("path", "mnt"),
            o("task_struct", "fs"),
            o("task_struct", "files"),
            o("task_struct", "nsproxy"),
            o("nsproxy", "mnt_ns"),
            o("mnt_namespace", "root") if prog.has_member("mnt_namespace", "root") else -1,
            o("mnt_namespace", "list") if prog.has_member("mnt_namespace", "list") else -1,
            prog.sizeof("super_block"),
            o("super_block", "s_type"),
            o("file_system_type", "name"),
            o("address_space", "nrpages"),
            o("address_space", "i_pages"),
        )

    layout: FsLayout = prog.cache("helpers.fs.layout", build)
    return layout


def _member_size(prog: Program, struct: str, member: str) -> int:
    from crashpy.expr import evaluate

    return int(evaluate(prog, f"sizeof(((struct {struct} *)0)->{member})").value_())


def _u64(buf: bytes, off: int) -> int:
    return int.from_bytes(buf[off : off + 8], "little")


def _ptr(prog: Program, addr: int, what: str) -> int:
    return int.from_bytes(prog.read(addr, 8, what=what), "little")


def _u32(buf: bytes, off: int) -> int:
    return int.from_bytes(buf[off : off + 4], "little")


def _cached_read(prog: Program, key: str, addr: int, size: int, what: str) -> bytes:
    """A whole struct at `addr`, remembered per Program (crash's fill_*_cache)."""
    cache: dict[int, bytes] = prog.cache(f"helpers.fs.{key}", dict)
    buf = cache.get(addr)
    if buf is None:
        if len(cache) >= 1 << 15:
            cache.clear()
        buf = cache[addr] = prog.read(addr, size, what=what)
    return buf


def dentry_buf(prog: Program, dentry: int) -> bytes:
    return _cached_read(prog, "dentry", dentry, fs_layout(prog).dentry_size, "fill_dentry_cache")


def inode_buf(prog: Program, inode: int) -> bytes:
    return _cached_read(prog, "inode", inode, fs_layout(prog).inode_size, "fill_inode_cache")


def file_buf(prog: Program, file: int) -> bytes:
    return _cached_read(prog, "file", file, fs_layout(prog).file_size, "fill_file_cache")


def mount_buf(prog: Program, mount: int) -> bytes:
    return _cached_read(prog, "mount", mount, fs_layout(prog).mount_size, "mount buffer")


def read_string(prog: Program, addr: int, maxlen: int = BUFSIZE - 1) -> str | None:
    """crash's read_string(): the string at `addr`, or None when it cannot be read."""
    try:
        raw = prog.read_cstring(addr, maxlen)
    except FaultError:
        return None
    return raw.decode("utf-8", "surrogateescape")


def _component(prog: Program, dentry: int, buf: bytes, lay: FsLayout) -> str | None:
    """The dentry's name when its length agrees with d_name.len (crash's get_pathname_component)."""
    length = _u32(buf, lay.d_name_len)
    name = _u64(buf, lay.d_name_name)
    if name == dentry + lay.d_iname:
        raw = buf[lay.d_iname : lay.d_iname + lay.d_iname_size]
        text = raw.split(b"\0", 1)[0]
        return text.decode("utf-8", "surrogateescape") if len(text) == length else None
    s = read_string(prog, name, BUFSIZE)
    if s is None or len(s.encode("utf-8", "surrogateescape")) != length:
        return None
    return s


def get_pathname(prog: Program, dentry: int, full: bool = True, vfsmnt: int = 0) -> str:
    """crash's get_pathname(): the path of `dentry`, climbing from each mount's root to the dentry it
    is mounted on when `full` and a struct vfsmount `vfsmnt` is given.  Remembered per Program: every
    task's files name the same few dentries (the console, the root, /dev/null)."""
    return prog.remember("helpers.fs.pathname", (dentry, full, vfsmnt),
                         lambda: _pathname(prog, dentry, full, vfsmnt))


def _pathname(prog: Program, dentry: int, full: bool, vfsmnt: int) -> str:
    lay = fs_layout(prog)
    pathname = ""
    parent = dentry
    tmp_vfsmnt = vfsmnt
    for _ in range(PATH_LIMIT):
        tmp_dentry = parent
        buf = dentry_buf(prog, tmp_dentry)
        length = _u32(buf, lay.d_name_len)
        if not length or not _u64(buf, lay.d_name_name):
            break
        name = _component(prog, tmp_dentry, buf, lay)
        if name is None:
            break
        if tmp_dentry != dentry:
            if len(pathname) + length < BUFSIZE:
                if (length > 1 or name != "/") and not pathname.startswith("/"):
                    pathname = f"{name}/{pathname}"
                else:
                    pathname = name + pathname
        else:
            pathname = name
        parent = _u64(buf, lay.d_parent)
        if tmp_dentry == parent and full and tmp_vfsmnt:
            if pathname.startswith("//"):
                pathname = pathname[1:]
            mount = tmp_vfsmnt - lay.mnt
            mbuf = mount_buf(prog, mount)
            parent = _u64(mbuf, lay.mnt_mountpoint)
            mnt_parent = _u64(mbuf, lay.mnt_parent)
            if mount == mnt_parent:
                break
            tmp_vfsmnt = mnt_parent + lay.mnt
        if tmp_dentry == parent or not parent:
            break
    return pathname


def vfsmount_devname(prog: Program, vfsmnt: int) -> str:
    """The device name of the mount holding struct vfsmount `vfsmnt` ("" when unreadable)."""
    return prog.remember("helpers.fs.devname", vfsmnt, lambda: _devname(prog, vfsmnt))


def _devname(prog: Program, vfsmnt: int) -> str:
    lay = fs_layout(prog)
    try:
        devp = _ptr(prog, vfsmnt - lay.mnt + lay.mnt_devname, "mount mnt_devname")
    except FaultError:
        return ""
    return read_string(prog, devp) or ""


def root_vfsmount(prog: Program, vfsmnt: int) -> int:
    """crash's get_root_vfsmount(): a devtmpfs (or udev) mount on another of its kind names the outer one."""
    return prog.remember("helpers.fs.root_vfsmount", vfsmnt, lambda: _root_vfsmount(prog, vfsmnt))


def _root_vfsmount(prog: Program, vfsmnt: int) -> int:
    lay = fs_layout(prog)
    dev = vfsmount_devname(prog, vfsmnt)
    if dev not in ("udev", "devtmpfs"):
        return vfsmnt
    try:
        parent = _ptr(prog, vfsmnt - lay.mnt + lay.mnt_parent, "mount mnt_parent")
    except FaultError:
        return vfsmnt
    if dev == vfsmount_devname(prog, parent):
        return parent
    return vfsmnt


def inode_type(prog: Program, inode: int, pathname: str) -> tuple[str, str]:
    """crash's inode_type(): the 4-character type of `inode`, and the path as crash then prints it
    (empty for a pipe, and for a socket whose path is "/")."""
    lay = fs_layout(prog)
    buf = inode_buf(prog, inode)
    mode = int.from_bytes(buf[lay.i_mode : lay.i_mode + 2], "little")
    kind = _TYPES.get(mode & S_IFMT, "UNKN")
    if kind == "FIFO":
        if prog.has_symbol("pipe_inode_operations"):
            if _u64(buf, lay.i_op) == prog.symbol_address("pipe_inode_operations"):
                return "PIPE", ""
        elif prog.has_symbol("rdwr_pipe_fops") and prog.has_member("inode", "i_fop"):
            if _u64(buf, prog.offsetof("inode", "i_fop")) == prog.symbol_address("rdwr_pipe_fops"):
                return "PIPE", ""
    if kind == "SOCK" and pathname == "/":
        return kind, ""
    return kind, pathname


@dataclass(frozen=True)
class OpenFile:
    """One open file descriptor as `files` shows it; dentry/inode 0 when the file has none."""

    fd: int
    file: int
    dentry: int
    inode: int
    type: str  # crash's 4 characters ("REG ", "SOCK", ...), "?   " without a dentry or inode
    path: str
    i_mapping: int = 0
    nrpages: int = 0


def file_row(prog: Program, file: int, fd: int, nrpages: bool = False) -> OpenFile:
    """crash's file_dump() for descriptor `fd` holding struct file `file` (DUMP_FULL_NAME)."""
    lay = fs_layout(prog)
    fbuf = file_buf(prog, file)
    dentry = _u64(fbuf, lay.f_dentry)
    if not dentry:
        return OpenFile(fd, file, 0, 0, "?   ", "?")
    inode = _u64(dentry_buf(prog, dentry), lay.d_inode)
    if not inode:
        return OpenFile(fd, file, dentry, 0, "?   ", "?")
    inode_buf(prog, inode)
    vfsmnt = root_vfsmount(prog, _u64(fbuf, lay.f_vfsmnt))
    path = get_pathname(prog, dentry, True, vfsmnt)
    if path.startswith("/pts/") and vfsmount_devname(prog, vfsmnt) == "devpts":
        path = "/dev" + path
    kind, path = inode_type(prog, inode, path)
    mapping = pages = 0
    if nrpages:
        mapping = _u64(inode_buf(prog, inode), lay.i_mapping)
        pages = address_space_nrpages(prog, mapping)
    return OpenFile(fd, file, dentry, inode, kind, path, mapping, pages)


def address_space_nrpages(prog: Program, mapping: int) -> int:
    lay = fs_layout(prog)
    buf = prog.read(mapping, prog.sizeof("address_space"), what="address_space buffer")
    return _u64(buf, lay.nrpages)


@dataclass(frozen=True)
class TaskFs:
    """A task's root and working directory (fs_struct), or None for a task without one."""

    root_dentry: int
    root_path: str
    pwd_dentry: int
    pwd_path: str


def task_fs(prog: Program, task: int) -> TaskFs | None:
    lay = fs_layout(prog)
    fs = _ptr(prog, task + lay.task_fs, "fill_task_struct")
    if not fs:
        return None
    buf = prog.read(fs, lay.fs_size, what="fs_struct buffer")
    paths = []
    for where in (lay.fs_root, lay.fs_pwd):
        dentry = _u64(buf, where + lay.path_dentry)
        mnt = _u64(buf, where + lay.path_mnt)
        paths.append((dentry, get_pathname(prog, dentry, True, mnt) if dentry else ""))
    return TaskFs(paths[0][0], paths[0][1], paths[1][0], paths[1][1])


@dataclass(frozen=True)
class FdTable:
    """A task's descriptor table: max_fds, the fd array and the numbers of its open bits."""

    max_fds: int
    fd_array: int
    open: list[int]

    def files(self, prog: Program) -> Iterator[tuple[int, int]]:
        """(fd, struct file) of each open descriptor, each pointer read when it is reached (crash's
        "fd file" read: a fault stops the listing there)."""
        for i in self.open:
            yield i, int.from_bytes(prog.read(self.fd_array + 8 * i, 8, what="fd file"), "little")


def task_fdtable(prog: Program, task: int) -> FdTable | None:
    """The open descriptors of `task` (crash's open_files_dump walk), None when it has no table."""
    lay = fs_layout(prog)
    files = _ptr(prog, task + lay.task_files, "fill_task_struct")
    if not files:
        return None
    fbuf = prog.read(files, lay.files_size, what="files_struct buffer")
    fdt = _u64(fbuf, lay.fdt)
    if not fdt:
        return None
    tbuf = prog.read(fdt, lay.fdtable_size, what="fdtable buffer")
    max_fds = _u32(tbuf, lay.max_fds)
    if max_fds == 0:
        return None
    open_fds = _u64(tbuf, lay.open_fds)
    fd_array = _u64(tbuf, lay.fd)
    if not open_fds or not fd_array:
        return FdTable(max_fds, fd_array, [])
    size = max_fds // 8
    if open_fds == files + lay.open_fds_init:
        bits = fbuf[lay.open_fds_init : lay.open_fds_init + size]
    else:
        bits = prog.read(open_fds, size, what="fdtable open_fds")
    value = int.from_bytes(bits, "little")
    return FdTable(max_fds, fd_array, [i for i in range(min(max_fds, len(bits) * 8)) if value >> i & 1])


# ---- mounts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MountRow:
    """One mount as `mount` lists it."""

    mount: int
    superblock: int
    type: str | None  # the file system type's name, None when unreadable
    devname: str | None
    dirname: str


def mount_list(prog: Program, task: int) -> list[int]:
    """The struct mount addresses of the mount namespace of `task` (crash's get_mount_list)."""
    lay = fs_layout(prog)
    nsproxy = _ptr(prog, task + lay.task_nsproxy, "task nsproxy")
    try:
        mnt_ns = _ptr(prog, nsproxy + lay.nsproxy_mnt_ns, "nsproxy mnt_ns")
    except FaultError as e:
        raise CrashpyError("cannot determine mount list location!") from e
    if prog.has_member("mnt_namespace", "nr_mounts"):
        return _mounts_rbtree(prog, mnt_ns)
    try:
        root = _ptr(prog, mnt_ns + lay.ns_root, "mnt_namespace root")
    except FaultError as e:
        raise CrashpyError("cannot determine mount list location!") from e
    start = root + lay.mnt_list
    return [
        p - lay.mnt_list
        for p in walk_list(prog, start, list_head_offset=lay.mnt_list, end=mnt_ns + lay.ns_list)
    ]


def _mounts_rbtree(prog: Program, mnt_ns: int) -> list[int]:
    from crashpy.helpers.rbtree import rbtree_inorder_for_each
    from crashpy.object import Object

    off = prog.offsetof("mount", "mnt_node")
    root = Object(prog, "struct mnt_namespace", mnt_ns).mounts
    return [int(node) - off for node in rbtree_inorder_for_each(root)]


def mount_row(prog: Program, mount: int) -> MountRow:
    lay = fs_layout(prog)
    mbuf = mount_buf(prog, mount)
    devp = _u64(mbuf, lay.mnt_devname)
    mnt_parent = _u64(mbuf, lay.mnt_parent)
    mountpoint = _u64(mbuf, lay.mnt_mountpoint)
    sb = _u64(mbuf, lay.mnt + lay.mnt_sb)
    if not prog.is_kvaddr(sb):
        raise MountWithoutSuperblock(mount)
    sbuf = prog.read(sb, lay.sb_size, what="super_block buffer")
    fstype = _u64(sbuf, lay.s_type)
    name = int.from_bytes(prog.read(fstype + lay.fst_name, 8, what="file_system_type name"), "little")
    type_name = read_string(prog, name, BUFSIZE // 2 - 1)
    devname = read_string(prog, devp)
    dirname = get_pathname(prog, mountpoint, True, mnt_parent + lay.mnt)
    return MountRow(mount, sb, type_name or None, devname or None, dirname)


class MountWithoutSuperblock(CrashpyError):
    def __init__(self, mount: int) -> None:
        super().__init__(f"cannot get super_block from vfsmnt: 0x{mount:x}")
        self.mount = mount


def mount_superblock(prog: Program, mount: int) -> int:
    return _u64(mount_buf(prog, mount), fs_layout(prog).mnt + fs_layout(prog).mnt_sb)


@dataclass(frozen=True)
class DentryInfo:
    """`files -d`: a dentry, its inode and superblock, the inode's type and the dentry's path."""

    dentry: int
    inode: int
    superblock: int
    type: str | None  # None: no inode ("N/A")
    path: str


def dentry_info(prog: Program, dentry: int, task: int) -> DentryInfo:
    """crash's display_dentry_info(): the path is built under the first mount of the superblock in the
    namespace of `task` (crash uses pid 1's)."""
    lay = fs_layout(prog)
    buf = dentry_buf(prog, dentry)
    inode = _u64(buf, lay.d_inode)
    sb = _u64(inode_buf(prog, inode), lay.i_sb) if inode else _u64(buf, lay.d_sb)
    path = ""
    if sb:
        found = False
        for mount in mount_list(prog, task):
            if mount_superblock(prog, mount) == sb:
                path = get_pathname(prog, dentry, True, mount + lay.mnt)
                found = True
        for sym in ("pipe_mnt", "sock_mnt"):
            if found or not prog.has_symbol(sym):
                continue
            vfs = _ptr(prog, prog.symbol_address(sym), sym)
            if mount_superblock(prog, vfs - lay.mnt) == sb:
                path = get_pathname(prog, dentry, True, vfs)
                found = True
    kind = None
    if inode:
        kind, path = inode_type(prog, inode, path)
    return DentryInfo(dentry, inode, sb, kind, path)


# ---- the page cache --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageCache:
    inode: int
    mapping: int
    nrpages: int


def inode_page_cache(prog: Program, inode: int) -> PageCache:
    lay = fs_layout(prog)
    ibuf = prog.read(inode, lay.inode_size, what="inode buffer")
    mapping = _u64(ibuf, lay.i_mapping)
    return PageCache(inode, mapping, address_space_nrpages(prog, mapping))


def page_cache_entries(prog: Program, mapping: int) -> Iterator[int]:
    """The entries of the page cache of address_space `mapping` (struct page / folio pointers, and
    the value entries a shadow leaves), in index order."""
    from crashpy.helpers.xarray import xa_walk

    lay = fs_layout(prog)
    for slot in xa_walk(prog, mapping + lay.i_pages):
        if slot.slot:
            yield slot.slot


# ---- memory areas and their files (vm -i) ----------------------------------------------------------


@dataclass(frozen=True)
class MappedArea:
    """A memory area with the inode and path of the file it maps (0 and "" when anonymous)."""

    vma: int
    start: int
    end: int
    flags: int
    inode: int
    path: str


def mapped_files(prog: Program, mm: int) -> Iterator[MappedArea]:
    """The areas of mm_struct `mm` as crash's `vm -i` reads them: the file's path under its own mount."""
    from crashpy.helpers.vma import vma_addresses

    lay = fs_layout(prog)
    size = prog.sizeof("vm_area_struct")
    offs = [prog.offsetof("vm_area_struct", m) for m in ("vm_start", "vm_end", "vm_flags", "vm_file")]
    for vma in vma_addresses(prog, mm):
        if not vma:
            continue
        buf = prog.read(vma, size, what="fill_vma_cache")
        start, end, flags, file = (_u64(buf, o) for o in offs)
        inode = 0
        path = ""
        if file:
            fbuf = file_buf(prog, file)
            dentry = _u64(fbuf, lay.f_dentry)
            if dentry:
                inode = _u64(dentry_buf(prog, dentry), lay.d_inode)
                path = get_pathname(prog, dentry, True, _u64(fbuf, lay.f_vfsmnt))
        yield MappedArea(vma, start, end, flags, inode, path)
