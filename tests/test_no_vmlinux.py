"""The vmcore alone (issue 15): with no debug vmlinux, crashpy reads the kernel's symbols from its
kallsyms, its types from its BTF and its unwind tables (ORC) from the dump, and prints what it prints
with the vmlinux. Each test dump is opened both ways in the same test run and every command's output
compared; the only differences allowed are the ones named here, each with its reason:

- sys's KERNEL line (and set's namelist) names where the symbols came from, not a vmlinux;
- source lines come from DWARF only: `sym` of a function has no "file: line", `sys -c` has no
  FILE AND LINE column, `dis -l` and `bt -l` say so in one line and show the instructions and frames;
- autopsy names the culprit's source line only where the kernel recorded it (__bug_table), not
  from DWARF;
- kallsyms has no compiler-local labels (.LC0 ...), so a `bt -f/-F` stack word pointing into
  .rodata's strings is named after the last real symbol below it;
"""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path

import pytest

from crashpy.errors import AddressSpace, CrashpyError, FaultError, FaultKind, StartupError
from crashpy.loader import open_program
from crashpy.program import Program
from crashpy.session import Session
from tests.crashpy_runner import program, run_session
from tests.dump_names import ORACLE_DUMPS

AUTOPSY_DUMPS = [
    "warn.d31.zlib",
    "softlockup.d31.zlib",
    "hung.d31.zlib",
    "list.d31.zlib",
    "gpf.d31.zlib",
    "stack.d31.zlib",
    "oom.d31.zlib",
]

COMMANDS = [
    "sys",
    "log",
    "ps",
    "bt -a",
    "foreach bt",
    "bt -f",
    "task",
    "mod",
    "kmem -i",
    "kmem -s",
    "kmem -z",
    "files",
    "foreach files",
    "vm",
    "runq",
    "irq",
    "irq -s",
    "net",
    "foreach net",
    "timer",
    "dev",
    "mount",
    "sys -t",
    "sys -c",
    "ipcs",
    "swap",
    "sig",
    "mach",
    "autopsy",
    "rd -s init_task 32",
    "rd linux_banner 8",
    "dis schedule 24",
    "dis -l schedule 8",
    "sym schedule",
    "sym init_task",
    "p jiffies",
    "p init_task.comm",
    "p/x init_task.flags",
    "p avenrun",
    "p init_mm.mmap_base",
    "whatis init_task",
    "whatis jiffies",
    "ptype struct page",
    "struct task_struct.comm,pid init_task",
    "union thread_union init_thread_union | head -3",
    "list task_struct.tasks -h init_task | head -8",
]

SOURCE_LINE = re.compile(r"^\s*(?:\S*/)?[\w.-]+\.[chS]: \d+$")


def bare(dump: Path) -> Program:
    """The dump opened with no vmlinux (a new Program each time: its decoded kallsyms and BTF index
    come from the disk cache after the first)."""
    return open_program(None, [str(dump)])


def without_source_lines(cmd: str, with_vmlinux: str) -> str:
    """What the command prints with the vmlinux, less what only DWARF gives (see the module's list)."""
    lines = with_vmlinux.splitlines(keepends=True)
    if cmd.startswith("sym "):
        return "".join(re.sub(r"(\) \S+ ).*$", r"\1", line.rstrip("\n")) + "\n" for line in lines)
    if cmd == "sys -c":
        out = [lines[0]] if lines else []
        for line in lines[1:]:
            m = re.match(r"^(\s*\d+\s+\S+\s+)", line)
            out.append((m.group(1) if m else line.rstrip("\n")) + "\n")
        return "".join(out)
    if " -l" in f" {cmd} " and cmd.split()[0] in ("dis", "bt"):
        kept = [line for line in lines if not SOURCE_LINE.match(line.rstrip("\n"))]
        note = (
            f"{cmd.split()[0]}: -l: no source lines: they come from the debug vmlinux's DWARF, and this "
            "session has only the dump's kallsyms, BTF and ORC\n"
        )
        return note + "".join(kept)
    if cmd == "autopsy":  # the culprit's source line when DWARF gave it (not __bug_table)
        text = re.sub(r" at \S+:\d+\n", "\n", lines[0]) if lines and "(debuginfo)" in with_vmlinux else None
        out = [text] if text is not None else lines[:1]
        out += [re.sub(r"  \S+:\d+ \(debuginfo\)$", "", line.rstrip("\n")) + "\n" for line in lines[1:]]
        return "".join(out)
    if cmd == "sys":
        return "".join(
            "      KERNEL: (no vmlinux: kallsyms, BTF and ORC of the dump)" + line[line.index("  [") :]
            if line.startswith("      KERNEL:") and "  [" in line
            else ("      KERNEL: (no vmlinux: kallsyms, BTF and ORC of the dump)\n" if line.startswith("      KERNEL:") else line)
            for line in lines
        )
    return with_vmlinux


def local_label_lines(expected: str, got: str) -> bool:
    """Whether the two outputs differ only in stack words the vmlinux names after a local label."""
    a, b = expected.splitlines(), got.splitlines()
    if len(a) != len(b):
        return False
    return all(x == y or re.search(r"\.L\w+\+?\d*", x) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("name", ORACLE_DUMPS + AUTOPSY_DUMPS)
def test_commands_without_vmlinux(dumps: dict[str, Path], vmlinux: Path, name: str) -> None:
    dump = dumps[name]
    with_vmlinux = run_session(program(vmlinux, dump), COMMANDS)
    alone = run_session(bare(dump), COMMANDS)
    bad = []
    for cmd, expected, got in zip(COMMANDS, with_vmlinux, alone, strict=True):
        want = without_source_lines(cmd, expected)
        if want == got:
            continue
        if cmd.startswith("bt -f") and local_label_lines(want, got):
            continue
        bad.append(f"{cmd}\n--- with the vmlinux\n{want}--- without\n{got}")
    assert not bad, "\n\n".join(bad)


def test_btf_from_memory_is_the_vmlinux_btf(dumps: dict[str, Path], vmlinux: Path) -> None:
    """The BTF between __start_BTF and __stop_BTF is the vmlinux file's .BTF section, byte for byte."""
    from crashpy.elf.file import ElfFile

    prog = bare(dumps["kaslr.elf"])
    start, stop = prog.symbol_address("__start_BTF"), prog.symbol_address("__stop_BTF")
    with ElfFile(str(vmlinux)) as image:
        assert prog.read_image(start, stop - start) == image.section_data(".BTF")
    assert prog.btf.find("task_struct", "struct") is not None


@pytest.mark.parametrize("name", ["kaslr.elf", "la57.elf"])
def test_kallsyms_agrees_with_the_symbol_table(dumps: dict[str, Path], vmlinux: Path, name: str) -> None:
    """Every symbol kallsyms decodes is in vmlinux's .symtab at the same (KASLR-moved) address; the
    per-CPU variables kallsyms marks absolute keep their section offsets."""
    prog = bare(dumps[name])
    full = program(vmlinux, dumps[name])
    ks = prog.kallsyms
    assert len(ks) > 50_000
    at: dict[str, set[int]] = {}
    for sym in full.symbols.all():
        at.setdefault(sym.name, set()).add(sym.address)
    missing = [
        (sym_name, hex(addr), letter)
        for sym_name, addr, letter in zip(ks.names, ks.addresses, ks.letters, strict=True)
        if addr not in at.get(sym_name, ())
    ]
    assert not missing, f"{len(missing)} kallsyms entries disagree: {missing[:20]}"


def test_declared_types_fit_the_kernel(dumps: dict[str, Path], vmlinux: Path) -> None:
    """Each declaration used without DWARF gives the type DWARF gives (spelled the same, same size)."""
    from crashpy.object import dwarf_types, resolve, variable_type
    from crashpy.types.declarations import DECLARATIONS

    prog = bare(dumps["scale.d31.zlib"])
    full = program(vmlinux, dumps["scale.d31.zlib"])
    dw = dwarf_types(full)
    checked = 0
    wrong: list[str] = []
    for name in DECLARATIONS:
        mine = variable_type(prog, name)
        theirs = dw.variable_type(name) if full.symbols.lookup(name) is not None else None
        if theirs is None:
            continue  # this kernel has no such variable (or another config): nothing to compare
        if mine is None:
            continue  # not in this kernel's BTF or does not fit: stays unknown, says so
        checked += 1
        if "{extent}" in DECLARATIONS[name]:
            # bounded by the next symbol: at least the real array, of the same elements
            if mine.size < theirs.size or resolve(mine).element.size != resolve(theirs).element.size:
                wrong.append(f"{name}: {mine.type_name()} against {theirs.type_name()}")
        elif mine.size != theirs.size or mine.type_name() != theirs.type_name():
            wrong.append(f"{name}: {mine.type_name()} against {theirs.type_name()}")
    assert not wrong, wrong
    assert checked > 60


def test_unknown_type_says_how_to_cast(dumps: dict[str, Path]) -> None:
    out = run_session(
        bare(dumps["sysrq.elf"]),
        ["p sysctl_sched_latency", "p *(unsigned int *)&sysctl_sched_latency", "p &sysctl_sched_latency", "whatis sysctl_sched_latency"],
    )
    assert out[0] == (
        "p: 'sysctl_sched_latency' has unknown type (no vmlinux, and the kernel's BTF does not record it); "
        "cast it to its declared type: p *(unsigned long *)&sysctl_sched_latency\n"
    )
    assert re.fullmatch(r"\$\d+ = \d+\n", out[1])
    assert "(<data variable, no debug info> *) 0x" in out[2] and out[2].endswith("<sysctl_sched_latency>\n")
    assert out[3].startswith("whatis: 'sysctl_sched_latency' has unknown type")


def test_cli_without_vmlinux(dumps: dict[str, Path]) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "crashpy", "-s", str(dumps["bug.elf"])],
        input="sys\nbt\n", capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "KERNEL: (no vmlinux: kallsyms, BTF and ORC of the dump)" in proc.stdout
    assert "oracle_BUG" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


# ---- bad input: one line each ---------------------------------------------------------------------


def test_dump_without_vmcoreinfo(tmp_path: Path) -> None:
    from tests.synth_dumps import ElfSegment, elf_core, standard_notes, write

    core = elf_core([ElfSegment(0, bytes(4096 * 4))], standard_notes(vmcoreinfo=None))
    path = write(tmp_path / "novmci.elf", core)
    with pytest.raises(StartupError, match=r"no VMCOREINFO in the dump: give the kernel's debug vmlinux"):
        open_program(None, [str(path)])


def test_kallsyms_that_does_not_decode() -> None:
    from crashpy.symbols.kallsyms import KallsymsError, KallsymsTables, decode

    memory = bytearray(0x4000)
    struct.pack_into("<I", memory, 0x10, 3)  # three symbols
    struct.pack_into("<256H", memory, 0x200, *([0] * 256))  # every token is the empty string
    memory[0x1000:0x1005] = bytes([1, 0, 1, 0, 0])  # entries of one token each, then an empty one

    def read(addr: int, size: int) -> bytes:
        if addr + size > len(memory):
            raise FaultError(addr, FaultKind.NOT_PRESENT, AddressSpace.KVADDR, "test memory")
        return bytes(memory[addr : addr + size])

    tables = KallsymsTables(names=0x1000, num_syms=0x10, token_table=0x400, token_index=0x200, offsets=0x20, relative_base=0x18)
    with pytest.raises(KallsymsError, match="does not decode"):
        decode(read, tables)
    memory[0x1004:] = bytes([1]) * (len(memory) - 0x1004)  # entries that run past what can be read
    struct.pack_into("<I", memory, 0x10, 100_000)
    with pytest.raises(KallsymsError, match="cannot read kallsyms_names"):
        decode(read, tables)


def test_kernel_without_btf(dumps: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    prog = open_program(None, [str(dumps["sysrq.elf"])], check=False)
    real = prog.symbols.lookup
    monkeypatch.setattr(prog.symbols, "lookup", lambda n: None if n.endswith("_BTF") else real(n))
    with pytest.raises(CrashpyError, match=r"the kernel has no BTF \(CONFIG_DEBUG_INFO_BTF\) and no vmlinux was given"):
        _ = prog.btf
    out = io.StringIO()
    Session(prog, out).run_line("struct task_struct")
    assert out.getvalue().count("\n") == 1  # one line, in crash's words; start-up refuses before that


@pytest.mark.parametrize("name", ["sysrq.elf", "bug.elf", "null.elf", "kaslr.elf", *AUTOPSY_DUMPS])
def test_autopsy_without_vmlinux(dumps: dict[str, Path], vmlinux: Path, name: str) -> None:
    """autopsy explains the dump alone as it does with the vmlinux: the same kind, culprit, task and
    signature (a fleet's dumps bucket together whichever way they were opened); only a source line
    that DWARF gives is missing (one __bug_table gives is kept)."""
    from crashpy.analysis.autopsy import autopsy
    from crashpy.commands.autopsy import document

    full = document(autopsy(program(vmlinux, dumps[name])))
    alone = document(autopsy(bare(dumps[name])))
    for key in ("kind", "task", "signature", "exception", "fault", "module", "kernel_taints"):
        assert alone.get(key) == full.get(key), key
    title = full["title"]
    if full["culprit"]["source_from"] == "debuginfo":
        title = re.sub(r" at \S+:\d+$", "", title)
    assert alone["title"] == title
    for key in ("function", "offset", "address", "module"):
        assert alone["culprit"][key] == full["culprit"][key], key
    if full["culprit"]["source_from"] == "__bug_table":
        assert alone["culprit"]["source"] == full["culprit"]["source"]


def test_triage_finds_no_vmlinux_and_uses_the_dump(dumps: dict[str, Path], tmp_path: Path) -> None:
    from crashpy.cli import triage

    result = triage.triage_one(str(dumps["bug.elf"]), None, [str(tmp_path)])
    assert result["vmlinux"] is None and "error" not in result
    assert result["kind"] == "bug" and result["culprit"]["function"] == "oracle_BUG"


def test_any_type_without_vmlinux(dumps: dict[str, Path], vmlinux: Path) -> None:
    """struct, union, ptype and whatis of the kernel's types print the same both ways: a sample of
    every 40th struct and union and every 60th typedef and enum the kernel's BTF names."""
    full = program(vmlinux, dumps["bug.elf"])
    names = sorted(set(full.btf.type_names("struct")))[::40] + sorted(set(full.btf.type_names("union")))[::40]
    cmds = [f"ptype struct {n}" for n in names[: len(names) // 2]] + [f"struct {n}" for n in names[len(names) // 2 :]]
    cmds += [f"whatis {n}" for n in sorted(set(full.btf.type_names("typedef")))[::60]]
    cmds += [f"ptype enum {n}" for n in sorted(set(full.btf.type_names("enum")))[::60]]
    assert len(cmds) > 200
    with_vmlinux = run_session(full, cmds)
    alone = run_session(bare(dumps["bug.elf"]), cmds)
    bad = [f"{c}\n{a}---\n{b}" for c, a, b in zip(cmds, with_vmlinux, alone, strict=True) if a != b]
    assert not bad, "\n".join(bad[:5])
