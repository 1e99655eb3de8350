"""A section's bytes as a window on the file's mapping (no copy), and the decompression of compressed
sections: SHF_COMPRESSED with zlib or zstd (gABI `Elf64_Chdr`), and GNU's older `.zdebug_*` ("ZLIB"
and the size, big-endian, before a zlib stream)."""

from __future__ import annotations

import mmap
import struct
import zlib

from crashpy.elf.constants import ELFCOMPRESS_ZLIB, ELFCOMPRESS_ZSTD
from crashpy.elf.errors import ElfError


class SectionBytes:
    """One section's bytes: `size` bytes from `start` in `buf` (the file's mapping, or decompressed bytes)."""

    __slots__ = ("name", "buf", "start", "size", "addr")

    def __init__(self, name: str, buf: mmap.mmap | bytes, start: int, size: int, addr: int = 0) -> None:
        self.name = name
        self.buf = buf
        self.start = start
        self.size = size
        self.addr = addr

    @classmethod
    def of(cls, name: str, data: bytes) -> SectionBytes:
        """A section made of `data` (tests and in-memory DWARF)."""
        return cls(name, data, 0, len(data))

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"<SectionBytes {self.name} {self.size:#x} bytes>"

    def find(self, needle: bytes, pos: int = 0, end: int | None = None) -> int:
        """Offset in the section of the first `needle` at or after `pos` (before `end`), or -1."""
        stop = self.start + (self.size if end is None else min(end, self.size))
        hit = self.buf.find(needle, self.start + pos, stop)
        return -1 if hit < 0 else hit - self.start

    def rfind(self, needle: bytes, pos: int, end: int) -> int:
        """Offset in the section of the last `needle` in [pos, end), or -1."""
        hit = self.buf.rfind(needle, self.start + pos, self.start + min(end, self.size))
        return -1 if hit < 0 else hit - self.start

    def read(self, pos: int, length: int) -> bytes:
        """`length` bytes at `pos`; ElfError when they run past the section's end."""
        if pos < 0 or length < 0 or pos + length > self.size:
            raise ElfError(f"{self.name}: read of {length} bytes at {pos:#x} beyond its end ({self.size:#x})")
        return bytes(self.buf[self.start + pos : self.start + pos + length])

    def read_upto(self, pos: int, length: int) -> bytes:
        """Up to `length` bytes at `pos` (fewer at the section's end)."""
        if pos < 0 or pos > self.size:
            raise ElfError(f"{self.name}: offset {pos:#x} beyond its end ({self.size:#x})")
        end = min(pos + length, self.size)
        return bytes(self.buf[self.start + pos : self.start + end])

    def cstring(self, pos: int) -> bytes:
        """The NUL-terminated string at `pos`, without its NUL."""
        if pos < 0 or pos >= self.size:
            raise ElfError(f"{self.name}: string offset {pos:#x} out of range")
        a = self.start + pos
        end = self.buf.find(b"\0", a, self.start + self.size)
        if end < 0:
            raise ElfError(f"{self.name}: unterminated string at {pos:#x}")
        return bytes(self.buf[a:end])

    def all(self) -> bytes:
        """The whole section, as bytes."""
        if isinstance(self.buf, bytes) and self.start == 0 and self.size == len(self.buf):
            return self.buf
        return bytes(self.buf[self.start : self.start + self.size])


def decompress_chdr(raw: bytes, is64: bool, order: str, where: str) -> bytes:
    """The contents of an SHF_COMPRESSED section from its raw bytes (`where` names it in errors)."""
    hdr = struct.Struct(order + ("IIQQ" if is64 else "III"))
    if len(raw) < hdr.size:
        raise ElfError(f"{where}: compressed section shorter than its header")
    if is64:
        ch_type, _reserved, ch_size, _align = hdr.unpack_from(raw)
    else:
        ch_type, ch_size, _align = hdr.unpack_from(raw)
    payload = raw[hdr.size :]
    if ch_type == ELFCOMPRESS_ZLIB:
        try:
            data = zlib.decompress(payload)
        except zlib.error as e:
            raise ElfError(f"{where}: bad zlib data: {e}") from None
    elif ch_type == ELFCOMPRESS_ZSTD:
        import cramjam

        try:
            data = bytes(cramjam.zstd.decompress(payload, output_len=ch_size))
        except cramjam.DecompressionError as e:
            raise ElfError(f"{where}: bad zstd data: {e}") from None
    else:
        raise ElfError(f"{where}: unknown section compression {ch_type}")
    if len(data) != ch_size:
        raise ElfError(f"{where}: decompressed to {len(data):#x} bytes, its header says {ch_size:#x}")
    return data


def decompress_zdebug(raw: bytes, where: str) -> bytes:
    """The contents of a GNU `.zdebug_*` section: "ZLIB", the size (8 bytes, big-endian), zlib data."""
    if len(raw) < 12 or raw[:4] != b"ZLIB":
        raise ElfError(f"{where}: not a ZLIB-compressed section")
    (size,) = struct.unpack_from(">Q", raw, 4)
    try:
        data = zlib.decompress(raw[12:])
    except zlib.error as e:
        raise ElfError(f"{where}: bad zlib data: {e}") from None
    if len(data) != size:
        raise ElfError(f"{where}: decompressed to {len(data):#x} bytes, its header says {size:#x}")
    return data
