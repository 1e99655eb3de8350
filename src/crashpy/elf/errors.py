"""The ELF layer's error."""

from __future__ import annotations

from crashpy.errors import CrashpyError


class ElfError(CrashpyError):
    """An ELF file that cannot be read (missing, not ELF, cut short, corrupt), said in one line."""
