"""Character and block devices, I/O resources, PCI devices, and the disks' in-flight requests.

Kernel knowledge behind `dev`: the chrdevs[] hash of struct char_device_struct (with the cdev_map
probes when a region has no cdev of its own), the major_names[] hash of struct blk_major_name and the
gendisk found through the block device inodes of blockdev_superblock (or bdev_map's probes), the
ioport_resource / iomem_resource trees of struct resource, the PCI buses from pci_root_buses, and the
gendisks of block_class with the blk-mq requests in flight (each hardware queue's tag bitmap, an
sbitmap, read through helpers/sbitmap.py).  Everything is returned as rows; commands/dev.py lays
them out as crash 8.0.6's dev.c does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, FaultError
from crashpy.helpers.crash_reads import read_as_crash

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.types.model import Type

MAX_DEV = 255  # the slots crash reads of chrdevs[] and bdev_map/cdev_map probes[]
MINORBITS = 20
MINORMASK = (1 << MINORBITS) - 1
STRING_MAX = 1499  # crash's read_string(addr, buf, BUFSIZE - 1)


@dataclass
class CharDev:
    """One struct char_device_struct: its major, name, cdev (0: none) and file_operations (0: none)."""

    major: int
    name: str
    cdev: int
    fops: int


@dataclass
class BlockDev:
    """One major_names[] entry: its major, name, the gendisk found for it (0: none) and its fops."""

    major: int
    name: str
    gendisk: int
    fops: int


@dataclass
class Resource:
    """One struct resource of an I/O tree, in the order crash walks it (a node, its children, its siblings)."""

    address: int
    start: int
    end: int
    name: str  # "(unknown)" where the name cannot be read
    depth: int


@dataclass
class PciDev:
    """One struct pci_dev as `dev -p` lists it (the address is that of its bus_list node)."""

    address: int
    name: str  # DO:BU:SL.FN, the device's kobject name
    pci_class: str  # four hex digits
    pci_id: str  # vendor:device
    type: str  # PCIe port type and " [BRIDGE]"


@dataclass
class PciBus:
    """One struct pci_bus (its children list node's address), its parent, bridge and devices, its child buses."""

    address: int
    parent: int
    name: str
    self_dev: PciDev | None
    devices: list[PciDev]
    children: list[PciBus] = field(default_factory=list)


@dataclass
class DiskIo:
    """One disk of block_class as `dev -d` counts it."""

    major: int
    gendisk: int
    name: str
    queue: int
    read: int
    write: int
    driver: int | None  # request_queue.in_flight (None: no such member, or a blk-mq queue)
    mq: bool


def _u64(prog: Program, addr: int, what: str = "") -> int:
    return int.from_bytes(read_as_crash(prog, addr, 8, what=what), "little")


def _u32(prog: Program, addr: int, what: str = "") -> int:
    return int.from_bytes(read_as_crash(prog, addr, 4, what=what), "little")


def _s32(prog: Program, addr: int, what: str = "") -> int:
    return int.from_bytes(read_as_crash(prog, addr, 4, what=what), "little", signed=True)


def read_string(prog: Program, addr: int, maxlen: int = STRING_MAX) -> str:
    """crash's read_string(): the characters up to a NUL, page by page, stopping at a page that does not
    read ("" when nothing reads)."""
    out = bytearray()
    cur = addr
    while len(out) < maxlen:
        chunk = min(maxlen - len(out), 4096 - (cur & 4095))
        try:
            data = read_as_crash(prog, cur, chunk)
        except FaultError:
            break
        nul = data.find(b"\0")
        if nul >= 0:
            out += data[:nul]
            break
        out += data
        cur += chunk
    return out.decode("latin-1")


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1")


def _member_type(prog: Program, struct: str, member: str) -> Type | None:
    """The resolved type of `struct`'s member `member` (None: no such member)."""
    from crashpy.object import lookup_type, resolve
    from crashpy.types.model import StructType

    st = resolve(lookup_type(prog, f"struct {struct}"))
    found = st.find_member(member) if isinstance(st, StructType) else None
    return resolve(found[1].type) if found else None


def _array_length(prog: Program, struct: str, member: str) -> int:
    from crashpy.types.model import ArrayType

    t = _member_type(prog, struct, member)
    return (t.length or 0) if isinstance(t, ArrayType) else 0


def symbol_array_length(prog: Program, name: str) -> int:
    """The declared length of the array variable `name` (0 when unknown)."""
    from crashpy.object import resolve, variable_type
    from crashpy.types.model import ArrayType

    t = variable_type(prog, name)
    if t is None:
        return 0
    t = resolve(t)
    return (t.length or 0) if isinstance(t, ArrayType) else 0


# ---- character devices ----------------------------------------------------------------------------------


def _cdev_map_probe(prog: Program, major: int, minor: int) -> tuple[int, int]:
    """(fops, cdev) of the cdev_map probe for major:minor, (0, 0) when none (crash's search_cdev_map_probes)."""
    if not prog.has_symbol("cdev_map"):
        return 0, 0
    try:
        cdev_map = _u64(prog, prog.symbol_address("cdev_map"))
        raw = read_as_crash(prog, cdev_map + prog.offsetof("kobj_map", "probes"), 8 * MAX_DEV)
    except FaultError:
        return 0, 0
    nxt = int.from_bytes(raw[8 * major : 8 * major + 8], "little") if major < MAX_DEV else 0
    o_next, o_dev, o_data = (prog.offsetof("probe", m) for m in ("next", "dev", "data"))
    ops_off = prog.offsetof("cdev", "ops")
    seen: set[int] = set()
    while nxt and nxt not in seen:
        seen.add(nxt)
        try:
            dev = _u32(prog, nxt + o_dev)
            if dev >> MINORBITS == major and dev & MINORMASK == minor:
                data = _u64(prog, nxt + o_data)
                try:
                    return _u64(prog, data + ops_off), data
                except FaultError:
                    return 0, 0
            nxt = _u64(prog, nxt + o_next)
        except FaultError:
            break
    return 0, 0


def char_devices(prog: Program) -> list[CharDev]:
    """Every struct char_device_struct of chrdevs[], each hash chain in order (crash's dump_chrdevs)."""
    if not prog.has_symbol("chrdevs"):
        raise CommandError("chrdevs: symbol does not exist")
    raw = read_as_crash(prog, prog.symbol_address("chrdevs"), 8 * MAX_DEV, what="chrdevs array")
    size = prog.sizeof("char_device_struct")
    off = {m: prog.offsetof("char_device_struct", m) for m in ("next", "major", "baseminor", "name")}
    name_len = _array_length(prog, "char_device_struct", "name")
    has_cdev = prog.has_member("char_device_struct", "cdev")
    ops_off = prog.offsetof("cdev", "ops") if has_cdev else 0
    rows = []
    name = ""
    for i in range(MAX_DEV):
        entry = int.from_bytes(raw[8 * i : 8 * i + 8], "little")
        first = True
        while entry:
            buf = read_as_crash(prog, entry, size, what="char_device_struct")
            nxt = int.from_bytes(buf[off["next"] : off["next"] + 8], "little")
            if name_len:
                name = _cstr(buf[off["name"] : off["name"] + name_len - 1])
            else:
                ptr = int.from_bytes(buf[off["name"] : off["name"] + 8], "little")
                text = read_string(prog, ptr) if ptr else ""
                if text:
                    name = text
                elif not first:
                    name = "(unknown)"
            major = int.from_bytes(buf[off["major"] : off["major"] + 4], "little", signed=True)
            minor = int.from_bytes(buf[off["baseminor"] : off["baseminor"] + 4], "little", signed=True)
            cdev = fops = 0
            if has_cdev:
                o = prog.offsetof("char_device_struct", "cdev")
                cdev = int.from_bytes(buf[o : o + 8], "little")
                if cdev:
                    fops = _u64(prog, cdev + ops_off, "cdev ops")
            else:
                o = prog.offsetof("char_device_struct", "fops")
                fops = int.from_bytes(buf[o : o + 8], "little")
            if not fops:
                fops, found = _cdev_map_probe(prog, major, minor)
                if fops:
                    cdev = found
            rows.append(CharDev(major, name, cdev, fops))
            entry = nxt
            first = False
    return rows


# ---- block devices --------------------------------------------------------------------------------------


def _bdev_map_probe(prog: Program, major: int) -> tuple[int, int]:
    """(fops, gendisk) of bdev_map's first probe for `major` with a gendisk that has fops (before 5.11)."""
    bdev_map = _u64(prog, prog.symbol_address("bdev_map"))
    try:
        raw = read_as_crash(prog, bdev_map + prog.offsetof("kobj_map", "probes"), 8 * MAX_DEV)
    except FaultError:
        return 0, 0
    o_next, o_dev, o_data = (prog.offsetof("probe", m) for m in ("next", "dev", "data"))
    fops_off = prog.offsetof("gendisk", "fops")
    nxt = int.from_bytes(raw[8 * major : 8 * major + 8], "little") if 0 <= major < MAX_DEV else 0
    seen: set[int] = set()
    while nxt and nxt not in seen:
        seen.add(nxt)
        try:
            data = _u64(prog, nxt + o_data)
            dev = _u32(prog, nxt + o_dev)
            following = _u64(prog, nxt + o_next)
        except FaultError:
            break
        if data and dev >> MINORBITS == major:
            try:
                fops = _u64(prog, data + fops_off)
            except FaultError:
                break
            if fops:
                return fops, data
        nxt = following
    return 0, 0


def _block_device_disks(prog: Program) -> list[tuple[int, int, int]]:
    """(major, gendisk, fops) of each block device inode on blockdev_superblock, in list order (5.11+)."""

    def build() -> list[tuple[int, int, int]]:
        sb = _u64(prog, prog.symbol_address("blockdev_superblock"))
        head = sb + prog.offsetof("super_block", "s_inodes")
        try:
            first = _u64(prog, head)
        except FaultError:
            return []
        if first == head:
            return []
        link = prog.offsetof("inode", "i_sb_list")
        bdev_size = prog.sizeof("block_device")
        bd_disk = prog.offsetof("block_device", "bd_disk")
        g_major, g_fops = prog.offsetof("gendisk", "major"), prog.offsetof("gendisk", "fops")
        out = []
        for node in _list_nodes(prog, head):
            inode = node - link
            try:
                disk = _u64(prog, inode - bdev_size + bd_disk)
                if not disk:
                    continue
                major = _s32(prog, disk + g_major)
                fops = _u64(prog, disk + g_fops)
            except FaultError:
                continue
            out.append((major, disk, fops))
        return out

    return prog.cache("dev.block_device_disks", build)  # type: ignore[no-any-return]


def _list_nodes(prog: Program, head: int, limit: int = 1_000_000) -> Iterator[int]:
    """The nodes of the list_head at `head` (without the head), in order."""
    seen: set[int] = set()
    node = _u64(prog, head, "list_head.next")
    while node != head and node not in seen and len(seen) < limit:
        seen.add(node)
        yield node
        node = _u64(prog, node, "list_head.next")


def block_devices(prog: Program) -> list[BlockDev]:
    """The first blk_major_name of each major_names[] slot and the gendisk of its major (crash's dump_blkdevs_v3)."""
    if not (
        prog.has_symbol("major_names")
        and (prog.has_symbol("bdev_map") or prog.has_symbol("blockdev_superblock"))
    ):
        raise CommandError("this kernel's block device table is not supported")
    length = symbol_array_length(prog, "major_names") or MAX_DEV
    base = prog.symbol_address("major_names")
    size = prog.sizeof("blk_major_name")
    o_major, o_name = prog.offsetof("blk_major_name", "major"), prog.offsetof("blk_major_name", "name")
    use_bdev_map = prog.has_symbol("bdev_map")
    rows = []
    for i in range(length):
        entry = _u64(prog, base + 8 * i, "major_names[] entry")
        if not entry:
            continue
        buf = read_as_crash(prog, entry, size, what="blk_major_name")
        major = int.from_bytes(buf[o_major : o_major + 4], "little")
        name = _cstr(buf[o_name : o_name + 16])
        if use_bdev_map:
            fops, disk = _bdev_map_probe(prog, major if major == i else i)
        else:
            fops = disk = 0
            for m, d, f in _block_device_disks(prog):
                if m == major and f:
                    fops, disk = f, d
                    break
        rows.append(BlockDev(major, name, disk, fops))
    return rows


# ---- I/O resources --------------------------------------------------------------------------------------


def resource_end(prog: Program, root: str) -> int:
    return _u64(prog, prog.symbol_address(root) + prog.offsetof("resource", "end"), f"{root}.end")


def resources(prog: Program, root: str) -> Iterator[Resource]:
    """The struct resource tree under the symbol `root` (ioport_resource, iomem_resource), depth first."""
    size = prog.sizeof("resource")
    off = {m: prog.offsetof("resource", m) for m in ("start", "end", "name", "child", "sibling")}

    def walk(entry: int, depth: int) -> Iterator[Resource]:
        while entry:
            buf = read_as_crash(prog, entry, size, what="resource")
            f = {m: int.from_bytes(buf[o : o + 8], "little") for m, o in off.items()}
            name = read_string(prog, f["name"]) if f["name"] else ""
            yield Resource(entry, f["start"], f["end"], name or "(unknown)", depth)
            child = f["child"]
            if child and child != entry:
                yield from walk(child, depth + 1)
            entry = f["sibling"]

    yield from walk(prog.symbol_address(root), 0)


# ---- PCI ------------------------------------------------------------------------------------------------

PCIE_TYPES = {
    0x0: "ENDPOINT",
    0x1: "LEG_END",
    0x4: "ROOT_PORT",
    0x5: "UPSTREAM",
    0x6: "DOWNSTREAM",
    0x7: "PCI_BRIDGE",
    0x8: "PCIE_BRIDGE",
    0x9: "RC_END",
    0xA: "RC_EC",
}
PCI_HEADER_TYPE_BRIDGE, PCI_HEADER_TYPE_CARDBUS = 1, 2


def _kobject_name(prog: Program, dev_addr: int) -> str:
    ptr = _u64(
        prog, dev_addr + prog.offsetof("device", "kobj") + prog.offsetof("kobject", "name"), "kobject name"
    )
    return read_string(prog, ptr) if ptr else ""


def pci_device(prog: Program, addr: int) -> PciDev:
    """`addr` read as a struct pci_dev (crash reads a bus's device list node as one)."""
    name = _kobject_name(prog, addr + prog.offsetof("pci_dev", "dev"))
    cls = _u32(prog, addr + prog.offsetof("pci_dev", "class"), "pci class") >> 8
    device = int.from_bytes(read_as_crash(prog, addr + prog.offsetof("pci_dev", "device"), 2), "little")
    vendor = int.from_bytes(read_as_crash(prog, addr + prog.offsetof("pci_dev", "vendor"), 2), "little")
    hdr = read_as_crash(prog, addr + prog.offsetof("pci_dev", "hdr_type"), 1)[0]
    kind = ""
    if prog.has_member("pci_dev", "pcie_flags_reg"):
        cap = int.from_bytes(
            read_as_crash(prog, addr + prog.offsetof("pci_dev", "pcie_flags_reg"), 2), "little"
        )
        kind = PCIE_TYPES.get((cap & 0xF0) >> 4, "")
    if hdr in (PCI_HEADER_TYPE_BRIDGE, PCI_HEADER_TYPE_CARDBUS):
        kind += " [BRIDGE]"
    return PciDev(addr, name, f"{cls:04x}", f"{vendor:x}:{device:x}", kind)


def _bus(prog: Program, addr: int, parent: int, name: str) -> PciBus:
    devices_head = addr + prog.offsetof("pci_bus", "devices")
    self_ptr = _u64(prog, addr + prog.offsetof("pci_bus", "self"), "pci bus self")
    self_dev = pci_device(prog, self_ptr) if self_ptr else None
    devices = [pci_device(prog, node) for node in _list_nodes(prog, devices_head)]
    bus = PciBus(addr, parent, name, self_dev, devices)
    children_head = addr + prog.offsetof("pci_bus", "children")
    for node in _list_nodes(prog, children_head):
        child_parent = _u64(prog, node + prog.offsetof("pci_bus", "parent"), "pci bus parent")
        bus.children.append(_bus(prog, node, child_parent, ""))
    return bus


def pci_root_buses(prog: Program) -> list[PciBus]:
    """The PCI root buses from pci_root_buses, each with its devices and child buses (crash's do_pci2)."""
    if not prog.has_symbol("pci_root_buses"):
        raise CommandError("-p option not supported or applicable on this architecture or kernel")
    head = prog.symbol_address("pci_root_buses")
    if _u64(prog, head) == head:
        raise CommandError("no PCI devices found on this system.")
    roots = []
    for node in list(_list_nodes(prog, head)):
        name = _kobject_name(prog, node + prog.offsetof("pci_bus", "dev"))
        roots.append(_bus(prog, node, 0, name))
    return roots


# ---- disk I/O -------------------------------------------------------------------------------------------

SKIPPED_DISKS = ("ram", "loop")
MQ_RQ_IN_FLIGHT = 1


def _block_class_klist(prog: Program) -> int:
    """The list_head of block_class's device klist (class.p->klist_devices.k_list)."""
    if not prog.has_symbol("block_class"):
        raise CommandError("-d option not supported or applicable on this architecture or kernel")
    if prog.has_member("class", "p"):
        private = _u64(prog, prog.symbol_address("block_class") + prog.offsetof("class", "p"), "class.p")
    else:
        private = _class_subsys_private(prog, "block")
    if not private:
        raise CommandError("cannot determine subsys_private for block.")
    return private + prog.offsetof("subsys_private", "klist_devices") + prog.offsetof("klist", "k_list")


def _class_subsys_private(prog: Program, name: str) -> int:
    """The struct subsys_private of the class `name` on class_kset's list (6.4 and later, where struct
    class lost its `p`); 0 when none is found."""
    if not prog.has_symbol("class_kset"):
        return 0
    kset = _u64(prog, prog.symbol_address("class_kset"), "class_kset")
    entry = prog.offsetof("kobject", "entry")
    kobj_in_private = prog.offsetof("subsys_private", "subsys") + prog.offsetof("kset", "kobj")
    for node in _list_nodes(prog, kset + prog.offsetof("kset", "list")):
        kobj = node - entry
        ptr = _u64(prog, kobj + prog.offsetof("kobject", "name"), "kobject name")
        if ptr and read_string(prog, ptr) == name:
            return kobj - kobj_in_private
    return 0


def _disk_gendisks(prog: Program) -> Iterator[int]:
    """The gendisk of each live device of block_class whose type is disk_type (crash's next_disk_klist)."""
    head = _block_class_klist(prog)
    n_node, n_klist = prog.offsetof("klist_node", "n_node"), prog.offsetof("klist_node", "n_klist")
    has_knode = prog.has_member("device", "knode_class")
    disk_type = prog.symbol_address("disk_type")
    dev_type = prog.offsetof("device", "type")
    seen: set[int] = set()
    node = _u64(prog, head, "list_head.next")
    while node != head and node not in seen:
        seen.add(node)
        knode = node - n_node
        if _u64(prog, knode + n_klist, "klist_node.n_klist") & 1:
            node = _u64(prog, node, "list_head.next")
            continue
        if has_knode:
            device = knode - prog.offsetof("device", "knode_class")
        else:
            private = knode - prog.offsetof("device_private", "knode_class")
            device = _u64(prog, private + prog.offsetof("device_private", "device"), "device_private.device")
        if _u64(prog, device + dev_type, "device.type") == disk_type:
            if prog.has_member("gendisk", "part0") and prog.has_member("hd_struct", "__dev"):
                yield device - prog.offsetof("hd_struct", "__dev") - prog.offsetof("gendisk", "part0")
            else:
                bdev = device - prog.offsetof("block_device", "bd_device")
                yield _u64(prog, bdev + prog.offsetof("block_device", "bd_disk"), "block_device.bd_disk")
        node = _u64(prog, node, "list_head.next")


def _mq_in_flight(prog: Program, queue: int) -> tuple[int, int]:
    """Reads and writes in flight on a blk-mq queue: the busy tags of each hardware context whose request
    belongs to `queue` and is MQ_RQ_IN_FLIGHT (crash's get_mq_diskio_from_hw_queues)."""
    from crashpy.helpers.sbitmap import sbitmap_set_bits

    hctxs = hw_contexts(prog, queue)
    bitmap_is_ptr = _member_is_pointer(prog, "blk_mq_tags", "bitmap_tags")
    o_q, o_flags, o_state = (prog.offsetof("request", m) for m in ("q", "cmd_flags", "state"))
    sb_off = prog.offsetof("sbitmap_queue", "sb")
    reads = writes = 0
    for hctx in hctxs:
        try:
            tags = _u64(prog, hctx + prog.offsetof("blk_mq_hw_ctx", "tags"))
            reserved = _u32(prog, tags + prog.offsetof("blk_mq_tags", "nr_reserved_tags"))
            rqs = _u64(prog, tags + prog.offsetof("blk_mq_tags", "rqs"))
        except FaultError:
            break
        bitmaps = []
        if reserved:
            bitmaps.append((prog.offsetof("blk_mq_tags", "breserved_tags"), 0))
        bitmaps.append((prog.offsetof("blk_mq_tags", "bitmap_tags"), reserved))
        for off, bias in bitmaps:
            sbq = tags + off
            if bitmap_is_ptr:
                sbq = _u64(prog, sbq)
            for bit in sbitmap_set_bits(prog, sbq + sb_off):
                try:
                    rq = _u64(prog, rqs + 8 * (bit + bias))
                    if not prog.is_kvaddr(rq):
                        continue
                    q = _u64(prog, rq + o_q)
                    flags = _u32(prog, rq + o_flags)
                    state = _u32(prog, rq + o_state)
                except FaultError:
                    break
                if q == queue and state == MQ_RQ_IN_FLIGHT:
                    if flags & 0xFF & 1:
                        writes += 1
                    else:
                        reads += 1
    return reads, writes


def _member_is_pointer(prog: Program, struct: str, member: str) -> bool:
    from crashpy.types.model import TypeKind

    t = _member_type(prog, struct, member)
    return t is not None and t.kind is TypeKind.POINTER


def _dkstats_in_flight(prog: Program, gendisk: int) -> tuple[int, int]:
    """Sum over the CPUs of the disk's per-CPU disk_stats.in_flight[] (a queue without blk-mq)."""
    if prog.has_member("hd_struct", "dkstats"):
        stats = _u64(
            prog, gendisk + prog.offsetof("gendisk", "part0") + prog.offsetof("hd_struct", "dkstats")
        )
    else:
        bdev = _u64(prog, gendisk + prog.offsetof("gendisk", "part0"), "gendisk.part0")
        stats = _u64(prog, bdev + prog.offsetof("block_device", "bd_stats"), "block_device.bd_stats")
    if not prog.has_member("disk_stats", "in_flight"):
        return 0, 0
    off = prog.offsetof("disk_stats", "in_flight")
    reads = writes = 0
    for cpu_off in prog.percpu_offsets:
        raw = read_as_crash(prog, (stats + cpu_off + off) & ((1 << 64) - 1), 16, what="disk_stats.in_flight")
        reads += int.from_bytes(raw[:8], "little")
        writes += int.from_bytes(raw[8:], "little")
    return reads, writes


def disk_io(prog: Program) -> Iterator[DiskIo]:
    """The disks of block_class (ram and loop devices left out) with their requests in flight."""
    name_len = _array_length(prog, "gendisk", "disk_name")
    g_name, g_queue, g_major = (prog.offsetof("gendisk", m) for m in ("disk_name", "queue", "major"))
    has_mq = prog.has_member("request_queue", "mq_ops")
    has_drv = prog.has_member("request_queue", "in_flight")
    for gendisk in _disk_gendisks(prog):
        name = _cstr(read_as_crash(prog, gendisk + g_name, name_len, what="gen_disk.disk_name"))
        if name.startswith(SKIPPED_DISKS):
            continue
        queue = _u64(prog, gendisk + g_queue, "gen_disk.queue")
        major = _s32(prog, gendisk + g_major, "gen_disk.major")
        mq = (
            has_mq
            and _u64(prog, queue + prog.offsetof("request_queue", "mq_ops"), "request_queue.mq_ops") != 0
        )
        if mq:
            if prog.has_member("request", "state"):
                reads, writes = _mq_in_flight(prog, queue)
            else:
                raise CommandError("this kernel's blk-mq counters are not supported")
        elif prog.has_member("request_queue", "rq"):
            raw = read_as_crash(
                prog, queue + prog.offsetof("request_queue", "rq") + prog.offsetof("request_list", "count"), 8
            )
            reads = int.from_bytes(raw[:4], "little", signed=True)
            writes = int.from_bytes(raw[4:], "little", signed=True)
        else:
            reads, writes = _dkstats_in_flight(prog, gendisk)
        driver = None
        if has_drv and not mq:
            raw = read_as_crash(prog, queue + prog.offsetof("request_queue", "in_flight"), 8)
            driver = int.from_bytes(raw[:4], "little")
            if _member_size(prog, "request_queue", "in_flight") == 8:
                driver += int.from_bytes(raw[4:], "little")
        yield DiskIo(major, gendisk, name, queue, reads, writes, driver, mq)


def _member_size(prog: Program, struct: str, member: str) -> int:
    from crashpy.object import sizeof

    t = _member_type(prog, struct, member)
    return sizeof(t) if t is not None else 0


def diskio_has_sync_names(prog: Program) -> bool:
    """Whether the kernel has the BLK_RW_SYNC enumerator (then crash heads the columns ASYNC / SYNC)."""
    from crashpy.expr.evaluator import _enumerator_index

    names = prog.cache("expr_enumerators", lambda: _enumerator_index(prog.btf))
    return "BLK_RW_SYNC" in names


def hw_contexts(prog: Program, queue: int) -> list[int]:
    """The struct blk_mq_hw_ctx of each hardware queue of the request_queue `queue`."""
    from crashpy.helpers.xarray import xa_walk

    if prog.has_member("request_queue", "hctx_table"):
        return [s.slot for s in xa_walk(prog, queue + prog.offsetof("request_queue", "hctx_table")) if s.slot]
    cnt = _u32(prog, queue + prog.offsetof("request_queue", "nr_hw_queues"), "request_queue.nr_hw_queues")
    table = _u64(prog, queue + prog.offsetof("request_queue", "queue_hw_ctx"), "request_queue.queue_hw_ctx")
    raw = read_as_crash(prog, table, 8 * cnt, what="request_queue.queue_hw_ctx[]")
    return [int.from_bytes(raw[8 * i : 8 * i + 8], "little") for i in range(cnt)]


def tag_bitmaps(prog: Program, hctx: int) -> tuple[int, int, int]:
    """(struct blk_mq_tags, its bitmap_tags sbitmap_queue, its static_rqs array) of a hardware context."""
    tags = _u64(prog, hctx + prog.offsetof("blk_mq_hw_ctx", "tags"))
    sbq = tags + prog.offsetof("blk_mq_tags", "bitmap_tags")
    if _member_is_pointer(prog, "blk_mq_tags", "bitmap_tags"):
        sbq = _u64(prog, sbq)
    return tags, sbq, _u64(prog, tags + prog.offsetof("blk_mq_tags", "static_rqs"))
