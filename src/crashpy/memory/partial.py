"""The result of a read that goes on past unreadable pages."""

from __future__ import annotations

from dataclasses import dataclass, field

from crashpy.errors import FaultError


@dataclass(frozen=True)
class Partial:
    """`data` holds every byte asked for, zeros where a page could not be read; `faults` says where
    (one FaultError per unreadable run of pages, at its first address, in address order)."""

    data: bytes
    faults: list[FaultError] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.faults

    def readable_prefix(self, start: int) -> int:
        """How many bytes from `start` (an address of the read's space) are real, before the first fault."""
        return min((f.address - start for f in self.faults), default=len(self.data))
