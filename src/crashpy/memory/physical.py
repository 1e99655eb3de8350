"""Physical memory as the dump holds it."""

from __future__ import annotations

from crashpy.arch.x86_64 import PAGE_SIZE
from crashpy.dumpfile.base import DumpFile
from crashpy.errors import AddressSpace, FaultError, FaultKind
from crashpy.memory.partial import Partial


class PhysicalMemory:
    """The dump's physical memory.  With `zero_excluded` (crash's --zero_excluded and `set
    zero_excluded on`), the pages makedumpfile left out read as zeros; every other fault stays one."""

    space = AddressSpace.PHYSADDR

    def __init__(self, dump: DumpFile, zero_excluded: bool = False) -> None:
        self.dump = dump
        self.zero_excluded = zero_excluded

    def read(self, paddr: int, size: int, what: str = "") -> bytes:
        """`size` bytes at `paddr`; FaultError(PHYSADDR) names the first unreadable address."""
        try:
            return self.dump.read(paddr, size)
        except FaultError as e:
            if not self.zero_excluded or e.kind is not FaultKind.EXCLUDED:
                if what:
                    raise e.with_context(e.address, AddressSpace.PHYSADDR, what) from None
                raise
        partial = self.read_partial(paddr, size)
        if partial.faults:
            first = partial.faults[0]
            raise first.with_context(first.address, AddressSpace.PHYSADDR, what)
        return partial.data

    def read_partial(self, paddr: int, size: int) -> Partial:
        """The bytes at `paddr`, page by page: zeros and a fault where a page cannot be read."""
        out = bytearray()
        faults: list[FaultError] = []
        in_fault = False
        cur, stop = paddr, paddr + size
        while cur < stop:
            n = min(stop, (cur | (PAGE_SIZE - 1)) + 1) - cur
            try:
                out += self.dump.read(cur, n)
                in_fault = False
            except FaultError as e:
                out += bytes(n)
                if self.zero_excluded and e.kind is FaultKind.EXCLUDED:
                    in_fault = False
                elif not in_fault or faults[-1].kind is not e.kind:
                    faults.append(FaultError(cur, e.kind, AddressSpace.PHYSADDR))
                    in_fault = True
            cur += n
        return Partial(bytes(out), faults)
