"""The expression layer's error: gdb's words, one line."""

from __future__ import annotations

from crashpy.types.valprint import GdbError

__all__ = ["GdbError"]
