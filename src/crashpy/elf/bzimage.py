"""A kernel image without debuginfo: an x86 bzImage (vmlinuz) or a stripped vmlinux ELF file.

A bzImage is the real-mode setup (its header "HdrS" at 0x202, `setup_sects` 512-byte sectors after the
boot sector) followed by the protected-mode part, which holds the compressed kernel: since boot
protocol 2.08 the header says where (`payload_offset`, from the start of the protected-mode part) and
how long (`payload_length`).  The payload is the kernel's ELF file stripped of its symbols
(vmlinux.bin) and, on a relocatable kernel, the relocation table the decompressor applies when KASLR
moves the kernel (vmlinux.relocs), compressed as one stream; the build appends the uncompressed size as
a 32-bit little-endian number (gzip's own trailer says the same).  The compression is told by the
payload's first bytes.

What crashpy takes from such an image: the contents of the kernel's read-only segment (the PT_LOAD
without PF_W: .text, .rodata, the exception and ORC tables, .BTF, .notes ...) by link-time address,
relocated as the running kernel was; its build-id and linux_banner, to tell whether it belongs to a dump.
The decompressed image is kept under $CRASHPY_CACHE (default ~/.cache/crashpy)/vmlinuz/, keyed by the
file's real path, size and modification time, so that the next start maps it instead.
"""

from __future__ import annotations

import bisect
import bz2
import hashlib
import lzma
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import crashpy.diskcache as diskcache
from crashpy.elf.constants import PF_W, PT_LOAD, SHF_ALLOC, SHF_WRITE
from crashpy.elf.errors import ElfError
from crashpy.elf.file import ElfFile

SETUP_MAGIC = b"HdrS"
_MAX_IMAGE = 1 << 30  # no decompressed kernel is this large: a corrupt size must not exhaust memory
_LZ4_LEGACY_MAGIC = 0x184C2102
_LZ4_LEGACY_BLOCK = 8 << 20  # every block of lz4's legacy format but the last decompresses to 8 MiB
_LZOP_MAGIC = b"\x89LZO\x00\r\n\x1a\n"
# Sections of the kernel's writable segment that it never writes: the ORC unwind tables.
_FIXED_TABLES = frozenset((".orc_unwind_ip", ".orc_unwind"))

# The payload's first bytes, as each compressor writes them (an uncompressed kernel is the ELF itself).
MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\x5d\x00\x00", "lzma"),
    (b"\xfd7zXZ\x00", "xz"),
    (_LZOP_MAGIC, "lzo"),
    (struct.pack("<I", _LZ4_LEGACY_MAGIC), "lz4"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x7fELF", "none"),
)


class ImageError(ElfError):
    """A kernel image (bzImage or stripped vmlinux) that cannot be read, said in one line."""


def is_bzimage(head: bytes) -> bool:
    """Whether `head` (a file's first bytes, 0x210 or more) starts an x86 boot image with a setup header."""
    return len(head) >= 0x210 and head[0x202:0x206] == SETUP_MAGIC


@dataclass(frozen=True)
class SetupHeader:
    """The parts of the x86 boot protocol's setup header that lead to the compressed kernel."""

    setup_sects: int
    version: int
    payload_offset: int
    payload_length: int

    @property
    def protected_mode_start(self) -> int:
        """The file offset of the protected-mode part (after the boot sector and the setup sectors)."""
        return (self.setup_sects + 1) * 512


def setup_header(data: bytes, name: str) -> SetupHeader:
    """The setup header of the bzImage `data`; ImageError when there is none, or it is too old to say
    where its payload is (boot protocol before 2.08)."""
    if not is_bzimage(data[:0x210]) or len(data) < 0x250:
        raise ImageError(f"{name}: not a bzImage (no setup header)")
    setup_sects = data[0x1F1] or 4  # 0 means 4, as in the oldest images
    (version,) = struct.unpack_from("<H", data, 0x206)
    if version < 0x208:
        raise ImageError(
            f"{name}: boot protocol {version >> 8}.{version & 0xFF:02d} (before 2.08) does not say where its kernel is"
        )
    offset, length = struct.unpack_from("<II", data, 0x248)
    return SetupHeader(setup_sects, version, offset, length)


def payload(data: bytes, name: str) -> bytes:
    """The compressed kernel a bzImage carries; ImageError when the header points past the file."""
    hdr = setup_header(data, name)
    start = hdr.protected_mode_start + hdr.payload_offset
    end = start + hdr.payload_length
    if not hdr.payload_length or end > len(data):
        raise ImageError(
            f"{name}: truncated bzImage: its kernel should lie at {start:#x}..{end:#x}, the file ends at {len(data):#x}"
        )
    return data[start:end]


def compression(data: bytes) -> str | None:
    """The compression of a payload, by its first bytes ('gzip', 'bzip2', 'lzma', 'xz', 'lzo', 'lz4',
    'zstd', 'none'), or None when none is recognised."""
    for magic, name in MAGICS:
        if data.startswith(magic):
            return name
    return None


def _stream(name: str, what: str, decomp: lzma.LZMADecompressor | bz2.BZ2Decompressor, data: bytes) -> bytes:
    try:
        out = decomp.decompress(data, max_length=_MAX_IMAGE)
    except (OSError, EOFError, ValueError, lzma.LZMAError) as e:
        raise ImageError(f"{name}: its {what} kernel does not decompress: {e}") from None
    if not decomp.eof:
        raise ImageError(f"{name}: its {what} kernel is cut short")
    return out


def _gzip(data: bytes, name: str) -> bytes:
    d = zlib.decompressobj(wbits=31)
    try:
        out = d.decompress(data, _MAX_IMAGE)
    except zlib.error as e:
        raise ImageError(f"{name}: its gzip kernel does not decompress: {e}") from None
    if not d.eof:
        raise ImageError(f"{name}: its gzip kernel is cut short")
    return out


def _lz4_legacy(data: bytes, name: str) -> bytes:
    """lz4's legacy frames (lz4 -l): the magic, then blocks each behind its compressed length (the magic
    again starts a further stream); the size the build appends ends the walk."""
    import cramjam

    out = bytearray()
    block = bytearray(_LZ4_LEGACY_BLOCK)
    pos, end = 4, len(data)
    while pos + 4 <= end:
        (n,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if n == _LZ4_LEGACY_MAGIC:
            continue
        if pos + n > end:
            if pos == end:  # the appended size, read as a block length: the end
                break
            raise ImageError(f"{name}: its lz4 kernel is cut short")
        try:
            got = cramjam.lz4.decompress_block_into(data[pos : pos + n], block)
        except cramjam.DecompressionError as e:
            raise ImageError(f"{name}: its lz4 kernel does not decompress: {e}") from None
        out += block[:got]
        pos += n
        if len(out) > _MAX_IMAGE:
            break
    return bytes(out)


def _zstd(data: bytes, name: str) -> bytes:
    import cramjam

    try:  # without the appended size first: zstd takes trailing bytes for a frame that does not decode
        return bytes(cramjam.zstd.decompress(data[:-4]))
    except cramjam.DecompressionError:
        pass
    try:
        return bytes(cramjam.zstd.decompress(data))
    except cramjam.DecompressionError as e:
        raise ImageError(f"{name}: its zstd kernel does not decompress: {e}") from None


def _lzo(data: bytes, name: str) -> bytes:
    """lzop's file format: a header, then blocks (uncompressed and compressed length, optional
    checksums, LZO1X data; a block stored as is when it would not shrink) up to a zero length."""
    import lzallright

    def u(fmt: str, at: int) -> tuple[int, ...]:
        if at + struct.calcsize(fmt) > len(data):
            raise ImageError(f"{name}: its lzo kernel is cut short")
        return struct.unpack_from(fmt, data, at)

    pos = len(_LZOP_MAGIC)
    version, _lib, _needed = u(">HHH", pos)
    pos += 6 if version >= 0x0940 else 4
    pos += 2 if version >= 0x0940 else 1  # method (and level)
    (flags,) = u(">I", pos)
    pos += 4
    if flags & 0x800:  # F_H_FILTER
        pos += 4
    pos += 8 + (4 if version >= 0x0940 else 0)  # mode, mtime (and its high half)
    (name_len,) = u(">B", pos)
    pos += 1 + name_len + 4  # the name, the header's checksum
    codec = lzallright.LZOCompressor()
    checks_d = bool(flags & 0x1) + bool(flags & 0x100)  # F_ADLER32_D, F_CRC32_D
    checks_c = bool(flags & 0x2) + bool(flags & 0x200)  # F_ADLER32_C, F_CRC32_C
    out = bytearray()
    while True:
        (dst_len,) = u(">I", pos)
        pos += 4
        if dst_len == 0:
            return bytes(out)
        (src_len,) = u(">I", pos)
        pos += 4 + 4 * checks_d
        if src_len < dst_len:
            pos += 4 * checks_c
        if dst_len > _MAX_IMAGE or pos + src_len > len(data):
            raise ImageError(f"{name}: its lzo kernel is cut short")
        chunk = data[pos : pos + src_len]
        pos += src_len
        if src_len == dst_len:
            out += chunk
            continue
        try:
            out += codec.decompress(chunk, output_size_hint=dst_len)
        except (lzallright.LZOError, lzallright.InputNotConsumed) as e:
            raise ImageError(f"{name}: its lzo kernel does not decompress: {e}") from None


_DECOMPRESS: dict[str, Callable[[bytes, str], bytes]] = {
    "gzip": _gzip,
    "bzip2": lambda data, name: _stream(name, "bzip2", bz2.BZ2Decompressor(), data),
    "lzma": lambda data, name: _stream(name, "lzma", lzma.LZMADecompressor(lzma.FORMAT_ALONE), data),
    "xz": lambda data, name: _stream(name, "xz", lzma.LZMADecompressor(lzma.FORMAT_XZ), data),
    "lzo": _lzo,
    "lz4": _lz4_legacy,
    "zstd": _zstd,
    "none": lambda data, name: data,
}


def decompress_payload(data: bytes, name: str) -> tuple[bytes, str]:
    """(the kernel a bzImage's payload holds, the compression's name); ImageError in one line when the
    compression is unknown, the data does not decompress, or its size is not the one appended to it."""
    kind = compression(data)
    if kind is None:
        raise ImageError(f"{name}: unknown compression of its kernel (first bytes {data[:6].hex()})")
    out = _DECOMPRESS[kind](data, name)
    if kind != "none" and len(data) >= 4:
        (expected,) = struct.unpack_from("<I", data, len(data) - 4)
        if len(out) & 0xFFFFFFFF != expected:
            raise ImageError(
                f"{name}: its {kind} kernel decompresses to {len(out)} bytes, the image says {expected}: corrupt"
            )
    if not out.startswith(b"\x7fELF"):
        raise ImageError(f"{name}: its kernel is not an ELF file once decompressed")
    return out, kind


def decompress_bzimage(path: str) -> tuple[bytes, str]:
    """(the ELF kernel the bzImage at `path` holds, with its relocation table after it, the compression)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ImageError(f"{path}: {e.strerror}") from None
    return decompress_payload(payload(data, path), path)


# ---------------------------------------------------------------------------------------------------------
# The decompressed image, kept on disk


def cache_file(path: str) -> Path | None:
    """Where the decompressed kernel of the bzImage `path` is kept: <cache>/vmlinuz/<path key>-<version
    key>-<compression>.elf (the name's last part a glob: the compression is known once decompressed), the
    version key from the file's size and modification time."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    real = os.path.realpath(path)
    root = diskcache.root()
    where = hashlib.sha256(real.encode()).hexdigest()[:16]
    version = hashlib.sha256(f"{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:12]
    return root / "vmlinuz" / f"{where}-{version}-*.elf"


def _save(pattern: Path, kind: str, data: bytes) -> Path | None:
    """Write `data` to the cache (and drop what was kept for older versions of the same file)."""
    file = pattern.with_name(pattern.name.replace("*", kind))
    if not diskcache.write_bytes(file, data):
        return None  # a read-only cache costs the next start a decompression, nothing more
    prefix = file.name.split("-")[0] + "-"
    for old in file.parent.glob(prefix + "*.elf"):
        if old != file:
            try:
                old.unlink(missing_ok=True)
            except OSError:
                pass
    return file


def _open_bzimage(path: str, *, disk_cache: bool) -> tuple[ElfFile, str]:
    pattern = cache_file(path) if disk_cache else None
    if pattern is not None:
        for file in pattern.parent.glob(pattern.name):
            try:
                image = ElfFile(file)
                diskcache.touch(file)
                return image, file.name.rsplit("-", 1)[1][:-4]
            except ElfError:
                pass  # a damaged cache entry: decompress again, and replace it
    data, kind = decompress_bzimage(path)
    saved = _save(pattern, kind, data) if pattern is not None else None
    if saved is not None:
        try:
            return ElfFile(saved), kind
        except ElfError:
            pass
    try:
        return ElfFile.from_bytes(data, path), kind
    except ElfError as e:
        raise ImageError(f"{path}: its kernel is not a readable ELF file: {e}") from None


# ---------------------------------------------------------------------------------------------------------
# The kernel image


@dataclass(frozen=True)
class Relocations:
    """vmlinux.relocs: the link-time addresses of the image's absolute references, which KASLR's move of
    the kernel adds its offset to (32-bit and 64-bit ones) or takes it from (32-bit inverse ones, the
    per-CPU references).  Each list sorted."""

    add32: list[int]
    sub32: list[int]
    add64: list[int]

    def __len__(self) -> int:
        return len(self.add32) + len(self.sub32) + len(self.add64)


def _elf_extent(elf: ElfFile) -> int:
    """Where the ELF file inside `elf`'s buffer ends: its section headers or contents, whichever is last."""
    end = max(elf.e_phoff + elf.e_phnum * elf.e_phentsize, elf.e_shoff + len(elf.sections) * elf.e_shentsize)
    for sec in elf.sections:
        if sec.has_bytes:
            end = max(end, sec.offset + sec.size)
    for seg in elf.segments:
        end = max(end, seg.offset + seg.filesz)
    return end


def read_relocations(elf: ElfFile) -> Relocations | None:
    """The relocation table after the ELF file in a decompressed bzImage, or None when there is none (a
    kernel that cannot move, a stripped vmlinux) or what follows does not read as one.  The table is
    read from the end: 32-bit entries up to a zero, inverse 32-bit ones up to a zero, 64-bit ones up to a
    zero; each entry the low 32 bits of a kernel address."""
    buf = elf.buf
    floor = _elf_extent(elf)
    pos = len(buf) - 4
    if pos < floor:
        return None
    lists: list[list[int]] = []
    for _ in range(3):
        found: list[int] = []
        while True:
            if pos < floor:
                return None
            (v,) = struct.unpack_from("<I", buf, pos)
            pos -= 4
            if v == 0:
                break
            if not v & 0x80000000:  # not the low half of a kernel address (0xffffffff8...)
                return None
            found.append(v | 0xFFFFFFFF00000000)
        found.sort()
        lists.append(found)
    return Relocations(lists[0], lists[1], lists[2])


class KernelImage:
    """A kernel's ELF image without symbols (from a bzImage or a stripped vmlinux): its read-only
    contents by link-time address, relocated as the running kernel was moved."""

    def __init__(self, elf: ElfFile, path: str, compression: str | None) -> None:
        self.elf = elf
        self.path = path
        self.compression = compression  # the bzImage's ('gzip' ...), None for an ELF file given as such
        self.relocations = read_relocations(elf) if compression is not None else None
        self.fixed = self._fixed_ranges()

    def _fixed_ranges(self) -> list[tuple[int, int, int]]:
        """(start, end, file offset) of the contents the kernel never writes after boot: the sections
        with contents in the PT_LOAD segments without PF_W (.text, .rodata and the tables after it; not
        the gaps between them, which the kernel frees), and the ORC tables, which the linker puts in the
        data segment but the kernel only reads (sorted when it was built); when the file has no program
        headers, the sections neither writable nor in the init area."""
        segments = [s for s in self.elf.segments if s.type == PT_LOAD and not s.flags & PF_W]
        out: list[tuple[int, int, int]] = []
        for sec in self.elf.sections:
            if not sec.flags & SHF_ALLOC or not sec.has_bytes or sec.addr < 1 << 63:
                continue
            if sec.name in _FIXED_TABLES:
                pass
            elif self.elf.segments:
                if not any(g.vaddr <= sec.addr and sec.addr + sec.size <= g.vaddr + g.filesz for g in segments):
                    continue
            elif sec.flags & SHF_WRITE or sec.name.startswith((".init", ".exit")):
                continue
            out.append((sec.addr, sec.addr + sec.size, sec.offset))
        out.sort()
        # Sections that follow one another within a page, in the file as in memory, read as one range
        # (a page the dump lacks may hold the end of one and the start of the next).
        merged: list[tuple[int, int, int]] = []
        for start, end, off in out:
            if merged:
                lo, hi, lo_off = merged[-1]
                if hi <= start < hi + 4096 and off - lo_off == start - lo:
                    merged[-1] = (lo, max(hi, end), lo_off)
                    continue
            merged.append((start, end, off))
        return merged

    def exclude(self, start: int, end: int) -> None:
        """Leave [start, end) (link-time addresses) out of what read() answers: a part of a read-only
        section the kernel writes during boot (__start_ro_after_init..__end_ro_after_init)."""
        out: list[tuple[int, int, int]] = []
        for lo, hi, off in self.fixed:
            if hi <= start or end <= lo:
                out.append((lo, hi, off))
                continue
            if lo < start:
                out.append((lo, start, off))
            if end < hi:
                out.append((end, hi, off + end - lo))
        self.fixed = out

    def contains(self, addr: int, size: int = 1) -> bool:
        """Whether [addr, addr+size) (link-time addresses) lies within one read-only range of the file."""
        return self._range(addr, size) is not None

    def _range(self, addr: int, size: int) -> tuple[int, int, int] | None:
        i = bisect.bisect_right(self.fixed, (addr, 1 << 64, 0)) - 1
        if i >= 0:
            start, end, off = self.fixed[i]
            if start <= addr and addr + size <= end:
                return start, end, off
        return None

    def read(self, addr: int, size: int, offset: int = 0, *, exact: bool = True) -> bytes | None:
        """The file's `size` bytes at link-time address `addr`, with the relocations the kernel applied
        when KASLR moved it by `offset`; None unless they lie within one read-only range, or when the
        kernel was moved and the image has no relocation table to move its pointers with (a stripped
        vmlinux), unless not `exact`."""
        found = self._range(addr, size)
        if found is None or (offset and exact and self.relocations is None):
            return None
        start, end, off = found
        buf = self.elf.buf
        data = bytes(buf[off + addr - start : off + addr - start + size])
        if offset and self.relocations is not None:
            data = self._relocate(data, addr, offset)
        return data

    def _relocate(self, data: bytes, addr: int, offset: int) -> bytes:
        relocs = self.relocations
        assert relocs is not None
        out: bytearray | None = None
        stop = addr + len(data)
        for sites, width, sign in ((relocs.add32, 4, 1), (relocs.sub32, 4, -1), (relocs.add64, 8, 1)):
            i = bisect.bisect_left(sites, addr - width + 1)
            while i < len(sites) and sites[i] < stop:
                site = sites[i]
                i += 1
                full = self._site_value(site, width)
                if full is None:
                    continue
                value = (full + sign * offset) & ((1 << (8 * width)) - 1)
                patch = value.to_bytes(width, "little")
                if out is None:
                    out = bytearray(data)
                lo, hi = max(site, addr), min(site + width, stop)
                out[lo - addr : hi - addr] = patch[lo - site : hi - site]
        return data if out is None else bytes(out)

    def _site_value(self, site: int, width: int) -> int | None:
        found = self._range(site, width)
        if found is None:
            return None
        start, _end, off = found
        return int.from_bytes(self.elf.buf[off + site - start : off + site - start + width], "little")

    @property
    def build_id(self) -> str | None:
        return self.elf.build_id

    def banner(self) -> tuple[int, bytes] | None:
        """(link-time address, text) of linux_banner ("Linux version <release> ..."), found in the
        read-only contents, or None."""
        needle = b"Linux version "
        buf = self.elf.buf
        for start, end, off in self.fixed:
            at = buf.find(needle, off, off + end - start)
            while at >= 0:
                if buf[at + len(needle) : at + len(needle) + 1] not in (b"%", b""):  # not a format string
                    stop = buf.find(b"\0", at, off + end - start)
                    text = bytes(buf[at : stop if stop >= 0 else at + 512])
                    return start + at - off, text
                at = buf.find(needle, at + 1, off + end - start)
        return None

    def release(self) -> str | None:
        """The kernel release linux_banner names (its third word)."""
        found = self.banner()
        if found is None:
            return None
        words = found[1].split()
        return words[2].decode("latin-1") if len(words) > 2 else None

    def close(self) -> None:
        self.elf.close()


def is_stripped_kernel(elf: ElfFile) -> bool:
    """Whether an executable ELF file is a kernel image with neither symbols nor debuginfo."""
    return elf.section(".symtab") is None and not elf.has_section(".debug_info")


def open_kernel_image(path: str, *, disk_cache: bool = True) -> KernelImage:
    """A bzImage (decompressed, or from the disk cache) or a stripped vmlinux; ImageError in one line."""
    try:
        with open(path, "rb") as f:
            head = f.read(0x250)
    except OSError as e:
        raise ImageError(f"{path}: {e.strerror}") from None
    if is_bzimage(head):
        elf, kind = _open_bzimage(path, disk_cache=disk_cache)
        return _checked(KernelImage(elf, path, kind))
    elf = ElfFile(path)
    return _checked(KernelImage(elf, path, None))


def _checked(image: KernelImage) -> KernelImage:
    elf = image.elf
    if not elf.is64 or elf.order != "<" or elf.e_machine != 62:  # EM_X86_64
        image.close()
        raise ImageError(f"{image.path}: not an x86_64 kernel image")
    if not image.fixed:
        image.close()
        raise ImageError(f"{image.path}: no kernel text in it: not a kernel image")
    return image
