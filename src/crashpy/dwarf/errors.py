"""The DWARF layer's error, and every error a read of corrupt DWARF may raise."""

from __future__ import annotations

import struct

from crashpy.elf.errors import ElfError
from crashpy.errors import CrashpyError


class DwarfFormatError(CrashpyError):
    """A file without DWARF, or whose DWARF is corrupt or of a kind this reader does not read."""


# What reading corrupt DWARF can raise: this layer's error, a section read past its end, and the
# IndexError/ValueError/KeyError/struct.error of bytes that run out or abbreviations that are missing.
DWARF_READ_ERRORS: tuple[type[Exception], ...] = (
    DwarfFormatError,
    ElfError,
    IndexError,
    KeyError,
    ValueError,
    struct.error,
)
