"""The C expression language without a dump: gdb's lexer, parser and evaluation rules on synthetic types."""

from __future__ import annotations

import pytest

from crashpy.errors import CrashpyError
from crashpy.expr import GdbError
from crashpy.expr.evaluator import BUILTIN_TYPES, Evaluator, Scope, ValueHistory, expression_type
from crashpy.expr.lexer import parse_number, tokenize
from crashpy.expr.parser import Binary, Cast, Member, Num, Parser, SizeofType, TypeExpr, Unary
from crashpy.object import Object, ObjectError, pointer_to
from crashpy.types.model import (
    ArrayType,
    EnumType,
    IntType,
    PointerType,
    StructType,
    Type,
    TypedefType,
    TypeKind,
)
from crashpy.types.model import (
    Member as TMember,
)
from crashpy.types.typeprint import type_to_string

# ---------------------------------------------------------------------------------------------------------
# A small synthetic kernel: struct list_head, struct item { int id; char name[8]; struct list_head node; }

INT = BUILTIN_TYPES["int"]
CHAR = BUILTIN_TYPES["char"]
ULONG = IntType("long unsigned int", 8, False)


def _types() -> dict[str, Type]:
    lh = StructType(TypeKind.STRUCT, "list_head", 16, [])
    lh._members = [TMember("next", PointerType(lh), 0), TMember("prev", PointerType(lh), 64)]
    color = EnumType("color", 4, False, {"RED": 0, "GREEN": 1, "BLUE": 2})
    item = StructType(
        TypeKind.STRUCT,
        "item",
        40,
        [
            TMember("id", INT, 0),
            TMember("name", ArrayType(CHAR, 8), 32),
            TMember("node", lh, 128),
            TMember("color", color, 256),
            TMember("flag", IntType("unsigned int", 4, False), 288, 3),
        ],
    )
    return {
        "struct list_head": lh,
        "struct item": item,
        "enum color": color,
        "pid_t": TypedefType("pid_t", INT),
        "color": color,
    }


class FakeScope(Scope):
    """Names for the synthetic kernel: `items` (struct item[2]) at 0x1000 and `count` (int) at 0x2000."""

    def __init__(self) -> None:
        self.memory = bytearray(0x3000)
        super().__init__(_Mem(self.memory))  # type: ignore[arg-type]
        self.t = _types()
        # items[0]: id 7, name "abc", node.next -> &items[1].node; items[1]: id -3
        self.memory[0x1000:0x1004] = (7).to_bytes(4, "little")
        self.memory[0x1004:0x1007] = b"abc"
        self.memory[0x1010:0x1018] = (0x1000 + 40 + 16).to_bytes(8, "little")
        self.memory[0x1020:0x1024] = (2).to_bytes(4, "little")
        self.memory[0x1024:0x1028] = (5).to_bytes(4, "little")  # flag : 3 -> 5
        self.memory[0x1028:0x102C] = (-3 & 0xFFFFFFFF).to_bytes(4, "little")
        self.memory[0x2000:0x2004] = (42).to_bytes(4, "little")

    def is_typename(self, name: str) -> bool:
        return name == "pid_t"

    def lookup_typedef(self, name: str) -> Type:
        return self.t[name]

    def lookup_tagged(self, kind: str, name: str) -> Type:
        t = self.t.get(f"{kind} {name}")
        if t is None:
            raise GdbError(f"No {kind} type named {name}.")
        return t

    def value_of_name(self, name: str) -> Object:
        if name == "items":
            return Object(self.prog, ArrayType(self.t["struct item"], 2), 0x1000)
        if name == "count":
            return Object(self.prog, INT, 0x2000)
        if name in ("RED", "GREEN", "BLUE"):
            e = self.t["enum color"]
            assert isinstance(e, EnumType)
            return Object(None, e, None, e.enumerators[name])
        raise GdbError(f'No symbol "{name}" in current context.')


class _Mem:
    """Enough of a Program for Object reads."""

    def __init__(self, memory: bytearray) -> None:
        self.memory = memory

    def read(self, addr: int, size: int, *args: object, **kw: object) -> bytes:
        from crashpy.errors import FaultError

        if addr < 0x1000 or addr + size > len(self.memory):
            raise FaultError(addr)
        return bytes(self.memory[addr : addr + size])


@pytest.fixture()
def scope() -> FakeScope:
    return FakeScope()


def ev(scope: FakeScope, text: str, history: ValueHistory | None = None) -> Object:
    return Evaluator(scope, history).evaluate(Parser(text, scope).parse())


def val(scope: FakeScope, text: str) -> tuple[int | float | bytes, str]:
    o = ev(scope, text)
    return o.value_(), type_to_string(o.type_)


# ---------------------------------------------------------------------------------------------------------
# Lexer


@pytest.mark.parametrize(
    "text,value,tname",
    [
        ("0", 0, "int"),
        ("505", 505, "int"),
        ("0x1f9", 505, "int"),
        ("017", 15, "int"),
        ("2147483647", 2147483647, "int"),
        ("2147483648", 2147483648, "unsigned int"),
        ("4294967295", 4294967295, "unsigned int"),
        ("4294967296", 4294967296, "long"),
        ("0xffffffff82a1aa40", 0xFFFFFFFF82A1AA40, "unsigned long"),
        ("1u", 1, "unsigned int"),
        ("1UL", 1, "unsigned long"),
        ("1ll", 1, "long long"),
        ("0t10", 10, "int"),
        ("0b101", 5, "int"),
    ],
)
def test_parse_number(text: str, value: int, tname: str) -> None:
    assert parse_number(text) == (value, tname)


@pytest.mark.parametrize("text", ["08", "0x1g", "12abc", "1lu2"])
def test_invalid_numbers(text: str) -> None:
    with pytest.raises(GdbError, match=f'Invalid number "{text}"'):
        parse_number(text)


def test_tokens() -> None:
    toks = tokenize("init_task.tasks->next[1] + 'a' - \"x\\n\" >>= $$2")
    assert [t.text for t in toks] == [
        "init_task", ".", "tasks", "->", "next", "[", "1", "]", "+", "'a'", "-", '"x\\n"', ">>=", "$$2", "",
    ]  # fmt: skip
    assert toks[9].value == 97
    assert toks[11].value == b"x\n"
    with pytest.raises(GdbError, match="Invalid character '#' in expression."):
        tokenize("1 # 2")
    with pytest.raises(GdbError, match="Unterminated string in expression."):
        tokenize('"abc')
    with pytest.raises(GdbError, match="Empty character constant."):
        tokenize("''")


# ---------------------------------------------------------------------------------------------------------
# Parser


def test_precedence(scope: FakeScope) -> None:
    node = Parser("1 + 2 * 3 << 1", scope).parse()
    assert isinstance(node, Binary) and node.op == "<<"
    assert isinstance(node.lhs, Binary) and node.lhs.op == "+"
    node = Parser("(struct item *)0x1000->id", scope).parse()
    assert isinstance(node, Cast) and isinstance(node.operand, Member)  # postfix binds tighter than a cast
    node = Parser("-*&count", scope).parse()
    assert isinstance(node, Unary) and node.op == "-"
    assert isinstance(Parser("sizeof(struct item)", scope).parse(), SizeofType)
    assert isinstance(Parser("struct item *", scope).parse(), TypeExpr)
    assert isinstance(Parser("pid_t", scope).parse(), TypeExpr)
    assert isinstance(Parser("(1)", scope).parse(), Num)


@pytest.mark.parametrize(
    "text,near",
    [("1 +", ""), ("1 2", "2"), ("count )", ")"), ("(1", ""), ("items[", ""), ("struct", "")],
)
def test_syntax_errors(scope: FakeScope, text: str, near: str) -> None:
    with pytest.raises(GdbError) as e:
        Parser(text, scope).parse()
    assert str(e.value) == f"A syntax error in expression, near `{near}'."


def test_type_names(scope: FakeScope) -> None:
    def spell(text: str) -> str:
        return type_to_string(Parser(text, scope).parse_type_only())

    assert spell("unsigned long") == "unsigned long"
    assert spell("long unsigned int") == "unsigned long"
    assert spell("const char *") == "const char *"
    assert spell("char *const") == "char * const"
    assert spell("struct item *[4]") == "struct item *[4]"
    assert spell("struct item (*)[4]") == "struct item (*)[4]"
    assert spell("int (*)(int, char *)") == "int (*)(int, char *)"
    assert spell("void (*)(void)") == "void (*)(void)"
    assert spell("pid_t") == "pid_t"
    with pytest.raises(GdbError, match="No struct type named nosuch."):
        spell("struct nosuch")


# ---------------------------------------------------------------------------------------------------------
# Evaluation


@pytest.mark.parametrize(
    "text,value,tname",
    [
        ("1 + 2 * 3", 7, "int"),
        ("0x7fffffff + 1", -2147483648, "int"),
        ("0xffffffff + 1", 0, "unsigned int"),
        ("1 << 40", 0, "int"),
        ("1L << 40", 1 << 40, "long"),
        ("-7 / 2", -3, "int"),
        ("-7 % 2", -1, "int"),
        ("10 / 3", 3, "int"),
        ("(char)65", 65, "char"),
        ("'A' + 1", 66, "int"),
        ("(unsigned char)-1", 255, "unsigned char"),
        ("~0", -1, "int"),
        ("!5", 0, "int"),
        ("3 > 2 && 1", 1, "int"),
        ("1 ? 2 : 3", 2, "int"),
        ("-1 < 0u", 0, "int"),
        ("sizeof(struct item)", 40, "int"),
        ("sizeof(long)", 8, "int"),
        ("sizeof items", 80, "int"),
        ("count", 42, "int"),
        ("count * 2", 84, "int"),
        ("items[1].id", -3, "int"),
        ("items->id", 7, "int"),
        ("items[0].flag", 5, "unsigned int"),
        ("(long)&items[1]", 0x1000 + 40, "long"),
        ("&items[1] - &items[0]", 1, "long"),
        ("(char *)&items[1] - (char *)items", 40, "long"),
        ("*(int *)0x2000", 42, "int"),
        ("*0x2000", 42, "int"),
        ("{int} 0x2000", 42, "int"),
        ("items[0].node.next->next", 0, "struct list_head *"),
        ("((struct item *)((char *)items[0].node.next - 16))->id", -3, "int"),
        ("GREEN", 1, "enum color"),
        ("(enum color)2", 2, "enum color"),
        ("GREEN + 1", 2, "unsigned int"),
        ("1.5 * 2", 3.0, "double"),
    ],
)
def test_values(scope: FakeScope, text: str, value: int | float, tname: str) -> None:
    assert val(scope, text) == (value, tname)


def test_pointer_arithmetic(scope: FakeScope) -> None:
    o = ev(scope, "&items[0] + 1")
    assert o.value_() == 0x1000 + 40 and type_to_string(o.type_) == "struct item *"
    o = ev(scope, "items + 1")
    assert o.value_() == 0x1000 + 40
    o = ev(scope, "(void *)0x1000 + 3")
    assert o.value_() == 0x1003
    assert ev(scope, "items[0].name").value_() == b"abc\0\0\0\0\0"
    assert ev(scope, "*items[0].name@2").value_() == b"ab"


@pytest.mark.parametrize(
    "text,message",
    [
        ("nosuch", 'No symbol "nosuch" in current context.'),
        ("items[0].nosuch", "There is no member named nosuch."),
        ("count.id", "Attempt to extract a component of a value that is not a structure."),
        ("count->id", "Attempt to extract a component of a value that is not a structure pointer."),
        ("*items[0].id", "Cannot access memory at address 0x7"),  # `*` of an int reads an int there
        ("*(void *)0x1000", "Attempt to take contents of a non-pointer value."),
        ("&1", "Attempt to take address of value not located in memory."),
        ("&items[0].flag", "Attempt to take address of value not located in memory."),
        ("10 / 0", "Division by zero"),
        ("items[0].node & 1", "Argument to arithmetic operation not a number or boolean."),
        ("(void *)0 & 1", "Argument to arithmetic operation not a number or boolean."),
        ("count[1]", "cannot subscript something of type `int'"),
        ("count(1)", "You can't do that without a process to debug."),
        ("*(int *)0x100000", "Cannot access memory at address 0x100000"),
        ("pid_t", "Attempt to use a type name as an expression"),
        ("$1", "History has not yet reached $1."),
        ("$", "History is empty."),
    ],
)
def test_errors(scope: FakeScope, text: str, message: str) -> None:
    with pytest.raises(CrashpyError) as e:
        ev(scope, text).value_()
    assert str(e.value) == message


def test_history(scope: FakeScope) -> None:
    h = ValueHistory()
    assert h.record(ev(scope, "count")) == 1
    assert h.record(ev(scope, "items[1].id")) == 2
    assert ev(scope, "$1", h).value_() == 42
    assert ev(scope, "$", h).value_() == -3
    assert ev(scope, "$$", h).value_() == 42
    assert ev(scope, "$$1", h).value_() == 42
    assert ev(scope, "$2 + $1", h).value_() == 39
    # A recorded value keeps its contents and its address.
    scope.memory[0x2000] = 0
    assert ev(scope, "$1", h).value_() == 42
    assert ev(scope, "&$1", h).value_() == 0x2000


def test_expression_type_reads_nothing(scope: FakeScope) -> None:
    t = expression_type(scope, Parser("((struct item *)0x900000)->node.next->prev", scope).parse())
    assert type_to_string(t) == "struct list_head *"
    t = expression_type(scope, Parser("struct item", scope).parse())
    assert type_to_string(t) == "struct item"


def test_object_api() -> None:
    mem = FakeScope().memory
    items = Object(_Mem(mem), ArrayType(_types()["struct item"], 2), 0x1000)
    first = items[0]
    assert first.member_("id").value_() == 7
    assert first.id.value_() == 7
    assert first.name.string_() == b"abc"
    nxt = first.node.next
    assert nxt.value_() == 0x1000 + 56
    assert nxt.deref_().address_ == 0x1000 + 56
    # `.` follows pointers like gdb's
    assert nxt.member_("next").value_() == 0
    back = nxt.container_of_(_types()["struct item"], "node")
    assert back.value_() == 0x1000 + 40
    assert back.member_("id").value_() == -3
    assert first.address_of_().value_() == 0x1000
    assert first.flag.value_() == 5 and first.flag.bit_field_size_ == 3
    assert Object(None, INT, None, -1).cast_(ULONG).value_() == (1 << 64) - 1
    assert Object(None, pointer_to(INT), None, 0x2000).deref_().address_ == 0x2000
    with pytest.raises(ObjectError, match="There is no member named nope."):
        first.member_("nope")
