"""ELF note parsing, shared by the ELF reader and the kdump-compressed note area."""

from __future__ import annotations

import struct

from crashpy.dumpfile.base import Note

NT_PRSTATUS = 1  # "CORE": struct elf_prstatus, one per CPU
NT_PRPSINFO = 3
NT_TASKSTRUCT = 4
NT_VMCOREDD = 0x700  # "LINUX": a device dump
NT_QEMU = 0  # "QEMU": struct QEMUCPUState (QEMU's dump-guest-memory), one per CPU
NT_VMCOREINFO = 0  # "VMCOREINFO"

_NHDR = struct.Struct("<III")


def _align4(n: int) -> int:
    return (n + 3) & ~3


def parse_notes(data: bytes, byteorder: str = "<") -> tuple[list[Note], str | None]:
    """The notes in `data` (a PT_NOTE segment, kdump note area or SHT_NOTE section; `byteorder` "<" or
    ">"), and a problem found, if any.

    Parsing stops at the first malformed note (its sizes run past the end of the area); the notes
    before it are returned with a one-line description of the problem. Zero padding at the end
    (a note header of all zeros) ends the area quietly.
    """
    nhdr = _NHDR if byteorder == "<" else struct.Struct(byteorder + "III")
    notes: list[Note] = []
    off = 0
    end = len(data)
    while off + nhdr.size <= end:
        namesz, descsz, ntype = nhdr.unpack_from(data, off)
        if namesz == 0 and descsz == 0 and ntype == 0:
            break  # padding
        name_off = off + nhdr.size
        desc_off = name_off + _align4(namesz)
        next_off = desc_off + _align4(descsz)
        if desc_off + descsz > end:
            return notes, f"note {len(notes)} at offset {off:#x} runs past the end of the note area"
        raw_name = data[name_off : name_off + namesz]
        name = raw_name.split(b"\0", 1)[0].decode("latin-1")
        notes.append(Note(name, ntype, bytes(data[desc_off : desc_off + descsz])))
        off = next_off
    return notes, None


def vmcoreinfo_of(notes: list[Note]) -> bytes | None:
    """The VMCOREINFO note's text (trailing NULs removed), if there is one."""
    for note in notes:
        if note.name == "VMCOREINFO":
            return note.desc.rstrip(b"\0")
    return None


def count_prstatus(notes: list[Note]) -> int:
    """How many NT_PRSTATUS ("CORE", type 1) notes: one per CPU."""
    return sum(1 for n in notes if n.name == "CORE" and n.type == NT_PRSTATUS)


# struct user_regs_struct, the elf_prstatus pr_reg (x86_64), in order
X86_64_USER_REGS = tuple(
    "r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di orig_ax ip cs flags sp ss fs_base gs_base ds es fs gs".split()
)


def prstatus_registers(notes: list[Note]) -> list[dict[str, int]]:
    """The x86_64 registers of each NT_PRSTATUS note, in note order (one per CPU).  pr_reg is the
    27 words before the note's last 8 bytes (pr_fpvalid and its padding)."""
    size = 8 * len(X86_64_USER_REGS)
    out = []
    for n in notes:
        if n.name == "CORE" and n.type == NT_PRSTATUS and len(n.desc) >= 112 + size:
            words = struct.unpack_from(f"<{len(X86_64_USER_REGS)}Q", n.desc, len(n.desc) - size - 8)
            out.append(dict(zip(X86_64_USER_REGS, words, strict=True)))
    return out
