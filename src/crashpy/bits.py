"""Fixed-width integer masks, for arithmetic that wraps as the kernel's unsigned long does."""

from __future__ import annotations

MASK64 = (1 << 64) - 1  # an unsigned 64-bit value (x86_64's unsigned long, a kernel address)

__all__ = ["MASK64"]
