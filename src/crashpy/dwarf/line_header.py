"""The header of a line-number program (DWARF 2 to 5, section 6.2.4): its parameters, include directories
and file names (DWARF 5's described by entry formats), and the program's bytes."""

from __future__ import annotations

import struct
from collections.abc import Callable

from crashpy.dwarf.constants import (
    FORM_LINE_STRP,
    FORM_STRING,
    FORM_STRP,
    LNCT_DIRECTORY_INDEX,
    LNCT_PATH,
)
from crashpy.dwarf.forms import ByteOrder, fixed_form_sizes, read_form, read_uleb
from crashpy.elf.sections import SectionBytes

# (form, offset) -> the string at that offset of .debug_str / .debug_line_str, or None
StringReader = Callable[[int, int], str | None]


def read_cstring(data: bytes, pos: int) -> tuple[str, int]:
    """(the NUL-terminated string at `pos`, position after its NUL); to the end when there is no NUL."""
    end = data.find(b"\0", pos)
    if end < 0:
        end = len(data)
    return data[pos:end].decode("utf-8", "replace"), end + 1


class LineHeader:
    """The parts of a line-program header a reader of the program needs."""

    __slots__ = (
        "version",
        "offset_size",
        "address_size",
        "min_inst_len",
        "max_ops",
        "default_is_stmt",
        "line_base",
        "line_range",
        "opcode_base",
        "opcode_lengths",
        "include_dirs",
        "files",
        "program",
    )

    def __init__(self) -> None:
        self.version = 0
        self.offset_size = 4
        self.address_size = 0  # DWARF 5 only; 0 before
        self.min_inst_len = 1
        self.max_ops = 1
        self.default_is_stmt = True
        self.line_base = 0
        self.line_range = 1
        self.opcode_base = 1
        self.opcode_lengths: bytes = b""  # indexed by opcode (entry 0 unused)
        self.include_dirs: list[str | None] = []
        self.files: list[tuple[str | None, int]] = []  # (name, directory index)
        self.program: bytes = b""

    def file_at(self, index: int) -> tuple[str | None, int] | None:
        """File entry `index` as the program numbers it: 0-based in DWARF 5, 1-based before."""
        vec = index if self.version >= 5 else index - 1
        if 0 <= vec < len(self.files):
            return self.files[vec]
        return None

    def dir_at(self, index: int) -> str | None:
        """Include directory `index`: 0-based in DWARF 5, 1-based before (0 is the unit's directory)."""
        vec = index if self.version >= 5 else index - 1
        if 0 <= vec < len(self.include_dirs):
            return self.include_dirs[vec]
        return None


def read_line_header(
    sec: SectionBytes, offset: int, byteorder: ByteOrder, strings: StringReader
) -> LineHeader | None:
    """The line-program header at `offset` of .debug_line and the program after it; None when there is
    none there or it is of a version this reader does not read (gdb says so and goes on)."""
    if offset < 0 or offset + 4 > sec.size:
        return None
    order = "<" if byteorder == "little" else ">"
    (length,) = struct.unpack(order + "I", sec.read(offset, 4))
    start = 4
    offset_size = 4
    if length == 0xFFFFFFFF:
        if offset + 12 > sec.size:
            return None
        (length,) = struct.unpack(order + "Q", sec.read(offset + 4, 8))
        start = 12
        offset_size = 8
    if offset + start + length > sec.size:
        return None
    data = sec.read(offset, start + length)
    h = LineHeader()
    h.offset_size = offset_size
    pos = start
    (h.version,) = struct.unpack_from(order + "H", data, pos)
    pos += 2
    if not 2 <= h.version <= 5:
        return None
    if h.version >= 5:
        h.address_size = data[pos]
        pos += 2  # address_size, segment_selector_size
    header_length = int.from_bytes(data[pos : pos + offset_size], byteorder)
    pos += offset_size
    program_start = pos + header_length
    h.min_inst_len = data[pos]
    pos += 1
    if h.version >= 4:
        h.max_ops = data[pos] or 1
        pos += 1
    h.default_is_stmt = data[pos] != 0
    h.line_base = data[pos + 1] - 256 if data[pos + 1] >= 128 else data[pos + 1]
    h.line_range = data[pos + 2] or 1
    h.opcode_base = data[pos + 3]
    pos += 4
    count = max(h.opcode_base - 1, 0)
    h.opcode_lengths = b"\0" + data[pos : pos + count]
    pos += count
    if h.version >= 5:
        sizes = fixed_form_sizes(h.address_size or 8, offset_size, h.version)
        dirs, pos = _entries(data, pos, sizes, byteorder, strings)
        h.include_dirs = [name for name, _d in dirs]
        h.files, pos = _entries(data, pos, sizes, byteorder, strings)
    else:
        while data[pos] != 0:
            name, pos = read_cstring(data, pos)
            h.include_dirs.append(name)
        pos += 1
        while data[pos] != 0:
            name, pos = read_cstring(data, pos)
            d, pos = read_uleb(data, pos)
            _mtime, pos = read_uleb(data, pos)
            _size, pos = read_uleb(data, pos)
            h.files.append((name, d))
        pos += 1
    h.program = data[program_start:]
    return h


def _entries(
    data: bytes, pos: int, sizes: dict[int, int], byteorder: ByteOrder, strings: StringReader
) -> tuple[list[tuple[str | None, int]], int]:
    """A DWARF 5 directory or file-name table: its entry formats, then (path, directory index) per entry."""
    count = data[pos]
    pos += 1
    formats: list[tuple[int, int]] = []
    for _ in range(count):
        ct, pos = read_uleb(data, pos)
        form, pos = read_uleb(data, pos)
        formats.append((ct, form))
    n, pos = read_uleb(data, pos)
    out: list[tuple[str | None, int]] = []
    for _ in range(n):
        name: str | None = None
        d_index = 0
        for ct, form in formats:
            form, value, pos = read_form(data, pos, form, sizes, byteorder)
            if ct == LNCT_PATH:
                if form == FORM_STRING:
                    name = value
                elif form in (FORM_STRP, FORM_LINE_STRP):
                    name = strings(form, value)
            elif ct == LNCT_DIRECTORY_INDEX and isinstance(value, int) and not isinstance(value, bool):
                d_index = value
        out.append((name, d_index))
    return out, pos
