"""The test dumps the oracle tests compare crashpy and crash on (all built by tools/vmcores.py)."""

from __future__ import annotations

# The sysrq crash in every format crash reads, then the other ways of crashing.
ORACLE_DUMPS = [
    "sysrq.elf",
    "sysrq.qemu-kdump",
    "sysrq.d31.zlib",
    "sysrq.d31.lzo",
    "sysrq.d31.flat",
    "sysrq.d31.elf",
    "kaslr.elf",
    "bug.elf",
    "null.elf",
    "panic.elf",
    # 5-level paging (LA57) with KASLR: every kernel region moves
    "la57.elf",
    "la57.d31.zlib",
    "la57bug.elf",
    "la57bug.d31.zlib",
    # 3 GB, 2 NUMA nodes, 4 CPUs, about 2,000 sleeping tasks
    "scale.d31.zlib",
]
# nmi.elf's second CPU was stopped by an NMI; crash cannot unwind its task, so a test that traces
# every task (foreach bt) names that difference before it takes this dump in.
WITH_NMI = [*ORACLE_DUMPS, "nmi.elf"]
