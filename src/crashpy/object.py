"""Object: a typed value, either in the dump's memory (an address) or computed (its bytes).

    obj = Object(prog, prog.btf.lookup_type("struct task_struct"), address=0xffffffff82a1aa40)
    obj.member_("comm").string_()          # b'swapper/0'
    obj.member_("tasks").member_("next").deref_()
    per_cpu(prog, "runqueues", 1).member_("nr_running").value_()

`.` and `->` are both member_(): like gdb, member_ follows pointers to reach the struct. Memory is
read when a value is asked for (value_, data_), never before; a failed read raises ObjectReadError,
a FaultError whose message is gdb's (`Cannot access memory at address 0x...`).

Variable types: BTF (the kernel's .BTF section) has every type but, up to 6.1, only the per-CPU
variables; other globals' types come from DWARF. `variable_type(prog, name)` asks the lazy DWARF
reader (crashpy.types.dwarf, when it is there) first and BTF's VARs next.
"""

from __future__ import annotations

import functools
import struct as _struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from crashpy.bits import MASK64
from crashpy.dwarf.errors import DWARF_READ_ERRORS
from crashpy.errors import AddressSpace, CrashpyError, FaultError, FaultKind
from crashpy.types.model import (
    ArrayType,
    EnumType,
    FuncDecl,
    FunctionType,
    IncompleteTypeError,
    IntType,
    PointerType,
    QualifiedType,
    StructType,
    Type,
    TypedefType,
    TypeKind,
    TypeLookupError,
    VarDecl,
)

if TYPE_CHECKING:
    from crashpy.program import Program

POINTER_SIZE = 8


class ObjectError(CrashpyError):
    """A bad operation on an Object, in gdb's words."""


class MemberError(ObjectError, AttributeError):
    """`obj.name` where the object has no member `name` (an AttributeError as well, for hasattr())."""


class ObjectReadError(FaultError):
    """A read of an object's memory that failed; gdb says `Cannot access memory at address 0x...` with the
    address of the object (not the page that failed)."""

    def __init__(self, address: int, fault: FaultError | None = None) -> None:
        super().__init__(
            address,
            fault.kind if fault is not None else FaultKind.INVALID,
            AddressSpace.KVADDR,
            fault.what if fault is not None else "",
        )
        self.fault = fault

    def message(self) -> str:
        return f"Cannot access memory at address 0x{self.address:x}"


_P = ParamSpec("_P")
_R = TypeVar("_R")


def crash_faults(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """For helpers that read through Objects: a failed read raises the read's own FaultError (crash's
    words: `page excluded: kernel virtual address: ...`), as a helper's raw reads always did, instead
    of the ObjectReadError `p` shows in gdb's words."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except ObjectReadError as e:
            if e.fault is None:
                raise
            raise e.fault from None

    return wrapper


# ---------------------------------------------------------------------------------------------------------
# Type helpers (qualifiers and typedefs)


# What resolve() looks through: typedefs, qualifiers and declarations (a class check is cheaper than
# hashing the kind: helpers resolve a type on every member access).
_WRAPPERS = (TypedefType, QualifiedType, VarDecl, FuncDecl)


def resolve(t: Type) -> Type:
    """The type under every typedef, qualifier and declaration wrapper."""
    if not isinstance(t, _WRAPPERS):
        return t
    for _ in range(256):
        if isinstance(t, (VarDecl, FuncDecl)):
            t = t.type
        elif isinstance(t, (TypedefType, QualifiedType)):
            t = t.target
        else:
            return t
    raise ObjectError("typedef chain too deep")


def sizeof(t: Type) -> int:
    """gdb's TYPE_LENGTH: 1 for void and functions, 0 for incomplete types."""
    r = resolve(t)
    if r.kind in (TypeKind.VOID, TypeKind.FUNCTION):
        return 1
    try:
        return r.size
    except IncompleteTypeError:  # incomplete: no length
        return 0


def is_integer(t: Type) -> bool:
    r = resolve(t)
    return r.kind in (TypeKind.INT, TypeKind.ENUM)


def is_signed(t: Type) -> bool:
    r = resolve(t)
    if isinstance(r, IntType):
        return r.signed and not r.is_bool
    if isinstance(r, EnumType):
        return any(v < 0 for v in r.enumerators.values())
    return False


def pointer_to(t: Type) -> PointerType:
    return PointerType(t, POINTER_SIZE)


def lookup_type(prog: Program, spelling: str) -> Type:
    """The type a C type name spells ("struct task_struct *", "unsigned long"): the kernel's BTF, then
    loaded modules' DWARF (mod -s) and their BTF in the dump; TypeLookupError when none has such a
    type (the one error a feature check should catch)."""
    try:
        return prog.btf.lookup_type(spelling)  # type: ignore[no-any-return]
    except TypeLookupError:
        for entry in module_types(prog).values():
            dw = entry.get()
            try:
                t = dw.lookup_type(spelling) if dw is not None else None
            except _DWARF_PROBLEMS:  # not this module's (TypeLookupError), or its DWARF is bad
                t = None
            if t is not None:
                return t  # type: ignore[no-any-return]
        t = prog.module_btf.lookup_type(spelling)
        if t is None:
            raise
        return t


# ---------------------------------------------------------------------------------------------------------
# Object


class Object:
    """A value of type `type_`: at `address_` in kernel memory (an lvalue), or given by `value` (an int,
    a float or the raw bytes). A bit-field has `bit_offset_` (from address_) and `bit_field_size_`."""

    __slots__ = ("prog", "type_", "address_", "_data", "bit_offset_", "bit_field_size_")

    def __init__(
        self,
        prog: Program | None,
        type: Type | str,
        address: int | None = None,
        value: int | float | bytes | None = None,
        *,
        bit_offset: int = 0,
        bit_field_size: int | None = None,
    ) -> None:
        if isinstance(type, str):  # a C type name: "struct task_struct *"
            if prog is None:
                raise ObjectError(f"no type information to spell {type}")
            type = lookup_type(prog, type)
        self.prog = prog
        self.type_ = type
        self.address_ = address & MASK64 if address is not None else None
        self.bit_offset_ = bit_offset
        self.bit_field_size_ = bit_field_size
        self._data: bytes | None
        if value is None:
            if address is None:
                raise ObjectError("an Object needs an address or a value")
            self._data = None
        elif isinstance(value, (bytes, bytearray, memoryview)):
            self._data = bytes(value)
        else:
            self._data = _pack(type, value)

    # -- reading ---------------------------------------------------------------------------------------

    @property
    def is_lvalue(self) -> bool:
        return self.address_ is not None

    def data_(self) -> bytes:
        """The value's bytes (sizeof(type)); a bit-field's value comes packed into its type's size."""
        if self._data is None:
            assert self.address_ is not None
            size = sizeof(self.type_)
            if self.bit_field_size_ is not None:
                nbytes = (self.bit_offset_ + self.bit_field_size_ + 7) // 8
                raw = int.from_bytes(self._read(self.address_, nbytes), "little")
                v = (raw >> self.bit_offset_) & ((1 << self.bit_field_size_) - 1)
                if is_signed(self.type_) and self.bit_field_size_ and v >> (self.bit_field_size_ - 1):
                    v -= 1 << self.bit_field_size_
                self._data = _pack(self.type_, v)
            else:
                self._data = self._read(self.address_, size) if size else b""
        return self._data

    def _read(self, address: int, size: int) -> bytes:
        if self.prog is None:
            raise ObjectReadError(address)
        try:
            return self.prog.read(address, size)
        except FaultError as e:
            raise ObjectReadError(address, e) from None

    def read_(self) -> Object:
        """This object with its bytes read now (a snapshot that keeps its address)."""
        o = Object(self.prog, self.type_, self.address_, self.data_())
        return o

    def value_(self) -> Any:
        """A Python value: int for integers, enums, booleans and pointers; float for floating types;
        bytes for structs, unions and arrays."""
        r = resolve(self.type_)
        data = self.data_()
        if r.kind in (TypeKind.INT, TypeKind.ENUM):
            return int.from_bytes(data, "little", signed=is_signed(r))
        if r.kind is TypeKind.POINTER:
            return int.from_bytes(data[:POINTER_SIZE], "little")
        if r.kind is TypeKind.FLOAT:
            if len(data) == 4:
                return _struct.unpack("<f", data)[0]
            if len(data) == 8:
                return _struct.unpack("<d", data)[0]
            return 0.0
        if r.kind is TypeKind.FUNCTION:
            return self.address_
        return data

    def __int__(self) -> int:
        v = self.value_()
        if isinstance(v, bool | int):
            return int(v)
        if isinstance(v, float):
            return int(v)
        raise ObjectError(f"cannot convert {self.type_.type_name()} to int")

    def __index__(self) -> int:
        return int(self)

    def __bool__(self) -> bool:
        v = self.value_()
        return bool(v) if not isinstance(v, bytes) else any(v)

    def string_(self, limit: int = 4096) -> bytes:
        """The C string a char array holds or a char * points to (without the NUL)."""
        r = resolve(self.type_)
        if isinstance(r, ArrayType) and r.length:
            data = self.data_()
            nul = data.find(b"\0")
            return data if nul < 0 else data[:nul]
        if isinstance(r, (ArrayType, PointerType)):
            addr = self.address_ if isinstance(r, ArrayType) else self.value_()
            if self.prog is None or addr is None:
                raise ObjectError("no memory to read a string from")
            try:
                return self.prog.read_cstring(addr, limit)
            except FaultError as e:
                raise ObjectReadError(addr, e) from None
        raise ObjectError(f"{self.type_.type_name()} is not a string")

    # -- members -------------------------------------------------------------------------------------------

    def member_(self, name: str) -> Object:
        """The member `name` (searched through anonymous structs/unions). A pointer to a struct is
        followed first, as gdb does for both `.` and `->`."""
        obj: Object = self
        r = resolve(obj.type_)
        for _ in range(8):
            if r.kind is not TypeKind.POINTER:
                break
            obj = obj.deref_()
            r = resolve(obj.type_)
        if not isinstance(r, StructType):
            raise ObjectError("Attempt to extract a component of a value that is not a structure.")
        hit = r.find_member(name) if r.is_complete else None
        if hit is None:
            raise ObjectError(f"There is no member named {name}.")
        bit_offset, m = hit
        return obj._at_bits(m.type, bit_offset, m.bit_field_size)

    def _at_bits(self, t: Type, bit_offset: int, bit_field_size: int | None) -> Object:
        byte, bit = divmod(self.bit_offset_ + bit_offset, 8)
        if bit_field_size is None and bit:
            bit_field_size = sizeof(t) * 8
        if self.address_ is not None and self._data is None:
            if bit_field_size is not None:
                return Object(
                    self.prog, t, self.address_ + byte, bit_offset=bit, bit_field_size=bit_field_size
                )
            return _make(self.prog, t, (self.address_ + byte) & MASK64, None)
        data = self.data_()
        addr = self.address_ + byte if self.address_ is not None else None
        if bit_field_size is not None:
            nbytes = (bit + bit_field_size + 7) // 8
            raw = int.from_bytes(data[byte : byte + nbytes], "little")
            v = (raw >> bit) & ((1 << bit_field_size) - 1)
            if is_signed(t) and v >> (bit_field_size - 1):
                v -= 1 << bit_field_size
            o = Object(self.prog, t, None, v)
            o.address_ = addr
            o.bit_offset_, o.bit_field_size_ = bit, bit_field_size
            return o
        size = sizeof(t)
        return _make(self.prog, t, addr, data[byte : byte + size])

    def __getattr__(self, name: str) -> Object:
        if name.startswith("_") or name.endswith("_"):
            raise AttributeError(name)
        try:
            return self.member_(name)
        except MemberError:
            raise
        except (
            ObjectError
        ) as e:  # no such member: an AttributeError too, so hasattr() and getattr(o, n, d) work
            raise MemberError(str(e)) from None

    def __dir__(self) -> list[str]:
        """The members (for completion in `python`), then the methods."""
        r = resolve(self.type_)
        if r.kind is TypeKind.POINTER:
            r = resolve(r.target)
        names: list[str] = []
        if isinstance(r, StructType) and r.is_complete:
            names = _member_names(r)
        return names + sorted(set(super().__dir__()))

    def has_member_(self, name: str) -> bool:
        r = resolve(self.type_)
        if r.kind is TypeKind.POINTER:
            r = resolve(r.target)
        return isinstance(r, StructType) and r.is_complete and r.find_member(name) is not None

    # -- pointers and arrays ---------------------------------------------------------------------------

    def deref_(self) -> Object:
        """*ptr (for an array, its first element)."""
        r = resolve(self.type_)
        if isinstance(r, ArrayType):
            return self.index_(0)
        if not isinstance(r, PointerType):
            raise ObjectError("Attempt to take contents of a non-pointer value.")
        target = r.target
        if resolve(target).kind is TypeKind.VOID:
            raise ObjectError("Attempt to take contents of a non-pointer value.")
        return _make(self.prog, target, self.value_(), None)

    def index_(self, i: int) -> Object:
        """obj[i] for an array or a pointer."""
        r = resolve(self.type_)
        if isinstance(r, ArrayType):
            elt = r.element
            size = sizeof(elt)
            if self.address_ is not None and self._data is None:
                return _make(self.prog, elt, (self.address_ + i * size) & MASK64, None)
            data = self.data_()
            if 0 <= i and (i + 1) * size <= len(data):
                addr = self.address_ + i * size if self.address_ is not None else None
                return _make(self.prog, elt, addr, data[i * size : (i + 1) * size])
            if self.address_ is None:
                raise ObjectError("no such vector element")
            return Object(self.prog, elt, self.address_ + i * size)
        if isinstance(r, PointerType):
            target = r.target
            if resolve(target).kind is TypeKind.VOID:
                raise ObjectError("Attempt to take contents of a non-pointer value.")
            return Object(self.prog, target, self.value_() + i * sizeof(target))
        raise ObjectError(f"cannot subscript something of type `{self.type_.type_name()}'")

    def __getitem__(self, i: int) -> Object:
        return self.index_(i)

    def address_of_(self) -> Object:
        """&obj, a pointer Object."""
        if self.address_ is None:
            raise ObjectError("Attempt to take address of value not located in memory.")
        if self.bit_field_size_ is not None:
            raise ObjectError("Attempt to take address of value not located in memory.")
        return Object(self.prog, pointer_to(self.type_), None, self.address_)

    def cast_(self, t: Type) -> Object:
        """(t)obj: integers and pointers convert; same-size aggregates are reinterpreted."""
        r = resolve(t)
        src = resolve(self.type_)
        if r.kind in (TypeKind.STRUCT, TypeKind.UNION, TypeKind.ARRAY):
            if self.address_ is not None:
                return Object(self.prog, t, self.address_)
            raise ObjectError("Invalid cast.")
        if src.kind in (TypeKind.STRUCT, TypeKind.UNION):
            raise ObjectError("Invalid cast.")
        if src.kind is TypeKind.ARRAY:
            if self.address_ is None:
                raise ObjectError("Attempt to take address of value not located in memory.")
            return Object(self.prog, t, None, self.address_)
        if src.kind is TypeKind.FUNCTION:
            return Object(self.prog, t, None, self.address_ or 0)
        v = self.value_()
        if r.kind is TypeKind.FLOAT:
            return Object(self.prog, t, None, float(v))
        if isinstance(v, float):
            v = int(v)
        return Object(self.prog, t, None, int(v))

    def container_of_(self, t: Type | str, member: str) -> Object:
        """container_of(ptr, type, member): `self` is a pointer to (or an object at) `member` of a `t`."""
        if isinstance(t, str):
            if self.prog is None:
                raise ObjectError(f"no type information to spell {t}")
            t = lookup_type(self.prog, t)
        st = resolve(t)
        if not isinstance(st, StructType):
            raise ObjectError("container_of needs a struct or union type")
        hit = st.find_member(member.split(".")[0]) if "." not in member else None
        if "." in member:
            off = st.lookup_member(member).bit_offset
        elif hit is None:
            raise ObjectError(f"There is no member named {member}.")
        else:
            off = hit[0]
        r = resolve(self.type_)
        base = self.value_() if isinstance(r, PointerType) else self.address_
        if base is None:
            raise ObjectError("Attempt to take address of value not located in memory.")
        return Object(self.prog, pointer_to(t), None, (base - off // 8) & MASK64)

    def __repr__(self) -> str:
        where = f" at 0x{self.address_:x}" if self.address_ is not None else ""
        value = ""
        if resolve(self.type_).kind in (TypeKind.INT, TypeKind.ENUM, TypeKind.POINTER):
            try:
                v = self.value_()
                value = f" = 0x{v:x}" if resolve(self.type_).kind is TypeKind.POINTER else f" = {v}"
            except CrashpyError:
                value = " = <unreadable>"
        return f"<Object {self.type_.type_name()}{where}{value}>"


class FieldReader:
    """One integer or pointer member (a dotted path: "sched_info.last_arrival") of a struct type,
    found by member access once and then read at many addresses: for a loop over every task, where
    an Object per task would cost more than the read. A failed read raises the read's own FaultError."""

    __slots__ = ("prog", "offset", "size", "signed")

    def __init__(self, prog: Program, type: Type | str, path: str) -> None:
        if isinstance(type, str):
            type = lookup_type(prog, type)
        field = Object(prog, pointer_to(type), value=0)  # the member's place in a struct at 0
        for name in path.split("."):
            field = field.member_(name)
        r = resolve(field.type_)
        if r.kind not in (TypeKind.INT, TypeKind.ENUM, TypeKind.POINTER) or field.bit_field_size_ is not None:
            raise ObjectError(f"{path} is not an integer or a pointer")
        assert field.address_ is not None
        self.prog = prog
        self.offset = field.address_
        self.size = sizeof(r)
        self.signed = is_signed(r)

    def __call__(self, address: int) -> int:
        """The member of the struct at `address`."""
        return int.from_bytes(self.prog.read(address + self.offset, self.size), "little", signed=self.signed)


def _make(prog: Program | None, t: Type, address: int | None, data: bytes | None) -> Object:
    """An Object made without __init__'s checks, for member_, index_ and deref_ (which make one per
    step): `address` as the caller computed it, `data` its bytes or None (read on demand)."""
    o = object.__new__(Object)
    o.prog = prog
    o.type_ = t
    o.address_ = address
    o._data = data
    o.bit_offset_ = 0
    o.bit_field_size_ = None
    return o


def _member_names(st: StructType, depth: int = 0) -> list[str]:
    """The names `member_` finds in `st`: its named members and those of its anonymous structs/unions."""
    names: list[str] = []
    for m in st.members():
        if m.name:
            names.append(m.name)
        elif depth < 32:
            inner = resolve(m.type)
            if isinstance(inner, StructType) and inner.is_complete:
                names += _member_names(inner, depth + 1)
    return names


def _pack(t: Type, value: int | float) -> bytes:
    size = sizeof(t)
    r = resolve(t)
    if r.kind is TypeKind.FLOAT:
        if size == 4:
            return _struct.pack("<f", float(value))
        if size == 8:
            return _struct.pack("<d", float(value))
        return b"\0" * size
    if r.kind is TypeKind.POINTER:
        size = POINTER_SIZE
    v = int(value) & ((1 << (8 * size)) - 1) if size else 0
    return v.to_bytes(size, "little")


# ---------------------------------------------------------------------------------------------------------
# Symbols, variable types, per-CPU


# What a look-up in corrupt DWARF may raise (a type that is no type: TypeLookupError, a CrashpyError).
_DWARF_PROBLEMS: tuple[type[Exception], ...] = (*DWARF_READ_ERRORS, CrashpyError)


def dwarf_types(prog: Program) -> Any:
    """The lazy DWARF reader for prog's vmlinux (crashpy.types.dwarf.DwarfTypes, over the vmlinux file
    the Program has open), or None when there is no vmlinux or it has no usable DWARF; made once."""

    def make() -> Any:
        if prog.image is None:
            return None
        from crashpy.types.dwarf import DwarfTypes

        try:
            btf = prog.btf
        except CrashpyError:
            btf = None
        try:
            return DwarfTypes(prog.image, btf=btf)
        except CrashpyError:  # no usable DWARF (ElfError, DwarfFormatError): BTF alone
            return None

    return prog.cache("dwarf", make)


class ModuleTypes:
    """One module's DWARF types and variables (its object file loaded by mod -s), opened on first use."""

    def __init__(self, prog: Program, elf: Any, relocated: Any) -> None:
        self._prog, self._elf, self._relocated = prog, elf, relocated
        self._types: Any = None
        self._failed = False

    def get(self) -> Any:
        """The module's DwarfTypes, or None when its file has no usable DWARF."""
        if self._types is None and not self._failed:
            from crashpy.types.dwarf import DwarfTypes

            try:
                btf = self._prog.btf
            except CrashpyError:
                btf = None
            try:
                self._types = DwarfTypes(self._elf, btf=btf, disk_cache=False, relocated=self._relocated)
            except CrashpyError:
                self._failed = True
        return self._types


def module_types(prog: Program) -> dict[str, ModuleTypes]:
    """The loaded modules' DWARF (mod -s, mod -S), by module name; empty until one is loaded."""
    found: dict[str, ModuleTypes] = prog.cache("dwarf.modules", dict)
    return found


def module_variable(prog: Program, name: str) -> tuple[int, Type] | None:
    """(address, type) of variable or function `name` of a module whose debuginfo is loaded, or None."""
    from crashpy.elf.constants import STT_FUNC, STT_NOTYPE, STT_OBJECT

    for entry in module_types(prog).values():
        dw = entry.get()
        if dw is None:
            continue
        try:
            t = dw.variable_type(name)
            kinds: tuple[int, ...] = (STT_OBJECT, STT_NOTYPE)
            if t is None:
                t, kinds = dw.function_type(name), (STT_FUNC,)
            syms = dw.finder.symbols(name, kinds) if t is not None else []
        except _DWARF_PROBLEMS:
            continue
        if t is not None and syms:
            return syms[0].value, t
    return None


def find_type(prog: Program, name: str, kind: str, *, module_btf: bool = True) -> Type | None:
    """The named type of `kind` ("struct", "typedef", ...): the kernel's BTF, then loaded modules' DWARF
    (mod -s), then (unless `module_btf` is False) the loaded modules' BTF in the dump
    (crashpy.module_btf, read on the first miss)."""
    try:
        t = prog.btf.find(name, kind)
    except CrashpyError:
        t = None
    if t is None:
        for entry in module_types(prog).values():
            dw = entry.get()
            if dw is None:
                continue
            try:
                t = dw.find_type(name, kind)
            except _DWARF_PROBLEMS:
                t = None
            if t is not None:
                break
    if t is None and module_btf:
        t = prog.module_btf.find(name, kind)
    return t  # type: ignore[no-any-return]


def variable_type(prog: Program, name: str) -> Type | None:
    """The declared type of global variable `name`: DWARF first, then BTF's VAR records (per-CPU
    variables); None when neither knows it."""
    dw = dwarf_types(prog)
    if dw is not None:
        try:
            t = dw.variable_type(name)
        except _DWARF_PROBLEMS:  # a DWARF problem must not hide BTF
            t = None
        if t is not None:
            return t  # type: ignore[no-any-return]
    try:
        btf = prog.btf
    except CrashpyError:
        return None
    v = btf.find(name, "var")
    if isinstance(v, VarDecl):
        return v.type
    if prog.image is None:
        return declared_type(prog, name)
    return None


def declared_type(prog: Program, name: str) -> Type | None:
    """Without a debug vmlinux: the type the kernel's headers declare for a well-known variable
    (types/declarations.py), in the kernel's BTF, if it fits before the next symbol; else None."""
    from crashpy.types.declarations import declared_type as declared

    return prog.remember("object.declared", name, lambda: declared(prog, name))


def function_type(prog: Program, name: str) -> Type | None:
    """The prototype of function `name` (DWARF first when it offers function_type, then BTF's FUNC)."""
    dw = dwarf_types(prog)
    if dw is not None and hasattr(dw, "function_type"):
        try:
            t = dw.function_type(name)
        except _DWARF_PROBLEMS:
            t = None
        if t is not None:
            return t  # type: ignore[no-any-return]
    try:
        btf = prog.btf
    except CrashpyError:
        return None
    f = btf.find(name, "func")
    if isinstance(f, FuncDecl) and isinstance(f.type, FunctionType):
        return f.type
    return module_function_type(prog, name)


def module_function_type(prog: Program, name: str) -> FunctionType | None:
    """The prototype of function `name` of a module whose debuginfo is loaded (mod -s), or None."""
    for entry in module_types(prog).values():
        dw = entry.get()
        if dw is None:
            continue
        try:
            t = dw.function_type(name)
        except _DWARF_PROBLEMS:
            t = None
        if isinstance(t, FunctionType):
            return t
    return None


class UnknownTypeError(ObjectError):
    """A symbol whose type no debug information gives."""


def object_for_symbol(prog: Program, name: str) -> Object:
    """The variable or function `name` as an Object (a function Object's address is its entry)."""
    sym = prog.symbols.lookup(name)
    if sym is None:
        raise ObjectError(f'No symbol "{name}" in current context.')
    t = variable_type(prog, name)
    if t is None and sym.type in "TtWw":
        t = function_type(prog, name)
    if t is None:
        raise UnknownTypeError(f"'{name}' has unknown type; cast it to its declared type")
    return Object(prog, t, sym.address)


def is_percpu_symbol(prog: Program, address: int) -> bool:
    """Whether a symbol address lies in the kernel's per-CPU section (crash's is_percpu_symbol)."""
    start = prog.symbols.lookup("__per_cpu_start")
    end = prog.symbols.lookup("__per_cpu_end")
    if start is None or end is None:
        return False
    return start.address <= address < end.address


def per_cpu(prog: Program, var: str | Object, cpu: int) -> Object:
    """per_cpu(var, cpu): the CPU's instance of a per-CPU variable (a name, or an Object at the
    per-CPU section offset)."""
    obj = object_for_symbol(prog, var) if isinstance(var, str) else var
    if obj.address_ is None:
        raise ObjectError("Attempt to take address of value not located in memory.")
    offsets = prog.percpu_offsets
    if not 0 <= cpu < len(offsets):
        raise ObjectError(f"invalid cpu number: {cpu}")
    return Object(prog, obj.type_, prog.percpu_address(obj.address_, cpu))


def container_of(ptr: Object, t: Type | str, member: str) -> Object:
    """container_of(ptr, type, member): the `type *` whose `member` `ptr` points to."""
    return ptr.container_of_(t, member)


def address_of(obj: Object) -> int:
    """Where `obj` points (a pointer's value) or where it lies (a struct, an array): the address a
    list head, a tree root or an array given either way stands for."""
    if resolve(obj.type_).kind is TypeKind.POINTER:
        return int(obj.value_())
    if obj.address_ is None:
        raise ObjectError("Attempt to take address of value not located in memory.")
    return obj.address_


def has_member(prog: Program, spelling: str, member: str) -> bool:
    """Whether the type spelled `spelling` ("struct task_struct") has `member` (anonymous structs and
    unions searched, as C does): a kernel-version feature check, on the kernel's own types (no
    module's). Only the type-lookup error (no such type) reads as False; anything else is raised."""
    try:
        t = resolve(prog.btf.lookup_type(spelling))
    except TypeLookupError:
        return False
    return isinstance(t, StructType) and t.is_complete and t.find_member(member) is not None


__all__ = [
    "FieldReader",
    "MemberError",
    "address_of",
    "crash_faults",
    "has_member",
    "lookup_type",
    "Object",
    "ObjectError",
    "ObjectReadError",
    "UnknownTypeError",
    "container_of",
    "dwarf_types",
    "find_type",
    "module_types",
    "module_variable",
    "function_type",
    "is_percpu_symbol",
    "object_for_symbol",
    "per_cpu",
    "pointer_to",
    "resolve",
    "sizeof",
    "variable_type",
]
