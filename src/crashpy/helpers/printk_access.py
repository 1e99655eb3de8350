"""What the printk helpers read through: the Program they need (a Protocol: tests pass a fake), struct
offsets from the type information with the VMCOREINFO entries as fallback (makedumpfile's way, for
dumps without type information), reads that name what they read, and SparseBuffer for ranges that
may hold bad pages."""

from __future__ import annotations

from typing import Protocol

from crashpy.errors import CommandError, CrashpyError, FaultError

U64 = (1 << 64) - 1
PAGE_SIZE = 4096


class ProgramLike(Protocol):
    """What these helpers use of crashpy.program.Program (tests pass a fake)."""

    @property
    def vmcoreinfo(self) -> VmcoreInfoLike: ...

    def read(self, addr: int, size: int, *, what: str = "") -> bytes: ...
    def read_u64(self, addr: int) -> int: ...
    def read_u32(self, addr: int) -> int: ...
    def symbol_address(self, name: str) -> int: ...
    def has_symbol(self, name: str) -> bool: ...
    def offsetof(self, struct_name: str, member: str) -> int: ...
    def sizeof(self, name: str) -> int: ...


class VmcoreInfoLike(Protocol):
    def offset(self, struct: str, member: str) -> int | None: ...
    def size(self, name: str) -> int | None: ...


# ---- reading ranges that may hold bad pages -----------------------------------------------------------


class SparseBuffer:
    """The bytes of [address, address + size): read in as few prog.read calls as the faults allow.

    Unreadable pages read as zeros and are remembered; `fault(off, n)` says whether a range touches one.
    """

    def __init__(self, prog: ProgramLike, address: int, size: int, what: str, page_size: int = PAGE_SIZE):
        self.address = address
        self.size = size
        self.what = what
        self.page_size = page_size
        self.data = bytearray(size)
        self.bad: list[tuple[int, int, FaultError]] = []  # (start offset, end offset, fault), ascending
        self._fill(prog)

    def _read(self, prog: ProgramLike, addr: int, size: int) -> bytes:
        return prog.read(addr, size, what=self.what)

    def _fill(self, prog: ProgramLike) -> None:
        cur, end = 0, self.size
        while cur < end:
            try:
                chunk = self._read(prog, self.address + cur, end - cur)
                self.data[cur:end] = chunk
                return
            except FaultError as e:
                fault_off = e.address - self.address
                page_start = (self.address + fault_off) & ~(self.page_size - 1)
                bad_off = max(page_start - self.address, cur)
                if not cur <= fault_off < end:
                    # The fault names an address outside what was asked: go page by page.
                    cur = self._fill_pages(prog, cur, end)
                    return
                if bad_off > cur:
                    self._fill_pages(prog, cur, bad_off, whole_first=True)
                bad_end = min(end, bad_off + self.page_size - ((self.address + bad_off) % self.page_size))
                self.bad.append((bad_off, bad_end, e))
                cur = bad_end

    def _fill_pages(self, prog: ProgramLike, start: int, end: int, whole_first: bool = False) -> int:
        if whole_first:
            try:
                self.data[start:end] = self._read(prog, self.address + start, end - start)
                return end
            except FaultError:
                pass
        cur = start
        while cur < end:
            nxt = min(end, cur + self.page_size - ((self.address + cur) % self.page_size))
            try:
                self.data[cur:nxt] = self._read(prog, self.address + cur, nxt - cur)
            except FaultError as e:
                self.bad.append((cur, nxt, e))
            cur = nxt
        self.bad.sort(key=lambda b: b[0])
        return end

    def fault(self, off: int, length: int) -> FaultError | None:
        """The fault of the first unreadable page within [off, off + length), if any."""
        if not self.bad or length <= 0:
            return None
        for start, end, e in self.bad:
            if start >= off + length:
                break
            if end > off:
                addr = self.address + max(start, off)
                return e.with_context(addr, e.space, self.what)
        return None

    def u64(self, off: int) -> int:
        return int.from_bytes(self.data[off : off + 8], "little")

    def u32(self, off: int) -> int:
        return int.from_bytes(self.data[off : off + 4], "little")

    def u16(self, off: int) -> int:
        return int.from_bytes(self.data[off : off + 2], "little")


# ---- type information with VMCOREINFO fallback ---------------------------------------------------------


def type_offset(
    prog: ProgramLike, struct: str, member: str, vmcoreinfo_name: str | None = None
) -> int | None:
    """offsetof(struct, member) from the type information, else VMCOREINFO's OFFSET(), else None."""
    try:
        return int(prog.offsetof(struct, member))
    except (CrashpyError, LookupError):  # no type information or no such member: whatever the type layer raises
        pass
    vi = getattr(prog, "vmcoreinfo", None)
    if vi:
        return vi.offset(vmcoreinfo_name or struct, member)
    return None


def bitfield_byte(prog: ProgramLike, struct: str, member: str) -> int | None:
    """The byte offset of the byte holding bit-field `member` (its bit offset / 8, as crash's
    MEMBER_OFFSET() has it), from the type information; None without it."""
    try:
        btf = getattr(prog, "btf", None)  # a stand-in program (tests) may have no BTF attribute
    except CrashpyError:  # a vmlinux without .BTF
        return None
    if btf is None:
        return None
    try:
        return int(btf.member(struct, member).bit_offset) // 8
    except (CrashpyError, LookupError):  # no type information or no such member
        return None


def type_size(prog: ProgramLike, name: str, vmcoreinfo_name: str | None = None) -> int | None:
    try:
        return int(prog.sizeof(name))
    except (CrashpyError, LookupError):  # no type information
        pass
    vi = getattr(prog, "vmcoreinfo", None)
    if vi:
        return vi.size(vmcoreinfo_name or name)
    return None


def need(value: int | None, what: str) -> int:
    if value is None:
        raise CommandError(f"cannot determine {what}: no type information and no VMCOREINFO entry")
    return value


def cstring(buf: bytes | bytearray, off: int, limit: int) -> bytes:
    """The NUL-terminated string at buf[off], not reading past buf[limit]."""
    end = buf.find(b"\0", off, limit)
    return bytes(buf[off : limit if end < 0 else end])


# ---- reads that name what they read --------------------------------------------------------------------


def symbol_data(prog: ProgramLike, name: str, size: int) -> int:
    """The little-endian integer in kernel variable `name` (crash: get_symbol_data; a fault names it)."""
    return read_int(prog, prog.symbol_address(name), size, name)


def read_bytes(prog: ProgramLike, addr: int, size: int, what: str) -> bytes:
    return prog.read(addr, size, what=what)


def read_int(prog: ProgramLike, addr: int, size: int, what: str) -> int:
    return int.from_bytes(read_bytes(prog, addr, size, what), "little")


def signed32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def signed64(v: int) -> int:
    v &= U64
    return v - (1 << 64) if v >> 63 else v
