"""Fuzzing crashpy with damaged dumps and odd commands: never a traceback, never a hang.

    python3 tools/fuzz.py dumps --cases 10000 --seed 1       # mutated dumps, the fixed command list
    python3 tools/fuzz.py commands --cases 10000 --seed 1    # random commands on a real dump

Dump cases start from the real test dumps (tools/vmcores.py: the ELF, kdump-compressed and flattened
forms, and the two parts makedumpfile --split writes from the ELF one, opened together) and damage one structure a reader trusts: the ELF header, program headers, notes (PRSTATUS,
the VMCOREINFO text), the kdump header and sub-header, either bitmap, the page descriptors
(offsets, sizes, flags), the compressed page data, the flattened records; or cut the file at a
structure's edge; or replace it (an empty file, random bytes, a dump of another architecture, a
kernel module given as the vmlinux). Each case opens the result with the debug vmlinux and runs
sys, log, ps, bt -a, kmem -i, dis of the panic's RIP and rd, in a process of its own (forked, so the
imports are paid once) under a time limit; the case's peak memory is read from the process.

Command cases run random commands and arguments (crash's commands and options, boundary numbers,
unknown names, deep expressions, addresses in every hole of the address space) in one session.

A case fails when a command prints `internal error` (crashpy's one line for a bug, in place of a
traceback), when opening raises anything but crashpy's own one-line errors, when it runs past the
time limit, or uses more memory than the limit. The summary counts each outcome.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import random
import resource
import signal
import struct
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

TIME_LIMIT = 10.0  # seconds per case
MEMORY_LIMIT = 1 << 30  # bytes of peak RSS per case
SEED_DUMPS = ("sysrq.d31.elf", "sysrq.d31.zlib", "sysrq.d31.flat", "la57bug.d31.zlib")
DUMP_COMMANDS = ["sys", "log", "ps", "bt -a", "kmem -i", "rd linux_banner 8", "rd -p 0x1000 4"]

BOUNDARY = (0, 1, 2, 0xFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1 << 32, 1 << 40, 0x7FFF_FFFF_FFFF_FFFF,
            0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_F000)


class CaseTimeout(BaseException):
    """Raised in a case's process by its alarm: not an Exception, so no handler of crashpy's takes it."""


class OutputLimit(BaseException):
    """A command's output passed OUTPUT_LIMIT: it is stopped there, as `| head` would stop it (a count
    of 10^26 instructions, a search for a value that fills memory: crash prints them all too)."""


OUTPUT_LIMIT = 1 << 20  # characters a command may print before it is cut


class CappedOutput(io.StringIO):
    """The session's output: what a command printed, up to OUTPUT_LIMIT."""

    def write(self, text: str) -> int:
        if self.tell() + len(text) > OUTPUT_LIMIT:
            raise OutputLimit()
        return super().write(text)


@dataclass
class Outcome:
    case: str
    result: str  # "ok", "refused", "internal-error", "traceback", "timeout", "memory"
    detail: str = ""
    seconds: float = 0.0
    rss: int = 0  # peak resident bytes of the case's process


# ---- where each structure lies ---------------------------------------------------------------------


@dataclass
class Regions:
    """Named byte ranges of a dump file: the structures its reader trusts."""

    size: int
    spans: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    fields: list[tuple[str, int, int]] = field(default_factory=list)  # (name, offset, width)

    def add(self, name: str, start: int, end: int) -> None:
        if 0 <= start < end <= self.size:
            self.spans.setdefault(name, []).append((start, end))


def elf_regions(data: bytes | memoryview, base: int = 0) -> Regions:
    r = Regions(len(data))
    phoff, = struct.unpack_from("<Q", data, base + 32)
    phentsize, phnum = struct.unpack_from("<HH", data, base + 54)
    r.add("elf header", base, base + 64)
    r.fields += [("e_phoff", base + 32, 8), ("e_phnum", base + 56, 2), ("e_machine", base + 18, 2),
                 ("e_shoff", base + 40, 8), ("e_shnum", base + 60, 2), ("ei_class", base + 4, 1)]
    phnum = min(phnum, 4096)
    r.add("program headers", base + phoff, base + phoff + phentsize * phnum)
    for i in range(phnum):
        o = base + phoff + i * phentsize
        if o + 56 > len(data):
            break
        p_type, _flags, p_offset, _va, _pa, filesz, memsz = struct.unpack_from("<IIQQQQQ", data, o)
        r.fields += [(f"phdr{i}.p_offset", o + 8, 8), (f"phdr{i}.p_filesz", o + 32, 8),
                     (f"phdr{i}.p_memsz", o + 40, 8), (f"phdr{i}.p_paddr", o + 24, 8)]
        if p_type == 4:  # PT_NOTE
            r.add("notes", base + p_offset, base + p_offset + filesz)
            _note_regions(r, data, base + p_offset, base + p_offset + filesz)
        elif p_type == 1 and filesz:
            r.add("page data", base + p_offset, base + p_offset + min(filesz, 1 << 20))
    return r


def _note_regions(r: Regions, data: bytes | memoryview, start: int, end: int) -> None:
    o = start
    while o + 12 <= min(end, len(data)):
        namesz, descsz, ntype = struct.unpack_from("<III", data, o)
        name_end = o + 12 + ((namesz + 3) & ~3)
        desc_end = name_end + ((descsz + 3) & ~3)
        r.fields += [("note.n_namesz", o, 4), ("note.n_descsz", o + 4, 4)]
        name = bytes(data[o + 12 : o + 12 + namesz]).rstrip(b"\0")
        if name == b"CORE" and ntype == 1:
            r.add("prstatus", name_end, name_end + descsz)
        elif name == b"VMCOREINFO":
            r.add("vmcoreinfo", name_end, name_end + descsz)
        if desc_end <= o:
            break
        o = desc_end


def kdump_regions(path: str, data: bytes | memoryview) -> Regions:
    from crashpy.dumpfile.sniff import open_dump

    r = Regions(len(data))
    dump = open_dump(path)
    bs = dump._bs  # type: ignore[attr-defined]
    h = dump.header  # type: ignore[attr-defined]
    r.add("kdump header", 0, 464)
    r.fields += [("block_size", 428, 4), ("sub_hdr_size", 432, 4), ("bitmap_blocks", 436, 4), ("max_mapnr", 440, 4),
                 ("nr_cpus", 460, 4), ("status", 424, 4), ("header_version", 8, 4)]
    r.add("sub header", bs, bs + 128)
    r.fields += [(f"sub+{k}", bs + k, 8) for k in range(0, 128, 8)]
    sub = dump.sub_header  # type: ignore[attr-defined]
    if sub is not None:
        if sub.offset_vmcoreinfo:
            r.add("vmcoreinfo", sub.offset_vmcoreinfo, sub.offset_vmcoreinfo + sub.size_vmcoreinfo)
        if sub.offset_note:
            r.add("notes", sub.offset_note, sub.offset_note + sub.size_note)
            _note_regions(r, data, sub.offset_note, sub.offset_note + sub.size_note)
    bitmap_off = bs * (1 + h.sub_hdr_size)
    half = bs * h.bitmap_blocks // 2
    r.add("bitmap 1", bitmap_off, bitmap_off + half)
    r.add("bitmap 2", bitmap_off + half, bitmap_off + 2 * half)
    desc = dump.data_offset  # type: ignore[attr-defined]
    r.add("page descriptors", desc, desc + 24 * 4096)
    for k in range(64):
        o = desc + 24 * k * 37
        r.fields += [(f"desc{k}.offset", o, 8), (f"desc{k}.size", o + 8, 4), (f"desc{k}.flags", o + 12, 4)]
    first_data = struct.unpack_from("<Q", data, desc)[0] if desc + 8 <= len(data) else 0
    if 0 < first_data < len(data):
        r.add("page data", first_data, min(len(data), first_data + (1 << 20)))
    dump.close()
    return r


def flat_regions(data: bytes | memoryview) -> Regions:
    r = Regions(len(data))
    r.add("flat header", 0, 4096)
    o = 4096
    for k in range(2000):
        if o + 16 > len(data):
            break
        offset, size = struct.unpack_from(">qq", data, o)
        r.fields += [(f"record{k}.offset", o, 8), (f"record{k}.size", o + 8, 8)]
        r.add("flat records", o, o + 16)
        if size < 0 or offset < 0:
            break
        o += 16 + size
    return r


def regions_of(path: Path, data: bytes | memoryview) -> Regions:
    head = bytes(data[:16])
    if head.startswith(b"\x7fELF"):
        return elf_regions(data)
    if head.startswith(b"makedumpfile"):
        return flat_regions(data)
    return kdump_regions(str(path), data)


# ---- the cases -------------------------------------------------------------------------------------


@dataclass
class DumpCase:
    name: str
    seed_dump: str
    make: Callable[[bytes], bytes] | None  # the damaged file from the seed dump's bytes (None: as given)
    vmlinux: str | None = None  # None: the debug vmlinux
    others: tuple[str, ...] = ()  # seed dumps opened with it, as they are (a split dump's other parts)


SPLIT_PARTS = ("sysrq.d31.split1", "sysrq.d31.split2")  # sysrq.d31.elf by makedumpfile --split


def split_parts(elf: Path, vmlinux: Path, out: Path) -> dict[str, Path]:
    """The two parts of `elf` that `makedumpfile --split` writes into `out` (about 20 s), by their seed
    names; none when makedumpfile is not installed."""
    import shutil
    import subprocess

    if shutil.which("makedumpfile") is None:
        return {}
    parts = {name: out / name for name in SPLIT_PARTS}
    if not all(p.exists() for p in parts.values()):
        subprocess.run(
            ["makedumpfile", "--split", "--splitblock-size", "1024", "-c", "-d", "31", "-x", str(vmlinux),
             str(elf), *map(str, parts.values())],
            capture_output=True, check=True, timeout=600,
        )  # fmt: skip
    return parts


def _other_parts(dump: str, seeds: dict[str, Path]) -> tuple[str, ...]:
    """The seed dumps a case of `dump` is opened with: a split part's other parts."""
    return tuple(p for p in SPLIT_PARTS if p != dump and p in seeds) if dump in SPLIT_PARTS else ()


def dump_cases(count: int, seed: int, seeds: dict[str, Path]) -> Iterator[DumpCase]:
    """`count` damaged dumps, the same ones for the same seed."""
    rng = random.Random(seed)
    regions = {name: regions_of(path, path.read_bytes()) for name, path in seeds.items()}
    whole: list[tuple[str, Callable[[bytes], bytes]]] = [
        ("empty file", lambda b: b""),
        ("random bytes (4 KiB)", _random_bytes(seed, 4096)),
        ("random bytes (1 MiB)", _random_bytes(seed + 1, 1 << 20)),
        ("only the first 64 bytes", lambda b: b[:64]),
    ]
    n = 0
    for label, fn in whole:
        if n < count:
            yield DumpCase(f"{n}: {label}", "sysrq.d31.elf", fn)
            n += 1
    if n < count:
        yield DumpCase(f"{n}: a dump of another architecture (e_machine AArch64)", "sysrq.d31.elf",
                       lambda b: b[:18] + struct.pack("<H", 183) + b[20:])
        n += 1
    if n < count:
        yield DumpCase(f"{n}: a 32-bit ELF class", "sysrq.d31.elf", lambda b: b[:4] + b"\x01" + b[5:])
        n += 1
    if n < count:
        yield DumpCase(f"{n}: a kernel module as the vmlinux", "sysrq.d31.zlib", None, vmlinux="module")
        n += 1
    if n < count:
        yield DumpCase(f"{n}: the vmlinux of another kernel", "sysrq.d31.zlib", None, vmlinux="other")
        n += 1
    if n < count and SPLIT_PARTS[0] in seeds:
        yield DumpCase(f"{n}: the first part of a split dump alone", SPLIT_PARTS[0], None)
        n += 1
    if n < count and SPLIT_PARTS[0] in seeds:
        yield DumpCase(f"{n}: a part of a split dump given twice", SPLIT_PARTS[0], None, others=(SPLIT_PARTS[0],))
        n += 1
    if n < count and SPLIT_PARTS[0] in seeds:
        yield DumpCase(f"{n}: a part of a split dump with another dump", SPLIT_PARTS[0], None,
                       others=("sysrq.d31.zlib",))
        n += 1
    names = sorted(seeds)
    while n < count:
        dump = names[rng.randrange(len(names))]
        reg = regions[dump]
        others = _other_parts(dump, seeds)
        kind = rng.random()
        if kind < 0.35 and reg.fields:
            fname, off, width = reg.fields[rng.randrange(len(reg.fields))]
            value = rng.choice(BOUNDARY) if rng.random() < 0.7 else rng.getrandbits(8 * width)
            value &= (1 << (8 * width)) - 1
            order = ">" if dump.endswith(".flat") and fname.startswith("record") else "<"
            raw = value.to_bytes(width, "big" if order == ">" else "little")
            yield DumpCase(f"{n}: {dump}: {fname} = {value:#x}", dump, _patch(off, raw), others=others)
        elif kind < 0.7 and reg.spans:
            rname = rng.choice(sorted(reg.spans))
            start, end = rng.choice(reg.spans[rname])
            flips = rng.randrange(1, 9)
            spots = [(rng.randrange(start, end), rng.randrange(256)) for _ in range(flips)]
            yield DumpCase(f"{n}: {dump}: {flips} bytes of the {rname} changed", dump, _poke(spots), others=others)
        elif kind < 0.8 and "vmcoreinfo" in reg.spans:
            start, end = reg.spans["vmcoreinfo"][0]
            how = rng.randrange(4)
            yield DumpCase(f"{n}: {dump}: VMCOREINFO text {('line dropped', 'number mangled', 'line doubled', 'cut')[how]}",
                           dump, _vmcoreinfo_edit(start, end, how, rng.getrandbits(32)), others=others)
        elif kind < 0.9 and reg.spans:
            rname = rng.choice(sorted(reg.spans))
            start, end = rng.choice(reg.spans[rname])
            at = rng.choice((start, end, start + 1, end - 1, (start + end) // 2))
            yield DumpCase(f"{n}: {dump}: cut at {at} ({rname})", dump, _cut(at), others=others)
        elif reg.spans:
            rname = rng.choice(sorted(reg.spans))
            start, end = rng.choice(reg.spans[rname])
            yield DumpCase(f"{n}: {dump}: the {rname} zeroed", dump, _patch(start, bytes(end - start)), others=others)
        else:
            continue
        n += 1


def _random_bytes(seed: int, size: int) -> Callable[[bytes], bytes]:
    return lambda _b: random.Random(seed).randbytes(size)


def _cut(at: int) -> Callable[[bytes], bytes]:
    return lambda b: b[:at]


def _patch(offset: int, raw: bytes) -> Callable[[bytes], bytes]:
    def make(b: bytes) -> bytes:
        if offset >= len(b):
            return b
        return b[:offset] + raw[: len(b) - offset] + b[offset + len(raw) :]

    return make


def _poke(spots: list[tuple[int, int]]) -> Callable[[bytes], bytes]:
    def make(b: bytes) -> bytes:
        out = bytearray(b)
        for off, val in spots:
            if off < len(out):
                out[off] = val
        return bytes(out)

    return make


def _vmcoreinfo_edit(start: int, end: int, how: int, r: int) -> Callable[[bytes], bytes]:
    def make(b: bytes) -> bytes:
        text = b[start:end]
        lines = text.split(b"\n")
        k = r % max(len(lines), 1)
        if how == 0:
            lines[k] = b"X" * len(lines[k])  # same length: the note's size stays right
        elif how == 1:
            line = lines[k]
            eq = line.find(b"=")
            if eq >= 0:
                lines[k] = line[: eq + 1] + b"f" * (len(line) - eq - 1)
        elif how == 2 and k + 1 < len(lines):
            keep = lines[k + 1]
            lines[k + 1] = (lines[k] + b"\n" + keep)[: len(keep)]
        else:
            cut = r % max(len(text), 1)
            return b[: start + cut] + bytes(len(text) - cut) + b[end:]
        new = b"\n".join(lines)[: len(text)].ljust(len(text), b"\0")
        return b[:start] + new + b[end:]

    return make


# ---- running a case ---------------------------------------------------------------------------------


def _alarm(_signum: int, _frame: object) -> None:
    raise CaseTimeout()


def run_commands(prog: object, commands: list[str], deadline: float) -> tuple[str, str]:
    """Run `commands` in one session: ("ok" | "internal-error", the first bad line)."""
    from crashpy.session import Session

    out = CappedOutput()
    session = Session(prog, out)  # type: ignore[arg-type]
    for cmd in commands:
        out.seek(0)
        out.truncate()
        try:
            session.run_line(cmd)
        except OutputLimit:
            session = Session(prog, out)  # type: ignore[arg-type]
        text = out.getvalue()
        if "internal error" in text:
            line = next(ln for ln in text.splitlines() if "internal error" in ln)
            return "internal-error", f"{cmd}: {line}"
        if time.monotonic() > deadline:
            raise CaseTimeout()
    return "ok", ""


def _panic_rip_command(prog: object) -> list[str]:
    """`dis` of the panic task's exception RIP, when bt shows one."""
    from crashpy.session import Session

    out = io.StringIO()
    Session(prog, out).run_line("bt")  # type: ignore[arg-type]
    for line in out.getvalue().splitlines():
        if "[exception RIP: " in line:
            return [f"dis {line.split('[exception RIP: ')[1].rstrip(']').split()[0]} 8"]
    return ["dis -r schedule+20 4"]


def _case_body(paths: list[str], vmlinux: str | None) -> tuple[str, str]:
    from crashpy.errors import CrashpyError
    from crashpy.loader import open_program

    deadline = time.monotonic() + TIME_LIMIT
    try:
        prog = open_program(vmlinux, paths)
    except CrashpyError as e:
        text = str(e)
        return ("refused", text) if "\n" not in text.strip() else ("traceback", f"a start-up error of several lines: {text!r}")
    try:
        return run_commands(prog, [*DUMP_COMMANDS, *_panic_rip_command(prog)], deadline)
    finally:
        prog.close()


def _child(paths: list[str], vmlinux: str | None, conn: object) -> None:
    import traceback

    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    t0 = time.monotonic()
    try:
        result, detail = _case_body(paths, vmlinux)
    except CaseTimeout:
        result, detail = "timeout", f"over {TIME_LIMIT:.0f} s"
    except BaseException as e:  # noqa: BLE001 - what a user would have seen as a traceback
        result, detail = "traceback", "".join(traceback.format_exception_only(type(e), e)).strip()
    signal.setitimer(signal.ITIMER_REAL, 0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if rss > MEMORY_LIMIT and result == "ok":
        result, detail = "memory", f"{rss >> 20} MiB"
    conn.send((result, detail, time.monotonic() - t0, rss))  # type: ignore[attr-defined]


def _context() -> Any:
    """Cases run in processes forked from a clean server that has imported crashpy once: they start
    warm, and their peak memory is their own, not the parent's."""
    # the server is a new interpreter: it must import this tree's crashpy, whatever is installed
    paths = [str(ROOT / "src"), str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    from crashpy.commands.registry import MODULES

    ctx = multiprocessing.get_context("forkserver")
    commands = sorted({f"crashpy.commands.{module}" for module in MODULES.values()})
    ctx.set_forkserver_preload(["crashpy.loader", "crashpy.session", *commands, "tools.fuzz"])
    return ctx


def run_cases(jobs: Iterator[tuple[str, list[str], str | None]], workers: int = 2) -> Iterator[Outcome]:
    """(name, dump paths, vmlinux) jobs, `workers` at a time, each in a process of its own; a process
    that does not answer in time is killed. Outcomes come in the jobs' order."""
    ctx = _context()
    running: list[tuple[str, Any, Any, float]] = []

    def finish(entry: tuple[str, Any, Any, float]) -> Outcome:
        name, proc, recv, t0 = entry
        left = max(0.0, t0 + TIME_LIMIT + 20 - time.monotonic())
        if recv.poll(left):
            try:
                result, detail, secs, rss = recv.recv()
            except EOFError:
                result, detail, secs, rss = "traceback", f"the case's process died (exit {proc.exitcode})", time.monotonic() - t0, 0
        else:
            proc.kill()
            result, detail, secs, rss = "timeout", "killed: no answer", time.monotonic() - t0, 0
        proc.join(5)
        recv.close()
        return Outcome(name, result, detail, secs, rss)

    for name, paths, vmlinux in jobs:
        if len(running) >= workers:
            yield finish(running.pop(0))
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(paths, vmlinux, send))
        proc.start()
        send.close()
        running.append((name, proc, recv, time.monotonic()))
    while running:
        yield finish(running.pop(0))


def other_kernel_vmlinux(path: Path) -> Path:
    """A small x86_64 vmlinux of another kernel: its linux_banner names another release."""
    from tests.elf_writer import SHF_ALLOC, SHT_STRTAB, SHT_SYMTAB, Sec, symbols, write_elf

    banner = b"Linux version 5.10.0-other-amd64 (nobody@example) #1 SMP Debian 5.10.1-1 (2021-01-01)\n\0"
    rodata = 0xFFFFFFFF82000000
    symtab, strtab = symbols([("linux_banner", rodata, len(banner), 0x11, 1), ("_stext", 0xFFFFFFFF81000000, 0, 0x10, 1)])
    path.write_bytes(write_elf([
        Sec(".rodata", banner, flags=SHF_ALLOC, addr=rodata),
        Sec(".symtab", symtab, type=SHT_SYMTAB, link=".strtab", info=1, entsize=24),
        Sec(".strtab", strtab, type=SHT_STRTAB),
    ]))
    return path


def fuzz_dumps(count: int, seed: int, seeds: dict[str, Path], vmlinux: Path, module: Path,
               workdir: Path, progress: bool = False, workers: int = 2) -> list[Outcome]:
    """`count` dump cases from `seed`: each damaged file written to `workdir` (a file per running case),
    opened with `vmlinux` and the fixed commands run on it."""
    blobs: dict[str, bytes] = {}
    other = other_kernel_vmlinux(workdir / "vmlinux-other")
    kernels = {"module": str(module), "other": str(other), None: str(vmlinux)}

    def jobs() -> Iterator[tuple[str, list[str], str | None]]:
        for k, case in enumerate(dump_cases(count, seed, seeds)):
            if case.make is None:
                target = str(seeds[case.seed_dump])
            else:
                if case.seed_dump not in blobs:
                    blobs.clear()  # one seed dump's bytes in memory at a time
                    blobs[case.seed_dump] = seeds[case.seed_dump].read_bytes()
                target = str(workdir / f"case{k % (workers + 1)}.dump")
                Path(target).write_bytes(case.make(blobs[case.seed_dump]))
            yield case.name, [target, *(str(seeds[o]) for o in case.others)], kernels[case.vmlinux]

    outcomes = []
    for outcome in run_cases(jobs(), workers):
        outcomes.append(outcome)
        if progress and len(outcomes) % 50 == 0:
            print(f"  {len(outcomes)} dump cases", file=sys.stderr, flush=True)
    return outcomes


def _short(text: str, width: int = 160) -> str:
    return text if len(text) <= width else text[: width - 20] + " ... " + text[-15:]


def summary(outcomes: list[Outcome], what: str) -> str:
    counts = Counter(o.result for o in outcomes)
    bad = [o for o in outcomes if o.result not in ("ok", "refused")]
    slowest = max(outcomes, key=lambda o: o.seconds) if outcomes else None
    biggest = max(outcomes, key=lambda o: o.rss) if outcomes else None
    lines = [f"{len(outcomes)} {what} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))]
    if slowest is not None and biggest is not None:
        lines.append(f"slowest {slowest.seconds:.2f} s ({_short(slowest.case)}); "
                     f"largest {biggest.rss >> 20} MiB ({_short(biggest.case)})")
        over = sum(1 for o in outcomes if o.seconds > TIME_LIMIT)
        lines.append(f"over {TIME_LIMIT:.0f} s: {over}; over {MEMORY_LIMIT >> 20} MiB: "
                     f"{sum(1 for o in outcomes if o.rss > MEMORY_LIMIT)}")
    lines += [f"  {o.result}: {_short(o.case)}: {_short(o.detail)}" for o in bad[:40]]
    return "\n".join(lines)


def main() -> int:
    from tools.vmcores import MODULE_NAME, Builder

    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("kind", choices=("dumps", "commands"))
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    builder = Builder()  # the dumps as built (never builds: a missing seed dump is left out)
    outputs = builder.outputs([*SEED_DUMPS, "vmlinux"])
    t0 = time.monotonic()
    if args.kind == "dumps":
        seeds = {n: outputs[n] for n in SEED_DUMPS if outputs[n].exists()}
        with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as tmp:
            if "sysrq.d31.elf" in seeds:
                seeds.update(split_parts(seeds["sysrq.d31.elf"], outputs["vmlinux"], Path(tmp)))
            outcomes = fuzz_dumps(args.cases, args.seed, seeds, outputs["vmlinux"], outputs[MODULE_NAME],
                                  Path(tmp), progress=True)
        print(summary(outcomes, "dump"))
    else:
        from tools.fuzz_commands import fuzz_commands

        outcomes = fuzz_commands(args.cases, args.seed, outputs["vmlinux"], outputs["sysrq.d31.zlib"])
        print(summary(outcomes, "command"))
    print(f"in {time.monotonic() - t0:.0f} s")
    return 1 if any(o.result not in ("ok", "refused") for o in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
