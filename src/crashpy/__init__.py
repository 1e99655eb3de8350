"""crashpy: the Linux crash utility rebuilt in Python."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from crashpy.program import Program


def open(vmlinux: str | None, vmcore: str, *, kaslr: int | None = None) -> Program:  # noqa: A001
    """Open `vmcore` with its debug `vmlinux` and return the Program."""
    from crashpy.loader import open_program

    return open_program(vmlinux, [vmcore], kaslr=kaslr)
