"""elf/: the one ELF reader, on small files written here (both classes and byte orders, compressed
sections, extended numbering, damaged files) and on the Debian vmlinux and a module against pyelftools."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from crashpy.elf import ElfError, ElfFile, peek_type
from crashpy.elf.symtab import _SCANS_PER_LOOKUP
from tests.elf_writer import (
    ET_EXEC,
    ET_REL,
    SHF_ALLOC,
    SHF_EXECINSTR,
    SHF_WRITE,
    SHT_NOBITS,
    SHT_NOTE,
    SHT_STRTAB,
    SHT_SYMTAB,
    Sec,
    note,
    symbols,
    write_elf,
)

TEXT = 0xFFFFFFFF81000000
DATA = 0xFFFFFFFF82000000
SHAPES = [(64, True), (64, False), (32, True), (32, False)]
SHAPE_IDS = ["64LE", "64BE", "32LE", "32BE"]
BUILD_ID = bytes(range(20))


def sample(
    bits: int, little: bool, compress: str | None = None, debug_name: str = ".debug_str", **kw: object
) -> bytes:
    """A little kernel-like file: .text, .data, .bss, notes with a build-id, .symtab and .strtab."""
    addr_mask = (1 << bits) - 1
    text, data = TEXT & addr_mask, DATA & addr_mask
    syms = [
        ("startup", text, 16, 0x12, 1),  # GLOBAL FUNC in .text
        ("local_fn", text + 16, 8, 0x02, 1),  # LOCAL FUNC
        ("banner", data, 12, 0x11, 2),  # GLOBAL OBJECT in .data
        ("dup", text + 32, 4, 0x02, 1),  # two static functions of one name
        ("dup", text + 40, 4, 0x02, 1),
        ("my_banner", data + 16, 4, 0x11, 2),  # ends with "banner", stored apart (it came later)
        ("x_jiffies", data + 32, 8, 0x11, 2),
        ("jiffies", data + 40, 0, 0x10, 2),  # stored in the tail of x_jiffies
        ("undefined_sym", 0, 0, 0x10, 0),
    ]
    symtab, strtab = symbols(syms, bits, little)
    notes = note(b"Linux\0", 6, b"6.1.0\0", little) + note(b"GNU\0", 3, BUILD_ID, little)
    sections = [
        Sec(".text", b"\x90" * 64, flags=SHF_ALLOC | SHF_EXECINSTR, addr=text),
        Sec(".data", b"Linux banner\0" + b"\0" * 51, flags=SHF_ALLOC | SHF_WRITE, addr=data),
        Sec(".bss", type=SHT_NOBITS, flags=SHF_ALLOC | SHF_WRITE, addr=data + 64, size=0x1000),
        Sec(".notes", notes, type=SHT_NOTE, flags=SHF_ALLOC),
        Sec(".symtab", symtab, type=SHT_SYMTAB, link=".strtab", info=1, entsize=24 if bits == 64 else 16),
        Sec(".strtab", strtab, type=SHT_STRTAB),
        Sec(debug_name, b"hello\0world\0", compress=compress),
    ]
    return write_elf(sections, bits=bits, little=little, **kw)  # type: ignore[arg-type]


def open_bytes(tmp_path: Path, data: bytes, name: str = "f.elf") -> ElfFile:
    path = tmp_path / name
    path.write_bytes(data)
    return ElfFile(path)


@pytest.mark.parametrize(("bits", "little"), SHAPES, ids=SHAPE_IDS)
def test_headers_sections_and_symbols(tmp_path: Path, bits: int, little: bool) -> None:
    elf = open_bytes(tmp_path, sample(bits, little))
    mask = (1 << bits) - 1
    assert elf.is64 == (bits == 64) and elf.byteorder == ("little" if little else "big")
    assert elf.e_type == ET_EXEC and not elf.is_relocatable
    assert [s.name for s in elf.sections] == [
        "", ".text", ".data", ".bss", ".notes", ".symtab", ".strtab", ".debug_str", ".shstrtab"
    ]
    text = elf.section(".text")
    assert text is not None and text.index == 1 and text.addr == TEXT & mask and text.has_bytes
    assert elf.section_data(".text") == b"\x90" * 64
    assert elf.section_data(".bss") is None and elf.section(".bss") is not None  # SHT_NOBITS
    assert elf.section(".nothing") is None and elf.section_data(".nothing") is None
    assert elf.read_address((DATA & mask) + 6, 6) == b"banner"
    assert elf.read_address((DATA & mask) + 60, 100) == b"\0" * 4  # cut at the section's end
    assert elf.read_address((DATA & mask) + 64, 4) is None  # .bss has no bytes in the file
    assert elf.build_id == BUILD_ID.hex()
    assert [(n.name, n.type) for n in elf.notes()] == [("Linux", 6), ("GNU", 3)]
    st = elf.symtab
    assert st is not None and len(st) == 10
    rows = st.rows()
    assert rows[1][1:] == (0x12, 0, 1, TEXT & mask, 16)  # (st_info, st_other, st_shndx, value, size)
    assert [st.entry(i) for i in range(len(st))] == rows
    assert [s.value for s in st.symbols_named("dup")] == [(TEXT & mask) + 32, (TEXT & mask) + 40]
    (jiffies,) = st.symbols_named("jiffies")
    assert (jiffies.value, jiffies.bind, jiffies.type, jiffies.index) == ((DATA & mask) + 40, 1, 0, 8)
    assert st.symbols_named("banner")[0].size == 12
    assert st.symbols_named("nonexistent") == [] and st.symbols_named("") == []
    assert st.name_at(rows[3][0]) == "banner"
    elf.close()


def test_symbol_lookup_by_many_string_copies(tmp_path: Path) -> None:
    """A common word ends many longer names: past a few copies the st_name fields are searched in one
    pass instead of once per copy; both give every entry of that name."""
    syms = [(f"x{i}_count", 0x1000 + i, 4, 0x11, 1) for i in range(_SCANS_PER_LOOKUP + 4)]
    syms += [("count", 0x2000, 4, 0x01, 1), ("count", 0x3000, 4, 0x11, 1)]
    symtab, strtab = symbols(syms)
    strtab += b"zz_count\0"  # one more copy that names no entry
    data = write_elf([
        Sec(".data", b"\0" * 16, flags=SHF_ALLOC),
        Sec(".symtab", symtab, type=SHT_SYMTAB, link=".strtab", entsize=24),
        Sec(".strtab", strtab, type=SHT_STRTAB),
    ])
    st = open_bytes(tmp_path, data).symtab
    assert st is not None
    assert len(st.string_offsets("count")) > _SCANS_PER_LOOKUP
    assert [s.value for s in st.symbols_named("count")] == [0x2000, 0x3000]
    assert [s.value for s in st.symbols_named("x3_count")] == [0x1003]


@pytest.mark.parametrize("how", ["zlib", "zstd", "gnu"])
@pytest.mark.parametrize(("bits", "little"), SHAPES, ids=SHAPE_IDS)
def test_compressed_sections(tmp_path: Path, bits: int, little: bool, how: str) -> None:
    data = sample(bits, little, compress=how, debug_name=".zdebug_str" if how == "gnu" else ".debug_str")
    elf = open_bytes(tmp_path, data)
    sb = elf.section_bytes(".debug_str")
    assert sb is not None and sb.all() == b"hello\0world\0" and sb.cstring(6) == b"world"
    assert elf.has_section(".debug_str")
    assert elf.section_bytes(".debug_str") is sb  # decompressed once


def test_bad_compressed_sections(tmp_path: Path) -> None:
    good = sample(64, True, compress="zlib")
    elf = open_bytes(tmp_path, good)
    sec = elf.section(".debug_str")
    assert sec is not None
    start = sec.offset
    corrupt = bytearray(good)
    corrupt[start + 24 : start + 28] = b"\xff\xff\xff\xff"  # the zlib stream
    with pytest.raises(ElfError, match=r"section \.debug_str: bad zlib data"):
        open_bytes(tmp_path, bytes(corrupt), "c1").section_bytes(".debug_str")
    wrong_size = bytearray(good)
    wrong_size[start + 8] += 1  # ch_size
    with pytest.raises(ElfError, match="decompressed to 0xc bytes, its header says 0xd"):
        open_bytes(tmp_path, bytes(wrong_size), "c2").section_bytes(".debug_str")
    unknown = bytearray(good)
    unknown[start] = 7  # ch_type
    with pytest.raises(ElfError, match="unknown section compression 7"):
        open_bytes(tmp_path, bytes(unknown), "c3").section_bytes(".debug_str")


@pytest.mark.parametrize(("bits", "little"), SHAPES, ids=SHAPE_IDS)
def test_extended_section_numbering(tmp_path: Path, bits: int, little: bool) -> None:
    """e_shnum 0 and e_shstrndx SHN_XINDEX: the count and the name table's index are in section 0."""
    elf = open_bytes(tmp_path, sample(bits, little, extended=True))
    assert len(elf.sections) == 9 and elf.sections[-1].name == ".shstrtab"
    assert elf.section_data(".text") == b"\x90" * 64 and elf.build_id == BUILD_ID.hex()


def test_from_bytes_and_peek_type(tmp_path: Path) -> None:
    data = sample(64, True)
    elf = ElfFile.from_bytes(data, "sample")
    assert elf.path == "sample" and elf.section_data(".text") == b"\x90" * 64
    assert peek_type(data[:64]) == ET_EXEC
    assert peek_type(sample(32, False, e_type=ET_REL)[:64]) == ET_REL
    assert peek_type(b"\x7fELF") is None and peek_type(b"not elf at all, no") is None


def test_errors_are_one_line_with_the_path(tmp_path: Path) -> None:
    def error(data: bytes | None, name: str) -> str:
        path = tmp_path / name
        if data is not None:
            path.write_bytes(data)
        with pytest.raises(ElfError) as e:
            ElfFile(path).section_bytes(".text")
        text = str(e.value)
        assert "\n" not in text and text.startswith(str(path) + ": ")
        return text[len(str(path)) + 2 :]

    good = sample(64, True)
    assert error(None, "missing") == "No such file or directory"
    assert error(b"", "empty") == "not an ELF file"
    assert error(b"MZ\x90\0" * 40, "exe") == "not an ELF file"
    assert error(b"\x7fELF\x03\x01" + b"\0" * 60, "class") == "unknown ELF class 3"
    assert error(b"\x7fELF\x02\x03" + b"\0" * 60, "order") == "unknown ELF byte order 3"
    assert error(good[:40], "short").startswith("truncated ELF file: 40 bytes")
    assert error(good[: len(good) - 100], "cut").startswith("truncated ELF file: 9 section headers end at")
    # The section headers survive but .text's bytes are gone: found when .text is read.
    moved = bytearray(good)
    shoff = int.from_bytes(good[40:48], "little")
    moved[shoff + 64 + 24 : shoff + 64 + 32] = (len(good) - 8).to_bytes(8, "little")  # .text's sh_offset
    assert "section .text ends at" in error(bytes(moved), "moved")


# ---------------------------------------------------------------------------------------------------------
# The Debian vmlinux and a module, against pyelftools


def _cache() -> Path:
    import os

    env = os.environ.get("CRASHPY_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "crashpy"


KREL = "6.1.0-56-cloud-amd64"
DEBUG = _cache() / "vmcores" / KREL / "kernel" / "usr" / "lib" / "debug"
VMLINUX = DEBUG / "boot" / f"vmlinux-{KREL}"
MODULE = DEBUG / "lib" / "modules" / KREL / "kernel" / "drivers" / "net" / "virtio_net.ko"


@pytest.mark.parametrize("path", [VMLINUX, MODULE], ids=["vmlinux", "virtio_net.ko"])
def test_real_files_equal_pyelftools(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"{path} not built")
    from elftools.elf.elffile import ELFFile

    elf = ElfFile(path)
    with open(path, "rb") as f:
        theirs = ELFFile(f)
        assert elf.e_type == {"ET_EXEC": 2, "ET_REL": 1}[theirs["e_type"]]
        assert [(s.name, s.offset, s.size, s.flags) for s in elf.sections] == [
            (s.name, s["sh_offset"], s["sh_size"], s["sh_flags"]) for s in theirs.iter_sections()
        ]
        their_symtab = theirs.get_section_by_name(".symtab")
        st = elf.symtab
        assert st is not None and len(st) == their_symtab.num_symbols()
        rows = st.rows()
        for i in itertools.chain(range(50), range(len(rows) - 50, len(rows))):
            sym = their_symtab.get_symbol(i)
            assert st.name_at(rows[i][0]) == sym.name
            assert rows[i][4:] == (sym["st_value"], sym["st_size"])
        for note_sec in theirs.iter_sections():
            if note_sec["sh_type"] == "SHT_NOTE":
                for n in note_sec.iter_notes():
                    if n["n_name"] == "GNU" and n["n_type"] == "NT_GNU_BUILD_ID":
                        assert elf.build_id == n["n_desc"]
    assert elf.is_relocatable == (path == MODULE)
    assert elf.build_id is not None and len(elf.build_id) == 40
    elf.close()
