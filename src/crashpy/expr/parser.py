"""A parser for gdb's C expressions (c-exp.y): C precedence, casts, sizeof, `$N`, `{type} addr`, `@`.

Type names are told from other names while parsing, as gdb's lexer does (classify_name), through a
TypeResolver; the tree holds resolved Types. Errors are gdb's: `A syntax error in expression, near
`rest'.` names the text from the token that could not be used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from crashpy.expr.errors import GdbError
from crashpy.expr.lexer import Token, tokenize
from crashpy.types.model import ArrayType, FunctionType, Parameter, PointerType, QualifiedType, Type, TypeKind

# ---------------------------------------------------------------------------------------------------------
# The tree


class Node:
    """An expression node."""


@dataclass
class Num(Node):
    value: int
    type_name: str  # "int", "unsigned long", ...


@dataclass
class FloatLit(Node):
    value: float


@dataclass
class CharLit(Node):
    value: int


@dataclass
class StringLit(Node):
    value: bytes


@dataclass
class Name(Node):
    name: str


@dataclass
class Dollar(Node):
    text: str  # "$", "$$", "$3", "$$2", "$foo"


@dataclass
class Unary(Node):
    op: str  # - + ! ~ * & pre++ pre-- post++ post--
    operand: Node


@dataclass
class Binary(Node):
    op: str
    lhs: Node
    rhs: Node


@dataclass
class Assign(Node):
    op: str  # "=" or "+=" ...
    lhs: Node
    rhs: Node


@dataclass
class Ternary(Node):
    cond: Node
    then: Node
    other: Node


@dataclass
class Member(Node):
    obj: Node
    name: str
    arrow: bool


@dataclass
class Index(Node):
    obj: Node
    index: Node


@dataclass
class Call(Node):
    func: Node
    args: list[Node] = field(default_factory=list)


@dataclass
class Cast(Node):
    type: Type
    operand: Node


@dataclass
class MemVal(Node):
    """gdb's `{type} addr`: the object of `type` at address `addr`."""

    type: Type
    operand: Node


@dataclass
class SizeofType(Node):
    type: Type


@dataclass
class SizeofExpr(Node):
    operand: Node


@dataclass
class AlignofType(Node):
    type: Type


@dataclass
class TypeExpr(Node):
    """The whole expression names a type (`whatis struct list_head`, `ptype pid_t`)."""

    type: Type


@dataclass
class Comma(Node):
    lhs: Node
    rhs: Node


# ---------------------------------------------------------------------------------------------------------
# Type names


class TypeResolver(Protocol):
    def is_typename(self, name: str) -> bool:
        """Whether `name` alone names a type (a typedef or a base type), as gdb's classify_name."""
        ...

    def lookup_typedef(self, name: str) -> Type:
        """The typedef (or base type) called `name`."""
        ...

    def lookup_tagged(self, kind: str, name: str) -> Type:
        """`struct name` / `union name` / `enum name`; GdbError `No struct type named name.`"""
        ...

    def builtin(self, name: str) -> Type:
        """A C base type by gdb's builtin name: "int", "unsigned long", "char", "void", "double"..."""
        ...


_BASE_WORDS = frozenset({"unsigned", "signed", "int", "long", "short", "char", "void", "float", "double", "_Bool"})
_QUALS = frozenset({"const", "volatile", "restrict", "__restrict__"})


def _base_type_name(words: list[str]) -> str | None:
    """gdb's builtin type for a list of C base-type keywords, or None if they make no type."""
    unsigned = words.count("unsigned")
    signed = words.count("signed")
    longs = words.count("long")
    short = words.count("short")
    rest = [w for w in words if w not in ("unsigned", "signed", "long", "short", "int")]
    if unsigned and signed:
        return None
    if rest:
        if len(rest) > 1:
            return None
        r = rest[0]
        if r == "char":
            if longs or short or "int" in words:
                return None
            return "unsigned char" if unsigned else "signed char" if signed else "char"
        if r == "double":
            if unsigned or signed or short or longs > 1:
                return None
            return "long double" if longs else "double"
        if r in ("void", "float", "_Bool"):
            if len(words) > 1:
                return None
            return r
        return None
    if short:
        if longs or short > 1:
            return None
        return "unsigned short" if unsigned else "short"
    if longs == 1:
        return "unsigned long" if unsigned else "long"
    if longs == 2:
        return "unsigned long long" if unsigned else "long long"
    if longs > 2:
        return None
    return "unsigned int" if unsigned else "int"


# ---------------------------------------------------------------------------------------------------------
# The parser

# Binary operators: token -> (precedence, right-associative)
_BINARY = {
    "||": 4, "&&": 5, "|": 6, "^": 7, "&": 8, "==": 9, "!=": 9, "<": 10, ">": 10, "<=": 10, ">=": 10,
    "<<": 11, ">>": 11, "@": 12, "+": 13, "-": 13, "*": 14, "/": 14, "%": 14,
}  # fmt: skip
_ASSIGN = frozenset({"=", "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "<<=", ">>="})
_UNARY_PREC = 15


class Parser:
    def __init__(self, text: str, types: TypeResolver) -> None:
        self.text = text
        self.types = types
        self.toks = tokenize(text)
        self.i = 0

    # -- helpers ---------------------------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        j = min(self.i + k, len(self.toks) - 1)
        return self.toks[j]

    def advance(self) -> Token:
        t = self.toks[self.i]
        if self.i < len(self.toks) - 1:
            self.i += 1
        return t

    def error(self, tok: Token | None = None) -> GdbError:
        t = tok or self.tok
        return GdbError(f"A syntax error in expression, near `{self.text[t.pos:]}'.")

    def is_op(self, text: str, tok: Token | None = None) -> bool:
        t = tok or self.tok
        return t.kind == "OP" and t.text == text

    def expect(self, text: str) -> Token:
        if not self.is_op(text):
            raise self.error()
        return self.advance()

    # -- entry points ------------------------------------------------------------------------------------

    def parse(self) -> Node:
        """The whole text as an expression, or as a type name (gdb's `start: exp1 | type_exp`)."""
        if self.tok.kind == "EOF":
            raise self.error()
        if self.starts_type(self.tok):
            save = self.i
            tagged = self.tok.text in ("struct", "union", "enum")
            try:
                t = self.parse_type()
            except GdbError:
                if tagged:
                    raise
                t = None
                self.i = save
            if t is not None and self.tok.kind == "EOF":
                return TypeExpr(t)
            if tagged:
                raise self.error()
            self.i = save
        node = self.parse_expr(0)
        if self.tok.kind != "EOF":
            raise self.error()
        return node

    def parse_type_only(self) -> Type:
        t = self.parse_type()
        if self.tok.kind != "EOF":
            raise self.error()
        return t

    # -- types -------------------------------------------------------------------------------------------

    def starts_type(self, tok: Token) -> bool:
        if tok.kind != "NAME":
            return False
        if tok.text in _BASE_WORDS or tok.text in _QUALS or tok.text in ("struct", "union", "enum"):
            return True
        if tok.text in ("sizeof", "_Alignof", "alignof", "true", "false"):
            return False
        return self.types.is_typename(tok.text)

    def parse_type(self) -> Type:
        base = self.parse_typebase()
        return self.parse_abstract_declarator(base)

    def parse_typebase(self) -> Type:
        quals: list[str] = []
        words: list[str] = []
        t: Type | None = None
        while True:
            tok = self.tok
            if tok.kind != "NAME":
                break
            w = tok.text
            if w in _QUALS:
                quals.append("restrict" if w == "__restrict__" else w)
                self.advance()
                continue
            if t is None and not words and w in ("struct", "union", "enum"):
                self.advance()
                name_tok = self.tok
                if name_tok.kind != "NAME":
                    raise self.error()
                self.advance()
                t = self.types.lookup_tagged(w, name_tok.text)
                continue
            if t is None and w in _BASE_WORDS:
                words.append(w)
                self.advance()
                continue
            if t is None and not words and self.types.is_typename(w):
                self.advance()
                t = self.types.lookup_typedef(w)
                continue
            break
        if t is None:
            if not words:
                raise self.error()
            name = _base_type_name(words)
            if name is None:
                raise self.error()
            t = self.types.builtin(name)
        elif words:
            raise self.error()
        for q in dict.fromkeys(quals):
            t = QualifiedType(TypeKind(q), t)
        return t

    def parse_abstract_declarator(self, base: Type) -> Type:
        """Pointers, arrays and function parameter lists after a base type (gdb's abs_decl)."""
        t = base
        while self.is_op("*"):
            self.advance()
            t = PointerType(t, 8)
            while self.tok.kind == "NAME" and self.tok.text in _QUALS:
                q = self.advance().text
                t = QualifiedType(TypeKind("restrict" if q == "__restrict__" else q), t)
        # `(*)(args)`, `(*)[N]`: a parenthesised declarator applies last.
        if self.is_op("(") and self.is_op("*", self.peek()):
            self.advance()
            inner_ptrs = 0
            while self.is_op("*"):
                self.advance()
                inner_ptrs += 1
            self.expect(")")
            t = self._suffixes(t)
            for _ in range(inner_ptrs):
                t = PointerType(t, 8)
            return t
        return self._suffixes(t)

    def _suffixes(self, t: Type) -> Type:
        dims: list[int | None] = []
        func_params: list[list[Type]] | None = None
        variadic = False
        while True:
            if self.is_op("["):
                self.advance()
                if self.is_op("]"):
                    dims.append(None)
                else:
                    tok = self.advance()
                    if tok.kind != "NUM":
                        raise self.error(tok)
                    assert isinstance(tok.value, int)
                    dims.append(tok.value)
                self.expect("]")
                continue
            if self.is_op("(") and func_params is None and not dims:
                self.advance()
                params: list[Type] = []
                while not self.is_op(")"):
                    if self.is_op("..."):
                        self.advance()
                        variadic = True
                        continue
                    params.append(self.parse_type())
                    if self.is_op(","):
                        self.advance()
                    elif not self.is_op(")"):
                        raise self.error()
                self.advance()
                if len(params) == 1 and params[0].kind is TypeKind.VOID:
                    params = []
                func_params = [params]
                continue
            break
        if func_params is not None:
            t = FunctionType(t, [Parameter(None, p) for p in func_params[0]], variadic)
        for d in reversed(dims):
            t = ArrayType(t, d or 0, is_flexible=d is None)
        return t

    # -- expressions ---------------------------------------------------------------------------------------

    def parse_expr(self, min_prec: int) -> Node:
        """Precedence climbing; min_prec 0 takes commas, 1 an assignment expression."""
        lhs = self.parse_unary()
        while True:
            tok = self.tok
            if tok.kind != "OP":
                break
            op = tok.text
            if op == "," and min_prec <= 1:
                self.advance()
                rhs = self.parse_expr(2)
                lhs = Comma(lhs, rhs)
                continue
            if op in _ASSIGN and min_prec <= 2:
                self.advance()
                rhs = self.parse_expr(2)
                lhs = Assign(op, lhs, rhs)
                continue
            if op == "?" and min_prec <= 3:
                self.advance()
                then = self.parse_expr(1)
                self.expect(":")
                other = self.parse_expr(3)
                lhs = Ternary(lhs, then, other)
                continue
            prec = _BINARY.get(op)
            if prec is None or prec < min_prec:
                break
            self.advance()
            rhs = self.parse_expr(prec + 1)
            lhs = Binary(op, lhs, rhs)
        return lhs

    def parse_unary(self) -> Node:
        tok = self.tok
        if tok.kind == "OP":
            if tok.text in ("-", "+", "!", "~", "*", "&"):
                self.advance()
                return Unary(tok.text, self.parse_unary())
            if tok.text in ("++", "--"):
                self.advance()
                return Unary("pre" + tok.text, self.parse_unary())
            if tok.text == "(" and self.starts_type(self.peek()):
                save = self.i
                self.advance()
                t = self.parse_type()
                if self.is_op(")"):
                    self.advance()
                    return Cast(t, self.parse_unary())
                self.i = save
            if tok.text == "{" and self.starts_type(self.peek()):
                self.advance()
                t = self.parse_type()
                self.expect("}")
                return MemVal(t, self.parse_unary())
        if tok.kind == "NAME" and tok.text == "sizeof":
            self.advance()
            if self.is_op("(") and self.starts_type(self.peek()):
                save = self.i
                self.advance()
                t = self.parse_type()
                if self.is_op(")"):
                    self.advance()
                    return SizeofType(t)
                self.i = save
            return SizeofExpr(self.parse_unary())
        if tok.kind == "NAME" and tok.text in ("_Alignof", "alignof"):
            self.advance()
            self.expect("(")
            t = self.parse_type()
            self.expect(")")
            return AlignofType(t)
        return self.parse_postfix(self.parse_primary())

    def parse_postfix(self, node: Node) -> Node:
        while True:
            tok = self.tok
            if tok.kind != "OP":
                return node
            if tok.text in (".", "->"):
                self.advance()
                name = self.tok
                if name.kind != "NAME":
                    raise self.error(name)
                self.advance()
                node = Member(node, name.text, tok.text == "->")
            elif tok.text == "[":
                self.advance()
                idx = self.parse_expr(0)
                self.expect("]")
                node = Index(node, idx)
            elif tok.text == "(":
                self.advance()
                args: list[Node] = []
                while not self.is_op(")"):
                    args.append(self.parse_expr(1))
                    if self.is_op(","):
                        self.advance()
                    elif not self.is_op(")"):
                        raise self.error()
                self.advance()
                node = Call(node, args)
            elif tok.text in ("++", "--"):
                self.advance()
                node = Unary("post" + tok.text, node)
            else:
                return node

    def parse_primary(self) -> Node:
        tok = self.tok
        if tok.kind == "NUM":
            self.advance()
            assert isinstance(tok.value, int)
            return Num(tok.value, tok.type_name)
        if tok.kind == "FLOAT":
            self.advance()
            assert isinstance(tok.value, float)
            return FloatLit(tok.value)
        if tok.kind == "CHAR":
            self.advance()
            assert isinstance(tok.value, int)
            return CharLit(tok.value)
        if tok.kind == "STRING":
            value = b""
            while self.tok.kind == "STRING":
                v = self.advance().value
                assert isinstance(v, bytes)
                value += v
            return StringLit(value)
        if tok.kind == "DOLLAR":
            self.advance()
            return Dollar(tok.text)
        if tok.kind == "NAME":
            if tok.text in ("true", "false"):
                self.advance()
                return Num(1 if tok.text == "true" else 0, "int")
            if self.starts_type(tok):
                if tok.text in _BASE_WORDS or tok.text in _QUALS or tok.text in ("struct", "union", "enum"):
                    raise self.error()
                raise GdbError("Attempt to use a type name as an expression")
            self.advance()
            return Name(tok.text)
        if self.is_op("("):
            self.advance()
            inner = self.parse_expr(0)
            self.expect(")")
            return inner
        raise self.error()


def parse(text: str, types: TypeResolver) -> Node:
    """The expression (or type name) `text` as a tree; nesting deeper than Python's stack is gdb's
    parser running out of its stack: "memory exhausted"."""
    try:
        return Parser(text, types).parse()
    except RecursionError:
        raise GdbError("memory exhausted") from None


def parse_type(text: str, types: TypeResolver) -> Type:
    """The C type name `text` ("struct task_struct *", "unsigned long", "pid_t")."""
    return Parser(text, types).parse_type_only()
