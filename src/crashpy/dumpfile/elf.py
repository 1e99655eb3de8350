"""ELF vmcores: /proc/vmcore copies, QEMU's dump-guest-memory, makedumpfile -E (ELF64 little-endian)."""

from __future__ import annotations

import struct
from bisect import bisect_right
from dataclasses import dataclass

from crashpy.dumpfile.base import DumpFile, DumpInfo, Note
from crashpy.dumpfile.notes import count_prstatus, parse_notes, vmcoreinfo_of
from crashpy.dumpfile.source import FileSource, Source, closed_on_failure, fault_address
from crashpy.errors import DumpFormatError, FaultError, FaultKind

ELF_MAGIC = b"\x7fELF"
ELFCLASS32 = 1
ELFCLASS64 = 2
ELFDATA2LSB = 1
ET_EXEC = 2
ET_DYN = 3
ET_CORE = 4
EM_X86_64 = 62
EM_AARCH64 = 183
PT_LOAD = 1
PT_NOTE = 4
NT_AUXV = 6  # these two "CORE" notes are in process cores (gdb's, systemd-coredump's), never in vmcores
NT_FILE = 0x46494C45
PN_XNUM = 0xFFFF  # e_phnum overflow: the real count is in section header 0's sh_info
NOT_PADDR = 0xFFFFFFFFFFFFFFFF  # makedumpfile's "no physical address" for a PT_LOAD

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_SHDR_SH_INFO = struct.Struct("<I")  # sh_info lives at offset 44 of an Elf64_Shdr
_MAX_PHNUM = 1 << 22  # more program headers than this is a corrupt header, not a dump

_EXCLUDED = -1  # a piece's file offset when the segment's bytes are not in the file

EM_X86_64 = 62
_MACHINES = {3: "i386", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64", 22: "S/390", 40: "ARM", 183: "AArch64",
             243: "RISC-V", 258: "LoongArch"}


@dataclass(frozen=True)
class ElfSegment:
    """One program header of the core."""

    type: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int


class ElfDump(DumpFile):
    """An ELF64 core read through a Source; physical reads map p_paddr ranges to file offsets.

    A PT_LOAD whose p_filesz is smaller than its p_memsz has its tail left out of the file: that is
    how makedumpfile -E marks a run of excluded pages, so reads there fail with EXCLUDED (crash
    zero-fills them). An address no PT_LOAD covers fails with NOT_PRESENT (crash: "read error"), and
    bytes a segment promises past the end of a truncated file fail with TRUNCATED.
    """

    def __init__(self, source: Source, *, format_name: str = "ELF") -> None:
        self.source = source
        self.path = source.name
        self.warnings: list[str] = []
        self.segments: list[ElfSegment] = []
        head = source.pread(0, _EHDR.size)
        if len(head) < _EHDR.size or head[:4] != ELF_MAGIC:
            raise DumpFormatError(f"{self.path}: not a supported file format")
        (
            ident,
            e_type,
            e_machine,
            _version,
            _entry,
            e_phoff,
            e_shoff,
            _flags,
            _ehsize,
            e_phentsize,
            e_phnum,
            e_shentsize,
            _shnum,
            _shstrndx,
        ) = _EHDR.unpack(head)
        if ident[4] != ELFCLASS64:
            raise DumpFormatError(
                f"{self.path}: not a supported file format (32-bit ELF dumps are not supported)"
            )
        if ident[5] != ELFDATA2LSB:
            raise DumpFormatError(
                f"{self.path}: not a supported file format (big-endian ELF dumps are not supported)"
            )
        if e_type != ET_CORE:
            kind = {ET_EXEC: "an executable (a vmlinux?)", ET_DYN: "a shared object"}.get(
                e_type, f"type {e_type}"
            )
            raise DumpFormatError(f"{self.path}: not a supported file format (ELF {kind}, not a core dump)")
        if e_machine not in (0, EM_X86_64):
            what = _MACHINES.get(e_machine, f"machine {e_machine}")
            raise DumpFormatError(f"{self.path}: not a supported file format (an ELF dump of {what}: crashpy reads x86_64 dumps)")
        self.e_machine = e_machine
        phnum = e_phnum
        if e_phnum == PN_XNUM:
            # QEMU writes this when it has 65535 or more program headers.
            raw = source.pread(e_shoff + 44, 4) if e_shoff and e_shentsize >= 64 else b""
            if len(raw) < 4:
                raise DumpFormatError(
                    f"{self.path}: ELF e_phnum is PN_XNUM but section header 0 is unreadable"
                )
            phnum = _SHDR_SH_INFO.unpack(raw)[0]
        if phnum == 0 or phnum > _MAX_PHNUM:
            raise DumpFormatError(f"{self.path}: corrupt ELF header: {phnum} program headers")
        if e_phentsize < _PHDR.size:
            raise DumpFormatError(f"{self.path}: corrupt ELF header: e_phentsize {e_phentsize}")
        table = source.pread(e_phoff, phnum * e_phentsize)
        if len(table) < phnum * e_phentsize:
            raise DumpFormatError(
                f"{self.path}: ELF program headers (offset {e_phoff}, {phnum} entries) lie past the end of the file"
            )
        notes_data: list[bytes] = []
        loads: list[ElfSegment] = []
        for i in range(phnum):
            p_type, _pflags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, _align = _PHDR.unpack_from(
                table, i * e_phentsize
            )
            seg = ElfSegment(p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz)
            self.segments.append(seg)
            if seg.type == PT_NOTE:
                data = source.pread(seg.offset, seg.filesz)
                if len(data) < seg.filesz:
                    raise DumpFormatError(
                        f"{self.path}: ELF notes (PT_NOTE at offset {seg.offset}, {seg.filesz} bytes) "
                        "lie past the end of the file"
                    )
                notes_data.append(data)
            elif seg.type == PT_LOAD and seg.paddr != NOT_PADDR and seg.memsz > 0:
                loads.append(seg)
        notes: list[Note] = []
        for data in notes_data:
            found, problem = parse_notes(data)
            notes.extend(found)
            if problem:
                self.warnings.append(f"{self.path}: {problem}")
        if any(n.name == "CORE" and n.type in (NT_AUXV, NT_FILE) for n in notes):
            raise DumpFormatError(
                f"{self.path}: not a supported file format (the ELF core of a process, not of a kernel)"
            )
        self._build_pieces(loads)
        incomplete = False
        for seg in loads:
            if seg.filesz and seg.offset + seg.filesz > source.size:
                incomplete = True
                # crash's netdump.c check_dumpfile_size() warning, first offending segment only
                self.warnings.append(
                    f"{self.path}: may be truncated or incomplete\n"
                    f"         PT_LOAD p_offset: {seg.offset}\n"
                    f"                 p_filesz: {seg.filesz}\n"
                    f"           bytes required: {seg.offset + seg.filesz}\n"
                    f"            dumpfile size: {source.size}\n"
                )
                break
        self.info = DumpInfo(
            format=format_name,
            notes=notes,
            vmcoreinfo=vmcoreinfo_of(notes),
            incomplete=incomplete,
            nr_cpus=count_prstatus(notes),
            block_size=4096,
            max_pfn=(self._ends[-1] + 0xFFF) >> 12 if self._ends else 0,
        )

    @classmethod
    def open(cls, path: str) -> ElfDump:
        """Open an ELF vmcore file read-only."""
        source = FileSource(path)
        with closed_on_failure([source]):
            return cls(source)

    def _build_pieces(self, loads: list[ElfSegment]) -> None:
        """Disjoint sorted physical pieces (start, end, file offset or _EXCLUDED) from the PT_LOADs."""
        raw: list[tuple[int, int, int, int]] = []  # (start, header order, end, offset)
        for order, seg in enumerate(loads):
            data_end = seg.paddr + min(seg.filesz, seg.memsz)
            if data_end > seg.paddr:
                raw.append((seg.paddr, order, data_end, seg.offset))
            if seg.memsz > seg.filesz:
                raw.append((data_end, order, seg.paddr + seg.memsz, _EXCLUDED))
        raw.sort()
        starts: list[int] = []
        ends: list[int] = []
        offs: list[int] = []
        covered = -1
        for start, _order, end, off in raw:
            if end <= covered:
                continue  # wholly inside an earlier piece (e.g. the kernel-text PT_LOAD of /proc/vmcore)
            if start < covered:
                if off != _EXCLUDED:
                    off += covered - start
                start = covered
            if (
                ends
                and ends[-1] == start
                and offs[-1] != _EXCLUDED
                and off != _EXCLUDED
                and offs[-1] + (ends[-1] - starts[-1]) == off
            ):
                ends[-1] = end  # contiguous in memory and in the file: merge
            elif ends and ends[-1] == start and offs[-1] == _EXCLUDED and off == _EXCLUDED:
                ends[-1] = end
            else:
                starts.append(start)
                ends.append(end)
                offs.append(off)
            covered = end
        self._starts = starts
        self._ends = ends
        self._offs = offs

    def read(self, paddr: int, size: int) -> bytes:
        if size <= 0:
            return b""
        starts, ends, offs, src = self._starts, self._ends, self._offs, self.source
        addr = paddr
        stop = paddr + size
        chunks: list[bytes] = []
        while addr < stop:
            i = bisect_right(starts, addr) - 1
            if i < 0 or addr >= ends[i]:
                raise FaultError(fault_address(paddr, addr), FaultKind.NOT_PRESENT)
            off = offs[i]
            if off == _EXCLUDED:
                raise FaultError(fault_address(paddr, addr), FaultKind.EXCLUDED)
            n = min(stop, ends[i]) - addr
            data = src.pread(off + (addr - starts[i]), n)
            if len(data) < n:
                raise FaultError(fault_address(paddr, addr + len(data)), FaultKind.TRUNCATED)
            if n == size:
                return data
            chunks.append(data)
            addr += n
        return b"".join(chunks)

    def file_offset(self, paddr: int) -> int | None:
        """Where in the file the byte at `paddr` is, or None when the file does not hold it."""
        i = bisect_right(self._starts, paddr) - 1
        if i < 0 or paddr >= self._ends[i] or self._offs[i] == _EXCLUDED:
            return None
        return self._offs[i] + paddr - self._starts[i]

    def ranges(self) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for start, end in zip(self._starts, self._ends, strict=True):
            if out and out[-1][1] == start:
                out[-1] = (out[-1][0], end)
            else:
                out.append((start, end))
        return out

    def close(self) -> None:
        self.source.close()
