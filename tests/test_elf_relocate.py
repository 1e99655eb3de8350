"""elf/relocate.py: a module's DWARF relocated to where its sections were placed, read without a dump.

oracle_crash.ko (the test's own module, built with debuginfo) is placed as null.elf's kernel placed it
(its sect_attrs): oracle_BUG's first line and oracle_dir's type come out of the relocated DWARF.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crashpy.dwarf.errors import DwarfFormatError
from crashpy.dwarf.lines import LineTable, ModuleLines
from crashpy.elf.file import ElfFile
from crashpy.elf.relocate import RelocatedSections
from crashpy.types.dwarf import DwarfTypes
from tools.vmcores import ensure

TEXT = 0xFFFFFFFFC0259000


@pytest.fixture(scope="module")
def ko() -> Path:
    return Path(ensure([])["oracle_crash.ko"])


def _placed(elf: ElfFile) -> dict[str, int]:
    """The module's allocated sections laid out one after the other from TEXT, as the loader does."""
    out: dict[str, int] = {}
    at = TEXT
    for sec in elf.sections:
        if sec.flags & 2 and sec.size and sec.name.startswith(".text"):
            align = max(sec.addralign, 1)
            at = (at + align - 1) // align * align
            out[sec.name] = at
            at += sec.size
    out[".bss"] = TEXT + 0x2400
    return out


def test_module_lines_after_relocation(ko: Path) -> None:
    elf = ElfFile(ko)
    addrs = _placed(elf)
    bug = next(s for s in elf.symtab.symbols_named("oracle_BUG"))  # type: ignore[union-attr]
    where = addrs[elf.sections[bug.shndx].name] + bug.value
    table = LineTable(RelocatedSections(elf, addrs))
    found = table.lookup(where)
    source = (Path(__file__).resolve().parent.parent / "tools" / "trigger" / "oracle_crash.c").read_text()
    opening = source.splitlines().index("static noinline void oracle_BUG(void)") + 2  # its "{" line
    assert found is not None and found[0].endswith("/oracle_crash.c") and found[1] == opening
    with pytest.raises(DwarfFormatError):
        LineTable(ko)  # the raw ET_REL file is refused: its addresses mean nothing unplaced
    lines = ModuleLines()
    lines.add("oracle_crash", [(TEXT, TEXT + 0x4000)], RelocatedSections(elf, addrs))
    inside, t = lines.covering(where)
    assert inside and t is not None and t.lookup(where) == found
    assert lines.covering(TEXT - 1) == (False, None)


def test_module_variable_type_after_relocation(ko: Path) -> None:
    elf = ElfFile(ko)
    types = DwarfTypes(elf, disk_cache=False, relocated=RelocatedSections(elf, _placed(elf)))
    t = types.variable_type("oracle_dir")
    assert t is not None and t.kind.name == "POINTER"
    assert types.find_type("file_operations", "struct") is not None


def test_objfile_search_follows_crash_rules(tmp_path: Path) -> None:
    """crash's module_objfile_search: .o, .ko, .ko.debug under a tree; "-" for "_"; then either."""
    from crashpy.helpers.module_debuginfo import search_objfile

    (tmp_path / "kernel" / "drivers" / "md").mkdir(parents=True)
    (tmp_path / "extra").mkdir()
    for name in ("kernel/drivers/md/dm-region_hash.ko", "kernel/virtio-rng.ko", "extra/foo.ko.debug"):
        (tmp_path / name).write_bytes(b"\x7fELF")
    (tmp_path / "extra" / "bar.o").write_bytes(b"\x7fELF")
    (tmp_path / "bar.ko").write_bytes(b"\x7fELF")
    tree = str(tmp_path)
    assert search_objfile("virtio_rng", tree, None, "x") == f"{tree}/kernel/virtio-rng.ko"
    assert search_objfile("dm_region_hash", tree, None, "x") == f"{tree}/kernel/drivers/md/dm-region_hash.ko"
    assert search_objfile("foo", tree, None, "x") == f"{tree}/extra/foo.ko.debug"
    assert search_objfile("bar", tree, None, "x") == f"{tree}/extra/bar.o"  # .o is looked for first
    assert search_objfile("baz", tree, None, "x") is None
    # a name given to mod -s that is no file: looked for by its name, then as <module>.ko
    assert search_objfile("virtio_rng", tree, None, "x", "nothing.ko") == f"{tree}/kernel/virtio-rng.ko"
    assert search_objfile("bar", tree, None, "x", "bar.ko") == f"{tree}/bar.ko"
