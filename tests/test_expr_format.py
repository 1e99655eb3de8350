"""gdb's value and type printing, and crash's edits of that text, on synthetic types and bytes."""

from __future__ import annotations

import pytest

from crashpy.expr.evaluator import BUILTIN_TYPES
from crashpy.expr.gdb import fgets_lines, process_gdb_output
from crashpy.expr.struct_members import parse_for_member, parse_for_member_extended
from crashpy.types.c_literals import char_literal, enum_text, printstr
from crashpy.types.model import (
    ArrayType,
    EnumType,
    FunctionType,
    IntType,
    Member,
    Parameter,
    PointerType,
    QualifiedType,
    StructType,
    TypedefType,
    TypeKind,
)
from crashpy.types.typeprint import TypePrinter, type_to_string, whatis_text
from crashpy.types.valprint import PrintOptions, ValuePrinter

INT = BUILTIN_TYPES["int"]
UINT = IntType("unsigned int", 4, False)
CHAR = IntType("char", 1, True, is_char=True)
U8 = TypedefType("u8", IntType("unsigned char", 1, False, is_char=True))
ULONG = IntType("long unsigned int", 8, False)
BOOL = IntType("_Bool", 1, False, is_bool=True)
VOID = BUILTIN_TYPES["void"]
OPTS = PrintOptions()


def list_head() -> StructType:
    lh = StructType(TypeKind.STRUCT, "list_head", 16, [])
    lh._members = [Member("next", PointerType(lh), 0), Member("prev", PointerType(lh), 64)]
    return lh


# ---------------------------------------------------------------------------------------------------------
# Types


def test_declarators() -> None:
    cc = QualifiedType(TypeKind.CONST, CHAR)
    fn = FunctionType(INT, [Parameter(None, PointerType(cc)), Parameter(None, ULONG)], variadic=True)
    assert type_to_string(PointerType(cc)) == "const char *"
    assert type_to_string(QualifiedType(TypeKind.CONST, PointerType(CHAR))) == "char * const"
    assert type_to_string(ULONG) == "unsigned long"
    assert type_to_string(fn) == "int (const char *, unsigned long, ...)"
    assert type_to_string(PointerType(fn)) == "int (*)(const char *, unsigned long, ...)"
    assert type_to_string(FunctionType(VOID, [])) == "void (void)"
    assert type_to_string(ArrayType(PointerType(CHAR), 4)) == "char *[4]"
    assert type_to_string(PointerType(ArrayType(CHAR, 16))) == "char (*)[16]"
    assert type_to_string(ArrayType(ArrayType(INT, 3), 2)) == "int [2][3]"
    assert type_to_string(ArrayType(U8, 0, is_flexible=True), "data") == "u8 data[]"
    assert type_to_string(PointerType(fn), "fp") == "int (*fp)(const char *, unsigned long, ...)"
    assert type_to_string(PointerType(PointerType(VOID))) == "void **"


def sample_struct() -> StructType:
    lh = list_head()
    anon = StructType(TypeKind.UNION, None, 8, [Member("a", ULONG, 0), Member("b", PointerType(VOID), 0)])
    color = EnumType("color", 4, False, {"RED": 0, "GREEN": 1, "BLUE": 4})
    fn = FunctionType(VOID, [Parameter("x", PointerType(lh))])
    return StructType(
        TypeKind.STRUCT,
        "sample",
        64,
        [
            Member("id", INT, 0),
            Member("flag", UINT, 32, 1),
            Member("mode", UINT, 33, 3),
            Member("node", lh, 64),
            Member(None, anon, 192),
            Member("name", ArrayType(CHAR, 8), 256),
            Member("color", color, 320),
            Member("func", PointerType(fn), 384),
            Member("ok", BOOL, 448),
        ],
    )


def test_ptype_struct() -> None:
    st = sample_struct()
    assert whatis_text(st, 1) == (
        "type = struct sample {\n"
        "    int id;\n"
        "    unsigned int flag : 1;\n"
        "    unsigned int mode : 3;\n"
        "    struct list_head node;\n"
        "    union {\n"
        "        unsigned long a;\n"
        "        void *b;\n"
        "    };\n"
        "    char name[8];\n"
        "    enum color color;\n"
        "    void (*func)(struct list_head *);\n"
        "    _Bool ok;\n"
        "}\n"
    )
    assert whatis_text(st, -1) == "type = struct sample\n"
    assert whatis_text(PointerType(list_head()), 1) == (
        "type = struct list_head {\n    struct list_head *next;\n    struct list_head *prev;\n} *\n"
    )
    color = EnumType("color", 4, False, {"RED": 0, "GREEN": 1, "BLUE": 4})
    assert whatis_text(color, 1) == "type = enum color {RED, GREEN, BLUE = 4}\n"
    anon_enum = EnumType(None, 4, False, {"A": 0})
    assert whatis_text(anon_enum, -1) == "type = enum {...}\n"


def test_ptype_offsets() -> None:
    # What gdb 10 prints for `ptype /o struct list_head` (checked against crash 8.0.6's gdb).
    assert whatis_text(list_head(), 1, offsets=True) == (
        "/* offset    |  size */  type = struct list_head {\n"
        "/*    0      |     8 */    struct list_head *next;\n"
        "/*    8      |     8 */    struct list_head *prev;\n"
        "\n"
        "                           /* total size (bytes):   16 */\n"
        "                         }\n"
    )
    hole = StructType(TypeKind.STRUCT, "h", 16, [Member("c", CHAR, 0), Member("f", UINT, 32, 3), Member("l", ULONG, 64)])
    text = TypePrinter(offsets=True).print_type(hole, "", 1)
    assert "/* XXX  3-byte hole  */\n" in text
    assert "/*    4: 0   |     4 */    unsigned int f : 3;\n" in text


# ---------------------------------------------------------------------------------------------------------
# Values


def sample_bytes() -> bytes:
    b = bytearray(64)
    b[0:4] = (-5 & 0xFFFFFFFF).to_bytes(4, "little")
    b[4] = 0b1011  # flag 1, mode 5
    b[8:16] = (0xFFFF888003DFB890).to_bytes(8, "little")
    b[16:24] = (0).to_bytes(8, "little")
    b[24:32] = (0x1234).to_bytes(8, "little")
    b[32:37] = b"ab\n\x01"
    b[40:44] = (4).to_bytes(4, "little")
    b[48:56] = (0xFFFFFFFF81000000).to_bytes(8, "little")
    b[56] = 1
    return bytes(b)


def test_struct_value() -> None:
    text = ValuePrinter(None).value_print(sample_struct(), sample_bytes(), 0x1000, OPTS)
    assert text == (
        "{\n"
        "  id = -5,\n"
        "  flag = 1,\n"
        "  mode = 5,\n"
        "  node = {\n"
        "    next = 0xffff888003dfb890,\n"
        "    prev = 0x0\n"
        "  },\n"
        "  {\n"
        "    a = 4660,\n"
        "    b = 0x1234\n"
        "  },\n"
        '  name = "ab\\n\\001\\000\\000\\000",\n'
        "  color = BLUE,\n"
        "  func = 0xffffffff81000000,\n"
        "  ok = true\n"
        "}"
    )
    hexed = ValuePrinter(None).value_print(sample_struct(), sample_bytes(), 0x1000, PrintOptions(output_format="x"))
    assert "  id = 0xfffffffb,\n" in hexed and '  name = "ab\\n\\001' in hexed and "  color = BLUE," in hexed
    slash_x = ValuePrinter(None).value_print(sample_struct(), sample_bytes(), 0x1000, PrintOptions(format="x"))
    assert "  name = {0x61, 0x62, 0xa, 0x1, 0x0, 0x0, 0x0, 0x0},\n" in slash_x
    assert "  color = 0x4,\n" in slash_x and "  ok = 0x1\n" in slash_x


def test_arrays_and_pointers() -> None:
    p = ValuePrinter(None)
    lh = list_head()
    data = bytes(range(1, 33))
    text = p.value_print(ArrayType(lh, 2), data, None, OPTS)
    assert text == (
        "{{\n    next = 0x807060504030201,\n    prev = 0x100f0e0d0c0b0a09\n  }, {\n"
        "    next = 0x1817161514131211,\n    prev = 0x201f1e1d1c1b1a19\n  }}"
    )
    assert p.value_print(ArrayType(ULONG, 3), bytes(24), None, OPTS) == "{0, 0, 0}"
    many = p.value_print(ArrayType(INT, 300), bytes(1200), None, OPTS)
    assert many.count("0") == 256 and many.endswith("0...}")
    # A pointer at top level shows its type; a char * its string (read from memory).
    mem = {0x5000: b"hello\0"}
    reader = ValuePrinter(None, lambda a, n: mem[0x5000][a - 0x5000 : a - 0x5000 + n])
    cp = PointerType(CHAR)
    assert reader.value_print(cp, (0x5000).to_bytes(8, "little"), None, OPTS) == '0x5000 "hello"'
    assert p.value_print(PointerType(lh), (0x10).to_bytes(8, "little"), None, OPTS) == "(struct list_head *) 0x10"
    bad = p.value_print(cp, (0x6000).to_bytes(8, "little"), None, OPTS)
    assert bad == "0x6000 <error: Cannot access memory at address 0x6000>"


@pytest.mark.parametrize(
    "fmt,value,expected",
    [
        ("x", -1, "0xffffffff"),
        ("d", 3, "3"),
        ("u", -1, "4294967295"),
        ("o", 8, "010"),
        ("o", 0, "0"),
        ("t", 10, "1010"),
        ("t", 0, "0"),
        ("c", 65, "65 'A'"),
        ("z", 5, "0x00000005"),
        ("", -7, "-7"),
    ],
)
def test_formats(fmt: str, value: int, expected: str) -> None:
    data = (value & 0xFFFFFFFF).to_bytes(4, "little")
    assert ValuePrinter(None).value_print(INT, data, None, PrintOptions(format=fmt)) == expected


def test_strings_and_chars() -> None:
    assert printstr(b"swapper/0" + bytes(7), False, OPTS) == '"swapper/0' + "\\000" * 6 + '"'
    assert printstr(b"\x00", False, OPTS) == '""'
    assert printstr(b"a\x001b", False, OPTS) == '"a\\000\\061b"'  # a digit after an octal escape is escaped
    assert printstr(b'q"\\\x1b\xff', False, OPTS) == '"q\\"\\\\\\033\\377"'
    assert printstr(b"x" * 300, False, OPTS) == '"' + "x" * 300 + '"'  # one run of 300 counts once
    assert printstr(b"ab" * 200, False, OPTS) == '"' + "ab" * 128 + '"...'
    assert printstr(b"abc", True, OPTS) == '"abc"...'
    assert char_literal(0, False) == "'\\000'"
    assert char_literal(39, False) == "'\\''"
    assert char_literal(-1, False) == "'\\377'"


def test_enums() -> None:
    flags = EnumType("f", 4, False, {"A": 1, "B": 2, "C": 8})
    assert enum_text(flags, 2) == "B"
    assert enum_text(flags, 3) == "(A | B)"
    assert enum_text(flags, 0x13) == "(A | B | unknown: 0x10)"
    assert enum_text(flags, 0) == "0"
    plain = EnumType("p", 4, True, {"X": 0, "Y": 3})
    assert enum_text(plain, 7) == "7"


# ---------------------------------------------------------------------------------------------------------
# crash's edits of gdb's text

STRUCT_TEXT = """\
struct sample {
  id = 0,
  node = {
    next = 0x0,
    prev = 0x0
  },
  {
    a = 1,
    b = 0x1
  },
  pids = {{
      next = 0x0
    }, {
      next = 0x10
    }},
  name = "ab",
  se = {
    load = {
      weight = 5
    },
    id = 9
  }
}
"""


def test_parse_for_member() -> None:
    lines = fgets_lines(STRUCT_TEXT)
    assert parse_for_member(lines, "id") == "  id = 0,\n"
    assert parse_for_member(lines, "node") == "  node = {\n    next = 0x0,\n    prev = 0x0\n  },\n"
    assert parse_for_member(lines, "a") == "    a = 1,\n"
    assert parse_for_member(lines, "name") == '  name = "ab",\n'
    assert parse_for_member(lines, "nosuch") == ""


def test_parse_for_member_extended() -> None:
    lines = fgets_lines(STRUCT_TEXT)
    assert parse_for_member_extended(lines, "se.load") == "  se.load = {\n    weight = 5\n  },\n"
    assert parse_for_member_extended(lines, "se.load.weight") == "  se.load.weight = 5\n"
    assert parse_for_member_extended(lines, "pids[1]") == "  pids[1] =   {\n    next = 0x10\n  }\n"
    assert parse_for_member_extended(lines, "se.nosuch") is None


def test_process_gdb_output() -> None:
    assert process_gdb_output("$1 = 5\n", "x") == "x = $1 = 5\n"
    assert process_gdb_output("$2 = {1, 2}\n", "avenrun") == "avenrun = $2 = \n {1, 2}\n"
    assert process_gdb_output("$3 = {\n  a = 1\n}\n", "s") == "s = $3 = {\n  a = 1\n}\n"
    assert process_gdb_output("$4 = 1\n", None) == "$4 = 1\n"
    assert fgets_lines("x" * 3000 + "\n") == ["x" * 1499, "x" * 1499, "xx\n"]
