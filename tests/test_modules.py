"""Module symbols read from the dump's memory (helpers.modules), against crash 8.0.6.

crash reads every loaded module's exported symbols and kallsyms at start-up (symbols.c
store_module_symbols_v2, store_module_kallsyms_v2): `sym` names module addresses with `[module]`
after them, `dis` finds module functions by name and labels calls into modules, and gdb's
`<symbol+offset>` falls back to the same table (gdb_lookup_module_symbol).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crashpy.helpers.modules import ModuleSymtab, module_symtab
from tests.crashpy_runner import program, run_crashpy
from tests.oracle import run_crash

DUMPS = ["bug.elf", "null.elf", "sysrq.elf", "la57bug.elf"]


def _table(dumps: dict[str, Path], name: str) -> ModuleSymtab:
    return module_symtab(program(dumps["vmlinux"], dumps[name]))


def _exception_rip(dump: Path, table: ModuleSymtab) -> int | None:
    """The module address of the oops's `RIP: 0010:sym+off/size [module]` line in the console log."""
    console = dump.with_suffix(".console")
    if not console.exists():
        return None
    m = re.search(r"RIP: 0010:(\w+)\+0x([0-9a-f]+)/0x[0-9a-f]+ \[", console.read_text(errors="replace"))
    if m is None:
        return None
    hits = table.by_name(m.group(1))
    return table.symbols[hits[0]].value + int(m.group(2), 16) if hits else None


def _commands(dump: Path, table: ModuleSymtab) -> list[str]:
    cmds = ["mod", "p modules", "sym __this_module", "sym cleanup_module", "dis oracle_BUG"]
    cmds += ["sym -n oracle_BUG", "sym -p oracle_BUG", "sym -s oracle_null_write", "dis oracle_trigger_write"]
    lm = next(m for m in table.modules if m.name == "oracle_crash")
    cmds += [f"sym {lm.base:x}", f"sym {lm.base + lm.size - 1:x}", f"sym {lm.base + lm.size:x}"]
    cmds += [f"rd -s {lm.struct_addr:x} 8", f"p (void *){lm.struct_addr + 8:#x}"]
    cmds += ["sym -q oracle_", "sym _MODULE_START_oracle_crash", f"struct list_head {lm.struct_addr + 8:x}"]
    fops = table.symbols[table.by_name("oracle_trigger_fops")[0]].value
    cmds += [f"rd -s {fops:x} 8", f"p *(struct file_operations *){fops:#x}", f"dis -f {lm.base + 0x105:x}"]
    for s in table.symbols[lm.sym_start : lm.sym_end]:
        cmds += [f"sym {s.value:x}", f"sym {s.value + 3:x}"]
    first = table.modules[0]
    cmds += [f"sym {first.base:x}", f"sym {first.base + 0x123:x}"]
    rip = _exception_rip(dump, table)
    if rip is not None:
        cmds += [f"dis -r {rip:x}", f"sym {rip:x}", f"p (void *){rip:#x}"]
    return cmds


@pytest.mark.parametrize("name", DUMPS)
def test_module_list(dumps: dict[str, Path], name: str) -> None:
    """The modules helpers.modules reads are crash's `mod` list: struct, name, base, size."""
    table = _table(dumps, name)
    (out,) = run_crash(dumps["vmlinux"], dumps[name], ["mod"])
    rows = [line.split()[:4] for line in out.splitlines()[1:] if line.strip()]
    want = [[f"{m.struct_addr:x}", m.name, f"{m.base:x}", str(m.size)] for m in table.modules]
    assert rows == want


@pytest.mark.parametrize("name", DUMPS)
def test_module_symbols_match_crash(dumps: dict[str, Path], name: str) -> None:
    table = _table(dumps, name)
    assert table.modules, "no modules read"
    cmds = _commands(dumps[name], table)
    expected = run_crash(dumps["vmlinux"], dumps[name], cmds)
    got = run_crashpy(dumps["vmlinux"], dumps[name], cmds)
    for cmd, want, have in zip(cmds, expected, got, strict=True):
        if cmd == "mod":
            continue  # not a crashpy command yet (test_module_list compares the list)
        assert have == want, cmd


def test_exception_rip_in_module(dumps: dict[str, Path]) -> None:
    """bug.elf and null.elf crashed inside oracle_crash: their RIPs are module symbols."""
    for name, sym, off in (("bug.elf", "oracle_BUG", 0x11), ("null.elf", "oracle_null_write", 0x18)):
        table = _table(dumps, name)
        rip = _exception_rip(dumps[name], table)
        assert rip is not None
        found = table.value_search(rip)
        assert found is not None
        k, offset = found
        assert (table.symbols[k].name, offset) == (sym, off)
        assert table.modules[table.symbols[k].module].name == "oracle_crash"
