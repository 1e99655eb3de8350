"""Facts of the kernel the test dumps are built from, read at test time from its own files.

Debian keeps only recent kernel ABIs, so the 6.1 cloud kernel tools/vmcores.py builds the dumps from
changes over time (tools/vmcores.py kernel_release()).  Tests take what they expect from here, never
fixed values of one build:

- ``release()``, ``kernel_paths()``: the release and the files of the dump set (no building);
- ``symbols(vmlinux)``: the vmlinux's ELF symbol table (read with pyelftools and struct);
- ``banner(vmlinux)``: the linux_banner string, read from the vmlinux file itself;
- ``gdb(vmlinux, commands)``: gdb's answers, one batch run on the vmlinux, cached on disk (never
  on a copy with a .gdb_index: gdb then answers some look-ups from another unit);
- ``lines(vmlinux, addrs)``: (file, line) of addresses as gdb's find_pc_line() gives them, the file
  spelled as crash prints it (the unit's directory joined to the file name: gdb's symtab fullname).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tools.vmcores import Builder, kernel_release

STB_GLOBAL = 1
STT_FUNC = 2


def release() -> str:
    """The kernel release (uname -r) the dumps are built from."""
    return kernel_release()


def kernel_paths() -> Builder:
    """Where the dump set's files are (Builder's paths: .vmlinux, .root, .modules_dir ...); builds nothing."""
    return Builder()


@dataclass(frozen=True)
class ElfSymbol:
    name: str
    value: int
    size: int
    bind: int
    type: int


@cache
def _symbol_list(vmlinux: Path) -> tuple[ElfSymbol, ...]:
    from elftools.elf.elffile import ELFFile

    with open(vmlinux, "rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        assert symtab is not None, f"{vmlinux} has no .symtab"
        strtab = elf.get_section(symtab["sh_link"]).data()
        data = symtab.data()
    out = []
    for st_name, st_info, _other, _shndx, st_value, st_size in struct.iter_unpack("<IBBHQQ", data):
        if st_name == 0:
            continue
        name = strtab[st_name : strtab.index(b"\0", st_name)].decode()
        out.append(ElfSymbol(name, st_value, st_size, st_info >> 4, st_info & 0xF))
    return tuple(out)


@cache
def _symbol_index(vmlinux: Path) -> dict[str, list[ElfSymbol]]:
    index: dict[str, list[ElfSymbol]] = {}
    for sym in _symbol_list(vmlinux):
        index.setdefault(sym.name, []).append(sym)
    return index


def elf_symbol(vmlinux: Path, name: str) -> ElfSymbol:
    """The symbol `name` of the vmlinux: its global definition, else its only one."""
    found = _symbol_index(vmlinux).get(name, [])
    globals_ = [s for s in found if s.bind == STB_GLOBAL]
    chosen = globals_ or found
    assert len(chosen) == 1, f"{name}: {len(found)} symbols in {vmlinux}"
    return chosen[0]


def symbol(vmlinux: Path, name: str) -> int:
    """The link-time address of `name` in the vmlinux."""
    return elf_symbol(vmlinux, name).value


def symbols(vmlinux: Path) -> tuple[ElfSymbol, ...]:
    """Every named symbol of the vmlinux's .symtab, in table order."""
    return _symbol_list(vmlinux)


def function_end(vmlinux: Path, name: str) -> int:
    """Where the function `name` ends (its symbol's address plus size)."""
    sym = elf_symbol(vmlinux, name)
    assert sym.type == STT_FUNC and sym.size > 0, name
    return sym.value + sym.size


@cache
def section(vmlinux: Path, name: str) -> tuple[int, int]:
    """(address, size) of a section of the vmlinux."""
    from elftools.elf.elffile import ELFFile

    with open(vmlinux, "rb") as f:
        sec = ELFFile(f).get_section_by_name(name)
        assert sec is not None, f"{vmlinux} has no {name}"
        return sec["sh_addr"], sec["sh_size"]


@cache
def read_link_address(vmlinux: Path, addr: int, size: int) -> bytes:
    """`size` bytes at link-time address `addr`, read from the vmlinux file's section contents."""
    from elftools.elf.elffile import ELFFile

    with open(vmlinux, "rb") as f:
        for sec in ELFFile(f).iter_sections():
            start = sec["sh_addr"]
            inside = start <= addr and addr + size <= start + sec["sh_size"]
            if start and sec["sh_type"] == "SHT_PROGBITS" and inside:
                f.seek(sec["sh_offset"] + addr - start)
                return f.read(size)
    raise AssertionError(f"{addr:#x} is in no section of {vmlinux}")


def banner(vmlinux: Path) -> bytes:
    """The kernel's linux_banner ("Linux version <release> (...) ... \\n"), from the vmlinux file."""
    sym = elf_symbol(vmlinux, "linux_banner")
    text = read_link_address(vmlinux, sym.value, sym.size)
    return text.split(b"\0", 1)[0]


def vmlinux_release(vmlinux: Path) -> str:
    """The release the vmlinux's banner names."""
    return banner(vmlinux).split()[2].decode()


# ---- gdb ----------------------------------------------------------------------------------------


def _gdb_binary() -> str:
    gdb = shutil.which("gdb")
    if gdb is None:
        import pytest

        pytest.skip("no gdb")
    return gdb


@cache
def _gdb_version(gdb: str) -> str:
    out = subprocess.run([gdb, "--version"], capture_output=True, text=True, check=False).stdout
    return out.split("\n")[0]


def gdb(vmlinux: Path, commands: list[str], timeout: float = 900) -> list[str]:
    """gdb's output (stdout and stderr) for each command, from one `gdb -batch` run on the vmlinux;
    cached on disk under ``<cache>/oracle-runs/`` by the vmlinux's identity, gdb's version and the
    commands."""
    from tests.oracle import cache_root

    binary = _gdb_binary()
    st = vmlinux.stat()
    key = hashlib.sha256(
        json.dumps(
            ["plain", str(vmlinux), st.st_size, st.st_mtime_ns, _gdb_version(binary), commands]
        ).encode()
    ).hexdigest()
    store = cache_root() / "oracle-runs" / f"gdb-facts-{key[:24]}.json"
    if store.is_file():
        saved: list[str] = json.loads(store.read_text())
        return saved
    marker = f"@@KFACT-{key[:16]}@@"
    argv = [binary, "-nx", "-batch", "-ex", "set width 0", "-ex", "set height 0"]
    for i, command in enumerate(commands):
        argv += ["-ex", f"echo {marker} {i}\\n", "-ex", command]
    argv.append(str(vmlinux))
    with tempfile.TemporaryDirectory() as cwd:  # so that no source file of the kernel is found
        out = subprocess.run(
            argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, timeout=timeout, check=False,
        ).stdout  # fmt: skip
    answers: list[str] = []
    for line in out.splitlines():
        if line.startswith(marker):
            assert line == f"{marker} {len(answers)}", line
            answers.append("")
        elif answers:
            answers[-1] += line + "\n"
    assert len(answers) == len(commands), f"gdb answered {len(answers)} of {len(commands)} commands:\n{out}"
    store.parent.mkdir(parents=True, exist_ok=True)
    tmp = store.with_name(f".tmp-{store.name}")
    tmp.write_text(json.dumps(answers))
    tmp.replace(store)
    return answers


def gdb_int(text: str) -> int:
    """The value of gdb's `$N = value` answer (decimal or 0x hex)."""
    value = text.strip().rsplit(" = ", 1)[1].split()[0]
    return int(value, 0)


_LINE_QUERY = (
    "python s = gdb.find_pc_line({addr:#x}); "
    "print('@LINE', (s.symtab.fullname() if s.symtab is not None else '') + '\\t' + str(s.line))"
)


def lines(vmlinux: Path, addrs: list[int]) -> dict[int, tuple[str, int] | None]:
    """(file, line) of each link-time address, or None where gdb has no line for it.  gdb's
    find_pc_line(pc, 0) is what crash's `sym` looks lines up with (gdb_get_line_number); the file is
    the symtab's full name, the unit's compilation directory joined to its file name, as crash prints."""
    unique = sorted(set(addrs))
    answers = gdb(vmlinux, [_LINE_QUERY.format(addr=a) for a in unique])
    result: dict[int, tuple[str, int] | None] = {}
    for addr, text in zip(unique, answers, strict=True):
        (row,) = [line for line in text.splitlines() if line.startswith("@LINE ")]
        path, line = row[len("@LINE ") :].rsplit("\t", 1)
        result[addr] = (path, int(line)) if path and int(line) else None
    return result
