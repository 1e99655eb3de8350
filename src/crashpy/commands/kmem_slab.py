"""kmem's SLUB options: -s (a line per cache), -S and -S=cpu (every slab of a cache and its objects),
-I (caches left out), -r, `kmem -s list`, and the slab part of `kmem <address>`; text as crash 8.0.6
writes it, and `kmem --json -s` from the same rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crashpy.commands.rows import hex_address
from crashpy.errors import CommandError, CrashpyError, FaultError
from crashpy.helpers import slub
from crashpy.helpers.numbers import make_cpumask

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

CACHE_HDR = "CACHE             OBJSIZE  ALLOCATED     TOTAL  SLABS  SSIZE  NAME"
SLAB_HDR = "  SLAB              MEMORY            NODE  TOTAL  ALLOCATED  FREE"
OBJECTS_HDR = "  FREE / [ALLOCATED]"


@dataclass(frozen=True)
class CacheRow:
    """One line of kmem -s: a cache and its counts (None: crash's "?", the data could not be read)."""

    address: int
    name: str
    objsize: int
    allocated: int | None
    total: int | None
    slabs: int | None
    slab_size: int  # bytes
    ignored: bool = False

    def text(self) -> str:
        if self.ignored:
            return f"{self.address:x} {'[IGNORED]':<43}  {self.name}"
        if self.allocated is None:
            counts = f"{'?':>9}  {'?':>8}  {'?':>5}"
        else:
            counts = f"{self.allocated:9d}  {self.total:8d}  {self.slabs:5d}"
        return f"{self.address:<16x} {self.objsize:8d}  {counts}  {self.slab_size // 1024:4d}k  {self.name}"

    def json(self) -> dict[str, Any]:
        return {
            "cache": hex_address(self.address),
            "name": self.name,
            "objsize": self.objsize,
            "allocated": self.allocated,
            "total": self.total,
            "slabs": self.slabs,
            "slab_size": self.slab_size,
            "ignored": self.ignored,
        }


def note(text: str) -> str:
    return f"kmem: {text}"


def cache_row(walker: slub.SlubWalker, ignore: list[str], out: list[str]) -> CacheRow:
    c = walker.cache
    ssize = 4096 << c.order
    if c.name in ignore:
        return CacheRow(c.address, c.name, c.objsize, None, None, None, ssize, True)
    stats = walker.stats()
    out.extend(note(n) for n in stats.notes)
    return CacheRow(c.address, c.name, c.objsize, stats.allocated, stats.total, stats.slabs, ssize)


def with_children(prog: Program, row: CacheRow, out: list[str]) -> CacheRow:
    """kmem -r: a root cache's counts with those of its memory-cgroup children added."""
    if row.allocated is None or row.total is None or row.slabs is None:
        return row
    allocated, total, slabs = row.allocated, row.total, row.slabs
    for child in slub.child_cache_list(prog, row.address):
        try:
            stats = slub.SlubWalker(prog, slub.read_cache(prog, child)).stats()
        except FaultError:
            continue
        out.extend(note(n) for n in stats.notes if not n.endswith(": cannot gather relevant slab data"))
        if stats.allocated is None or stats.total is None or stats.slabs is None:
            out.append(note(f"{row.name}: cannot gather relevant slab data"))
            return CacheRow(row.address, row.name, row.objsize, None, None, None, row.slab_size)
        allocated, total, slabs = allocated + stats.allocated, total + stats.total, slabs + stats.slabs
    return CacheRow(row.address, row.name, row.objsize, allocated, total, slabs, row.slab_size)


def slab_lines(walker: slub.SlubWalker, rec: slub.Slab, verbose: bool) -> list[str]:
    """A slab's line (and with `verbose` its header and objects), crash's notes in their places."""
    out: list[str] = []
    if rec.vaddr == 0 and not rec.ok:  # the slab struct is not one of the memory map's
        return [note(n) for n in rec.notes or []]
    if verbose:
        out.append(SLAB_HDR)
    out.extend(note(n) for n in rec.notes or [])
    if not rec.total:
        return out
    out.append(
        f"  {rec.slab:<16x}  {rec.vaddr:<16x}  {rec.node:4d}  {rec.total:5d}  {rec.inuse:9d}  {rec.total - rec.inuse:4d}"
    )
    if not verbose or rec.objects is None:
        return out
    out.append(OBJECTS_HDR)
    for addr, free in rec.objects:
        if free:
            out.append(f"   {addr:x}  " + (f"(cpu {rec.cpu} cache)" if rec.cpu >= 0 else ""))
        else:
            out.append(f"  [{addr:x}]")
    out.extend(note(n) for n in rec.trailer or [])
    return out


def cache_slabs(session: Session, walker: slub.SlubWalker, cpus: list[int] | None) -> list[str]:
    """kmem -S of one cache: each CPU's kmem_cache_cpu, current slab and partial slabs, then each
    node's counts and its partial and full lists (crash's do_kmem_cache_slub)."""
    from crashpy.commands.mach import cpu_online

    prog = session.prog
    lay = walker.lay
    c = walker.cache
    out: list[str] = []
    per_cpu = [0] * len(walker.nodes)
    for cpu in range(walker.cpus):
        if cpus is not None and cpu not in cpus:
            continue
        if session.settings.offline_hide and not cpu_online(session, cpu):
            out.append(f"CPU {cpu} [OFFLINE]")
            continue
        kcc, slab, _, partial = walker.cpu_state(cpu)
        out += [f"CPU {cpu} KMEM_CACHE_CPU:", f"  {kcc:x}", f"CPU {cpu} SLAB:"]
        if not slab:
            out.append("  (empty)")
        else:
            n = walker.page_to_nid(slab)
            if n >= 0:
                per_cpu[n] += 1
            rec = walker.slab(slab, True)
            out += slab_lines(walker, rec, True)
            if not rec.ok:
                continue
        if "partial" in lay.cpu:
            out.append(f"CPU {cpu} PARTIAL:")
            if not partial:
                out.append("  (empty)")
            seen: set[int] = set()
            while partial and partial not in seen:
                seen.add(partial)
                if walker.page_to_phys(partial) is None:
                    out.append(note(f"{c.name}: invalid partial list slab pointer: {partial:x}"))
                    break
                rec = walker.slab(partial, True)
                out += slab_lines(walker, rec, True)
                if not rec.ok:
                    break
                try:
                    partial = prog.read_u64(partial + lay.slab["next"])
                except FaultError:
                    break
    for n, node in enumerate(c.nodes):
        nr_partial = nr_slabs = 0
        if node:
            try:
                nr_partial, nr_slabs, _ = walker.node_counts(node)
            except FaultError:
                break
        out.append("KMEM_CACHE_NODE   NODE  SLABS  PARTIAL  PER-CPU")
        out.append(f"{node:x}  {n:4d}  {slub.s64(nr_slabs):5d}  {slub.s64(nr_partial):7d}  {per_cpu[n]:7d}")
        if node:
            out += node_lists(walker, node, n)
    out.append("")
    return out


def node_lists(walker: slub.SlubWalker, node: int, n: int) -> list[str]:
    out: list[str] = []
    for full in (False, True):
        what = "FULL" if full else "PARTIAL"
        if full and ("full" not in walker.lay.node or not walker.cache.flags & slub.SLAB_STORE_USER):
            out += [f"NODE {n} FULL:", "  (not tracked)"]
            break
        slabs, err = walker.partial_slabs(node, full)
        if err == "":  # the list head could not be read
            return out
        out.append(f"NODE {n} {what}:")
        if not slabs and err is None:
            out.append("  (empty)")
            continue
        out.append(SLAB_HDR)
        for slab in slabs:
            rec = walker.slab(slab, False)
            out += slab_lines(walker, rec, False)
            if not rec.ok:
                return out
        if err:
            out.append(note(err))
            return out
    return out


def dump_caches(
    session: Session,
    verbose: bool = False,
    reqname: str | None = None,
    address: int | None = None,
    ignore: list[str] | None = None,
    cpus: list[int] | None = None,
    rows: list[CacheRow] | None = None,
    roots: bool = False,
) -> list[str]:
    """crash's dump_kmem_cache_slub: every cache (or the one named, or the one holding `address`),
    with -S each one's slabs; `rows` collects the cache lines for --json."""
    prog = session.prog
    ignore = ignore or []
    if "nr_slabs" not in slub.slub_layout(prog).node:
        return [
            note("option requires kmem_cache_node.nr_slabs member!"),
            "(the kernel must be built with CONFIG_SLUB_DEBUG)",
        ]
    out: list[str] = []
    if reqname is None and address is None:
        out.append(CACHE_HDR)
    slab = 0
    whole = verbose
    if address is not None:
        page_cache = slub.is_slab_page(prog, address)
        if page_cache is not None:
            slab, whole, found = address, True, page_cache
        else:
            where = slub.slab_of(prog, address)
            if where is None:
                warning = slub.lookup_warning(prog, address)
                if warning:
                    out.append(f"WARNING: {warning}")
                out.append(note(f"address is not allocated in slab subsystem: {address:x}"))
                return out
            found, slab = where
        name = slub.read_cache(prog, found).name
        if reqname is not None:
            out.append(note(f"ignoring pre-selected {reqname} cache for address: {address:x}"))
        reqname = name
    caches = slub.root_cache_list(prog) if roots else slub.cache_list(prog)
    for i, addr in enumerate(caches):
        try:
            cache = slub.read_cache(prog, addr)
        except FaultError:
            if reqname is not None:
                break
            continue
        if reqname is not None:
            if cache.name != reqname:
                continue
            out.append(CACHE_HDR)
        walker = slub.SlubWalker(prog, cache)
        row = cache_row(walker, ignore, out)
        if roots and not row.ignored:
            row = with_children(prog, row, out)
        out.append(row.text())
        if rows is not None:
            rows.append(row)
        if not row.ignored and row.allocated is not None:
            if address is not None:
                rec = walker.slab(slab, True, None if whole else address)
                out += slab_lines(walker, rec, True)
            elif verbose:
                out += cache_slabs(session, walker, cpus)
                if reqname is None and i + 1 < len(caches):
                    out.append(CACHE_HDR)
        if reqname is not None:
            break
    return out


def cache_names_list(prog: Program, roots: bool = False) -> list[str]:
    """`kmem -s list` (`kmem -r list`: the root caches): each cache's address and name."""
    out = []
    for addr in slub.root_cache_list(prog) if roots else slub.cache_list(prog):
        try:
            out.append(f"{addr:x} {slub.read_cache(prog, addr).name}")
        except FaultError:
            out.append(f"{addr:x} (unknown)")
    return out


def cpu_selection(argv: list[str], ncpus: int) -> tuple[list[str], list[int] | None]:
    """-S=cpuspec taken out of the arguments (crash's "S::" option); argv without it and the CPUs."""
    rest: list[str] = []
    cpus: list[int] | None = None
    for arg in argv:
        if arg.startswith("-S") and len(arg) > 2 and arg != "--":
            if cpus is not None:
                raise CommandError("only one -S option allowed")
            spec = arg[2:]
            if not spec.startswith("="):
                raise CommandError(
                    "CPU-specific slab data to be displayed must be written as expected only e.g. -S=1,45."
                )
            cpus = make_cpumask(spec[1:], ncpus)
            rest.append("-S")
        else:
            rest.append(arg)
    return rest, cpus


def run(
    session: Session,
    flags: set[str],
    names: list[str],
    addresses: list[int],
    ignore: str | None,
    cpus: list[int] | None,
) -> None:
    """kmem -s / -S / -r with their arguments, as crash's cmd_kmem runs them."""
    prog = session.prog
    try:
        slub.slub_layout(prog)
    except slub.SlubError as e:
        raise CommandError(str(e)) from None
    ignored = [n for n in (ignore or "").replace(",", " ").split() if n]
    reqname = names[0] if names else None
    escape = bool(reqname and reqname.startswith("\\"))
    if escape and reqname:
        reqname = reqname[1:]
    verbose = "S" in flags
    out: list[str] = []
    if addresses and flags & {"s", "S"}:
        calls = 0
        caches = set(slub.cache_list(prog))
        for k, given in enumerate(addresses):
            value, warning = to_kvaddr(prog, given, "P" in flags)
            if warning:
                out.append(warning)
            if value in caches:
                if reqname is not None:
                    if out:
                        session.println("\n".join(out))
                    raise CommandError("only one kmem_cache reference is allowed")
                reqname = slub.read_cache(prog, value).name
                if k + 1 == len(addresses):
                    if calls:
                        out.append("")
                    calls += 1
                    out += dump_caches(session, verbose, reqname, None, ignored, cpus)
                continue
            if calls:
                out.append("")
            calls += 1
            out += dump_caches(session, verbose, reqname, value, ignored, cpus)
        session.println("\n".join(out))
        return
    roots = "r" in flags
    if roots and not slub.has_root_caches(prog):
        raise CommandError("-r option not supported or applicable on this architecture or kernel")
    if reqname == "list" and not (escape and "S" not in flags):
        session.println("\n".join(cache_names_list(prog, roots)))
        return
    lines = dump_caches(session, verbose, reqname, None, ignored, cpus, roots=roots)
    if lines:
        session.println("\n".join(lines))


def to_kvaddr(prog: Program, value: int, physical: bool) -> tuple[int, str | None]:
    """An address argument as kmem's slab search takes it: a physical one (-P, or one that is not a
    kernel virtual address) below high_memory moves to the direct map; above it crash warns and goes
    on with the number as it is."""
    if not physical and prog.is_kvaddr(value):
        return value, None
    page_offset = prog.layout.page_offset
    try:
        high = prog.read_u64(prog.symbol_address("high_memory")) - page_offset
    except (FaultError, CrashpyError):
        high = 0
    if value < high:
        return (value + page_offset) & ((1 << 64) - 1), None
    return value, f"WARNING: cannot make virtual-to-physical translation: {value:x}"


def search_slab_part(session: Session, address: int, physical: bool = False) -> list[str]:
    """The slab part of `kmem <address>`: the cache, slab and object holding it (empty if none)."""
    prog = session.prog
    try:
        slub.slub_layout(prog)
    except CrashpyError:
        return []
    if physical or not prog.is_kvaddr(address):
        page_offset = prog.layout.page_offset
        try:
            high = prog.read_u64(prog.symbol_address("high_memory")) - page_offset
        except (FaultError, CrashpyError):
            return []
        if address >= high:
            return []
        address = (address + page_offset) & ((1 << 64) - 1)
    out: list[str] = []
    if slub.slab_of(prog, address) is not None:
        out += dump_caches(session, False, None, address) + [""]
    else:
        warning = slub.lookup_warning(prog, address)
        if warning:
            out.append(f"WARNING: {warning}")
    if slub.is_slab_page(prog, address) is not None:
        out += dump_caches(session, False, None, address) + [""]
    return out


def slab_document(session: Session, ignore: str | None) -> dict[str, Any]:
    """`kmem --json -s`: the cache rows of kmem -s."""
    rows: list[CacheRow] = []
    ignored = [n for n in (ignore or "").replace(",", " ").split() if n]
    try:
        slub.slub_layout(session.prog)
    except slub.SlubError as e:
        raise CommandError(str(e)) from None
    dump_caches(session, ignore=ignored, rows=rows)
    return {"caches": [row.json() for row in rows]}
