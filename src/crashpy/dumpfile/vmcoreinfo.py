"""VMCOREINFO: the key=value note the kernel leaves for dump tools."""

from __future__ import annotations


class VmcoreInfo:
    """Parsed VMCOREINFO text. `symbol`, `offset`, `size`, `number`, `length` read its typed entries."""

    def __init__(self, raw: bytes | None) -> None:
        self.raw = raw or b""
        self.entries: dict[str, str] = {}
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
        return self._int(f"LENGTH({name})", 10)

    def number(self, name: str) -> int | None:
        v = self.entries.get(f"NUMBER({name})")
        if v is None:
            return None
        try:
            return int(v, 0) if v.lower().startswith(("0x", "-0x")) else int(v, 10)
        except ValueError:
            return None

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
