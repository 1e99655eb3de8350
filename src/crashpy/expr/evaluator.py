"""Evaluating gdb C expressions over a Program: symbols, types, memory, value history.

The rules are gdb 10's (eval.c, valarith.c, valops.c): C's usual arithmetic conversions with gdb's
builtin result types (binop_promote), pointer arithmetic scaled by the target's size, `*` of an
integer reads an int there, `.` and `->` both follow pointers, casts reinterpret same-sized values,
comparisons give an int. Errors are gdb's words (GdbError).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from crashpy.bits import MASK64
from crashpy.errors import CrashpyError, FaultError
from crashpy.expr import parser as P
from crashpy.expr.errors import GdbError, UnknownSymbolType
from crashpy.expr.nodebug import NODEBUG_DATA, NoDebugDataType, NoDebugTextType
from crashpy.object import (
    Object,
    ObjectError,
    ObjectReadError,
    find_type,
    function_type,
    module_variable,
    pointer_to,
    resolve,
    sizeof,
    variable_type,
)
from crashpy.types.model import (
    ArrayType,
    EnumType,
    FloatType,
    IntType,
    PointerType,
    StructType,
    Type,
    TypeKind,
    VoidType,
)

if TYPE_CHECKING:
    from crashpy.program import Program


# gdb's builtin C types, by gdb's names.
BUILTIN_TYPES: dict[str, Type] = {
    "char": IntType("char", 1, True, is_char=True),
    "signed char": IntType("signed char", 1, True, is_char=True),
    "unsigned char": IntType("unsigned char", 1, False, is_char=True),
    "short": IntType("short", 2, True),
    "unsigned short": IntType("unsigned short", 2, False),
    "int": IntType("int", 4, True),
    "unsigned int": IntType("unsigned int", 4, False),
    "long": IntType("long", 8, True),
    "unsigned long": IntType("unsigned long", 8, False),
    "long long": IntType("long long", 8, True),
    "unsigned long long": IntType("unsigned long long", 8, False),
    "_Bool": IntType("_Bool", 1, False, is_bool=True),
    "float": FloatType("float", 4),
    "double": FloatType("double", 8),
    "long double": FloatType("long double", 16),
    "void": VoidType(),
}
INT = BUILTIN_TYPES["int"]
LONG = BUILTIN_TYPES["long"]


# ---------------------------------------------------------------------------------------------------------
# Value history


class ValueHistory:
    """gdb's value history: `$1`, `$2`, ...; `$` is the last value, `$$` the one before, `$$n` n back."""

    def __init__(self) -> None:
        self.values: list[Object] = []

    def record(self, obj: Object) -> int:
        """Keep a snapshot of `obj` (its bytes now, its address) and return its number."""
        try:
            snap = obj.read_() if obj.address_ is not None and obj.bit_field_size_ is None else obj
        except FaultError:
            snap = obj
        self.values.append(snap)
        return len(self.values)

    def get(self, num: int) -> Object:
        """$num (absolute, from 1); 0 or less count back from the last value."""
        n = len(self.values)
        if num <= 0:
            back = -num
            num = n + num
            if num <= 0:
                if back == 0:
                    raise GdbError("History is empty.")
                if back == 1:
                    raise GdbError("There is only one value in the history.")
                raise GdbError(f"History does not go back to $${back}.")
        if num > n:
            raise GdbError(f"History has not yet reached ${num}.")
        return self.values[num - 1]


# ---------------------------------------------------------------------------------------------------------
# Names and types of a Program


class Scope:
    """What names mean in a Program: variables, functions, enumerators, typedefs and tagged types."""

    def __init__(self, prog: Program | None) -> None:
        self.prog = prog

    # TypeResolver
    def _btf(self):  # type: ignore[no-untyped-def]
        if self.prog is None:
            return None
        try:
            return self.prog.btf
        except CrashpyError:
            return None

    def is_typename(self, name: str) -> bool:
        btf = self._btf()
        if btf is None:
            return False
        if (
            btf.find(name, "typedef") is None
            and btf.find(name, "int") is None
            and btf.find(name, "float") is None
        ):
            return self._is_module_typedef(name)
        # A variable of the same name wins, as gdb's symbol lookup finds it first.
        return not self._has_variable(name)

    def _is_module_typedef(self, name: str) -> bool:
        """A typedef only a loaded module defines (its DWARF, mod -s, or its BTF in the dump); asked
        only for a name that is no kernel symbol nor enumerator, so that `p jiffies` reads no module."""
        prog = self.prog
        if prog is None or prog.symbols.lookup(name) is not None or name in self.enumerators():
            return False
        if module_variable(prog, name) is not None:
            return False
        return find_type(prog, name, "typedef") is not None

    def _has_variable(self, name: str) -> bool:
        prog = self.prog
        if prog is not None and prog.symbols.lookup(name) is None and module_variable(prog, name) is not None:
            return True
        if prog is None or prog.symbols.lookup(name) is None:
            return False
        return variable_type(prog, name) is not None

    def lookup_typedef(self, name: str) -> Type:
        btf = self._btf()
        t = None
        if btf is not None:
            t = btf.find(name, "typedef") or btf.find(name, "int") or btf.find(name, "float")
        if t is None and self.prog is not None:
            t = find_type(self.prog, name, "typedef")  # a loaded module's (mod -s)
        if t is None:
            raise GdbError(f'No symbol "{name}" in current context.')
        return t  # type: ignore[no-any-return]

    def lookup_tagged(self, kind: str, name: str) -> Type:
        btf = self._btf()
        t = btf.find(name, kind) if btf is not None else None
        if t is None and self.prog is not None:
            t = find_type(self.prog, name, kind)  # a loaded module's (mod -s)
        if t is None:
            raise GdbError(f"No {kind} type named {name}.")
        return t  # type: ignore[no-any-return]

    def builtin(self, name: str) -> Type:
        return BUILTIN_TYPES[name]

    # Names as values
    def enumerators(self) -> dict[str, tuple[EnumType, int]]:
        """Every enumerator of the kernel's enums (built once per Program)."""
        prog = self.prog
        if prog is None:
            return {}
        return prog.cache("expr_enumerators", lambda: _enumerator_index(self._btf()))  # type: ignore[no-any-return]

    def value_of_name(self, name: str) -> Object:
        prog = self.prog
        sym = prog.symbols.lookup(name) if prog is not None else None
        if prog is not None and sym is not None:
            t = variable_type(prog, name)
            if t is None and sym.type in "TtWw":
                t = function_type(prog, name)
                if t is None:
                    t = NoDebugTextType()
            if t is not None:
                return Object(prog, t, sym.address)
        if prog is not None and sym is None:
            found = module_variable(prog, name)  # a loaded module's variable (mod -s)
            if found is not None:
                return Object(prog, found[1], found[0])
        hit = self.enumerators().get(name)
        if hit is not None:
            et, v = hit
            return Object(prog, et, None, v)
        if sym is not None:
            raise UnknownSymbolType(name)
        if self.is_typename(name):
            raise GdbError("Attempt to use a type name as an expression")
        raise GdbError(f'No symbol "{name}" in current context.')


def _enumerator_index(btf) -> dict[str, tuple[EnumType, int]]:  # type: ignore[no-untyped-def]
    out: dict[str, tuple[EnumType, int]] = {}
    if btf is None:
        return out
    from crashpy.types.btf import KIND_ENUM, KIND_ENUM64

    for tid in range(1, btf.n_types):
        try:
            k = btf.raw_kind(tid)
        except CrashpyError:  # a type the BTF cannot describe: not an enum
            continue
        if k not in (KIND_ENUM, KIND_ENUM64):
            continue
        t = btf.by_id(tid)
        if isinstance(t, EnumType):
            for name, v in t.enumerators.items():
                out.setdefault(name, (t, v))
    return out


# ---------------------------------------------------------------------------------------------------------
# The evaluator


def _code(t: Type) -> TypeKind:
    return resolve(t).kind


def _is_integral(t: Type) -> bool:
    return _code(t) in (TypeKind.INT, TypeKind.ENUM)


def _is_unsigned(t: Type) -> bool:
    r = resolve(t)
    if isinstance(r, IntType):
        return not r.signed or r.is_bool
    if isinstance(r, EnumType):
        return all(v >= 0 for v in r.enumerators.values())
    return r.kind is TypeKind.POINTER


def _signed_value(v: int, size: int, unsigned: bool) -> int:
    v &= (1 << (8 * size)) - 1
    if not unsigned and v >> (8 * size - 1):
        v -= 1 << (8 * size)
    return v


def _int_result_type(len1: int, uns1: bool, len2: int, uns2: bool) -> Type:
    """binop_promote for two integral operands (C rules, gdb's builtin result types)."""
    if len1 < 4:
        len1, uns1 = 4, False
    if len2 < 4:
        len2, uns2 = 4, False
    if len1 > len2:
        uns, n = uns1, len1
    elif len2 > len1:
        uns, n = uns2, len2
    else:
        uns, n = uns1 or uns2, len1
    if n <= 4:
        return BUILTIN_TYPES["unsigned int" if uns else "int"]
    if n <= 8:
        return BUILTIN_TYPES["unsigned long" if uns else "long"]
    return BUILTIN_TYPES["unsigned long long" if uns else "long long"]


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


class Evaluator:
    """Evaluates a parsed expression. With `no_side_effects` (gdb's EVAL_AVOID_SIDE_EFFECTS, for
    whatis/ptype/sizeof) memory that cannot be read is taken as zeros."""

    def __init__(
        self,
        scope: Scope,
        history: ValueHistory | None = None,
        no_side_effects: bool = False,
    ) -> None:
        self.scope = scope
        self.prog = scope.prog
        self.history = history or ValueHistory()
        self.no_side_effects = no_side_effects

    def evaluate(self, node: P.Node) -> Object:
        try:
            return self._eval(node)
        except RecursionError:
            raise GdbError("memory exhausted") from None
        except ObjectReadError as e:
            raise GdbError(e.message()) from None
        except ObjectError as e:
            raise GdbError(str(e)) from None

    # -- helpers -----------------------------------------------------------------------------------------

    def _int(self, t: Type, v: int) -> Object:
        return Object(self.prog, t, None, v)

    def _value(self, o: Object) -> int | float:
        """value_as_long / value_as_double of a scalar."""
        try:
            v = o.value_()
        except ObjectReadError:
            if self.no_side_effects:
                return 0
            raise
        if isinstance(v, bytes):
            raise GdbError("Value can't be converted to integer.")
        if v is None:
            return 0
        return v  # type: ignore[no-any-return]

    def _long(self, o: Object) -> int:
        c = _code(o.type_)
        if c in (TypeKind.STRUCT, TypeKind.UNION, TypeKind.ARRAY):
            raise GdbError("Value can't be converted to integer.")
        if c is TypeKind.FUNCTION:
            return o.address_ or 0
        v = self._value(o)
        return int(v)

    def _coerce_array(self, o: Object) -> Object:
        """C's array-to-pointer and function-to-pointer conversions."""
        c = _code(o.type_)
        if c is TypeKind.ARRAY:
            if o.address_ is None:
                raise GdbError("Attempt to take address of value not located in memory.")
            elt = resolve(o.type_)
            assert isinstance(elt, ArrayType)
            return Object(self.prog, pointer_to(elt.element), None, o.address_)
        if c is TypeKind.FUNCTION:
            return Object(self.prog, pointer_to(o.type_), None, o.address_ or 0)
        return o

    def _truth(self, o: Object) -> bool:
        o = self._coerce_array(o)
        c = _code(o.type_)
        if c in (TypeKind.STRUCT, TypeKind.UNION):
            raise GdbError("Argument to arithmetic operation not a number or boolean.")
        return bool(self._value(o))

    # -- nodes -------------------------------------------------------------------------------------------

    def _eval(self, node: P.Node) -> Object:
        method: Callable[[P.Node], Object] | None = getattr(self, "_eval_" + type(node).__name__, None)
        if method is None:
            raise GdbError("unsupported expression")
        return method(node)

    def _eval_Num(self, n: P.Num) -> Object:
        return self._int(BUILTIN_TYPES[n.type_name], n.value)

    def _eval_FloatLit(self, n: P.FloatLit) -> Object:
        return Object(self.prog, BUILTIN_TYPES["double"], None, n.value)

    def _eval_CharLit(self, n: P.CharLit) -> Object:
        return self._int(BUILTIN_TYPES["char"], n.value)

    def _eval_StringLit(self, n: P.StringLit) -> Object:
        data = n.value + b"\0"
        return Object(self.prog, ArrayType(BUILTIN_TYPES["char"], len(data)), None, data)

    def _eval_Name(self, n: P.Name) -> Object:
        return self.scope.value_of_name(n.name)

    def _eval_Dollar(self, n: P.Dollar) -> Object:
        text = n.text
        if text == "$":
            return self.history.get(0)
        if text == "$$":
            return self.history.get(-1)
        if text.startswith("$$") and text[2:].isdigit():
            return self.history.get(-int(text[2:]))
        if text[1:].isdigit():
            return self.history.get(int(text[1:]))
        return Object(None, BUILTIN_TYPES["void"], value=b"")

    def _eval_TypeExpr(self, n: P.TypeExpr) -> Object:
        raise GdbError("Attempt to use a type name as an expression")

    def _eval_Comma(self, n: P.Comma) -> Object:
        self._eval(n.lhs)
        return self._eval(n.rhs)

    def _eval_Assign(self, n: P.Assign) -> Object:
        raise GdbError("Left operand of assignment is not a modifiable lvalue.")

    def _eval_Call(self, n: P.Call) -> Object:
        raise GdbError("You can't do that without a process to debug.")

    def _eval_SizeofType(self, n: P.SizeofType) -> Object:
        t = resolve(n.type)
        if t.kind is TypeKind.VOID:
            return self._int(INT, 1)
        return self._int(INT, sizeof(n.type))

    def _eval_AlignofType(self, n: P.AlignofType) -> Object:
        return self._int(INT, _alignof(n.type))

    def _eval_SizeofExpr(self, n: P.SizeofExpr) -> Object:
        inner = Evaluator(self.scope, self.history, True)
        if isinstance(n.operand, P.Unary) and n.operand.op == "*":
            o = inner._eval(n.operand.operand)
            r = resolve(o.type_)
            if isinstance(r, PointerType):
                return self._int(INT, sizeof(r.target))
            if isinstance(r, ArrayType):
                return self._int(INT, sizeof(r.element))
            if r.kind is TypeKind.INT:
                return self._int(INT, 4)
            raise GdbError("Attempt to take contents of a non-pointer value.")
        o = inner._eval(n.operand)
        return self._int(INT, sizeof(o.type_))

    def _eval_Ternary(self, n: P.Ternary) -> Object:
        return self._eval(n.then) if self._truth(self._eval(n.cond)) else self._eval(n.other)

    def _typeless_data(self, node: P.Node) -> int | None:
        """The address of a data symbol nothing gives a type for, when `node` names one."""
        prog = self.prog
        if prog is None or not isinstance(node, P.Name) or not hasattr(prog, "symbols"):
            return None  # no program, or a stand-in without symbols
        sym = prog.symbols.lookup(node.name)
        if sym is None or sym.type in "TtWw" or variable_type(prog, node.name) is not None:
            return None
        return sym.address

    def _eval_Cast(self, n: P.Cast) -> Object:
        addr = self._typeless_data(n.operand)
        if addr is not None:  # gdb reads a no-debug-info variable as the type it is cast to
            return Object(self.prog, n.type, addr)
        return self.cast(self._eval(n.operand), n.type)

    def _eval_MemVal(self, n: P.MemVal) -> Object:
        o = self._eval(n.operand)
        return Object(self.prog, n.type, self._long(self._coerce_array(o)) & MASK64)

    def _eval_Member(self, n: P.Member) -> Object:
        o = self._coerce_array_for_member(self._eval(n.obj))
        r = resolve(o.type_)
        for _ in range(8):
            if r.kind is not TypeKind.POINTER:
                break
            o = self._deref(o)
            r = resolve(o.type_)
        if not isinstance(r, StructType):
            what = "structure pointer" if n.arrow else "structure"
            raise GdbError(f"Attempt to extract a component of a value that is not a {what}.")
        return o.member_(n.name)

    def _coerce_array_for_member(self, o: Object) -> Object:
        if _code(o.type_) is TypeKind.ARRAY:
            return self._coerce_array(o)
        return o

    def _eval_Index(self, n: P.Index) -> Object:
        base = self._eval(n.obj)
        idx = self._eval(n.index)
        r = resolve(base.type_)
        if r.kind not in (TypeKind.ARRAY, TypeKind.POINTER):
            name = base.type_.name if base.type_.kind not in (TypeKind.POINTER, TypeKind.ARRAY) else None
            if name:
                raise GdbError(f"cannot subscript something of type `{base.type_.type_name()}'")
            raise GdbError("cannot subscript requested type")
        i = self._long(idx)
        if isinstance(r, ArrayType) and base.address_ is None:
            if not 0 <= i < r.length:
                raise GdbError("no such vector element")
            return base.index_(i)
        return self._deref(self._ptradd(self._coerce_array(base), i))

    def _eval_Unary(self, n: P.Unary) -> Object:
        op = n.op
        if op == "&":
            return self._address_of(n.operand)
        o = self._eval(n.operand)
        if op == "*":
            if _code(o.type_) is TypeKind.INT:
                return Object(self.prog, INT, self._long(o) & MASK64)
            return self._deref(o)
        if op in ("pre++", "pre--", "post++", "post--"):
            raise GdbError("Left operand of assignment is not a modifiable lvalue.")
        if op == "!":
            return self._int(INT, 0 if self._truth(o) else 1)
        o = self._coerce_array(o)
        c = _code(o.type_)
        if c is TypeKind.FLOAT:
            v = self._value(o)
            if op == "~":
                raise GdbError("Argument to complement operation not an integer, boolean.")
            return Object(self.prog, o.type_, None, -v if op == "-" else v)
        if c not in (TypeKind.INT, TypeKind.ENUM):
            if op == "~":
                raise GdbError("Argument to complement operation not an integer, boolean.")
            raise GdbError("Argument to arithmetic operation not a number or boolean.")
        t = o.type_
        size = sizeof(t)
        uns = _is_unsigned(t)
        if size < 4:
            t, size, uns = INT, 4, False
        elif (
            _code(t) is TypeKind.ENUM
            or resolve(t).kind is TypeKind.INT
            and getattr(resolve(t), "is_bool", False)
        ):
            t = _int_result_type(size, uns, size, uns)
        v = self._long(o)
        if op == "-":
            v = -v
        elif op == "~":
            v = ~v
        return self._int(t, _signed_value(v, size, uns))

    def _address_of(self, node: P.Node) -> Object:
        addr = self._typeless_data(node)
        if addr is not None:
            return Object(self.prog, pointer_to(NODEBUG_DATA), None, addr)
        if isinstance(node, P.Unary) and node.op == "*":
            inner = self._coerce_array(self._eval(node.operand))
            if _code(inner.type_) is TypeKind.POINTER:
                return inner
        o = self._eval(node)
        c = _code(o.type_)
        if c is TypeKind.FUNCTION:
            return Object(self.prog, pointer_to(o.type_), None, o.address_ or 0)
        if o.address_ is None or o.bit_field_size_ is not None:
            raise GdbError("Attempt to take address of value not located in memory.")
        return Object(self.prog, pointer_to(o.type_), None, o.address_)

    def _deref(self, o: Object) -> Object:
        o = self._coerce_array(o)
        r = resolve(o.type_)
        if not isinstance(r, PointerType):
            raise GdbError("Attempt to take contents of a non-pointer value.")
        target = r.target
        tc = _code(target)
        if tc is TypeKind.VOID:
            raise GdbError("Attempt to take contents of a non-pointer value.")
        addr = self._long(o) & MASK64
        if tc is TypeKind.FUNCTION:
            return Object(self.prog, target, addr)
        return Object(self.prog, target, addr)

    def _ptradd(self, p: Object, n: int) -> Object:
        r = resolve(p.type_)
        assert isinstance(r, PointerType)
        tc = _code(r.target)
        if tc in (TypeKind.VOID, TypeKind.FUNCTION):
            size = 1
        else:
            size = sizeof(r.target)
            if size == 0:
                raise GdbError(
                    f'Cannot perform pointer math on incomplete type "{r.target.type_name()}", '
                    "try casting to a known type, or void *."
                )
        return Object(self.prog, p.type_, None, (self._long(p) + n * size) & MASK64)

    # -- binary operators ----------------------------------------------------------------------------------

    def _eval_Binary(self, n: P.Binary) -> Object:
        op = n.op
        if op == "&&":
            a = self._eval(n.lhs)
            if not self._truth(a):
                return self._int(INT, 0)
            return self._int(INT, 1 if self._truth(self._eval(n.rhs)) else 0)
        if op == "||":
            a = self._eval(n.lhs)
            if self._truth(a):
                return self._int(INT, 1)
            return self._int(INT, 1 if self._truth(self._eval(n.rhs)) else 0)
        a = self._eval(n.lhs)
        b = self._eval(n.rhs)
        return self.binop(op, a, b)

    def binop(self, op: str, a: Object, b: Object) -> Object:
        if op == "@":
            return self._repeat(a, b)
        ca, cb = _code(a.type_), _code(b.type_)
        ptr_a = ca in (TypeKind.POINTER, TypeKind.ARRAY)
        ptr_b = cb in (TypeKind.POINTER, TypeKind.ARRAY)
        if op == "+":
            if ptr_a and _is_integral(b.type_):
                return self._ptradd(self._coerce_array(a), self._long(b))
            if ptr_b and _is_integral(a.type_):
                return self._ptradd(self._coerce_array(b), self._long(a))
        if op == "-":
            if ptr_a and ptr_b:
                pa, pb = self._coerce_array(a), self._coerce_array(b)
                ta = resolve(pa.type_).target
                tb = resolve(pb.type_).target
                sa, sb = sizeof(ta), sizeof(tb)
                if sa != sb:
                    raise GdbError(
                        "First argument of `-' is a pointer and second argument is neither\n"
                        "an integer nor a pointer of the same type."
                    )
                diff = _signed_value(self._long(pa) - self._long(pb), 8, False)
                return self._int(LONG, _trunc_div(diff, sa or 1))
            if ptr_a and _is_integral(b.type_):
                return self._ptradd(self._coerce_array(a), -self._long(b))
        if op in ("==", "!=", "<", ">", "<=", ">="):
            return self._compare(op, a, b)
        # value_binop: numbers only.
        for o in (a, b):
            if _code(o.type_) not in (TypeKind.INT, TypeKind.ENUM, TypeKind.FLOAT):
                raise GdbError("Argument to arithmetic operation not a number or boolean.")
        if TypeKind.FLOAT in (ca, cb):
            return self._float_binop(op, a, b)
        rt = _int_result_type(sizeof(a.type_), _is_unsigned(a.type_), sizeof(b.type_), _is_unsigned(b.type_))
        size = sizeof(rt)
        uns = _is_unsigned(rt)
        x = _signed_value(self._long(a), size, uns)
        y = _signed_value(self._long(b), size, uns)
        if op == "+":
            v = x + y
        elif op == "-":
            v = x - y
        elif op == "*":
            v = x * y
        elif op in ("/", "%"):
            if y == 0:
                raise GdbError("Division by zero")
            q = _trunc_div(x, y)
            v = q if op == "/" else x - q * y
        elif op == "&":
            v = x & y
        elif op == "|":
            v = x | y
        elif op == "^":
            v = x ^ y
        elif op == "<<":
            v = x << y if 0 <= y < 256 else 0
        elif op == ">>":
            v = x >> y if 0 <= y < 256 else (0 if x >= 0 else -1)
        else:
            raise GdbError(f"unsupported operator {op}")
        return self._int(rt, _signed_value(v, size, uns))

    def _float_binop(self, op: str, a: Object, b: Object) -> Object:
        big = max(sizeof(a.type_) if _code(a.type_) is TypeKind.FLOAT else 0,
                  sizeof(b.type_) if _code(b.type_) is TypeKind.FLOAT else 0)  # fmt: skip
        rt = BUILTIN_TYPES["long double" if big > 8 else "double"]
        x, y = float(self._value(a)), float(self._value(b))
        if op == "+":
            v = x + y
        elif op == "-":
            v = x - y
        elif op == "*":
            v = x * y
        elif op == "/":
            if y == 0:
                raise GdbError("Division by zero")
            v = x / y
        else:
            raise GdbError("Integer only operation.")
        return Object(self.prog, rt, None, v)

    def _compare(self, op: str, a: Object, b: Object) -> Object:
        a, b = self._coerce_array(a), self._coerce_array(b)
        ca, cb = _code(a.type_), _code(b.type_)
        for c in (ca, cb):
            if c in (TypeKind.STRUCT, TypeKind.UNION):
                raise (
                    GdbError("Argument to comparison operation not integer, float or pointer.")
                    if op in ("<", ">", "<=", ">=")
                    else GdbError("Invalid type combination in equality test.")
                )
        if TypeKind.FLOAT in (ca, cb):
            x: int | float = float(self._value(a))
            y: int | float = float(self._value(b))
        elif TypeKind.POINTER in (ca, cb):
            x, y = self._long(a) & MASK64, self._long(b) & MASK64
        else:
            rt = _int_result_type(
                sizeof(a.type_), _is_unsigned(a.type_), sizeof(b.type_), _is_unsigned(b.type_)
            )
            size, uns = sizeof(rt), _is_unsigned(rt)
            x = _signed_value(self._long(a), size, uns)
            y = _signed_value(self._long(b), size, uns)
        r = {
            "==": x == y, "!=": x != y, "<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y,
        }[op]  # fmt: skip
        return self._int(INT, 1 if r else 0)

    def _repeat(self, a: Object, b: Object) -> Object:
        if not _is_integral(b.type_):
            raise GdbError('Non-integral right operand for "@" operator.')
        if a.address_ is None:
            raise GdbError("Only values in memory can be extended with '@'.")
        count = self._long(b)
        if count < 1:
            raise GdbError(f"Invalid number {count} of repetitions.")
        return Object(self.prog, ArrayType(a.type_, count), a.address_)

    # -- casts -----------------------------------------------------------------------------------------------

    def cast(self, o: Object, t: Type) -> Object:
        if o.type_ is t:
            return o
        r = resolve(t)
        c1 = r.kind
        src = o
        if _code(src.type_) is TypeKind.ARRAY:
            if c1 is TypeKind.ARRAY and isinstance(r, ArrayType) and r.is_flexible:
                esize = sizeof(r.element)
                n = sizeof(src.type_) // esize if esize else 0
                return Object(
                    self.prog,
                    ArrayType(r.element, n),
                    src.address_,
                    None if src.address_ is not None else src.data_(),
                )
            src = self._coerce_array(src)
        elif _code(src.type_) is TypeKind.FUNCTION:
            src = self._coerce_array(src)
        c2 = _code(src.type_)
        scalar = c2 in (TypeKind.INT, TypeKind.ENUM, TypeKind.FLOAT)
        if c1 is TypeKind.FLOAT and scalar:
            return Object(self.prog, t, None, float(self._value(src)))
        if c1 in (TypeKind.INT, TypeKind.ENUM) and (scalar or c2 is TypeKind.POINTER):
            v = self._value(src)
            iv = int(v)
            if isinstance(r, IntType) and r.is_bool:
                iv = 1 if iv else 0
            return self._int(t, iv)
        if c1 is TypeKind.POINTER and c2 in (TypeKind.INT, TypeKind.ENUM):
            return self._int(t, self._long(src))
        if c1 is TypeKind.VOID:
            return Object(self.prog, t, None, b"")
        if sizeof(t) == sizeof(src.type_) and c2 is not TypeKind.VOID:
            if src.address_ is not None and src.bit_field_size_ is None and c1 in (
                TypeKind.STRUCT, TypeKind.UNION, TypeKind.ARRAY
            ):  # fmt: skip
                return Object(self.prog, t, src.address_)
            try:
                data = src.data_()
            except ObjectReadError:
                if not self.no_side_effects:
                    raise
                data = b"\0" * sizeof(t)
            o2 = Object(self.prog, t, None, data)
            o2.address_ = src.address_
            return o2
        if src.address_ is not None:
            return Object(self.prog, t, src.address_)
        raise GdbError("Invalid cast.")


def _alignof(t: Type) -> int:
    r = resolve(t)
    if isinstance(r, ArrayType):
        return _alignof(r.element)
    if isinstance(r, StructType):
        return max((_alignof(m.type) for m in r.members()), default=1)
    s = sizeof(r)
    return s if s in (1, 2, 4, 8, 16) else 1


# Type of an expression, for whatis / ptype (never fails on unreadable memory).
def expression_type(scope: Scope, node: P.Node, history: ValueHistory | None = None) -> Type:
    if isinstance(node, P.TypeExpr):
        return node.type
    ev = Evaluator(scope, history, no_side_effects=True)
    try:
        return ev._eval(node).type_
    except ObjectReadError as e:
        raise GdbError(e.message()) from None
    except ObjectError as e:
        raise GdbError(str(e)) from None


__all__ = [
    "BUILTIN_TYPES",
    "Evaluator",
    "NoDebugDataType",
    "NoDebugTextType",
    "UnknownSymbolType",
    "Scope",
    "ValueHistory",
    "expression_type",
]
