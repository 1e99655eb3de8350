"""The one Type model of crashpy: C types as BTF and DWARF describe them, spelled the way gdb spells them.

Types are materialised lazily by a `TypeSource` (the BTF reader now, a DWARF reader later) and may be
recursive (`struct list_head { struct list_head *next; }`): a pointer, typedef, array, member or
parameter refers to its target through a `LazyType` (source + type id) that is resolved on first use.
Types compare and hash by identity; `repr()` and `type_name()` never walk into members, so nothing
recurses without bound.

Look-ups by C spelling (`lookup_type`) are in types/lookup.py, integer names in types/int_names.py.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple, Protocol

from crashpy.errors import CrashpyError
from crashpy.types.int_names import gdb_int_name

# ---------------------------------------------------------------------------------------------------------
# Errors


class TypeLookupError(CrashpyError, KeyError):
    """A type or member that does not exist, worded like gdb (`No struct type named foo.`).

    It is a KeyError (so `except KeyError` and `except LookupError` catch it) that prints its message
    unquoted.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class IncompleteTypeError(TypeLookupError):
    """The size or members of a type that has none: void, a function, a forward declaration."""


def no_type_error(kind: str | None, name: str) -> TypeLookupError:
    """gdb's wording for a type name that does not resolve."""
    if kind in ("struct", "union", "enum"):
        return TypeLookupError(f"No {kind} type named {name}.")
    return TypeLookupError(f'No symbol "{name}" in current context.')


def no_member_error(name: str) -> TypeLookupError:
    return TypeLookupError(f"There is no member named {name}.")


NOT_A_STRUCTURE = "Attempt to extract a component of a value that is not a structure."


# ---------------------------------------------------------------------------------------------------------
# Lazy references


class TypeSource(Protocol):
    """Something that materialises a Type from an id (a BTF type id, a DWARF DIE offset)."""

    def by_id(self, type_id: int) -> Type: ...


class LazyType:
    """A reference to a type of a `TypeSource`, materialised (and kept) on first use."""

    __slots__ = ("source", "type_id", "_type")

    def __init__(self, source: TypeSource, type_id: int) -> None:
        self.source = source
        self.type_id = type_id
        self._type: Type | None = None

    def get(self) -> Type:
        t = self._type
        if t is None:
            t = self._type = self.source.by_id(self.type_id)
        return t

    def __repr__(self) -> str:
        return f"<LazyType id={self.type_id}>"


def _deref(ref: Type | LazyType) -> Type:
    return ref.get() if isinstance(ref, LazyType) else ref


# ---------------------------------------------------------------------------------------------------------
# Kinds


class TypeKind(enum.Enum):
    VOID = "void"
    INT = "int"  # integers, char and _Bool
    FLOAT = "float"
    POINTER = "pointer"
    ARRAY = "array"
    STRUCT = "struct"
    UNION = "union"
    ENUM = "enum"
    TYPEDEF = "typedef"
    FUNCTION = "function"  # a prototype: return type, parameters
    CONST = "const"
    VOLATILE = "volatile"
    RESTRICT = "restrict"
    # Declarations rather than C types (BTF keeps them in its type table).
    FUNC = "func"  # a named function: its prototype and linkage
    VAR = "var"  # a named variable (BTF: per-CPU variables only, up to at least 6.1)
    DATASEC = "datasec"  # an ELF section listing its variables


QUALIFIER_KINDS = frozenset({TypeKind.CONST, TypeKind.VOLATILE, TypeKind.RESTRICT})
_QUALIFIER_ORDER = (TypeKind.CONST, TypeKind.VOLATILE, TypeKind.RESTRICT)

# ---------------------------------------------------------------------------------------------------------
# Members, parameters, member look-ups


class Member:
    """A struct/union member: `name` (None when anonymous), `type`, `bit_offset` from the start of the
    enclosing struct, and `bit_field_size` (None unless it is a bit-field)."""

    __slots__ = ("name", "_type", "bit_offset", "bit_field_size")

    def __init__(
        self, name: str | None, type: Type | LazyType, bit_offset: int, bit_field_size: int | None = None
    ) -> None:
        self.name = name
        self._type = type
        self.bit_offset = bit_offset
        self.bit_field_size = bit_field_size

    @property
    def type(self) -> Type:
        return _deref(self._type)

    @property
    def offset(self) -> int:
        """Byte offset (of the byte holding the first bit, for a bit-field)."""
        return self.bit_offset // 8

    def is_bit_field(self) -> bool:
        return self.bit_field_size is not None

    def declaration(self, raw_int_names: bool = False) -> str:
        """gdb's spelling of this member in a struct definition, without indentation or `;`
        (`char comm[16]`, `void (*fp)(int)`, `int bf : 3`)."""
        text = self.type.declaration(self.name or "", raw_int_names)
        if self.bit_field_size is not None:
            text += f" : {self.bit_field_size}"
        return text

    def __repr__(self) -> str:
        bf = f" : {self.bit_field_size}" if self.bit_field_size is not None else ""
        return f"<Member {self.name or '(anonymous)'}{bf} at bit {self.bit_offset}>"


class Parameter:
    """A function parameter: `name` (None when the prototype does not name it) and `type`."""

    __slots__ = ("name", "_type")

    def __init__(self, name: str | None, type: Type | LazyType) -> None:
        self.name = name
        self._type = type

    @property
    def type(self) -> Type:
        return _deref(self._type)

    def __repr__(self) -> str:
        return f"<Parameter {self.name}>"


class MemberLookup(NamedTuple):
    """What `Type.member(path)` answers: the member's bit offset from the start of the outer type,
    and its type."""

    bit_offset: int
    type: Type


_PATH_COMPONENT = re.compile(r"\s*([A-Za-z_$][A-Za-z0-9_$]*)\s*((?:\[\s*(?:0x[0-9a-fA-F]+|\d+)\s*\]\s*)*)$")
_INDEX = re.compile(r"\[\s*(0x[0-9a-fA-F]+|\d+)\s*\]")


# ---------------------------------------------------------------------------------------------------------
# Types


class Type:
    """A C type. Subclasses add what their kind has; the methods here work on every kind."""

    __slots__ = ("kind", "name", "__weakref__")

    kind: TypeKind
    name: str | None

    def __init__(self, kind: TypeKind, name: str | None = None) -> None:
        self.kind = kind
        self.name = name

    # -- size and resolution ------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Size in bytes, through typedefs and qualifiers; raises IncompleteTypeError when there is none."""
        raise IncompleteTypeError(f"{self.type_name()} has no size.")

    def has_size(self) -> bool:
        try:
            _ = self.size
        except IncompleteTypeError:
            return False
        return True

    @property
    def is_complete(self) -> bool:
        """False for void, forward declarations and flexible arrays (what sizeof rejects in C)."""
        return True

    def strip(self) -> Type:
        """The underlying type with every typedef and qualifier removed."""
        t: Type = self
        for _ in range(256):
            if t.kind is TypeKind.TYPEDEF or t.kind in QUALIFIER_KINDS:
                t = t.target
            else:
                return t
        raise TypeLookupError("typedef chain too deep (corrupt type information)")

    def resolve(self) -> Type:
        """Same as strip(): the type under all typedefs and qualifiers."""
        return self.strip()

    def unqualified(self) -> Type:
        """This type without its const/volatile/restrict qualifiers (typedefs kept)."""
        t: Type = self
        while t.kind in QUALIFIER_KINDS:
            t = t.target
        return t

    def qualifiers(self) -> frozenset[TypeKind]:
        """The qualifiers applied directly to this type (not through typedefs)."""
        quals = set()
        t: Type = self
        while t.kind in QUALIFIER_KINDS:
            quals.add(t.kind)
            t = t.target
        return frozenset(quals)

    @property
    def target(self) -> Type:
        """What a pointer points to, a typedef names, a qualifier qualifies."""
        raise TypeLookupError(f"{self.type_name()} has no target type.")

    # -- members ------------------------------------------------------------------------------------

    def members(self) -> list[Member]:
        """The direct members of a struct or union (through typedefs); anonymous ones included as such."""
        t = self.strip()
        if isinstance(t, StructType):
            return t.members()
        raise TypeLookupError(NOT_A_STRUCTURE)

    def lookup_member(self, path: str) -> Member:
        """The member at a dotted `path` ("thread.sp", "se.avg.load_avg", "cpus_mask.bits[1]") through
        nested and anonymous structs/unions, as a Member whose bit_offset counts from the start of
        this type. Array indexes add their element offset. Pointers are not followed."""
        t: Type = self
        bit_offset = 0
        last: Member | None = None
        for comp in path.split("."):
            m = _PATH_COMPONENT.match(comp)
            if m is None:
                raise no_member_error(comp.strip() or path)
            st = t.strip()
            if not isinstance(st, StructType):
                raise TypeLookupError(NOT_A_STRUCTURE)
            hit = st.find_member(m.group(1))
            if hit is None:
                if not st.is_complete:
                    raise IncompleteTypeError(f"The type {st.type_name()} is incomplete.")
                raise no_member_error(m.group(1))
            off, last = hit
            bit_offset += off
            t = last.type
            indexes = _INDEX.findall(m.group(2))
            for idx in indexes:
                at = t.strip()
                if not isinstance(at, ArrayType):
                    raise TypeLookupError(f"cannot subscript something of type `{t.type_name()}'")
                t = at.element
                bit_offset += int(idx, 0) * t.size * 8
            if indexes:
                last = Member(last.name, t, 0, None)
        assert last is not None
        return Member(last.name, t, bit_offset, last.bit_field_size)

    def member(self, path: str) -> MemberLookup:
        """(bit offset, type) of the member at dotted `path`; see lookup_member()."""
        m = self.lookup_member(path)
        return MemberLookup(m.bit_offset, m.type)

    def has_member(self, path: str) -> bool:
        try:
            self.lookup_member(path)
        except TypeLookupError:
            return False
        return True

    def offsetof(self, path: str) -> int:
        """Byte offset of the member at `path`; a bit-field has none (TypeLookupError)."""
        m = self.lookup_member(path)
        if m.bit_field_size is not None:
            raise TypeLookupError(f"{path} is a bit-field; it has a bit offset ({m.bit_offset}) only.")
        return m.bit_offset // 8

    # -- spelling -----------------------------------------------------------------------------------

    def type_name(self, raw_int_names: bool = False) -> str:
        """gdb's spelling of this type, as `whatis` prints it: "struct list_head *", "unsigned long",
        "char [16]", "void (*)(int)", "const char * const *".

        raw_int_names keeps the compiler's integer names ("long unsigned int", as gdb 10 printed them)
        instead of gdb 13's "unsigned long".
        """
        return _spell(self, "", False, raw_int_names)

    def declaration(self, name: str, raw_int_names: bool = False) -> str:
        """gdb's spelling of a declaration of `name` with this type: "char comm[16]", "void (*fp)(int)"."""
        if not name:
            return self.type_name(raw_int_names)
        return _spell(self, name, False, raw_int_names)

    def _base_name(self, raw_int_names: bool) -> str:
        """The name that starts a spelling of this type (for named types)."""
        return self.name or "?"

    def __str__(self) -> str:
        return self.type_name()

    def __repr__(self) -> str:
        try:
            size = f" size={self.size}" if self.has_size() else ""
        except CrashpyError:  # repr must not fail on corrupt type info
            size = ""
        return f"<{type(self).__name__} {self.type_name()!r}{size}>"


class VoidType(Type):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(TypeKind.VOID, "void")

    @property
    def is_complete(self) -> bool:
        return False


class IntType(Type):
    """An integer, `char` or `_Bool`. bit_size/bit_offset describe BTF's legacy bit-field encoding and
    are size*8 and 0 otherwise."""

    __slots__ = ("_size", "signed", "is_char", "is_bool", "bit_size", "bit_offset")

    def __init__(
        self,
        name: str,
        size: int,
        signed: bool,
        is_char: bool = False,
        is_bool: bool = False,
        bit_size: int | None = None,
        bit_offset: int = 0,
    ) -> None:
        super().__init__(TypeKind.INT, name)
        self._size = size
        self.signed = signed
        self.is_char = is_char
        self.is_bool = is_bool
        self.bit_size = size * 8 if bit_size is None else bit_size
        self.bit_offset = bit_offset

    @property
    def size(self) -> int:
        return self._size

    def _base_name(self, raw_int_names: bool) -> str:
        name = self.name or "?"
        return name if raw_int_names else gdb_int_name(name)


class FloatType(Type):
    __slots__ = ("_size",)

    def __init__(self, name: str, size: int) -> None:
        super().__init__(TypeKind.FLOAT, name)
        self._size = size

    @property
    def size(self) -> int:
        return self._size


class PointerType(Type):
    __slots__ = ("_target", "_size")

    def __init__(self, target: Type | LazyType, size: int = 8) -> None:
        super().__init__(TypeKind.POINTER, None)
        self._target = target
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    @property
    def target(self) -> Type:
        return _deref(self._target)


class ArrayType(Type):
    """An array of `length` elements. A flexible array member (`char data[]`) has length 0 and
    is_flexible; BTF cannot tell it from a zero-length array (`char data[0]`) and says flexible."""

    __slots__ = ("_element", "length", "is_flexible")

    def __init__(self, element: Type | LazyType, length: int, is_flexible: bool = False) -> None:
        super().__init__(TypeKind.ARRAY, None)
        self._element = element
        self.length = length
        self.is_flexible = is_flexible

    @property
    def element(self) -> Type:
        return _deref(self._element)

    @property
    def size(self) -> int:
        if self.length == 0:
            return 0
        return self.length * self.element.size

    @property
    def is_complete(self) -> bool:
        return not self.is_flexible


class StructType(Type):
    """A struct or union (kind STRUCT or UNION); `name` is the tag, None when anonymous. A forward
    declaration (`struct foo;`) is a StructType with is_complete False and no size or members."""

    __slots__ = ("_size", "_members", "_load_members", "_flat")

    def __init__(
        self,
        kind: TypeKind,
        name: str | None,
        size: int | None,
        members: list[Member] | Callable[[], list[Member]] | None = None,
    ) -> None:
        assert kind in (TypeKind.STRUCT, TypeKind.UNION)
        super().__init__(kind, name)
        self._size = size
        self._members: list[Member] | None
        self._load_members: Callable[[], list[Member]] | None
        if callable(members):
            self._members, self._load_members = None, members
        else:
            self._members, self._load_members = (members if members is not None else []), None
        self._flat: dict[str, tuple[int, Member]] | None = None

    @property
    def size(self) -> int:
        if self._size is None:
            raise IncompleteTypeError(f"No {self.kind.value} type named {self.name}.")
        return self._size

    @property
    def is_complete(self) -> bool:
        return self._size is not None

    def members(self) -> list[Member]:
        if self._members is None:
            assert self._load_members is not None
            self._members = self._load_members()
            self._load_members = None
        return self._members

    def find_member(self, name: str) -> tuple[int, Member] | None:
        """The member called `name`, searching anonymous structs/unions as C does, with its bit offset
        from the start of this type; None if there is none."""
        flat = self._flat
        if flat is None:
            flat = self._flat = {}
            self._flatten(flat, 0, 0)
        return flat.get(name)

    def _flatten(self, flat: dict[str, tuple[int, Member]], base: int, depth: int) -> None:
        if depth > 32:  # corrupt type information; C nests nowhere near this deep
            return
        for m in self.members():
            if m.name:
                flat.setdefault(m.name, (base + m.bit_offset, m))
            else:
                inner = m.type.strip()
                if isinstance(inner, StructType):
                    inner._flatten(flat, base + m.bit_offset, depth + 1)

    def _base_name(self, raw_int_names: bool) -> str:
        if self.name is None:
            return f"{self.kind.value} {{...}}"
        return f"{self.kind.value} {self.name}"


class EnumType(Type):
    """An enum: `enumerators` maps names to values in declaration order. A forward declaration has
    no enumerators and is_complete False."""

    __slots__ = ("_size", "signed", "enumerators", "_complete")

    def __init__(
        self, name: str | None, size: int, signed: bool, enumerators: dict[str, int], complete: bool = True
    ) -> None:
        super().__init__(TypeKind.ENUM, name)
        self._size = size
        self.signed = signed
        self.enumerators = enumerators
        self._complete = complete

    @property
    def size(self) -> int:
        return self._size

    @property
    def is_complete(self) -> bool:
        return self._complete

    def value_name(self, value: int) -> str | None:
        """The first enumerator with `value`, or None."""
        for k, v in self.enumerators.items():
            if v == value:
                return k
        return None

    def definition(self) -> str:
        """gdb's ptype spelling: "enum e {A = 1, B, C = -1}" (a value is shown when it is not the
        previous one plus 1, counting from 0)."""
        parts = []
        expected = 0
        for k, v in self.enumerators.items():
            parts.append(k if v == expected else f"{k} = {v}")
            expected = v + 1
        head = "enum" if self.name is None else f"enum {self.name}"
        return f"{head} {{{', '.join(parts)}}}"

    def _base_name(self, raw_int_names: bool) -> str:
        return "enum {...}" if self.name is None else f"enum {self.name}"


class TypedefType(Type):
    __slots__ = ("_target",)

    def __init__(self, name: str, target: Type | LazyType) -> None:
        super().__init__(TypeKind.TYPEDEF, name)
        self._target = target

    @property
    def target(self) -> Type:
        return _deref(self._target)

    @property
    def size(self) -> int:
        return self.strip().size

    @property
    def is_complete(self) -> bool:
        return self.strip().is_complete


class QualifiedType(Type):
    """`const`, `volatile` or `restrict` applied to `target`."""

    __slots__ = ("_target",)

    def __init__(self, kind: TypeKind, target: Type | LazyType) -> None:
        assert kind in QUALIFIER_KINDS
        super().__init__(kind, None)
        self._target = target

    @property
    def target(self) -> Type:
        return _deref(self._target)

    @property
    def size(self) -> int:
        return self.target.size

    @property
    def is_complete(self) -> bool:
        return self.target.is_complete


class FunctionType(Type):
    """A function prototype: return type, parameters (names kept when known), variadic or not."""

    __slots__ = ("_return_type", "params", "variadic")

    def __init__(self, return_type: Type | LazyType, params: list[Parameter], variadic: bool = False) -> None:
        super().__init__(TypeKind.FUNCTION, None)
        self._return_type = return_type
        self.params = params
        self.variadic = variadic

    @property
    def return_type(self) -> Type:
        return _deref(self._return_type)

    @property
    def is_complete(self) -> bool:
        return False

    def params_spelling(self, raw_int_names: bool = False) -> str:
        """gdb's parameter list: "(int, char *)", "(void)", "(const char *, ...)"."""
        parts = [p.type.type_name(raw_int_names) for p in self.params]
        if self.variadic:
            parts.append("...")
        if not parts:
            return "(void)"
        return "(" + ", ".join(parts) + ")"


class FuncDecl(Type):
    """A named function (BTF_KIND_FUNC): its prototype `type` and linkage (0 static, 1 global, 2 extern)."""

    __slots__ = ("_type", "linkage")

    def __init__(self, name: str, type: Type | LazyType, linkage: int) -> None:
        super().__init__(TypeKind.FUNC, name)
        self._type = type
        self.linkage = linkage

    @property
    def type(self) -> Type:
        return _deref(self._type)

    def type_name(self, raw_int_names: bool = False) -> str:
        return self.type.type_name(raw_int_names)

    def declaration(self, name: str, raw_int_names: bool = False) -> str:
        return self.type.declaration(name, raw_int_names)


class VarDecl(Type):
    """A named variable (BTF_KIND_VAR): its `type` and linkage (0 static, 1 global, 2 extern)."""

    __slots__ = ("_type", "linkage")

    def __init__(self, name: str, type: Type | LazyType, linkage: int) -> None:
        super().__init__(TypeKind.VAR, name)
        self._type = type
        self.linkage = linkage

    @property
    def type(self) -> Type:
        return _deref(self._type)

    @property
    def size(self) -> int:
        return self.type.size

    def type_name(self, raw_int_names: bool = False) -> str:
        return self.type.type_name(raw_int_names)

    def declaration(self, name: str, raw_int_names: bool = False) -> str:
        return self.type.declaration(name, raw_int_names)


class DataSecVar(NamedTuple):
    var: Type  # a VarDecl (or a FuncDecl for an extern function's section)
    offset: int  # within the section
    size: int


class DataSec(Type):
    """An ELF section named in BTF (".data..percpu") with the variables it holds."""

    __slots__ = ("_size", "_vars")

    def __init__(self, name: str, size: int, vars: list[tuple[Type | LazyType, int, int]]) -> None:
        super().__init__(TypeKind.DATASEC, name)
        self._size = size
        self._vars = vars

    @property
    def size(self) -> int:
        return self._size

    def variables(self) -> Iterator[DataSecVar]:
        for ref, off, sz in self._vars:
            yield DataSecVar(_deref(ref), off, sz)


# ---------------------------------------------------------------------------------------------------------
# gdb's declarator spelling


def _spell(t: Type, inner: str, inner_is_qual: bool, raw: bool, depth: int = 0) -> str:
    """Spell `t` around the declarator text `inner` the way gdb's C type printer does.

    inner_is_qual says `inner` starts with a pointer qualifier ("const"), not an identifier.
    """
    quals: list[TypeKind] = []
    for _ in range(64):
        if t.kind in QUALIFIER_KINDS:
            if t.kind not in quals:
                quals.append(t.kind)
            t = t.target
            continue
        if depth > 64:
            return "<cycle>"
        depth += 1
        if t.kind is TypeKind.POINTER:
            if quals:
                qual = " ".join(q.value for q in _QUALIFIER_ORDER if q in quals)
                if inner:
                    inner = qual + ("" if inner[0] in "[(" else " ") + inner
                else:
                    inner = qual
                inner_is_qual = True
                quals = []
            inner = "*" + (" " + inner if inner_is_qual else inner)
            inner_is_qual = False
            t = t.target
            continue
        if t.kind is TypeKind.ARRAY:
            assert isinstance(t, ArrayType)
            suffix = "[]" if t.is_flexible else f"[{t.length}]"
            inner = (f"({inner})" if inner.startswith("*") else inner) + suffix
            inner_is_qual = False
            t = t.element
            continue
        if t.kind is TypeKind.FUNCTION:
            assert isinstance(t, FunctionType)
            params = t.params_spelling(raw)
            inner = (f"({inner})" if inner.startswith("*") else inner) + params
            inner_is_qual = False
            quals = []
            t = t.return_type
            continue
        if isinstance(t, (FuncDecl, VarDecl)):
            t = t.type
            continue
        base = t._base_name(raw)
        if quals:
            base = " ".join(q.value for q in _QUALIFIER_ORDER if q in quals) + " " + base
        return f"{base} {inner}" if inner else base
    return "<cycle>"
