"""The one protocol every dump-file reader implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Note:
    """One ELF-style note (NT_PRSTATUS, VMCOREINFO, QEMU CPU state, ...)."""

    name: str  # e.g. "CORE", "VMCOREINFO", "QEMU"
    type: int  # n_type
    desc: bytes


@dataclass
class DumpInfo:
    """What a reader knows about the dump beyond its memory."""

    format: str  # crash's name: "ELF", "KDUMP", "FLAT" (flattened), ...
    notes: list[Note] = field(default_factory=list)
    vmcoreinfo: bytes | None = None  # raw VMCOREINFO text, if the dump has it
    incomplete: bool = False  # the file is shorter than its headers promise
    timestamp: int | None = None  # seconds since the epoch, from the header (kdump); may be 0/untrusted
    utsname: dict[str, str] = field(default_factory=dict)  # from a kdump header; may be empty
    nr_cpus: int | None = None
    block_size: int = 4096
    max_pfn: int | None = None
    compression: str | None = None  # "zlib", "lzo", "snappy", "zstd", None
    dump_level: int | None = None  # makedumpfile -d


class DumpFile(ABC):
    """A dump opened read-only. Physical reads fail with FaultError(paddr, kind, PHYSADDR)."""

    path: str
    info: DumpInfo

    @abstractmethod
    def read(self, paddr: int, size: int) -> bytes:
        """Read `size` bytes of physical memory at `paddr`; raise FaultError naming the first bad address."""

    @abstractmethod
    def ranges(self) -> list[tuple[int, int]]:
        """The physical ranges [start, end) the dump claims to describe."""

    def close(self) -> None:  # noqa: B027 - a reader that holds nothing open needs no close
        """Release the file."""

    def __enter__(self) -> DumpFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
