"""Byte sources the format readers sit on: a plain file, or a virtual file (makedumpfile flattened).

A reader never sees a file descriptor, only `Source.pread(offset, size)`, which returns fewer bytes
than asked when the data is not there (past the end of a truncated file, or a part of a truncated
flattened file that was never written). Readers turn a short read into FaultKind.TRUNCATED.
"""

from __future__ import annotations

import mmap
import os
import stat
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

from crashpy.errors import DumpFormatError


def fault_address(request: int, bad: int, page_size: int = 4096) -> int:
    """The address crash names for a failed read that began at `request`: the start of the failing
    page-sized chunk (crash's readmem() reads page by page and reports the chunk it was on)."""
    return max(request, bad & ~(page_size - 1))


class Source(ABC):
    """Read-only random access to the bytes of a (possibly virtual) dump file."""

    name: str  # the path, for messages
    size: int  # bytes addressable: reads at or past this offset return b""

    @abstractmethod
    def pread(self, offset: int, size: int) -> bytes:
        """Up to `size` bytes at `offset`; fewer when the data ends (or is missing) before that."""

    def close(self) -> None:  # noqa: B027 - a source with nothing to release keeps this
        """Release the file."""


class _Closable(Protocol):
    def close(self) -> None: ...


@contextmanager
def closed_on_failure(closables: Iterable[_Closable]) -> Iterator[None]:
    """Close `closables` (a list may grow inside the block) when the block does not complete, whatever
    stopped it (an error, Ctrl-C); when it completes they stay open, owned by what was opened over them."""
    done = False
    try:
        yield
        done = True
    finally:
        if not done:
            for item in closables:
                item.close()


class FileSource(Source):
    """A regular file (or block/char device), opened read-only; reads use a read-only mmap."""

    def __init__(self, path: str) -> None:
        self.name = path
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            raise DumpFormatError(f"{path}: No such file or directory") from None
        except IsADirectoryError:
            raise DumpFormatError(f"{path}: not a supported file format") from None
        except PermissionError:
            raise DumpFormatError(f"{path}: Permission denied") from None
        except OSError as err:
            raise DumpFormatError(f"{path}: {err.strerror}") from None
        self._fd: int | None = fd
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            os.close(fd)
            raise DumpFormatError(f"{path}: not a supported file format")
        size = st.st_size
        if stat.S_ISBLK(st.st_mode):
            size = os.lseek(fd, 0, os.SEEK_END)
        self.size = size
        self._map: mmap.mmap | None = None
        if size > 0:
            try:
                self._map = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
            except (OSError, ValueError):
                self._map = None  # e.g. a device that cannot be mapped: fall back to pread

    def pread(self, offset: int, size: int) -> bytes:
        if offset < 0 or size <= 0 or offset >= self.size:
            return b""
        if self._map is not None:
            return self._map[offset : min(offset + size, self.size)]
        if self._fd is None:
            raise ValueError(f"{self.name}: read of a closed dump file")
        return os.pread(self._fd, min(size, self.size - offset), offset)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class BytesSource(Source):
    """A dump held in memory (tests, or a dump already read whole)."""

    def __init__(self, data: bytes, name: str = "<bytes>") -> None:
        self.name = name
        self._data = data
        self.size = len(data)

    def pread(self, offset: int, size: int) -> bytes:
        if offset < 0 or size <= 0:
            return b""
        return self._data[offset : offset + size]
