"""Networking: a namespace's network devices and their addresses, the ARP cache, and a task's sockets
(struct net_device, in_device, inet6_dev, neigh_table, socket, sock, inet_sock; include/linux/netdevice.h,
include/net/neighbour.h, include/net/sock.h, include/net/inet_sock.h).

A namespace lists its devices on `net->dev_base_head` (net_device.dev_list); kernels before network
namespaces had the global `dev_base_head`.  A device's IPv4 addresses hang off `ip_ptr` (in_device,
`ifa_list` of in_ifaddr chained by `ifa_next`), its IPv6 ones off `ip6_ptr` (inet6_dev, `addr_list` of
inet6_ifaddr on `if_list`).  The ARP cache is `arp_tbl`, a neigh_table whose neigh_hash_table (`nht`,
since v2.6.37) holds 1 << hash_shift buckets (or hash_mask + 1) of neighbours chained by `next`.

A task's sockets are its open files whose inode is a socket: the inode is the `vfs_inode` of a
struct socket_alloc, whose `socket` comes first; socket.sk is the struct sock.  An inet_sock starts
with its sock, whose sock_common holds the addresses and ports (skc_daddr, skc_rcv_saddr, skc_dport,
skc_num; older kernels had inet_sock.daddr or inet_daddr...), with inet_sport in the inet_sock and
the IPv6 addresses in sock_common.skc_v6_* (since v3.13) or in the ipv6_pinfo that follows the sock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, FaultError
from crashpy.helpers.list import read_pointer
from crashpy.object import resolve
from crashpy.types.model import ArrayType, TypeLookupError

if TYPE_CHECKING:
    from crashpy.program import Program

S_IFMT = 0o170000
S_IFSOCK = 0o140000
AF_INET = 2
AF_INET6 = 10
LIST_LIMIT = 1_000_000


def _u(raw: bytes, off: int, size: int) -> int:
    return int.from_bytes(raw[off : off + size], "little")


def has_type(prog: Program, name: str) -> bool:
    try:
        prog.sizeof(name)
    except TypeLookupError:
        return False
    return True


def member_length(prog: Program, struct: str, member: str) -> int:
    """The element count of an array member (0 when it is no array or not there)."""
    try:
        t = resolve(prog.btf.member(struct, member).type)
    except TypeLookupError:
        return 0
    return t.length if isinstance(t, ArrayType) and t.length else 0


def inet_ntoa(raw: bytes) -> str:
    """An IPv4 address held in network order, dotted."""
    return ".".join(str(b) for b in raw[:4])


def inet6_ntop(raw: bytes) -> str:
    """An IPv6 address as glibc's inet_ntop() writes it: the longest run of two or more zero groups
    (the first of equal ones) as "::", and the embedded IPv4 form of ::a.b.c.d and ::ffff:a.b.c.d."""
    words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, 16, 2)]
    best, best_len, cur, cur_len = -1, 0, -1, 0
    for i, w in enumerate(words):
        if w == 0:
            if cur < 0:
                cur, cur_len = i, 1
            else:
                cur_len += 1
            if cur_len > best_len:
                best, best_len = cur, cur_len
        else:
            cur = -1
    if best_len < 2:
        best = -1
    out = ""
    i = 0
    while i < 8:
        if best >= 0 and best <= i < best + best_len:
            if i == best:
                out += ":"
            i += 1
            continue
        if i:
            out += ":"
        if i == 6 and best == 0 and (best_len == 6 or (best_len == 5 and words[5] == 0xFFFF)):
            out += inet_ntoa(raw[12:16])
            break
        out += f"{words[i]:x}"
        i += 1
    if best >= 0 and best + best_len == 8:
        out += ":"
    return out


def walk_list_head(prog: Program, head: int, what: str = "list entry") -> Iterator[int]:
    """The entries (list_head addresses) of a circular list, its head left out."""
    nxt = read_pointer(prog, head, what)
    seen = 0
    while nxt and nxt != head and seen < LIST_LIMIT:
        yield nxt
        seen += 1
        nxt = read_pointer(prog, nxt, what)


# ---- devices -------------------------------------------------------------------------------------------


@dataclass
class NetDevice:
    """One network device as `net` lists it."""

    address: int  # struct net_device *
    name: str
    ipv4: list[str] = field(default_factory=list)
    ipv6: list[str] = field(default_factory=list)
    type: int = 0  # ARPHRD_*
    addr_len: int = 0


def net_namespace(prog: Program, task: int) -> int:
    """The struct net of a task (task->nsproxy->net_ns); init_net without a task or nsproxy.net_ns."""
    if not task or not prog.has_member("nsproxy", "net_ns"):
        return prog.symbol_address("init_net")
    nsproxy = read_pointer(prog, task + prog.offsetof("task_struct", "nsproxy"), "task_struct.nsproxy")
    try:
        return read_pointer(prog, nsproxy + prog.offsetof("nsproxy", "net_ns"), "nsproxy.net_ns")
    except FaultError:
        raise CommandError("cannot determine net_namespace location!") from None


def device_name(prog: Program, dev: int) -> str:
    n = member_length(prog, "net_device", "name") or 16
    raw = prog.read(dev + prog.offsetof("net_device", "name"), n, what="net_device name")
    return raw.split(b"\0", 1)[0].decode("latin-1")


def ipv4_addresses(prog: Program, dev: int) -> list[str]:
    ip_ptr = read_pointer(prog, dev + prog.offsetof("net_device", "ip_ptr"), "ip_ptr")
    if not ip_ptr:
        return []
    out: list[str] = []
    ifa = read_pointer(prog, ip_ptr + prog.offsetof("in_device", "ifa_list"), "ifa_list")
    while ifa and len(out) < LIST_LIMIT:
        out.append(
            inet_ntoa(prog.read(ifa + prog.offsetof("in_ifaddr", "ifa_address"), 4, what="ifa_address"))
        )
        ifa = read_pointer(prog, ifa + prog.offsetof("in_ifaddr", "ifa_next"), "ifa_next")
    return out


def ipv6_addresses(prog: Program, dev: int) -> list[str]:
    if not prog.has_member("net_device", "ip6_ptr"):
        return []
    ip6 = read_pointer(prog, dev + prog.offsetof("net_device", "ip6_ptr"), "ip6_ptr")
    if not ip6:
        return []
    addr_off = prog.offsetof("inet6_ifaddr", "addr")
    out: list[str] = []
    if prog.has_member("inet6_ifaddr", "if_list"):
        link = prog.offsetof("inet6_ifaddr", "if_list")
        for entry in walk_list_head(prog, ip6 + prog.offsetof("inet6_dev", "addr_list")):
            out.append(inet6_ntop(prog.read(entry - link + addr_off, 16, what="in6_addr.in6_u")))
        return out
    if not prog.has_member("inet6_ifaddr", "if_next"):
        return []
    addr = read_pointer(prog, ip6 + prog.offsetof("inet6_dev", "addr_list"), "inet6_dev.addr_list")
    while addr and len(out) < LIST_LIMIT:
        out.append(inet6_ntop(prog.read(addr + addr_off, 16, what="in6_addr.in6_u")))
        addr = read_pointer(prog, addr + prog.offsetof("inet6_ifaddr", "if_next"), "inet6_ifaddr.if_next")
    return out


def device_info(prog: Program, dev: int, addresses: bool = True) -> NetDevice:
    d = NetDevice(dev, device_name(prog, dev))
    d.type = _u(prog.read(dev + prog.offsetof("net_device", "type"), 2, what="net_device type"), 0, 2)
    d.addr_len = prog.read(dev + prog.offsetof("net_device", "addr_len"), 1, what="net_device addr_len")[0]
    if addresses:
        d.ipv4 = ipv4_addresses(prog, dev)
        d.ipv6 = ipv6_addresses(prog, dev)
    return d


def net_devices(prog: Program, task: int) -> list[NetDevice]:
    """The devices of the task's network namespace (or of the global list on kernels without
    namespaces), in list order."""
    if not has_type(prog, "net_device"):
        raise CommandError("net subsystem not initialized!")
    link = prog.offsetof("net_device", "dev_list")
    if prog.has_symbol("dev_base_head"):
        head = prog.symbol_address("dev_base_head")
    elif prog.has_symbol("init_net"):
        head = net_namespace(prog, task) + prog.offsetof("net", "dev_base_head")
    else:
        raise CommandError("dev_base, dev_base_head or init_net do not exist!")
    return [device_info(prog, entry - link) for entry in walk_list_head(prog, head)]


# ---- the ARP cache -------------------------------------------------------------------------------------


@dataclass
class Neighbour:
    """One neighbour of the ARP cache."""

    address: int  # struct neighbour *
    ip: str
    hw: bytes  # the device's addr_len bytes of neighbour.ha
    device: NetDevice
    state: int  # nud_state


def arp_buckets(prog: Program) -> list[int]:
    """The first neighbour of each hash bucket of arp_tbl (0 for an empty one)."""
    if not prog.has_symbol("arp_tbl"):
        raise CommandError("arp_tbl does not exist in this kernel")
    tbl = prog.symbol_address("arp_tbl")
    if prog.has_member("neigh_table", "nht"):
        nht = read_pointer(prog, tbl + prog.offsetof("neigh_table", "nht"), "neigh_table nht")
        if prog.has_member("neigh_hash_table", "hash_mask"):
            off = prog.offsetof("neigh_hash_table", "hash_mask")
            count = _u(prog.read(nht + off, 4, what="neigh_hash_table hash_mask"), 0, 4) + 1
        elif prog.has_member("neigh_hash_table", "hash_shift"):
            off = prog.offsetof("neigh_hash_table", "hash_shift")
            count = 1 << _u(prog.read(nht + off, 4, what="neigh_hash_table hash_shift"), 0, 4)
        else:
            count = 0
        base = nht + prog.offsetof("neigh_hash_table", "hash_buckets") if count else 0
        what = "neigh_hash_table hash_buckets"
    elif prog.has_member("neigh_table", "hash_mask"):
        mask = _u(
            prog.read(tbl + prog.offsetof("neigh_table", "hash_mask"), 4, what="neigh_table hash_mask"), 0, 4
        )
        count = mask + 1
        base = tbl + prog.offsetof("neigh_table", "hash_buckets")
        what = "neigh_table hash_buckets"
    else:
        count = member_length(prog, "neigh_table", "hash_buckets")
        base = 0
        what = "neigh_table hash_buckets"
        if count:
            raw = prog.read(tbl + prog.offsetof("neigh_table", "hash_buckets"), 8 * count, what=what)
            return [_u(raw, 8 * i, 8) for i in range(count)]
    if not count:
        raise CommandError("-a option not supported or applicable on this architecture or kernel")
    table = read_pointer(prog, base, what + " ptr" if "hash_table" in what else what + " pointer")
    raw = prog.read(table, 8 * count, what=what)
    return [_u(raw, 8 * i, 8) for i in range(count)]


def arp_entries(prog: Program) -> Iterator[Neighbour]:
    """The neighbours of the ARP cache, bucket by bucket, each bucket's chain in order."""
    ha_len = member_length(prog, "neighbour", "ha")
    devices: dict[int, NetDevice] = {}
    for head in arp_buckets(prog):
        addr = head
        n = 0
        while addr and n < LIST_LIMIT:
            n += 1
            key = prog.read(addr + prog.offsetof("neighbour", "primary_key"), 4, what="neighbour primary_key")
            ha = prog.read(addr + prog.offsetof("neighbour", "ha"), ha_len, what="neighbour ha")
            dev = read_pointer(prog, addr + prog.offsetof("neighbour", "dev"), "neighbour dev")
            if dev not in devices:
                devices[dev] = device_info(prog, dev, addresses=False)
            state = prog.read(addr + prog.offsetof("neighbour", "nud_state"), 1, what="neighbour nud_state")[
                0
            ]
            d = devices[dev]
            yield Neighbour(addr, inet_ntoa(key), ha[: d.addr_len], d, state)
            addr = read_pointer(prog, addr + prog.offsetof("neighbour", "next"), "neighbour next")


# ---- sockets -------------------------------------------------------------------------------------------


@dataclass
class SockInfo:
    """What a struct sock tells of its family, type, addresses and ports (ports in host order).
    `v6` is None for a family other than AF_INET6 or when its addresses cannot be read; `v6_layout`
    False when this kernel's layout of them is unknown."""

    family: int
    type: int
    saddr: str = ""
    daddr: str = ""
    sport: int = 0
    dport: int = 0
    v6: tuple[bytes, bytes] | None = None
    v6_layout: bool = True


@dataclass
class Socket:
    """One open file of a task that is a socket."""

    fd: int
    socket: int  # struct socket *
    sock: int  # struct sock *
    info: SockInfo | None = None


@dataclass
class SockLayout:
    """Where this kernel keeps a sock's fields, as offsets from the struct sock."""

    inet_size: int
    sock_size: int
    daddr: int
    rcv_saddr: int
    dport: int
    sport: int
    family: int
    type: int
    v6_pinfo: tuple[int, int] | None  # (rcv_saddr, daddr) in struct ipv6_pinfo
    v6_common: tuple[int, int] | None  # (rcv_saddr, daddr) from the sock


def _first(prog: Program, choices: list[tuple[str, str]]) -> int:
    for struct, member in choices:
        if prog.has_member(struct, member):
            return prog.offsetof(struct, member)
    raise CommandError("cannot determine what an inet_sock structure is")


def sock_layout(prog: Program) -> SockLayout:
    def build() -> SockLayout:
        if not has_type(prog, "inet_sock"):
            raise CommandError("cannot determine what an inet_sock structure is")
        common = prog.offsetof("sock", "__sk_common")
        if prog.has_member("inet_sock", "daddr"):
            names = ("daddr", "rcv_saddr", "dport", "sport")
            daddr, rcv, dport, sport = (prog.offsetof("inet_sock", n) for n in names)
        elif prog.has_member("inet_sock", "inet_daddr"):
            names = ("inet_daddr", "inet_rcv_saddr", "inet_dport", "inet_sport")
            daddr, rcv, dport, sport = (prog.offsetof("inet_sock", n) for n in names)
        else:
            daddr = common + prog.offsetof("sock_common", "skc_daddr")
            rcv = common + prog.offsetof("sock_common", "skc_rcv_saddr")
            dport = _first(prog, [("inet_sock", "inet_dport"), ("sock_common", "skc_dport")])
            if not prog.has_member("inet_sock", "inet_dport"):
                dport += common
            sport = prog.offsetof("inet_sock", "inet_sport")
        v6_pinfo = v6_common = None
        if prog.has_member("ipv6_pinfo", "rcv_saddr") and prog.has_member("ipv6_pinfo", "daddr"):
            v6_pinfo = (prog.offsetof("ipv6_pinfo", "rcv_saddr"), prog.offsetof("ipv6_pinfo", "daddr"))
        elif prog.has_member("sock_common", "skc_v6_daddr") and prog.has_member(
            "sock_common", "skc_v6_rcv_saddr"
        ):
            v6_common = (
                common + prog.offsetof("sock_common", "skc_v6_rcv_saddr"),
                common + prog.offsetof("sock_common", "skc_v6_daddr"),
            )
        return SockLayout(
            inet_size=prog.sizeof("inet_sock"),
            sock_size=prog.sizeof("sock"),
            daddr=daddr,
            rcv_saddr=rcv,
            dport=dport,
            sport=sport,
            family=common + prog.offsetof("sock_common", "skc_family"),
            type=prog.offsetof("sock", "sk_type"),
            v6_pinfo=v6_pinfo,
            v6_common=v6_common,
        )

    layout: SockLayout = prog.cache("net.sock_layout", build)
    return layout


def sock_info(prog: Program, sock: int) -> SockInfo:
    """The family, type, addresses and ports of a struct sock, read as an inet_sock."""
    lay = sock_layout(prog)
    raw = prog.read(sock, lay.inet_size, what="inet_sock buffer")
    info = SockInfo(_u(raw, lay.family, 2), _u(raw, lay.type, 2))
    info.saddr = inet_ntoa(raw[lay.rcv_saddr : lay.rcv_saddr + 4])
    info.daddr = inet_ntoa(raw[lay.daddr : lay.daddr + 4])
    info.sport = int.from_bytes(raw[lay.sport : lay.sport + 2], "big")
    info.dport = int.from_bytes(raw[lay.dport : lay.dport + 2], "big")
    if info.family != AF_INET6:
        return info
    if lay.v6_pinfo is not None:
        pinfo = _u(raw, lay.sock_size, 8)
        src, dst = pinfo + lay.v6_pinfo[0], pinfo + lay.v6_pinfo[1]
    elif lay.v6_common is not None:
        src, dst = sock + lay.v6_common[0], sock + lay.v6_common[1]
    else:
        info.v6_layout = False
        return info
    try:
        info.v6 = (
            prog.read(src, 16, what="ipv6_rcv_saddr buffer"),
            prog.read(dst, 16, what="ipv6_daddr buffer"),
        )
    except FaultError:
        info.v6 = None
    return info


@dataclass
class FdTable:
    """A task's open-file table: max_fds, the open_fds bitmap and the fd array (0 when absent)."""

    max_fds: int
    open_fds: int
    fd: int


def fd_table(prog: Program, task: int) -> FdTable | None:
    """task->files->fdt's table, or None when the task has no files (crash's "No open sockets.")."""
    files = read_pointer(prog, task + prog.offsetof("task_struct", "files"), "task files contents")
    if not files:
        return None
    fdt = read_pointer(prog, files + prog.offsetof("files_struct", "fdt"), "fdtable buffer")
    if not fdt:
        return None
    max_fds = _u(prog.read(fdt + prog.offsetof("fdtable", "max_fds"), 4, what="fdtable_struct max_fds"), 0, 4)
    if not max_fds:
        return None
    open_fds = read_pointer(prog, fdt + prog.offsetof("fdtable", "open_fds"), "files_struct open_fds addr")
    fd = read_pointer(prog, fdt + prog.offsetof("fdtable", "fd"), "files_struct fd addr")
    return FdTable(max_fds, open_fds, fd)


def open_files(prog: Program, table: FdTable) -> Iterator[tuple[int, int]]:
    """(fd, struct file *) of each open descriptor with a file."""
    nbytes = table.max_fds // 8
    bitmap = prog.read(table.open_fds, nbytes, what="files_struct open_fds")
    words = [_u(bitmap, i, 8) for i in range(0, nbytes - nbytes % 8, 8)]
    if nbytes % 8:
        words.append(_u(bitmap[nbytes - nbytes % 8 :] + bytes(8), 0, 8))
    for j, word in enumerate(words):
        i = j * 64
        if i >= table.max_fds:
            break
        while word:
            if word & 1:
                file = read_pointer(prog, table.fd + i * 8, "fd file")
                if file:
                    yield i, file
            i += 1
            word >>= 1


def file_socket(prog: Program, file: int) -> tuple[int, int] | None:
    """(struct socket *, struct sock *) when the file's inode is a socket, else None.  Remembered per
    Program: the threads of a process share their files."""
    return prog.remember("helpers.net.file_socket", file, lambda: _file_socket(prog, file))


def _file_socket(prog: Program, file: int) -> tuple[int, int] | None:
    dentry = read_pointer(prog, file + prog.offsetof("file", "f_path.dentry"), "fill_file_cache")
    if not dentry:
        return None
    inode = read_pointer(prog, dentry + prog.offsetof("dentry", "d_inode"), "fill_dentry_cache")
    if not inode:
        return None
    mode = _u(prog.read(inode + prog.offsetof("inode", "i_mode"), 2, what="fill_inode_cache"), 0, 2)
    if mode & S_IFMT != S_IFSOCK:
        return None
    socket = inode - prog.offsetof("socket_alloc", "vfs_inode")
    sock = read_pointer(prog, socket + prog.offsetof("socket", "sk"), "socket buffer")
    return socket, sock


def task_sockets(prog: Program, task: int) -> tuple[FdTable | None, Iterator[Socket]]:
    """A task's file table (None: no table, crash's "No open sockets.") and its sockets, read one by
    one as the caller goes (a listing shows those before a fault)."""
    table = fd_table(prog, task)
    if table is None or not table.open_fds or not table.fd:
        return None, iter(())

    def sockets(table: FdTable) -> Iterator[Socket]:
        for fd, file in open_files(prog, table):
            pair = file_socket(prog, file)
            if pair is None:
                continue
            if not has_type(prog, "inet_sock"):
                raise CommandError("cannot determine what an inet_sock structure is")
            yield Socket(fd, *pair)

    return table, sockets(table)
