"""The expression layer's error: gdb's words, one line."""

from __future__ import annotations

from crashpy.types.valprint import GdbError

__all__ = ["GdbError", "UnknownSymbolType"]


class UnknownSymbolType(GdbError):
    """A data symbol used as a value when nothing gives its type (gdb: "has unknown type")."""

    def __init__(self, name: str) -> None:
        super().__init__(f"'{name}' has unknown type; cast it to its declared type")
        self.symbol = name
