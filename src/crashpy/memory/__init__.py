"""Address spaces stacked as objects: physical memory over the dump, kernel virtual memory and one user
space per task over physical.  Each reads (`read`), reads what survives a bad page (`read_partial`) and
translates with the whole walk (`translate`).  Nothing else reads dump bytes or walks page tables."""

from crashpy.memory.pagetable import TableEntry, Translation
from crashpy.memory.partial import Partial
from crashpy.memory.physical import PhysicalMemory
from crashpy.memory.virtual import KernelMemory, UserMemory, VirtualMemory

__all__ = [
    "KernelMemory",
    "Partial",
    "PhysicalMemory",
    "TableEntry",
    "Translation",
    "UserMemory",
    "VirtualMemory",
]
