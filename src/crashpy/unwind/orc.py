"""The kernel's ORC unwind tables, read from the dump: vmlinux's (`orc_lookup`, `__start_orc_unwind_ip`,
`__start_orc_unwind`) and each module's (`module.arch.orc_unwind_ip` / `orc_unwind` / `num_orcs`).

An ORC entry says, for every instruction range, where the caller's stack pointer is (`sp_reg` plus
`sp_offset`), where the caller's frame pointer was saved, and whether the range is a normal call
frame or entry code with a `pt_regs` on the stack (arch/x86/include/asm/orc_types.h).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CrashpyError, FaultError

if TYPE_CHECKING:
    from crashpy.program import Program

# orc_types.h registers
ORC_REG_UNDEFINED = 0
ORC_REG_PREV_SP = 1
ORC_REG_BP = 4
ORC_REG_SP = 5

LOOKUP_BLOCK_SIZE = 256  # bytes of text per orc_lookup slot (LOOKUP_BLOCK_ORDER 8)
ENTRY_SIZE = 6  # sizeof(struct orc_entry)


@dataclass(frozen=True, slots=True)
class OrcEntry:
    sp_offset: int
    bp_offset: int
    sp_reg: int
    bp_reg: int
    type: int
    is_call: bool  # ORC_TYPE_CALL: a normal function frame


class OrcTables:
    """ORC look-ups for kernel and module text (orc_find() of arch/x86/kernel/unwind_orc.c)."""

    def __init__(self, prog: Program) -> None:
        self.prog = prog
        self._found: dict[int, OrcEntry | None] = {}
        need = (
            "lookup_num_blocks",
            "__start_orc_unwind_ip",
            "__stop_orc_unwind_ip",
            "__start_orc_unwind",
            "__stop_orc_unwind",
            "orc_lookup",
            "_stext",
            "_etext",
        )
        self.valid = all(prog.has_symbol(n) for n in need)
        if not self.valid:
            return
        sa = prog.symbol_address
        self.ip_start = sa("__start_orc_unwind_ip")
        self.unwind_start = sa("__start_orc_unwind")
        self.unwind_stop = sa("__stop_orc_unwind")
        self.lookup = sa("orc_lookup")
        self.stext = sa("_stext")
        self.etext = sa("_etext")
        try:
            self.num_blocks = prog.read_u32(sa("lookup_num_blocks"))
        except FaultError:
            self.valid = False
            return
        # v6.4 (commit fb799447ae29) renumbered the types (CALL became 2) and added `signal`.
        self.new_layout = prog.has_member("orc_entry", "signal")
        self._modules: dict[int, tuple[int, int, int]] = {}

    def _entry(self, raw: bytes) -> OrcEntry:
        sp_off, bp_off, regs, bits = struct.unpack("<hhBB", raw)
        if self.new_layout:
            typ = bits & 0x7
            is_call = typ == 2
        else:
            typ = bits & 0x3
            is_call = typ == 0
        return OrcEntry(sp_off, bp_off, regs & 0xF, regs >> 4, typ, is_call)

    def _search(self, ip_table: int, u_table: int, num: int, ip: int) -> OrcEntry | None:
        if num <= 0:
            return None
        try:
            raw = self.prog.read(ip_table, num * 4, what="orc_ip")
        except FaultError:
            return None
        rel = struct.unpack(f"<{num}i", raw)
        lo, hi, found = 0, num - 1, 0
        while lo <= hi:
            mid = lo + (hi - lo) // 2
            if ip_table + mid * 4 + rel[mid] <= ip:
                found = mid
                lo = mid + 1
            else:
                hi = mid - 1
        try:
            return self._entry(
                self.prog.read(u_table + found * ENTRY_SIZE, ENTRY_SIZE, what="kernel orc_entry")
            )
        except FaultError:
            return None

    def find(self, ip: int) -> OrcEntry | None:
        """The ORC entry that covers text address `ip`, or None (kept per address)."""
        if ip in self._found:
            return self._found[ip]
        entry = self._found[ip] = self._find(ip)
        return entry

    def _find(self, ip: int) -> OrcEntry | None:
        if not self.valid:
            return None
        if not self.stext <= ip < self.etext:
            return self._module_find(ip)
        idx = (ip - self.stext) // LOOKUP_BLOCK_SIZE
        if idx >= self.num_blocks - 1:
            return None
        try:
            start, stop = struct.unpack("<II", self.prog.read(self.lookup + idx * 4, 8, what="orc_lookup"))
        except FaultError:
            return None
        stop += 1
        if self.unwind_start + start * ENTRY_SIZE >= self.unwind_stop:
            return None
        if self.unwind_start + stop * ENTRY_SIZE > self.unwind_stop:
            return None
        return self._search(
            self.ip_start + start * 4, self.unwind_start + start * ENTRY_SIZE, stop - start, ip
        )

    def _module_find(self, ip: int) -> OrcEntry | None:
        from crashpy.helpers.modules import module_symtab

        prog = self.prog
        lm = module_symtab(prog).module_of(ip)
        if lm is None:
            return None
        tables = self._modules.get(lm.struct_addr)
        if tables is None:
            try:
                arch = lm.struct_addr + prog.offsetof("module", "arch")
                num = prog.read_u32(arch + prog.offsetof("mod_arch_specific", "num_orcs"))
                ip_tab = prog.read_u64(arch + prog.offsetof("mod_arch_specific", "orc_unwind_ip"))
                u_tab = prog.read_u64(arch + prog.offsetof("mod_arch_specific", "orc_unwind"))
            except CrashpyError:
                return None
            tables = (ip_tab, u_tab, num)
            self._modules[lm.struct_addr] = tables
        ip_tab, u_tab, num = tables
        return self._search(ip_tab, u_tab, num, ip)


def orc_tables(prog: Program) -> OrcTables:
    """The dump's ORC tables (built once per Program)."""
    result: OrcTables = prog.cache("unwind.orc", lambda: OrcTables(prog))
    return result
