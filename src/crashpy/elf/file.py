"""One reader of ELF files (vmlinux, kernel modules, any ELF): the file mapped read-only, its header and
section headers read with struct, a section's bytes handed out as a window on the mapping (compressed
ones decompressed once), its notes and build-id, its symbol table.

64- and 32-bit, either byte order, extended section numbering (more than 0xff00 sections: the count and
the name table's index in section 0). Nothing but the section headers is read up front.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal

from crashpy.elf.constants import (
    ELF_MAGIC,
    ELFCLASS32,
    ELFCLASS64,
    ELFDATA2LSB,
    ELFDATA2MSB,
    ET_REL,
    NT_GNU_BUILD_ID,
    SHF_ALLOC,
    SHF_COMPRESSED,
    SHN_XINDEX,
    SHT_DYNSYM,
    SHT_NOBITS,
    SHT_NOTE,
    SHT_SYMTAB,
    SHT_SYMTAB_SHNDX,
)
from crashpy.elf.errors import ElfError
from crashpy.elf.sections import SectionBytes, decompress_chdr, decompress_zdebug

if TYPE_CHECKING:
    from crashpy.dumpfile.base import Note
    from crashpy.elf.symtab import ElfSymtab


@dataclass(frozen=True, slots=True)
class Section:
    """One section header (Elf64_Shdr / Elf32_Shdr) with its name."""

    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    entsize: int
    info: int = 0
    addralign: int = 0
    index: int = 0

    @property
    def has_bytes(self) -> bool:
        """Whether the file holds contents for it (not SHT_NOBITS, not empty)."""
        return self.type != SHT_NOBITS and self.size > 0


@dataclass(frozen=True, slots=True)
class Segment:
    """One program header (Elf64_Phdr / Elf32_Phdr)."""

    type: int
    flags: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int


# (e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags, e_ehsize, e_phentsize, e_phnum,
#  e_shentsize, e_shnum, e_shstrndx) after e_ident
_EHDR = {True: "HHIQQQIHHHHHH", False: "HHIIIIIHHHHHH"}
_SHDR = {True: "IIQQQQIIQQ", False: "IIIIIIIIII"}
# (p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz): the 64-bit order, and the 32-bit one
# (whose p_flags comes after p_memsz)
_PHDR = {True: "IIQQQQQ", False: "IIIIIII"}


def peek_type(head: bytes) -> int | None:
    """e_type of the ELF file whose first bytes are `head`, or None when they are not an ELF header."""
    if len(head) < 18 or head[:4] != ELF_MAGIC or head[5] not in (ELFDATA2LSB, ELFDATA2MSB):
        return None
    (e_type,) = struct.unpack_from("<H" if head[5] == ELFDATA2LSB else ">H", head, 16)
    return int(e_type)


class ElfFile:
    """An ELF file mapped read-only (or ELF bytes in memory, `from_bytes`)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            with open(self.path, "rb") as f:
                buf: mmap.mmap | bytes = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # mmap of an empty file
            raise ElfError(f"{self.path}: not an ELF file") from None
        except OSError as e:
            raise ElfError(f"{self.path}: {e.strerror or e}") from None
        self._setup(buf)

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "<memory>") -> ElfFile:
        """An ELF file held in `data` (tests, images read from elsewhere)."""
        self = cls.__new__(cls)
        self.path = name
        self._setup(bytes(data))
        return self

    def _setup(self, buf: mmap.mmap | bytes) -> None:
        self.buf = buf
        self._decoded: dict[int, SectionBytes | None] = {}
        try:
            self._read_headers()
        except ElfError:
            self.close()
            raise

    def _read_headers(self) -> None:
        m = self.buf
        path = self.path
        if len(m) < 16 or m[:4] != ELF_MAGIC:
            raise ElfError(f"{path}: not an ELF file")
        if m[4] not in (ELFCLASS32, ELFCLASS64):
            raise ElfError(f"{path}: unknown ELF class {m[4]}")
        if m[5] not in (ELFDATA2LSB, ELFDATA2MSB):
            raise ElfError(f"{path}: unknown ELF byte order {m[5]}")
        self.is64 = m[4] == ELFCLASS64
        self.order: Literal["<", ">"] = "<" if m[5] == ELFDATA2LSB else ">"
        self.byteorder: Literal["little", "big"] = "little" if self.order == "<" else "big"
        self.address_size = 8 if self.is64 else 4
        ehdr = struct.Struct(self.order + _EHDR[self.is64])
        if len(m) < 16 + ehdr.size:
            raise ElfError(f"{path}: truncated ELF file: {len(m)} bytes, shorter than an ELF header")
        (
            self.e_type,
            self.e_machine,
            _version,
            self.e_entry,
            self.e_phoff,
            e_shoff,
            self.e_flags,
            _ehsize,
            self.e_phentsize,
            self.e_phnum,
            shentsize,
            shnum,
            shstrndx,
        ) = ehdr.unpack_from(m, 16)
        self.sections: list[Section] = []
        self._by_name: dict[str, Section] = {}
        self.e_shoff = e_shoff
        self.e_shentsize = shentsize
        if e_shoff == 0:
            return
        shdr = struct.Struct(self.order + _SHDR[self.is64])
        if shentsize < shdr.size:
            raise ElfError(f"{path}: bad ELF section header size {shentsize}")
        if e_shoff + shdr.size > len(m):
            raise ElfError(f"{path}: truncated ELF file: section headers at {e_shoff:#x}, beyond its end")
        if shnum == 0 or shstrndx == SHN_XINDEX:  # extended numbering: the real values are in section 0
            sh0 = shdr.unpack_from(m, e_shoff)
            shnum = shnum or sh0[5]
            if shstrndx == SHN_XINDEX:
                shstrndx = sh0[6]
        end = e_shoff + shnum * shentsize
        if end > len(m):
            raise ElfError(
                f"{path}: truncated ELF file: {shnum} section headers end at {end:#x}, the file at {len(m):#x}"
            )
        if shnum and shstrndx >= shnum:
            raise ElfError(f"{path}: bad ELF section name table index {shstrndx}")
        raw = [shdr.unpack_from(m, e_shoff + i * shentsize) for i in range(shnum)]
        names_off, names_size = (raw[shstrndx][4], raw[shstrndx][5]) if shnum else (0, 0)
        names_end = min(names_off + names_size, len(m))
        for i, (sh_name, sh_type, flags, addr, offset, size, link, info, align, entsize) in enumerate(raw):
            name = ""
            a = names_off + sh_name
            if a < names_end:
                z = m.find(b"\0", a, names_end)
                name = m[a : z if z >= 0 else names_end].decode("utf-8", "replace")
            sec = Section(name, sh_type, flags, addr, offset, size, link, entsize, info, align, i)
            self.sections.append(sec)
            self._by_name.setdefault(name, sec)

    # -- sections -------------------------------------------------------------------------------------

    @property
    def is_relocatable(self) -> bool:
        """An ET_REL file (a .o or a kernel module): its addresses still need relocating."""
        return bool(self.e_type == ET_REL)

    def section(self, name: str) -> Section | None:
        """The header of the (first) section called `name`."""
        return self._by_name.get(name)

    def has_section(self, name: str) -> bool:
        """Whether section `name` (or its `.zdebug` form) has contents in the file."""
        sec = self._named_or_zdebug(name)
        return sec is not None and sec.has_bytes

    def section_bytes(self, which: str | Section) -> SectionBytes | None:
        """The contents of a section (by name or header), decompressed; None when it has none. A
        `.debug_*` name finds a GNU `.zdebug_*` section too."""
        sec = self._named_or_zdebug(which) if isinstance(which, str) else which
        if sec is None or not sec.has_bytes:
            return None
        if sec.index in self._decoded:
            return self._decoded[sec.index]
        end = sec.offset + sec.size
        if end > len(self.buf):
            raise ElfError(
                f"{self.path}: truncated ELF file: section {sec.name} ends at {end:#x}, the file at {len(self.buf):#x}"
            )
        where = f"{self.path}: section {sec.name}"
        out: SectionBytes
        if sec.flags & SHF_COMPRESSED:
            data = decompress_chdr(bytes(self.buf[sec.offset : end]), self.is64, self.order, where)
            out = SectionBytes(sec.name, data, 0, len(data), sec.addr)
        elif sec.name.startswith(".zdebug"):
            data = decompress_zdebug(bytes(self.buf[sec.offset : end]), where)
            out = SectionBytes(".debug" + sec.name[7:], data, 0, len(data), sec.addr)
        else:
            out = SectionBytes(sec.name, self.buf, sec.offset, sec.size, sec.addr)
        self._decoded[sec.index] = out
        return out

    def section_data(self, which: str | Section) -> bytes | None:
        """A section's contents as bytes (a copy), or None."""
        sb = self.section_bytes(which)
        return None if sb is None else sb.all()

    def _named_or_zdebug(self, name: str) -> Section | None:
        sec = self._by_name.get(name)
        if sec is None and name.startswith(".debug_"):
            sec = self._by_name.get(".zdebug_" + name[7:])
        return sec

    def section_at_address(self, addr: int) -> Section | None:
        """The allocated section with contents whose link-time addresses hold `addr`."""
        for sec in self.sections:
            if (
                sec.flags & SHF_ALLOC
                and sec.has_bytes
                and sec.addr
                and sec.addr <= addr < sec.addr + sec.size
            ):
                return sec
        return None

    def read_address(self, addr: int, size: int) -> bytes | None:
        """Up to `size` bytes of the file's contents at link-time address `addr` (fewer at a section's
        end), or None when no section with contents holds it."""
        sec = self.section_at_address(addr)
        if sec is None:
            return None
        sb = self.section_bytes(sec)
        if sb is None:
            return None
        return sb.read_upto(addr - sec.addr, size)

    @cached_property
    def segments(self) -> list[Segment]:
        """The program headers (none in a relocatable object); ElfError when they lie past the file's end."""
        if not self.e_phoff or not self.e_phnum:
            return []
        phdr = struct.Struct(self.order + _PHDR[self.is64])
        if self.e_phentsize < phdr.size or self.e_phoff + self.e_phnum * self.e_phentsize > len(self.buf):
            raise ElfError(f"{self.path}: truncated ELF file: its program headers lie past its end")
        out: list[Segment] = []
        for i in range(self.e_phnum):
            f = phdr.unpack_from(self.buf, self.e_phoff + i * self.e_phentsize)
            if self.is64:
                out.append(Segment(f[0], f[1], f[2], f[3], f[4], f[5], f[6]))
            else:  # p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags
                out.append(Segment(f[0], f[6], f[1], f[2], f[3], f[4], f[5]))
        return out

    # -- notes and symbols -------------------------------------------------------------------------------

    def notes(self) -> list[Note]:
        """The notes of every SHT_NOTE section, in section order."""
        from crashpy.dumpfile.notes import parse_notes

        out: list[Note] = []
        for sec in self.sections:
            if sec.type != SHT_NOTE:
                continue
            sb = self.section_bytes(sec)
            if sb is not None:
                out.extend(parse_notes(sb.all(), byteorder=self.order)[0])
        return out

    @cached_property
    def build_id(self) -> str | None:
        """The GNU build-id (hex) from the notes, or None."""
        for note in self.notes():
            if note.name == "GNU" and note.type == NT_GNU_BUILD_ID:
                return note.desc.hex()
        return None

    @cached_property
    def symtab(self) -> ElfSymtab | None:
        """The static symbol table (.symtab), or None (a stripped file)."""
        return self.symbol_table(SHT_SYMTAB)

    def symbol_table(self, sh_type: int = SHT_SYMTAB) -> ElfSymtab | None:
        """The first section of type SHT_SYMTAB (or SHT_DYNSYM) as an ElfSymtab, or None."""
        from crashpy.elf.symtab import ElfSymtab

        if sh_type not in (SHT_SYMTAB, SHT_DYNSYM):
            raise ValueError(f"not a symbol table type: {sh_type}")
        for sec in self.sections:
            if sec.type != sh_type:
                continue
            if sec.link >= len(self.sections):
                raise ElfError(f"{self.path}: {sec.name}: bad string table index {sec.link}")
            strtab = self.section_bytes(self.sections[sec.link])
            shndx = next(
                (s for s in self.sections if s.type == SHT_SYMTAB_SHNDX and s.link == sec.index), None
            )
            return ElfSymtab(self, sec, strtab, self.section_bytes(shndx) if shndx is not None else None)
        return None

    # -- life -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Unmap the file (views handed out before stay valid only while referenced)."""
        buf = self.__dict__.get("buf")
        if isinstance(buf, mmap.mmap):
            try:
                buf.close()
            except BufferError:  # someone still holds a view of the mapping; it goes with them
                pass

    def __enter__(self) -> ElfFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        bits = 64 if self.is64 else 32
        return f"<ElfFile {self.path} ELF{bits}{'LE' if self.order == '<' else 'BE'} {len(self.sections)} sections>"
