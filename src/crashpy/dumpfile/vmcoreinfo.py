"""VMCOREINFO: the key=value note the kernel leaves for dump tools."""

from __future__ import annotations

MAX_LENGTH = 1 << 20


class VmcoreInfo:
    """Parsed VMCOREINFO text. `symbol`, `offset`, `size`, `number`, `length` read its typed entries."""

    def __init__(self, raw: bytes | None) -> None:
        self.raw = raw or b""
        self.entries: dict[str, str] = {}
        self._sparsemem: dict[bool, tuple[int, int]] = {}
        for line in self.raw.decode("ascii", "replace").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                self.entries[key.strip()] = value.strip()

    def __bool__(self) -> bool:
        return bool(self.entries)

    def get(self, key: str) -> str | None:
        return self.entries.get(key)

    def _int(self, key: str, base: int) -> int | None:
        v = self.entries.get(key)
        if v is None:
            return None
        try:
            return int(v, base)
        except ValueError:
            return None

    def symbol(self, name: str) -> int | None:
        return self._int(f"SYMBOL({name})", 16)

    def offset(self, struct: str, member: str) -> int | None:
        return self._int(f"OFFSET({struct}.{member})", 10)

    def size(self, name: str) -> int | None:
        return self._int(f"SIZE({name})", 10)

    def length(self, name: str) -> int | None:
        """LENGTH(name): an array's element count; None above 2^20 (no kernel array it names is that
        long: NR_CPUS, MAX_NUMNODES, the memory section roots), where a damaged note would size reads."""
        value = self._int(f"LENGTH({name})", 10)
        return value if value is None or 0 <= value <= MAX_LENGTH else None

    def number(self, name: str) -> int | None:
        v = self.entries.get(f"NUMBER({name})")
        if v is None:
            return None
        try:
            return int(v, 0) if v.lower().startswith(("0x", "-0x")) else int(v, 10)
        except ValueError:
            return None

    def sparsemem(self, five_level: bool) -> tuple[int, int]:
        """(SECTION_SIZE_BITS, MAX_PHYSMEM_BITS): x86_64's 27 and 46 (52 with 5-level paging) unless the
        note gives values that can be true (a section of at least a page, at most the physical address
        space, itself at most 52 bits); a damaged number would size every section walk. Asked per page
        (pfn_to_page): worked out once."""
        known = self._sparsemem.get(five_level)
        if known is not None:
            return known
        section_bits = self.number("SECTION_SIZE_BITS")
        physmem_bits = self.number("MAX_PHYSMEM_BITS")
        if physmem_bits is None or not 32 <= physmem_bits <= 52:
            physmem_bits = 52 if five_level else 46
        if section_bits is None or not 12 <= section_bits <= physmem_bits:
            section_bits = 27
        self._sparsemem[five_level] = (section_bits, physmem_bits)
        return section_bits, physmem_bits

    @property
    def kerneloffset(self) -> int | None:
        return self._int("KERNELOFFSET", 16)

    @property
    def osrelease(self) -> str | None:
        return self.entries.get("OSRELEASE")

    @property
    def build_id(self) -> str | None:
        return self.entries.get("BUILD-ID")

    @property
    def page_size(self) -> int:
        """x86_64's base page, 4096 bytes: the only size the kernel can have written here. Another
        value (a damaged note) is not believed; every page-sized step and shift depends on it."""
        return 4096
