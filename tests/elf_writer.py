"""Small ELF files for tests: any class and byte order, sections (compressed ones too), symbol tables,
notes, extended section numbering. Written from the gABI's layouts, not from any ELF library."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_NOTE, SHT_NOBITS = 1, 2, 3, 7, 8
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR, SHF_COMPRESSED = 0x1, 0x2, 0x4, 0x800
ET_REL, ET_EXEC = 1, 2


@dataclass
class Sec:
    """One section to write: `link` may name another section."""

    name: str
    data: bytes = b""
    type: int = SHT_PROGBITS
    flags: int = 0
    addr: int = 0
    link: int | str = 0
    info: int = 0
    entsize: int = 0
    size: int | None = None  # SHT_NOBITS: the size without data
    compress: str | None = None  # "zlib" or "zstd" (SHF_COMPRESSED), "gnu" (.zdebug: "ZLIB" + size)


def compress(data: bytes, how: str, bits: int, little: bool) -> bytes:
    """A compressed section's bytes: an Elf32/64_Chdr and the stream, or GNU's "ZLIB" header."""
    e = "<" if little else ">"
    if how == "gnu":
        return b"ZLIB" + struct.pack(">Q", len(data)) + zlib.compress(data)
    if how == "zlib":
        ch_type, stream = 1, zlib.compress(data)
    else:
        import cramjam

        ch_type, stream = 2, bytes(cramjam.zstd.compress(data))
    if bits == 64:
        return struct.pack(e + "IIQQ", ch_type, 0, len(data), 1) + stream
    return struct.pack(e + "III", ch_type, len(data), 1) + stream


def symbols(
    entries: list[tuple[str, int, int, int, int]], bits: int = 64, little: bool = True
) -> tuple[bytes, bytes]:
    """(.symtab, .strtab) of (name, value, size, st_info, st_shndx) entries after the null entry; a name
    that ends an earlier one is stored in its tail, as GNU ld does."""
    e = "<" if little else ">"
    strtab = b"\0"
    rows = [b"\0" * (24 if bits == 64 else 16)]
    for name, value, size, info, shndx in entries:
        raw = name.encode() + b"\0"
        at = strtab.find(raw) if name else 0
        if at < 0:
            at = len(strtab)
            strtab += raw
        if bits == 64:
            rows.append(struct.pack(e + "IBBHQQ", at, info, 0, shndx, value, size))
        else:
            rows.append(struct.pack(e + "IIIBBH", at, value, size, info, 0, shndx))
    return b"".join(rows), strtab


def note(name: bytes, ntype: int, desc: bytes, little: bool = True) -> bytes:
    """One note: header, name and descriptor, each padded to 4 bytes."""

    def pad(b: bytes) -> bytes:
        return b + b"\0" * (-len(b) % 4)

    return struct.pack(("<" if little else ">") + "III", len(name), len(desc), ntype) + pad(name) + pad(desc)


def write_elf(
    sections: list[Sec],
    *,
    bits: int = 64,
    little: bool = True,
    e_type: int = ET_EXEC,
    extended: bool = False,
) -> bytes:
    """An ELF file with a null section, `sections` and .shstrtab (last); `extended` puts the section
    count and the name table's index in section 0, as files with more than 0xff00 sections must."""
    e = "<" if little else ">"
    ehsize = 64 if bits == 64 else 52
    shdr = struct.Struct(e + ("IIQQQQIIQQ" if bits == 64 else "IIIIIIIIII"))
    names = b"\0"
    name_at: list[int] = []
    for sec in sections:
        name_at.append(len(names))
        names += sec.name.encode() + b"\0"
    shstr_name = len(names)
    names += b".shstrtab\0"
    index = {sec.name: i + 1 for i, sec in enumerate(sections)}
    body = bytearray(ehsize)
    headers: list[bytes] = []
    count = len(sections) + 2
    shstrndx = count - 1
    sh0 = (0, 0, 0, 0, 0, count if extended else 0, shstrndx if extended else 0, 0, 0, 0)
    headers.append(shdr.pack(*sh0))
    for sec, n in zip(sections, name_at, strict=True):
        data = sec.data
        flags = sec.flags
        if sec.compress in ("zlib", "zstd"):
            data = compress(data, sec.compress, bits, little)
            flags |= SHF_COMPRESSED
        elif sec.compress == "gnu":
            data = compress(data, "gnu", bits, little)
        while len(body) % 8:
            body.append(0)
        offset = len(body)
        size = len(data) if sec.size is None else sec.size
        if sec.type != SHT_NOBITS:
            body += data
        link = index[sec.link] if isinstance(sec.link, str) else sec.link
        headers.append(shdr.pack(n, sec.type, flags, sec.addr, offset, size, link, sec.info, 8, sec.entsize))
    headers.append(shdr.pack(shstr_name, SHT_STRTAB, 0, 0, len(body), len(names), 0, 0, 1, 0))
    body += names
    while len(body) % 8:
        body.append(0)
    shoff = len(body)
    body += b"".join(headers)
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 1 if little else 2, 1]) + b"\0" * 9
    fields = (
        e_type,
        62 if bits == 64 else 3,
        1,
        0,
        0,
        shoff,
        0,
        ehsize,
        0,
        0,
        shdr.size,
        0 if extended else count,
        0xFFFF if extended else shstrndx,
    )
    struct.pack_into(e + "16s" + ("HHIQQQIHHHHHH" if bits == 64 else "HHIIIIIHHHHHH"), body, 0, ident, *fields)
    return bytes(body)
