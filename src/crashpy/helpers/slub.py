"""SLUB's caches, slabs and objects, counted as crash's kmem -s and kmem -S count them: struct
kmem_cache and its per-CPU (kmem_cache_cpu: the current slab, its lockless freelist, the per-CPU
partial slabs) and per-node (kmem_cache_node: partial and full lists) parts, the slab struct (struct
slab since v5.17, struct page before: freelist, inuse/objects/frozen), and the free pointers kept in
free objects at kmem_cache.offset (CONFIG_SLAB_FREELIST_HARDENED: stored XORed with kmem_cache.random
and the byte-swapped place they are kept at)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crashpy.errors import CrashpyError, FaultError
from crashpy.helpers.slab import _layout
from crashpy.object import has_member, lookup_type

if TYPE_CHECKING:
    from crashpy.program import Program


# ---- SLUB's caches, slabs and objects, counted as crash's kmem -s / -S count them -----------------

PAGE_MAPPING_ANON = 1  # a freelist pointer with bit 0 set ends the walk (crash's check)
SLAB_RED_ZONE = 0x400
SLAB_STORE_USER = 0x10000
BAD = -1  # a freelist pointer that could not be read


class SlubError(CrashpyError):
    """The kernel has no SLUB structures crash's kmem -s could read."""


@dataclass(frozen=True)
class SlubLayout:
    """Member offsets of struct kmem_cache, kmem_cache_cpu, kmem_cache_node and the slab struct
    (struct slab since v5.17, struct page before)."""

    numa: bool  # kmem_cache.node[] (CONFIG_NUMA) rather than local_node
    cache: dict[str, int]
    cpu: dict[str, int]
    node: dict[str, int]
    slab: dict[str, int]
    objects_shift: int  # the bit of the counters word where `objects` starts (after inuse:16)
    page_size: int  # sizeof(struct page)
    vmemmap: int
    page_offset: int
    has_random: bool  # CONFIG_SLAB_FREELIST_HARDENED
    has_total_objects: bool  # kmem_cache_node.total_objects (CONFIG_SLUB_DEBUG)


def _offsets(prog: Program, struct: str, names: dict[str, tuple[str, ...]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, candidates in names.items():
        for member in candidates:
            if has_member(prog, f"struct {struct}", member):
                out[key] = prog.offsetof(struct, member)
                break
    return out


def slub_layout(prog: Program) -> SlubLayout:
    def build() -> SlubLayout:
        if not has_member(prog, "struct kmem_cache", "cpu_slab"):
            raise SlubError("kmem cache slab subsystem not available")
        numa = has_member(prog, "struct kmem_cache", "node")
        cache = _offsets(
            prog,
            "kmem_cache",
            {
                "cpu_slab": ("cpu_slab",), "flags": ("flags",), "size": ("size",),
                "objsize": ("object_size", "objsize"), "offset": ("offset",), "oo": ("oo",),
                "red_left_pad": ("red_left_pad",), "name": ("name",), "list": ("list",),
                "random": ("random",), "node": ("node", "local_node"),
            },
        )  # fmt: skip
        cpu = _offsets(prog, "kmem_cache_cpu", {"freelist": ("freelist",), "slab": ("slab", "page"),
                                                "partial": ("partial",)})  # fmt: skip
        node = _offsets(
            prog,
            "kmem_cache_node",
            {"nr_partial": ("nr_partial",), "partial": ("partial",), "nr_slabs": ("nr_slabs",),
             "total_objects": ("total_objects",), "full": ("full",)},
        )  # fmt: skip
        stype = "slab" if has_member(prog, "struct slab", "slab_cache") else "page"
        slab = _offsets(prog, stype, {"freelist": ("freelist",), "inuse": ("counters", "inuse"),
                                      "next": ("next",), "list": ("slab_list", "lru"),
                                      "cache": ("slab_cache",)})  # fmt: skip
        st = lookup_type(prog, f"struct {stype}")
        shift = 16
        from crashpy.object import resolve
        from crashpy.types.model import StructType

        r = resolve(st)
        if isinstance(r, StructType):
            inuse = _find_bits(r, "inuse")
            objects = _find_bits(r, "objects")
            if inuse is not None and objects is not None:
                slab["inuse"] = inuse // 8 // 4 * 4  # the 32-bit word both bit-fields share
                shift = objects - slab["inuse"] * 8
        base = int(_layout(prog).pages.value_())
        return SlubLayout(
            numa, cache, cpu, node, slab, shift, prog.sizeof("page"), base, prog.layout.page_offset,
            "random" in cache, "total_objects" in node,
        )  # fmt: skip

    result: SlubLayout = prog.cache("slab.slub_layout", build)
    return result


def _find_bits(st: Any, name: str, base: int = 0) -> int | None:
    """The bit offset of member `name` in a struct, anonymous structs and unions searched."""
    from crashpy.object import resolve
    from crashpy.types.model import StructType

    for m in st.members():
        if m.name == name:
            return base + int(m.bit_offset)
        if m.name is None:
            inner = resolve(m.type)
            if isinstance(inner, StructType):
                found = _find_bits(inner, name, base + int(m.bit_offset))
                if found is not None:
                    return found
    return None


@dataclass(frozen=True)
class NodeRange:
    node_id: int
    start: int  # physical address
    end: int


def node_table(prog: Program) -> list[NodeRange]:
    """crash's vt->node_table: every online node's id and the physical range it spans."""

    def build() -> list[NodeRange]:
        from crashpy.helpers.meminfo import online_pgdats

        out: list[NodeRange] = []
        for pgdat in online_pgdats(prog):
            start = int(pgdat.member_("node_start_pfn")) << 12
            size = int(pgdat.member_("node_spanned_pages")) << 12
            nid = int(pgdat.member_("node_id")) if pgdat.has_member_("node_id") else len(out)
            out.append(NodeRange(nid, start, start + size))
        return out

    result: list[NodeRange] = prog.cache("slab.node_table", build)
    return result


@dataclass
class Cache:
    """One struct kmem_cache, the members kmem -s shows and the walks need."""

    address: int
    name: str
    objsize: int
    size: int
    objects: int  # per slab, from kmem_cache.oo
    order: int
    offset: int  # where the free pointer is kept in a free object
    random: int  # the freelist pointers' XOR key (CONFIG_SLAB_FREELIST_HARDENED), else 0
    flags: int
    red_left_pad: int  # only with SLAB_RED_ZONE set
    cpu_slab: int  # the per-CPU kmem_cache_cpu pointer
    nodes: list[int]  # kmem_cache_node of crash's node_table entries, in its order (0: none)


def cache_list(prog: Program) -> list[int]:
    """The struct kmem_cache addresses on `slab_caches`, in list order (crash's get_kmem_cache_list)."""

    def build() -> list[int]:
        lay = slub_layout(prog)
        head = prog.symbol_address("slab_caches")
        out: list[int] = []
        seen: set[int] = set()
        nxt = prog.read_u64(head)
        while nxt != head and nxt and nxt not in seen:
            seen.add(nxt)
            out.append(nxt - lay.cache["list"])
            nxt = prog.read_u64(nxt)
        return out

    result: list[int] = prog.cache("slab.cache_list", build)
    return result


def read_cache(prog: Program, address: int) -> Cache:
    """The struct kmem_cache at `address` (raises FaultError when it cannot be read)."""
    lay = slub_layout(prog)
    c = lay.cache
    size = c["node"] + 8 * 1024 if lay.numa else c["node"] + 64
    part = prog.read_partial(address, size, "kmem_cache buffer")
    if part.faults and part.readable_prefix(address) < c["node"]:
        raise part.faults[0]
    raw = part.data

    def u32(k: str) -> int:
        return int.from_bytes(raw[c[k] : c[k] + 4], "little")

    def u64(k: str) -> int:
        return int.from_bytes(raw[c[k] : c[k] + 8], "little")

    try:
        name = prog.read_cstring(u64("name"), 255).decode("latin-1")
    except FaultError:
        name = "(unknown)"
    oo = u32("oo")
    flags = u64("flags") if "flags" in c else 0
    rlp = u32("red_left_pad") if "red_left_pad" in c and flags & SLAB_RED_ZONE else 0
    nodes: list[int] = []
    for nt in node_table(prog):
        if lay.numa:
            off = c["node"] + 8 * nt.node_id
            nodes.append(int.from_bytes(raw[off : off + 8], "little") if off + 8 <= len(raw) else 0)
        else:
            nodes.append(address + c["node"])
            break
    return Cache(
        address, name, u32("objsize"), u32("size"), oo & 0xFFFF, oo >> 16, u32("offset"),
        u64("random") if lay.has_random else 0, flags, rlp, u64("cpu_slab"), nodes,
    )  # fmt: skip


@dataclass
class CacheStats:
    """kmem -s's counts of one cache (None where crash could not gather them) and crash's notes."""

    allocated: int | None
    total: int | None
    slabs: int | None
    notes: list[str]


@dataclass
class Slab:
    """One slab as kmem -S shows it: its slab struct, first object, node and counts. `objects` lists
    (address, free) of every object when they were asked for; `notes` are crash's lines met on the way
    (before the objects), `trailer` those after the objects that were listed, `ok` False where crash
    stops."""

    slab: int
    vaddr: int
    node: int
    total: int
    inuse: int
    cpu: int = -1  # the CPU whose current slab this is
    objects: list[tuple[int, bool]] | None = None
    notes: list[str] | None = None
    trailer: list[str] | None = None
    ok: bool = True


class SlubWalker:
    """The walks of one cache's slabs and freelists, crash's do_slab_slub/count_partial/... as data."""

    def __init__(self, prog: Program, cache: Cache) -> None:
        from crashpy.helpers.sysinfo import crash_cpu_count

        self.prog = prog
        self.cache = cache
        self.lay = slub_layout(prog)
        self.cpus = crash_cpu_count(prog)
        self.notes: list[str] = []
        self.nodes = node_table(prog)
        self._cpu: dict[int, tuple[int, int, int, int]] = {}

    # -- the basics

    def take_notes(self) -> list[str]:
        notes, self.notes = self.notes, []
        return notes

    def page_to_phys(self, page: int) -> int | None:
        lay = self.lay
        delta = page - lay.vmemmap
        if delta < 0 or delta % lay.page_size:
            return None
        paddr = delta // lay.page_size << 12
        if self.nodes and paddr >= max(n.end for n in self.nodes):
            return None
        return paddr

    def page_to_nid(self, page: int) -> int:
        paddr = self.page_to_phys(page)
        if paddr is None:
            self.notes.append(f"page_to_nid: invalid page: {page:x}")
            return -1
        for i, n in enumerate(self.nodes):
            if n.start <= paddr < n.end:
                return i
        self.notes.append(f"page_to_nid: cannot determine node for pages: {page:x}")
        return -1

    def counters(self, slab: int) -> tuple[int, int]:
        """(inuse, objects) of a slab; raises FaultError."""
        word = int.from_bytes(self.prog.read(slab + self.lay.slab["inuse"], 4), "little")
        return word & 0xFFFF, (word >> self.lay.objects_shift) & 0x7FFF

    def slab_objects_count(self, slab: int) -> int:
        """crash's slub_page_objects: 0 when it cannot be read or is invalid."""
        try:
            _, objects = self.counters(slab)
        except FaultError:
            return 0
        return objects

    def cpu_state(self, cpu: int) -> tuple[int, int, int, int]:
        """(kmem_cache_cpu address, current slab, cpu freelist, first cpu-partial slab) of `cpu`."""
        if cpu not in self._cpu:
            lay = self.lay
            kcc = (
                (self.cache.cpu_slab + self.prog.percpu_offsets[cpu]) & ((1 << 64) - 1)
                if cpu < len(self.prog.percpu_offsets)
                else self.cache.cpu_slab
            )
            slab = freelist = partial = 0
            try:
                freelist = self.prog.read_u64(kcc + lay.cpu["freelist"])
            except FaultError:
                pass
            try:
                slab = self.prog.read_u64(kcc + lay.cpu["slab"])
            except FaultError:
                slab = 0
            if "partial" in lay.cpu:
                try:
                    partial = self.prog.read_u64(kcc + lay.cpu["partial"])
                except FaultError:
                    partial = 0
            self._cpu[cpu] = (kcc, slab, freelist, partial)
        return self._cpu[cpu]

    def freelist_ptr(self, ptr: int, ptr_addr: int) -> int:
        """A stored free pointer decoded (CONFIG_SLAB_FREELIST_HARDENED: random ^ ptr ^ swab(place),
        or random ^ ptr ^ place for kernels before the byte swap, whichever points somewhere readable)."""
        if not self.lay.has_random:
            return ptr
        swab = int.from_bytes(ptr_addr.to_bytes(8, "little"), "big")
        addr = ptr ^ self.cache.random ^ swab
        if not addr or self._accessible(addr):
            return addr
        return ptr ^ self.cache.random ^ ptr_addr

    def _accessible(self, addr: int) -> bool:
        try:
            self.prog.read(addr, 1)
        except (FaultError, CrashpyError):
            return False
        return True

    def freepointer(self, obj: int, slab: int) -> int:
        place = (obj + self.cache.offset) & ((1 << 64) - 1)
        try:
            raw = self.prog.read_u64(place)
        except (FaultError, CrashpyError):
            self.notes.append(f"{self.cache.name}: slab: {slab:x} invalid freepointer: {place:x}")
            return BAD
        return self.freelist_ptr(raw, place)

    def count_free(self, freelist: int, slab: int) -> int:
        """crash's count_free_objects: the length of a freelist, stopping at a duplicate."""
        seen: set[int] = set()
        q = freelist
        while q:
            if q == BAD or q & PAGE_MAPPING_ANON:
                break
            if q in seen:
                self.notes.append(f"{self.cache.name}: slab: {slab:x} duplicate freelist object: {q:x}")
                break
            seen.add(q)
            q = self.freepointer(q, slab)
        return len(seen)

    # -- kmem -s: the counts

    def _count_cpu_partial(self, cpu: int) -> int:
        free = 0
        if "partial" not in self.lay.cpu:
            return 0
        slab = self.cpu_state(cpu)[3]
        seen: set[int] = set()
        while slab and slab not in seen:
            seen.add(slab)
            if self.page_to_phys(slab) is None:
                self.notes.append(f"{self.cache.name}: invalid partial list slab pointer: {slab:x}")
                return 0
            try:
                inuse, _ = self.counters(slab)
            except FaultError:
                return 0
            objects = self.slab_objects_count(slab)
            if not objects:
                return 0
            free += objects - inuse
            try:
                slab = self.prog.read_u64(slab + self.lay.slab["next"])
            except FaultError:
                break
        return _short(free)

    def node_counts(self, node: int) -> tuple[int, int, int]:
        """(nr_partial, nr_slabs, total_objects) of a kmem_cache_node; raises FaultError."""
        n = self.lay.node
        nr_partial = self.prog.read_u64(node + n["nr_partial"])
        nr_slabs = self.prog.read_u64(node + n["nr_slabs"])
        total = self.prog.read_u64(node + n["total_objects"]) if self.lay.has_total_objects else 0
        return nr_partial, nr_slabs, total

    def partial_slabs(self, node: int, full: bool = False) -> tuple[list[int], str | None]:
        """The slabs on a node's partial (or full) list, and crash's note where the walk stopped."""
        lay = self.lay
        head = node + lay.node["full" if full else "partial"]
        out: list[int] = []
        try:
            nxt = self.prog.read_u64(head)
        except FaultError:
            return out, ""
        seen: set[int] = set()
        while nxt != head:
            slab = nxt - lay.slab["list"]
            if self.page_to_phys(slab) is None:
                what = "full" if full else "partial"
                return out, f"{self.cache.name}: invalid {what} list slab pointer: {slab:x}"
            out.append(slab)
            try:
                nxt = self.prog.read_u64(nxt)
            except FaultError:
                return out, ""
            bad = not self.prog.is_kvaddr(nxt) or (
                not full and nxt != head and self.page_to_phys(nxt - lay.slab["list"]) is None
            )
            if bad:
                what = (
                    "full list slab: {:x} page.lru.next: {:x}"
                    if full
                    else "partial list slab: {:x} invalid page.lru.next: {:x}"
                )
                return out, f"{self.cache.name}: " + what.format(slab, nxt)
            if nxt in seen:
                return out, f"{self.cache.name}: partial list slab: {slab:x} duplicate slab entry: {nxt:x}"
            seen.add(nxt)
        return out, None

    def stats(self) -> CacheStats:
        """kmem -s's ALLOCATED, TOTAL and SLABS of the cache (crash's get_kmem_cache_slub_data)."""
        try:
            slabs = self._gather(objects=False)
            counted = self._gather(objects=True) if slabs is not None else None  # crash's ||
        except FaultError:
            slabs = counted = None
        notes = self.take_notes()
        if slabs is None or counted is None:
            notes.append(f"{self.cache.name}: cannot gather relevant slab data")
            return CacheStats(None, None, None, notes)
        inuse, free = counted
        return CacheStats(inuse, inuse + free, slabs[0], notes)

    def _gather(self, objects: bool) -> tuple[int, int] | None:
        per_cpu = [0] * len(self.nodes)
        total_slabs = total_objects = free = 0
        for cpu in range(self.cpus):
            _, slab, freelist, _ = self.cpu_state(cpu)
            if not slab:
                continue
            node = self.page_to_nid(slab)
            if node < 0:
                return None
            if objects:
                try:
                    inuse, _ = self.counters(slab)
                except FaultError:
                    return None
                nobj = self.slab_objects_count(slab)
                if not nobj:
                    return None
                free += nobj - _short(inuse)
                free += self.count_free(freelist, slab)
                free += self._count_cpu_partial(cpu)
                if not self.lay.has_total_objects:
                    total_objects += _short(inuse)
            total_slabs += 1
            per_cpu[node] += 1
        for n, node_ptr in enumerate(self.cache.nodes):
            if not node_ptr:
                continue
            nr_partial, nr_slabs, node_total = self.node_counts(node_ptr)
            if objects:
                p = self._count_partial(node_ptr)
                if p is None:
                    return None
                pin, pfree = p
                free += pfree
                if not self.lay.has_total_objects:
                    total_objects += pin
            total_slabs += nr_partial
            full_slabs = s64(nr_slabs) - per_cpu[n] - s64(nr_partial)
            if objects:
                if self.lay.has_total_objects:
                    total_objects += node_total
                else:
                    total_objects += full_slabs * self.cache.objects
            total_slabs += full_slabs
        if not objects:
            return total_slabs, 0
        if not self.lay.has_total_objects:
            inuse = total_objects
            return inuse, total_slabs * self.cache.objects - inuse
        return total_objects - free, free

    def _count_partial(self, node: int) -> tuple[int, int] | None:
        total_inuse = free = 0
        lay = self.lay
        head = node + lay.node["partial"]
        nxt = self.prog.read_u64(head)
        seen: set[int] = set()
        count = 0
        while nxt != head:
            slab = nxt - lay.slab["list"]
            try:
                inuse, _ = self.counters(slab)
            except FaultError:
                return None
            if inuse == 0xFFFF:
                self.notes.append(f"{self.cache.name}: partial list slab: {slab:x} invalid page.inuse: -1")
                break
            total_inuse += _short(inuse)
            objects = self.slab_objects_count(slab)
            if not objects:
                return None
            free += objects - _short(inuse)
            try:
                nxt = self.prog.read_u64(nxt)
            except FaultError:
                return None
            if not self.prog.is_kvaddr(nxt) or (
                nxt != head and self.page_to_phys(nxt - lay.slab["list"]) is None
            ):
                self.notes.append(
                    f"{self.cache.name}: partial list slab: {slab:x} invalid page.lru.next: {nxt:x}"
                )
                break
            count += 1
            if count % 1000 == 0:
                seen.clear()
            if nxt in seen:
                self.notes.append(
                    f"{self.cache.name}: partial list slab: {slab:x} duplicate slab entry: {nxt:x}"
                )
                return None
            seen.add(nxt)
        return total_inuse, free

    # -- kmem -S: one slab and its objects

    def slab(self, slab: int, verbose: bool, only: int | None = None) -> Slab:
        """A slab's line, and with `verbose` its objects, free or in use (crash's do_slab_slub);
        `only`: the one object holding that address (kmem -s <address>)."""
        notes = self.take_notes()
        paddr = self.page_to_phys(slab)
        if paddr is None:
            notes.append(f"{self.cache.name}: invalid slab address: {slab:x}")
            return Slab(slab, 0, -1, 0, 0, notes=notes, ok=False)
        node = self.page_to_nid(slab)
        vaddr = (paddr + self.lay.page_offset) & ((1 << 64) - 1)
        rec = Slab(slab, vaddr, node, 0, 0, notes=notes, ok=False)
        try:
            inuse, _ = self.counters(slab)
            freelist = self.prog.read_u64(slab + self.lay.slab["freelist"])
        except FaultError:
            rec.notes = notes + self.take_notes()
            return rec
        objects = self.slab_objects_count(slab)
        rec.notes = notes + self.take_notes()
        if not objects:
            return rec
        rec.total, rec.inuse, rec.ok = objects, inuse, True
        if not verbose:
            return rec
        cpu_freelist = 0
        for cpu in range(self.cpus):
            _, cslab, cpu_freelist, _ = self.cpu_state(cpu)
            if cslab == slab:
                rec.cpu = cpu
                free = self.count_free(cpu_freelist, slab)
                if freelist:
                    free += objects - inuse
                rec.inuse = objects - free
                break
        rec.notes += self.take_notes()
        rec.objects, rec.trailer, rec.ok = self._objects(vaddr, objects, freelist, cpu_freelist, slab, only)
        return rec

    def _objects(
        self, vaddr: int, objects: int, freelist: int, cpu_freelist: int, slab: int, only: int | None
    ) -> tuple[list[tuple[int, bool]], list[str], bool]:
        # The walk crash repeats for every object, done once: both lists in order, each ended by a
        # NULL or an odd pointer, or failed by an unreadable pointer or a duplicate.
        found: dict[int, int] = {}  # object -> its first place in the walk
        fail_at = None
        fail_notes: list[str] = []
        seen: set[int] = set()
        pos = 0
        for start in (freelist, cpu_freelist):
            q = start
            while q:
                if q == BAD:
                    fail_at, fail_notes = pos, self.take_notes()
                    break
                if q & PAGE_MAPPING_ANON:
                    break
                found.setdefault(q, pos)
                if q in seen:
                    fail_at = pos
                    fail_notes = [f"{self.cache.name}: slab: {slab:x} duplicate freelist object: {q:x}"]
                    break
                seen.add(q)
                pos += 1
                q = self.freepointer(q, slab)
            if fail_at is not None:
                break
        self.take_notes()
        rlp = self.cache.red_left_pad
        out: list[tuple[int, bool]] = []
        size = self.cache.size
        for k in range(objects):
            p = vaddr + k * size
            at = found.get(p + rlp)
            free = at is not None and (fail_at is None or at <= fail_at)
            if not free and fail_at is not None:
                return out, fail_notes, False
            if only is not None and not p <= only < p + size:
                continue
            out.append((p + rlp, free))
        return out, [], True


def _short(v: int) -> int:
    v &= 0xFFFF
    return v - 0x10000 if v & 0x8000 else v


def s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def slab_of(prog: Program, vaddr: int) -> tuple[int, int] | None:
    """(cache address, slab struct) of the slab page holding `vaddr` (crash's vaddr_to_kmem_cache and
    vaddr_to_slab: the compound head's slab_cache), or None when the page is not a slab's."""
    lay = _layout(prog)
    try:
        paddr = prog.kvtop(vaddr)
        page = int(lay.pages.value_()) + (paddr >> 12) * prog.sizeof("page")
        flags = prog.read_u64(page)
        head = prog.read_u64(page + prog.offsetof("page", "compound_head"))
        headpage = head - 1 if head & 1 else page
        if not flags & (1 << lay.pg_slab):
            if not prog.read_u64(headpage) & (1 << lay.pg_slab):
                return None
        cache = prog.read_u64(headpage + slub_layout(prog).slab["cache"])
    except (FaultError, CrashpyError):
        return None
    if cache not in set(cache_list(prog)):
        return None
    return cache, headpage


def is_slab_page(prog: Program, addr: int) -> int | None:
    """The cache of a slab's own struct page (or struct slab) at `addr`, or None."""
    lay = _layout(prog)
    base = int(lay.pages.value_())
    size = prog.sizeof("page")
    if addr < base or (addr - base) % size:
        return None
    try:
        if not prog.read_u64(addr) & (1 << lay.pg_slab):
            return None
        cache = prog.read_u64(addr + slub_layout(prog).slab["cache"])
    except (FaultError, CrashpyError):
        return None
    return cache if cache in set(cache_list(prog)) else None


def lookup_warning(prog: Program, vaddr: int) -> str | None:
    """crash's warning when an address has no physical page to look a slab up by, else None."""
    try:
        paddr = prog.kvtop(vaddr)
    except (FaultError, CrashpyError):
        return f"cannot make virtual-to-physical translation: {vaddr:x}"
    nodes = node_table(prog)
    if nodes and paddr >= max(n.end for n in nodes):
        return f"cannot find mem_map page for address: {vaddr:x}"
    return None


def has_root_caches(prog: Program) -> bool:
    """Whether caches have memory-cgroup children (kmem_cache.memcg_params, v4.13 to v5.8): kmem -r."""
    return (
        has_member(prog, "struct kmem_cache", "memcg_params")
        and has_member(prog, "struct memcg_cache_params", "__root_caches_node")
        and has_member(prog, "struct memcg_cache_params", "children")
        and has_member(prog, "struct memcg_cache_params", "children_node")
        and prog.has_symbol("slab_root_caches")
    )


def _walk(prog: Program, head: int, entry_offset: int) -> list[int]:
    out: list[int] = []
    seen: set[int] = set()
    nxt = prog.read_u64(head)
    while nxt != head and nxt and nxt not in seen:
        seen.add(nxt)
        out.append(nxt - entry_offset)
        nxt = prog.read_u64(nxt)
    return out


def root_cache_list(prog: Program) -> list[int]:
    """The root caches on `slab_root_caches` (memcg_params.__root_caches_node)."""
    off = prog.offsetof("kmem_cache", "memcg_params") + prog.offsetof(
        "memcg_cache_params", "__root_caches_node"
    )
    return _walk(prog, prog.symbol_address("slab_root_caches"), off)


def child_cache_list(prog: Program, root: int) -> list[int]:
    """The memory-cgroup children of a root cache (memcg_params.children, linked by children_node)."""
    params = prog.offsetof("kmem_cache", "memcg_params")
    head = root + params + prog.offsetof("memcg_cache_params", "children")
    return _walk(prog, head, params + prog.offsetof("memcg_cache_params", "children_node"))
