"""The gdb-style printer over capstone, on byte sequences whose gdb 10.2 text crash 8.0.6 showed."""

from __future__ import annotations

import pytest

from crashpy.disasm.x86 import decode, decode_one, instruction_bounds

BASE = 0xFFFFFFFF81000000

# (bytes, what gdb prints after "<sym+off>:\t"): seen in crash 8.0.6's `dis` of the test kernel, or
# the same forms with other registers.
CASES = [
    ("0f1f440000", "nopl   0x0(%rax,%rax,1)"),
    ("66662e0f1f840000000000", "data16 nopw %cs:0x0(%rax,%rax,1)"),
    ("662e0f1f840000000000", "nopw   %cs:0x0(%rax,%rax,1)"),
    ("660f1f440000", "nopw   0x0(%rax,%rax,1)"),
    ("6690", "xchg   %ax,%ax"),
    ("90", "nop"),
    ("c3", "ret    "),
    ("cc", "int3   "),
    ("0f0b", "ud2    "),
    ("0fb9cc", "ud1    %esp,%ecx"),
    ("0f01e8", "serialize "),
    ("0f01f8", "swapgs "),
    ("480f07", "sysretq "),
    ("48cb", "lretq  "),
    ("9c", "pushf  "),
    ("f390", "pause  "),
    ("0faee8", "lfence "),
    ("53", "push   %rbx"),
    ("4153", "push   %r11"),
    ("6a2b", "push   $0x2b"),
    ("6ada", "push   $0xffffffffffffffda"),
    ("65ff342514600000", "push   %gs:0x6014"),
    ("654889242514600000", "mov    %rsp,%gs:0x6014"),
    ("48c7c7b9973682", "mov    $0xffffffff823697b9,%rdi"),
    ("4881e4ffe7ffff", "and    $0xffffffffffffe7ff,%rsp"),
    ("83c8ff", "or     $0xffffffff,%eax"),
    ("4889442408", "mov    %rax,0x8(%rsp)"),
    ("8d43d0", "lea    -0x30(%rbx),%eax"),
    ("c64402ff00", "movb   $0x0,-0x1(%rdx,%rax,1)"),
    ("0fb702", "movzwl (%rdx),%eax"),
    ("4863f6", "movslq %esi,%rsi"),
    ("4898", "cltq   "),
    ("48c1e003", "shl    $0x3,%rax"),
    ("66d1e8", "shr    %ax"),
    ("d3e0", "shl    %cl,%eax"),
    ("d320", "shll   %cl,(%rax)"),
    ("480fba2800", "btsq   $0x0,(%rax)"),
    ("f3ab", "rep stos %eax,%es:(%rdi)"),
    ("f348ab", "rep stos %rax,%es:(%rdi)"),
    ("f348a5", "rep movsq %ds:(%rsi),%es:(%rdi)"),
    ("f3a4", "rep movsb %ds:(%rsi),%es:(%rdi)"),
    ("ffd0", "call   *%rax"),
    ("ff5008", "call   *0x8(%rax)"),
    ("48b800f0ffffff7f0000", "movabs $0x7ffffffff000,%rax"),
    ("650fb30c2596120300", "btr    %ecx,%gs:0x31296"),
]


@pytest.mark.parametrize(("code", "text"), CASES)
def test_gdb_text(code: str, text: str) -> None:
    insn = decode_one(bytes.fromhex(code), BASE)
    assert insn is not None
    assert insn.text == text
    assert insn.size == len(code) // 2


def test_rip_relative_comment_and_target() -> None:
    # lea 0x1a03f51(%rip),%rsp at startup_64: the comment names the absolute address
    insn = decode_one(bytes.fromhex("488d25513fa001"), BASE)
    assert insn is not None
    assert insn.text == "lea    0x1a03f51(%rip),%rsp        # 0xffffffff82a03f58"
    assert insn.target == 0xFFFFFFFF82A03F58
    # lock cmpxchg %edx,0x107ea8b(%rip): the lock prefix counts in the mnemonic's six columns
    insn = decode_one(bytes.fromhex("f00fb1158bea0701"), BASE)
    assert insn is not None
    assert insn.text.startswith("lock cmpxchg %edx,0x107ea8b(%rip)        # 0x")
    # a negative displacement
    insn = decode_one(bytes.fromhex("488d3df2ffffff"), BASE + 7)
    assert insn is not None
    assert insn.text == "lea    -0xe(%rip),%rdi        # 0xffffffff81000000"


def test_branch_targets() -> None:
    insn = decode_one(bytes.fromhex("e876f8a7ff"), 0xFFFFFFFF816A89F5)
    assert insn is not None
    assert insn.text == "call   0xffffffff81128270"
    assert insn.target == 0xFFFFFFFF81128270
    assert insn.mnemonic == "call"
    insn = decode_one(bytes.fromhex("eb07"), 0xFFFFFFFF81A17A00)
    assert insn is not None
    assert (insn.text, insn.target) == ("jmp    0xffffffff81a17a09", 0xFFFFFFFF81A17A09)


def test_stream_and_bad_bytes() -> None:
    # a byte capstone cannot decode is gdb's (bad), and decoding goes on after it
    insns = list(decode(bytes.fromhex("c3" + "06" + "cc"), BASE))
    assert [i.text for i in insns] == ["ret    ", "(bad)  ", "int3   "]
    assert [i.address - BASE for i in insns] == [0, 1, 2]
    assert decode_one(b"", BASE) is None


def test_instruction_bounds_are_decodes() -> None:
    """instruction_bounds walks the bytes exactly as decode does: ud1 without operands, (bad) bytes."""
    code = bytes.fromhex("55" "4889e5" "e8fbffffff" "0fb9cc" "c3" "06" "cc" "0fb9")
    assert list(instruction_bounds(code, 0x1000)) == [(i.address, i.size) for i in decode(code, 0x1000)]
