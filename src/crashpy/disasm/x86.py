"""x86_64 instructions decoded by capstone and printed as gdb 10.2 prints them (AT&T syntax).

capstone decodes (lengths, operands, prefixes); the text is built here from its operand details,
because capstone's own AT&T printer follows LLVM, not GNU opcodes/i386-dis.c, which is what gdb
inside crash 8.0.6 uses.  The GNU conventions reproduced:

* the mnemonic is padded to six columns and followed by one blank (``ret    ``, ``int3   ``), the
  prefixes that the instruction does not use printed before it (``lock``, ``rep``, ``repz``,
  ``repnz``, ``bnd``, ``notrack``, ``data16``, ``addr32``, a segment name) and counted in the six;
* a size suffix only where no register operand tells the size (``movl $0x0,0x10(%rax)``,
  ``cmpq $0x0,...``, ``nopl 0x0(%rax,%rax,1)``), never on ``push``/``pop``/``call``/``jmp``/``ret``
  in 64-bit mode; ``movzbl``/``movslq``/``cltq`` style names as they are;
* operands separated by a bare comma; immediates ``$0x..`` masked to the operand size;
  displacements in signed hex, ``0x0`` where the encoding has a zero displacement;
  ``%es:(%rdi)``/``%ds:(%rsi)`` on string instructions; ``*`` before indirect branch targets;
* rip-relative operands followed by ``        # 0x<target>`` and branch targets printed as
  ``0x<target>``; whether gdb adds `` <symbol>`` after such an address is the caller's business
  (:class:`Insn` keeps the address in ``target``).

Where capstone cannot decode a byte gdb prints ``(bad)``; that is done here too (one byte).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import capstone
from capstone import x86 as cs_x86

from crashpy.bits import MASK64

__all__ = ["Insn", "decode", "decode_one"]

_OP_REG = cs_x86.X86_OP_REG
_OP_IMM = cs_x86.X86_OP_IMM
_OP_MEM = cs_x86.X86_OP_MEM

_SEGMENT_PREFIXES = {0x26: "es", 0x2E: "cs", 0x36: "ss", 0x3E: "ds", 0x64: "fs", 0x65: "gs"}
_LEGACY_PREFIXES = frozenset((0xF0, 0xF2, 0xF3, 0x66, 0x67, *_SEGMENT_PREFIXES))
_SIZE_LETTER = {1: "b", 2: "w", 4: "l", 8: "q"}
_ACCUMULATOR = {"b": "%al", "w": "%ax", "l": "%eax", "q": "%rax"}

# Intel names (capstone's insn_name) that never take a size suffix in gdb's 64-bit output, even with
# a memory operand only (their size is fixed or defaults to 64 bits).
_NO_SUFFIX = frozenset(
    (
        "push", "pop", "call", "jmp", "ret", "lgdt", "lidt", "sgdt", "sidt", "lldt", "sldt", "ltr",
        "str", "invlpg", "clflush", "clflushopt", "clwb", "verw", "verr", "lmsw", "smsw",
        "prefetch", "prefetchw", "prefetcht0", "prefetcht1", "prefetcht2", "prefetchnta",
        "fxsave", "fxrstor", "fxsave64", "fxrstor64", "xsave", "xrstor", "xsaveopt", "xsavec",
        "xsaves", "xrstors", "xsave64", "xrstor64", "xsaveopt64", "xsavec64", "xsaves64",
        "xrstors64", "ldmxcsr", "stmxcsr", "cmpxchg8b", "cmpxchg16b", "rdrand", "rdseed",
        "movbe", "loop", "jrcxz", "ljmp", "lcall",
    )
)  # fmt: skip
# Intel names gdb prints with their 64-bit suffix although no operand is a memory one.
_KEEP_Q = {
    "iretq": "iretq",
    "sysretq": "sysretq",
    "retfq": "lretq",
    "sysexitq": "sysexitq",
    "pushfq": "pushf",
    "popfq": "popf",
}
_STRING = frozenset(("movs", "stos", "lods", "scas", "cmps", "ins", "outs"))
_SHIFTS = frozenset(("shl", "shr", "sal", "sar", "rol", "ror", "rcl", "rcr"))
_BRANCHES = frozenset(("call", "jmp"))


@dataclass(frozen=True, slots=True)
class Insn:
    """One decoded instruction: where it is, its bytes, and gdb's text for it."""

    address: int
    size: int
    text: str  # what gdb prints after "<sym+off>:\t", without any " <symbol>" after addresses
    target: int | None = None  # the address gdb prints last (branch target or "# 0x..." comment)
    mnemonic: str = ""  # the bare mnemonic, e.g. "ud2", "call"

    @property
    def end(self) -> int:
        return self.address + self.size


def _cs() -> capstone.Cs:
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.syntax = capstone.CS_OPT_SYNTAX_ATT
    md.detail = True
    md.skipdata = False
    return md


_MD: capstone.Cs | None = None


def _engine() -> capstone.Cs:
    global _MD  # one capstone handle per process: it holds no state between calls
    if _MD is None:
        _MD = _cs()
    return _MD


def _hex_signed(value: int) -> str:
    return f"-0x{-value:x}" if value < 0 else f"0x{value:x}"


def _raw_prefixes(code: bytes) -> list[int]:
    out = []
    for b in code:
        if b in _LEGACY_PREFIXES:
            out.append(b)
        else:
            break
    return out


_REX_BITS = ((8, "W"), (4, "R"), (2, "X"), (1, "B"))
_rex_cache: dict[bytes, bool] = {}


def _rex_name(rex: int) -> str:
    """GNU's name of a REX prefix byte: rex, rex.B, ..., rex.WRXB."""
    letters = "".join(letter for bit, letter in _REX_BITS if rex & bit)
    return f"rex.{letters}" if letters else "rex"


def _rex_unused(insn: capstone.CsInsn, code: bytes, at: int) -> bool:
    """Whether the REX prefix at `at` has a bit the instruction does not use (GNU's i386-dis prints the
    prefix then, as ``rex.RXB pop %r14`` for 47 5e).  A bit is unused when the instruction decodes the
    same without it; a bare 0x40 when it decodes the same without the prefix."""
    hit = _rex_cache.get(code)
    if hit is not None:
        return hit
    rex = code[at]
    same = (insn.mnemonic, insn.op_str)
    md = _engine()
    variants = [code[:at] + bytes([rex & ~bit]) + code[at + 1 :] for bit, _ in _REX_BITS if rex & bit]
    if rex == 0x40:
        variants = [code[:at] + code[at + 1 :]]
    unused = False
    for variant in variants:
        alt = next(md.disasm(variant, insn.address), None)
        if alt is not None and (alt.mnemonic, alt.op_str) == same and alt.size == len(variant):
            unused = True
            break
    if len(_rex_cache) > 4096:
        _rex_cache.clear()
    _rex_cache[code] = unused
    return unused


def _format(insn: capstone.CsInsn) -> Insn:
    mnem_att: str = insn.mnemonic
    words = mnem_att.split()
    mnem_att = words[-1]
    base: str = insn.insn_name()
    ops = list(insn.operands)
    code = bytes(insn.bytes)
    raw = _raw_prefixes(code)
    has_mem = any(o.type == _OP_MEM for o in ops)
    has_reg = any(o.type == _OP_REG for o in ops)
    next_ip = insn.address + insn.size
    target: int | None = None
    comment = ""

    # ---- the mnemonic ----
    if base in _KEEP_Q:
        mnem = _KEEP_Q[base]
    elif base.startswith("ret") and base not in ("retfq",):
        mnem = "ret"
    else:
        mnem = mnem_att
        if (
            len(mnem_att) == len(base) + 1
            and mnem_att.startswith(base)
            and mnem_att[-1] in "bwlq"
            and not (has_mem and not has_reg and base not in _NO_SUFFIX)
        ):
            mnem = base
        if base in _SHIFTS and has_mem and not has_reg and mnem_att.startswith(base):
            mnem = mnem_att

    string_op = None
    for s in _STRING:
        if base.startswith(s) and len(base) == len(s) + 1 and base[-1] in "bwdq":
            string_op = s
            break

    # ---- prefixes gdb prints ----
    pre: list[str] = []
    last_66 = max((i for i, b in enumerate(raw) if b == 0x66), default=-1)
    seg_used = False
    for i, b in enumerate(raw):
        if b == 0xF0:
            pre.append("lock")
        elif b == 0xF3:
            if string_op in ("cmps", "scas"):
                pre.append("repz")
            elif string_op is not None:
                pre.append("rep")
            elif insn.prefix[0] == 0xF3:
                pre.append("repz")
        elif b == 0xF2:
            if string_op in ("cmps", "scas"):
                pre.append("repnz")
            elif string_op is not None:
                pre.append("repnz")
            elif insn.prefix[0] == 0xF2:
                pre.append(
                    "bnd" if base in ("call", "jmp", "ret") or insn.group(cs_x86.X86_GRP_JUMP) else "repnz"
                )
        elif b == 0x66:
            if i != last_66:
                pre.append("data16")
        elif b == 0x67:
            if not has_mem:
                pre.append("addr32")
        elif b in _SEGMENT_PREFIXES:
            if has_mem and not seg_used and string_op is None:
                seg_used = True
            elif b == 0x3E and base in _BRANCHES and not seg_used:
                pre.append("notrack")
            else:
                pre.append(_SEGMENT_PREFIXES[b])

    at = len(raw)
    if at < len(code) - 1 and 0x40 <= code[at] <= 0x4F and _rex_unused(insn, code, at):
        pre.append(_rex_name(code[at]))

    # ---- operands ----
    texts: list[str] = []
    if string_op is not None:
        letter = mnem_att[-1] if mnem_att[-1] in "bwlq" else _SIZE_LETTER.get(ops[0].size if ops else 4, "l")
        acc = _ACCUMULATOR[letter]
        if string_op == "stos":
            mnem, texts = "stos", [acc, "%es:(%rdi)"]
        elif string_op == "lods":
            mnem, texts = "lods", ["%ds:(%rsi)", acc]
        elif string_op == "scas":
            mnem, texts = "scas", ["%es:(%rdi)", acc]
        elif string_op == "movs":
            mnem, texts = "movs" + letter, ["%ds:(%rsi)", "%es:(%rdi)"]
        elif string_op == "cmps":
            mnem, texts = "cmps" + letter, ["%es:(%rdi)", "%ds:(%rsi)"]
        elif string_op == "ins":
            mnem, texts = "ins" + letter, ["(%dx)", "%es:(%rdi)"]
        else:
            mnem, texts = "outs" + letter, ["%ds:(%rsi)", "(%dx)"]
    else:
        if (
            base in _SHIFTS
            and "%cl" in insn.op_str
            and not any(o.type == _OP_REG and insn.reg_name(o.reg) == "cl" for o in ops)
        ):
            texts.append("%cl")
        indirect = base in _BRANCHES or base in ("ljmp", "lcall")
        opcode = code[len(raw) :]
        if opcode[:1] and 0x40 <= opcode[0] <= 0x4F:
            opcode = opcode[1:]
        if opcode[:1] in (b"\xd0", b"\xd1") and ops and ops[0].type == _OP_IMM:
            ops = ops[1:]  # gdb prints shifts by one without the count
        port_dx = base in ("in", "out")  # gdb: `in (%dx),%al`, `out %al,(%dx)`
        for o in ops:
            if o.type == _OP_REG:
                reg = insn.reg_name(o.reg)
                if port_dx and reg == "dx":
                    texts.append("(%dx)")
                    continue
                texts.append(("*" if indirect else "") + "%" + reg)
            elif o.type == _OP_IMM:
                value = o.imm
                if (
                    insn.group(cs_x86.X86_GRP_JUMP)
                    or insn.group(cs_x86.X86_GRP_CALL)
                    or base in ("loop", "jrcxz", "jecxz", "xbegin")
                ):
                    value &= MASK64
                    texts.append(f"0x{value:x}")
                    target = value
                else:
                    bits = 8 * (o.size or 8)
                    texts.append(f"$0x{value & ((1 << bits) - 1):x}")
            elif o.type == _OP_MEM:
                m = o.mem
                seg = insn.reg_name(m.segment) if m.segment else None
                base_r = insn.reg_name(m.base) if m.base else None
                index_r = insn.reg_name(m.index) if m.index else None
                text = f"%{seg}:" if seg else ""
                if base_r == "rip":
                    text += f"{_hex_signed(m.disp)}(%rip)"
                    target = (next_ip + m.disp) & MASK64
                    comment = f"        # 0x{target:x}"
                elif base_r is None and index_r is None:
                    text += f"0x{m.disp & MASK64:x}"
                else:
                    if m.disp or insn.disp_size:
                        text += _hex_signed(m.disp)
                    text += "(" + (f"%{base_r}" if base_r else "")
                    if index_r:
                        text += f",%{index_r},{m.scale}"
                    text += ")"
                texts.append(("*" if indirect else "") + text)
        if mnem == "nop" and not texts and code[len(raw) :][:1] == b"\x90" and 0x66 in raw:
            mnem, texts = "xchg", ["%ax", "%ax"]
    head = " ".join([*pre, mnem])
    line = head + " " * max(0, 6 - len(head)) + " " + ",".join(texts) + comment
    if mnem == "nop" and not texts and not pre:
        line = "nop"
    return Insn(insn.address, insn.size, line, target, mnem)


# Instructions newer than capstone 5 knows, as gdb 10.2 prints them.
_UNKNOWN_TO_CAPSTONE = ((b"\x0f\x01\xe8", "serialize "),)

_GPR = ("ax", "cx", "dx", "bx", "sp", "bp", "si", "di")


def _ud1(code: bytes, pos: int, address: int) -> Insn | None:
    """ud1 with a register ModRM byte (0f b9 /r), which capstone decodes without its ModRM."""
    k = pos
    while k < len(code) and code[k] in _LEGACY_PREFIXES:
        k += 1
    rex = code[k] if k < len(code) and 0x40 <= code[k] <= 0x4F else 0
    if rex:
        k += 1
    if code[k : k + 2] != b"\x0f\xb9" or k + 2 >= len(code) or code[k + 2] < 0xC0:
        return None
    modrm = code[k + 2]
    wide = bool(rex & 8)

    def gpr(n: int) -> str:
        if n >= 8:
            return f"%r{n}" + ("" if wide else "d")
        return ("%r" if wide else "%e") + _GPR[n]

    reg = ((modrm >> 3) & 7) | (8 if rex & 4 else 0)
    rm = (modrm & 7) | (8 if rex & 1 else 0)
    return Insn(address, k + 3 - pos, f"ud1    {gpr(rm)},{gpr(reg)}", None, "ud1")


def decode(code: bytes, address: int) -> Iterator[Insn]:
    """Every instruction in `code`, which starts at `address`; undecodable bytes as gdb's (bad)."""
    for unit in _walk(code, address):
        yield unit if isinstance(unit, Insn) else _format(unit)


def instruction_bounds(code: bytes, address: int) -> Iterator[tuple[int, int]]:
    """(address, size) of every instruction decode() finds in `code`, without gdb's text (a quick walk
    for callers that look at instruction boundaries only)."""
    for unit in _walk(code, address):
        yield unit.address, unit.size


def _walk(code: bytes, address: int) -> Iterator[Insn | capstone.CsInsn]:
    """decode()'s walk: capstone's instructions as capstone gives them, an Insn for what capstone
    cannot decode (ud1 without operands, sequences it does not know, gdb's (bad))."""
    md = _engine()
    pos = 0
    n = len(code)
    while pos < n:
        progressed = False
        for insn in md.disasm(code[pos:], address + pos):
            if insn.insn_name() == "ud1" and not insn.operands:
                special = _ud1(code, pos, address + pos)
                if special is not None:
                    yield special
                    pos += special.size
                    progressed = True
                    break
            yield insn
            pos += insn.size
            progressed = True
        if pos < n and not progressed:
            for seq, text in _UNKNOWN_TO_CAPSTONE:
                if code.startswith(seq, pos):
                    yield Insn(address + pos, len(seq), text, None, text.split()[0])
                    pos += len(seq)
                    break
            else:
                yield Insn(address + pos, 1, "(bad)  ", None, "(bad)")
                pos += 1
        elif pos < n:
            # capstone stopped at a byte it cannot decode: the next round starts there
            continue


def decode_one(code: bytes, address: int) -> Insn | None:
    """The first instruction of `code`, or None when `code` is empty."""
    for insn in decode(code, address):
        return insn
    return None


@dataclass(frozen=True, slots=True)
class MemoryOperand:
    """An instruction's memory operand: segment:disp(base, index, scale), and whether it is written."""

    base: str | None
    index: str | None
    scale: int
    disp: int
    segment: str | None
    written: bool


@dataclass(frozen=True, slots=True)
class Operands:
    """What one instruction reads and where it touches memory (for explaining a fault)."""

    registers: tuple[str, ...]  # every general register it reads, address registers included
    memory: MemoryOperand | None  # its (first) memory operand, if any


def operands(code: bytes, address: int) -> Operands | None:
    """The registers and memory operand of the first instruction of `code` (at `address`); None when
    capstone cannot decode it."""
    for insn in _engine().disasm(code, address, 1):
        regs_read, _ = insn.regs_access()
        names = [insn.reg_name(r) for r in regs_read]
        memory = None
        for op in insn.operands:
            if op.type != capstone.x86.X86_OP_MEM:
                continue
            mem = op.mem
            name = insn.reg_name
            memory = MemoryOperand(
                base=name(mem.base) if mem.base else None,
                index=name(mem.index) if mem.index else None,
                scale=mem.scale,
                disp=mem.disp,
                segment=name(mem.segment) if mem.segment else None,
                written=bool(op.access & capstone.CS_AC_WRITE),
            )
            break
        # rsp only where it forms the address (push, pop, call and ret read it implicitly)
        address_regs = (memory.base, memory.index) if memory else ()
        wanted = [n for n in names if n not in ("rflags", "rip", "rsp") or n in address_regs]
        return Operands(tuple(dict.fromkeys(wanted)), memory)
    return None
