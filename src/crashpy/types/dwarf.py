"""Types from a debug vmlinux's DWARF, read lazily: what BTF cannot answer (BTF of 6.1 types only the
per-CPU variables; global variables, and any type BTF lacks, come from here).

Nothing walks every DIE (a kernel's .debug_info holds millions; gdb needs ~30 s to load it). A name is
found through the bytes that must hold it, and each hit is checked by reading one unit's top level:

- a variable: its ELF symbol's address, searched in .debug_info as the `DW_OP_addr <address>` of a
  DW_AT_location (one bytes.find over the mapped section). That finds the definition, which may be a
  DIE without a name pointing at the declaration (DW_AT_specification). When the first definition has an
  incomplete type (`linux_banner[]`, defined through a declaration in init/version.c) a later one with a
  complete type is preferred (init/version-timestamp.c's `[204]`): crash 8.0.6 and gdb 13 show that one;
- a variable whose symbol has no size (a linker-script symbol: `jiffies = jiffies_64;`, `_text`): a
  declaration, found by name: the name's offset in .debug_str searched as a DW_FORM_strp value (the
  name itself for names GCC writes inline with DW_FORM_string), each hit first checked against the
  abbreviation code before it (a top-level declaration has DW_AT_declaration, a local variable not).
  The linker merges strings into the tails of longer ones (`jiffies` lives at the end of
  `neigh_proc_dointvec_jiffies`, as one of 42 tails); GNU ld keeps a suffix in the string that sorts just
  after it by reversed bytes, so that copy is tried first, and only a few are;
- a function: its symbol's address in .debug_aranges gives the unit, DW_AT_low_pc is searched there;
- a type BTF lacks: by name, as above (a definition before a declaration).

A name without an ELF symbol is no variable or function (gdb skips statics without a location; those
with one have a symbol), so a common word (`count`, `i`) costs no search of every unit.

Types are made from DIEs on demand (a struct's members on first use, an opaque struct's definition when
its size or members are first asked for) and cached by DIE offset; a named struct, union, enum or
typedef is the BTF type of that name when BTF has one of that size, so both sources hand out the same
objects. Base types keep the compiler's names ("long unsigned int"); gdb 10 and 13 print them in their
canonical C spelling ("unsigned long"), as the model's type_name() does unless asked for raw names.
What a name resolved to (a DIE offset, or not found) is kept on the object and, keyed by build-id, in
a small JSON file under ~/.cache/crashpy/dwarf-index/, checked against the DIE when read back.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import crashpy.diskcache as diskcache
from crashpy.dwarf.constants import (
    AT_ABSTRACT_ORIGIN,
    AT_BIT_OFFSET,
    AT_BIT_SIZE,
    AT_BYTE_SIZE,
    AT_CONST_VALUE,
    AT_COUNT,
    AT_DATA_BIT_OFFSET,
    AT_DATA_MEMBER_LOCATION,
    AT_DECLARATION,
    AT_ENCODING,
    AT_LOWER_BOUND,
    AT_PROTOTYPED,
    AT_SPECIFICATION,
    AT_TYPE,
    AT_UPPER_BOUND,
    ATE_BOOLEAN,
    ATE_COMPLEX_FLOAT,
    ATE_FLOAT,
    ATE_SIGNED,
    ATE_SIGNED_CHAR,
    ATE_UNSIGNED_CHAR,
    ATE_UTF,
    OP_CONSTU,
    OP_PLUS_UCONST,
    TAG_ARRAY_TYPE,
    TAG_ATOMIC_TYPE,
    TAG_BASE_TYPE,
    TAG_CLASS_TYPE,
    TAG_CONST_TYPE,
    TAG_ENUMERATION_TYPE,
    TAG_ENUMERATOR,
    TAG_FORMAL_PARAMETER,
    TAG_IMMUTABLE_TYPE,
    TAG_MEMBER,
    TAG_POINTER_TYPE,
    TAG_REFERENCE_TYPE,
    TAG_RESTRICT_TYPE,
    TAG_STRUCTURE_TYPE,
    TAG_SUBPROGRAM,
    TAG_SUBRANGE_TYPE,
    TAG_SUBROUTINE_TYPE,
    TAG_TYPEDEF,
    TAG_UNION_TYPE,
    TAG_UNSPECIFIED_PARAMETERS,
    TAG_UNSPECIFIED_TYPE,
    TAG_VARIABLE,
    TAG_VOLATILE_TYPE,
)
from crashpy.dwarf.errors import DWARF_READ_ERRORS, DwarfFormatError
from crashpy.dwarf.forms import DATA_SIZES, REF_FORMS, read_uleb
from crashpy.dwarf.info import Die, DwarfInfo
from crashpy.dwarf.names import DieFinder
from crashpy.elf.file import ElfFile
from crashpy.elf.relocate import RelocatedSections
from crashpy.types.int_names import canonical_int_name
from crashpy.types.lookup import lookup_type, split_tag
from crashpy.types.model import (
    ArrayType,
    EnumType,
    FloatType,
    FunctionType,
    IncompleteTypeError,
    IntType,
    LazyType,
    Member,
    Parameter,
    PointerType,
    QualifiedType,
    StructType,
    Type,
    TypedefType,
    TypeKind,
    TypeLookupError,
    VoidType,
)

__all__ = ["DwarfFormatError", "DwarfTypes", "NamedTypeResolver"]

_SIGNED_ENCODINGS = frozenset({ATE_SIGNED, ATE_SIGNED_CHAR})

# find_type kinds -> the DIE tags that may define them
_KIND_TAGS: dict[str, frozenset[int]] = {
    "struct": frozenset({TAG_STRUCTURE_TYPE, TAG_CLASS_TYPE}),
    "union": frozenset({TAG_UNION_TYPE}),
    "enum": frozenset({TAG_ENUMERATION_TYPE}),
    "typedef": frozenset({TAG_TYPEDEF}),
    "int": frozenset({TAG_BASE_TYPE}),
    "float": frozenset({TAG_BASE_TYPE}),
}
_ALL_TYPE_TAGS = frozenset().union(*_KIND_TAGS.values())
_QUALIFIER_TAGS = {
    TAG_CONST_TYPE: TypeKind.CONST,
    TAG_VOLATILE_TYPE: TypeKind.VOLATILE,
    TAG_RESTRICT_TYPE: TypeKind.RESTRICT,
}
_MISSING = -1  # a name looked up and not found (in the index caches)
# Bumped when what a name resolves to changes, so that older on-disk indexes are not read.
_INDEX_VERSION = 1
# gdb's spelling of a C integer type -> GCC's DW_AT_name for it
_GCC_INT_NAMES = {
    "short": "short int",
    "unsigned short": "short unsigned int",
    "long": "long int",
    "unsigned long": "long unsigned int",
    "long long": "long long int",
    "unsigned long long": "long long unsigned int",
}


class NamedTypeResolver(Protocol):
    """What DwarfTypes asks for named types first (a BTF object has this `find`)."""

    def find(self, name: str, kind: str | None = None) -> Type | None: ...


class DwarfTypes:
    """Variable, function and type look-ups in an ELF file's DWARF, read lazily.

    `btf` (a BTF object, anything with `find(name, kind)`, or a function of (name, kind)) supplies named
    struct/union/enum/typedef types, so that DWARF and BTF types are the same objects. `cache_dir` is
    where the name index is kept (default ~/.cache/crashpy/dwarf-index, $CRASHPY_CACHE respected);
    `disk_cache=False` keeps it in memory only. `elf` is a path, or an ElfFile already open (which
    close() then leaves open).
    """

    def __init__(
        self,
        elf: str | os.PathLike[str] | ElfFile,
        btf: NamedTypeResolver | Callable[[str, str], Type | None] | None = None,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        disk_cache: bool = True,
        relocated: RelocatedSections | None = None,
    ) -> None:
        t0 = time.perf_counter()
        self._owns_elf = not isinstance(elf, ElfFile)
        self.elf = elf if isinstance(elf, ElfFile) else ElfFile(elf)
        self.path = self.elf.path
        try:
            # a module's object file: its DWARF as relocated to where the module's sections lie
            self.dwarf = DwarfInfo(relocated if relocated is not None else self.elf)
        except DwarfFormatError:
            self.close()
            raise
        self.finder = DieFinder(
            self.dwarf, self.elf.symtab, relocated.section_address if relocated is not None else None
        )
        self._resolver: Callable[[str, str], Type | None] | None
        if btf is None:
            self._resolver = None
        elif hasattr(btf, "find"):
            self._resolver = btf.find
        else:
            self._resolver = btf  # type: ignore[assignment]
        self._types: dict[int, Type] = {}
        self._functions: dict[int, FunctionType] = {}
        self._void = VoidType()
        self._found: dict[str, int] = {}  # "var:jiffies" -> DIE offset (or _MISSING)
        self._results: dict[str, Type | None] = {}
        self._disk_cache = disk_cache
        self._cache_dir = Path(cache_dir) if cache_dir is not None else diskcache.root() / "dwarf-index"
        self._index_file: Path | None = None
        self._index_loaded = False
        self.open_seconds = time.perf_counter() - t0
        """How long opening (ELF headers, the first unit header) took."""

    def close(self) -> None:
        """Close the file (when this object opened it)."""
        if self._owns_elf:
            self.elf.close()

    @property
    def pointer_size(self) -> int:
        """The size of an address in the DWARF (its first unit's)."""
        return self.finder.pointer_size

    @property
    def build_id(self) -> str | None:
        """The file's GNU build-id (hex), or None."""
        return self.elf.build_id

    def __repr__(self) -> str:
        return f"<DwarfTypes {self.path} {len(self.dwarf.units)} units>"

    # -- public look-ups ---------------------------------------------------------------------------

    def variable_type(self, name: str) -> Type | None:
        """The type of global or static variable `name` (`jiffies` -> volatile unsigned long), from
        its defining DIE when there is one, else from a declaration; None if DWARF has no such variable."""
        key = "var:" + name
        if key in self._results:
            return self._results[key]
        off = self._lookup(
            key, lambda: self._find_variable(name), _named_die_check(self.finder, name, TAG_VARIABLE)
        )
        t = self._variable_die_type(self.dwarf.die(off)) if off != _MISSING else None
        self._results[key] = t
        return t

    def variable_offset(self, name: str) -> int | None:
        """The .debug_info offset of the DIE variable_type() reads (the definition if any)."""
        off = self._lookup(
            "var:" + name,
            lambda: self._find_variable(name),
            _named_die_check(self.finder, name, TAG_VARIABLE),
        )
        return None if off == _MISSING else off

    def function_type(self, name: str) -> FunctionType | None:
        """The prototype of function `name` (`schedule` -> void (void)), or None."""
        key = "func:" + name
        if key in self._results:
            t = self._results[key]
            return t if isinstance(t, FunctionType) else None
        off = self._lookup(
            key, lambda: self._find_function(name), _named_die_check(self.finder, name, TAG_SUBPROGRAM)
        )
        ft = self._function_type(off) if off != _MISSING else None
        self._results[key] = ft
        return ft

    def find_type(self, name: str, kind: str | None = None) -> Type | None:
        """The type called `name` of `kind` ("struct", "union", "enum", "typedef", "int", "float", or
        None for any; "struct foo" implies the kind): BTF's when the resolver has it, else DWARF's
        (a complete definition before a declaration)."""
        tag, bare = split_tag(name)
        if tag is not None:
            if kind is not None and kind != tag:
                return None
            name, kind = bare, tag
        if kind is not None and kind not in _KIND_TAGS:
            raise ValueError(f"unknown type kind {kind!r}; one of {', '.join(_KIND_TAGS)}")
        key = f"type:{kind or ''}:{name}"
        if key in self._results:
            return self._results[key]
        t: Type | None = None
        if self._resolver is not None and kind not in ("int", "float"):
            for k in [kind] if kind else ["struct", "union", "enum", "typedef"]:
                t = self._resolver(name, k)
                if t is not None:
                    break
        if t is None:
            tags = _KIND_TAGS[kind] if kind else _ALL_TYPE_TAGS
            spelling = name
            if kind in (None, "int"):  # "unsigned long" is "long unsigned int" to GCC
                spelling = _GCC_INT_NAMES.get(canonical_int_name(name), name)
            off = self._lookup(
                key, lambda: self._find_named_type(spelling, tags), _type_check(spelling, tags)
            )
            if off != _MISSING:
                t = self.by_id(off)
                if (
                    kind == "int"
                    and t.kind is not TypeKind.INT
                    or kind == "float"
                    and t.kind is not TypeKind.FLOAT
                ):
                    t = None
        self._results[key] = t
        return t

    def find(self, name: str, kind: str | None = None) -> Type | None:
        """find_type() under the name the TypeIndex protocol uses."""
        return self.find_type(name, kind)

    def lookup_type(self, spelling: str) -> Type:
        """The type a C type name spells ("struct task_struct *", "unsigned long"); TypeLookupError."""
        return lookup_type(self, spelling)

    # -- finding DIEs --------------------------------------------------------------------------------

    def _lookup(self, key: str, search: Callable[[], int | None], check: Callable[[Die], bool]) -> int:
        off = self._found.get(key)
        if off is not None:
            return off
        self._load_index()
        off = self._found.get(key)
        if off is not None and off != _MISSING:
            try:
                if not check(self.dwarf.die(off)):
                    off = None
            except DWARF_READ_ERRORS:
                off = None
        if off is None:
            found = search()
            off = _MISSING if found is None else found
            self._found[key] = off
            self._save_index()
        else:
            self._found[key] = off
        return off

    def _find_variable(self, name: str) -> int | None:
        return self.finder.find_variable(name, lambda die: _is_complete(self._variable_die_type(die)))

    def _find_function(self, name: str) -> int | None:
        return self.finder.find_function(name)

    def _find_named_type(self, name: str, tags: frozenset[int]) -> int | None:
        return self.finder.find_named_type(name, tags)

    # -- the on-disk name index ------------------------------------------------------------------------

    def _load_index(self) -> None:
        if self._index_loaded:
            return
        self._index_loaded = True
        if not self._disk_cache:
            return
        key = self.build_id
        if key is None:
            st = os.stat(self.path)
            key = hashlib.sha256(f"{self.path}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:40]
        info = self.dwarf.info
        self._index_file = self._cache_dir / f"{key}-{info.size:x}-v{_INDEX_VERSION}.json"
        raw = diskcache.read_bytes(self._index_file)
        try:
            saved = json.loads(raw) if raw is not None else None
        except ValueError:
            return
        if isinstance(saved, dict):
            for k, v in saved.items():
                if isinstance(k, str) and isinstance(v, int) and k not in self._found:
                    self._found[k] = v

    def _save_index(self) -> None:
        if not self._disk_cache or self._index_file is None:
            return
        diskcache.write_bytes(self._index_file, json.dumps(self._found, sort_keys=True).encode())

    # -- making types ------------------------------------------------------------------------------------

    def by_id(self, type_id: int) -> Type:
        """The Type of the DIE at .debug_info offset `type_id` (the TypeSource protocol)."""
        t = self._types.get(type_id)
        if t is None:
            t = self._types[type_id] = self._make(self.dwarf.die(type_id))
        return t

    def _ref(self, die: Die, at: int = AT_TYPE) -> Type | LazyType:
        off = die.get(at)
        if not isinstance(off, int):
            return self._void
        t = self._types.get(off)
        return t if t is not None else LazyType(self, off)

    def _named(self, name: str, kind: str) -> Type | None:
        if self._resolver is None:
            return None
        try:
            return self._resolver(name, kind)
        except (KeyError, ValueError):
            return None

    def _make(self, die: Die) -> Type:
        tag = die.tag
        name = die.name
        if tag in _QUALIFIER_TAGS:
            return QualifiedType(_QUALIFIER_TAGS[tag], self._ref(die))
        if tag in (TAG_POINTER_TYPE, TAG_REFERENCE_TYPE):
            size = die.get(AT_BYTE_SIZE)
            return PointerType(self._ref(die), size if isinstance(size, int) else self.pointer_size)
        if tag == TAG_TYPEDEF:
            if name is not None:
                found = self._named(name, "typedef")
                if found is not None:
                    return found
            return TypedefType(name or "", self._ref(die))
        if tag == TAG_BASE_TYPE:
            return self._base_type(die)
        if tag in (TAG_STRUCTURE_TYPE, TAG_CLASS_TYPE, TAG_UNION_TYPE):
            return self._struct(die)
        if tag == TAG_ARRAY_TYPE:
            return self._array(die)
        if tag == TAG_ENUMERATION_TYPE:
            return self._enum(die)
        if tag == TAG_SUBROUTINE_TYPE:
            return self._prototype(die, die)
        if tag == TAG_SUBPROGRAM:
            return self._function_type(die.offset)
        if tag in (TAG_ATOMIC_TYPE, TAG_IMMUTABLE_TYPE):  # qualifiers the model does not spell
            ref = die.get(AT_TYPE)
            return self.by_id(ref) if isinstance(ref, int) else self._void
        if tag == TAG_UNSPECIFIED_TYPE:
            return self._void
        raise TypeLookupError(f"DWARF DIE at {die.offset:#x} (tag {tag:#x}) is not a type")

    def _base_type(self, die: Die) -> Type:
        name = die.name or "?"
        size = die.get(AT_BYTE_SIZE, 0)
        enc = die.get(AT_ENCODING, ATE_SIGNED)
        if enc in (ATE_FLOAT, ATE_COMPLEX_FLOAT):
            return FloatType(name, size)
        return IntType(
            name,
            size,
            signed=enc in _SIGNED_ENCODINGS,
            is_char=enc in (ATE_SIGNED_CHAR, ATE_UNSIGNED_CHAR, ATE_UTF),
            is_bool=enc == ATE_BOOLEAN,
        )

    def _struct(self, die: Die) -> Type:
        kind = TypeKind.UNION if die.tag == TAG_UNION_TYPE else TypeKind.STRUCT
        name = die.name
        declaration = bool(die.get(AT_DECLARATION))
        size = die.get(AT_BYTE_SIZE)
        if name is not None:
            found = self._named(name, kind.value)
            if (
                found is not None
                and found.kind is kind
                and found.is_complete
                and (declaration or not isinstance(size, int) or found.size == size)
            ):
                return found
            if declaration:  # an opaque use here: gdb finds the definition elsewhere, on first use
                return _DeclaredStruct(kind, name, lambda: self._definition_of(name, kind.value, die.offset))
        if declaration or not isinstance(size, int):
            return StructType(kind, name, None, [])
        return StructType(kind, name, size, lambda: self._members(die))

    def _definition_of(self, name: str, kind: str, not_at: int) -> Type | None:
        tags = _KIND_TAGS[kind]
        off = self._lookup(
            f"type:{kind}:{name}", lambda: self._find_named_type(name, tags), _type_check(name, tags)
        )
        if off == _MISSING or off == not_at or self.dwarf.die(off).get(AT_DECLARATION):
            return None
        return self.by_id(off)

    def _members(self, die: Die) -> list[Member]:
        members: list[Member] = []
        big_endian = self.dwarf.order == ">"
        for child_off in self.dwarf.children(die):
            child = self.dwarf.die(child_off, die.unit)
            if child.tag != TAG_MEMBER:
                continue
            bit_size = child.get(AT_BIT_SIZE)
            bit_field = bit_size if isinstance(bit_size, int) else None
            data_bit = child.get(AT_DATA_BIT_OFFSET)
            if isinstance(data_bit, int):
                bit_offset = data_bit
            else:
                bit_offset = self._member_location(child.get(AT_DATA_MEMBER_LOCATION)) * 8
                old = child.get(AT_BIT_OFFSET)
                if isinstance(old, int) and bit_field is not None:
                    # DWARF 2-4: bits from the most significant bit of the storage unit.
                    storage = child.get(AT_BYTE_SIZE)
                    if not isinstance(storage, int):
                        storage = self._ref_type(child).size
                    if big_endian:
                        bit_offset += old
                    else:
                        bit_offset += storage * 8 - old - bit_field
            members.append(Member(child.name, self._ref(child), bit_offset, bit_field))
        return members

    def _ref_type(self, die: Die) -> Type:
        ref = self._ref(die)
        return ref.get() if isinstance(ref, LazyType) else ref

    @staticmethod
    def _member_location(value: Any) -> int:
        if isinstance(value, int):
            return value
        if isinstance(value, bytes) and value:
            # DWARF 2/3 wrote the offset as an expression: DW_OP_plus_uconst N (or DW_OP_constu N).
            if value[0] in (OP_PLUS_UCONST, OP_CONSTU):
                return read_uleb(value, 1)[0]
        return 0

    def _array(self, die: Die) -> Type:
        dims: list[tuple[int, bool]] = []  # (length, flexible)
        for child_off in self.dwarf.children(die):
            child = self.dwarf.die(child_off, die.unit)
            if child.tag != TAG_SUBRANGE_TYPE:
                continue
            dims.append(self._subrange_length(child))
        if not dims:
            dims.append((0, True))
        t: Type | LazyType = self._ref(die)
        for length, flexible in reversed(dims):
            t = ArrayType(t, length, is_flexible=flexible)
        assert isinstance(t, ArrayType)
        return t

    def _subrange_length(self, sub: Die) -> tuple[int, bool]:
        """(length, flexible) of one dimension: DW_AT_count, or DW_AT_upper_bound and DW_AT_lower_bound;
        neither (`x[]`) or a bound computed at run time is flexible. An upper bound of all ones in the
        width of the index type is -1 (older GCCs' `x[0]`), as gdb reads it."""
        count = sub.get(AT_COUNT)
        if isinstance(count, int) and sub.forms[AT_COUNT] not in REF_FORMS:
            return max(count, 0), False
        upper = sub.get(AT_UPPER_BOUND)
        if isinstance(upper, int) and sub.forms[AT_UPPER_BOUND] not in REF_FORMS:
            if upper > 0 and upper == (1 << (8 * self._index_size(sub))) - 1:
                upper = -1
            lower = sub.get(AT_LOWER_BOUND, 0)
            lower = lower if isinstance(lower, int) else 0
            return max(upper - lower + 1, 0), False
        return 0, True

    def _index_size(self, sub: Die) -> int:
        ref = sub.get(AT_TYPE)
        if isinstance(ref, int):
            try:
                size = self.dwarf.die(ref).get(AT_BYTE_SIZE)
            except DwarfFormatError:
                size = None
            if isinstance(size, int) and size > 0:
                return size
        return self.pointer_size

    def _enum(self, die: Die) -> Type:
        name = die.name
        size = die.get(AT_BYTE_SIZE, 4)
        declaration = bool(die.get(AT_DECLARATION))
        if name is not None:
            found = self._named(name, "enum")
            if found is not None and found.is_complete and (declaration or found.size == size):
                return found
        signed: bool | None = None
        under = die.get(AT_TYPE)
        if isinstance(under, int):
            base = self.by_id(under).strip()
            if isinstance(base, IntType):
                signed = base.signed
        values: dict[str, int] = {}
        for child_off in self.dwarf.children(die):
            child = self.dwarf.die(child_off, die.unit)
            if child.tag != TAG_ENUMERATOR or child.name is None:
                continue
            v = child.get(AT_CONST_VALUE, 0)
            form = child.forms.get(AT_CONST_VALUE)
            bits = 8 * DATA_SIZES.get(form or 0, 0)
            if bits and signed and v >> (bits - 1):
                v -= 1 << bits
            values.setdefault(child.name, v)
        if signed is None:
            signed = any(v < 0 for v in values.values())
        return EnumType(name, size, signed, values, complete=not declaration)

    def _prototype(self, die: Die, params_die: Die) -> FunctionType:
        params: list[Parameter] = []
        variadic = False
        for child_off in self.dwarf.children(params_die):
            child = self.dwarf.die(child_off, params_die.unit)
            if child.tag == TAG_FORMAL_PARAMETER:
                origin = child
                if AT_TYPE not in child.attrs and isinstance(child.get(AT_ABSTRACT_ORIGIN), int):
                    origin = self.dwarf.die(child.attrs[AT_ABSTRACT_ORIGIN])
                params.append(Parameter(origin.name, self._ref(origin)))
            elif child.tag == TAG_UNSPECIFIED_PARAMETERS:
                variadic = True
        return FunctionType(self._ref(die), params, variadic)

    def _function_type(self, offset: int) -> FunctionType:
        ft = self._functions.get(offset)
        if ft is not None:
            return ft
        die = self.dwarf.die(offset)
        # An out-of-line copy of an inline function, or a definition of a declaration, says its
        # prototype through DW_AT_abstract_origin / DW_AT_specification.
        proto = die
        for _ in range(8):
            if AT_TYPE in proto.attrs or AT_PROTOTYPED in proto.attrs:
                break
            ref = proto.get(AT_ABSTRACT_ORIGIN, proto.get(AT_SPECIFICATION))
            if not isinstance(ref, int):
                break
            proto = self.dwarf.die(ref)
        ft = self._prototype(proto, proto)
        self._functions[offset] = ft
        return ft

    def _variable_die_type(self, die: Die) -> Type:
        for _ in range(8):
            ref = die.get(AT_TYPE)
            if isinstance(ref, int):
                return self.by_id(ref)
            nxt = die.get(AT_SPECIFICATION, die.get(AT_ABSTRACT_ORIGIN))
            if not isinstance(nxt, int):
                break
            die = self.dwarf.die(nxt)
        return self._void


# ---------------------------------------------------------------------------------------------------------
# Checks of cached index entries (a stale or foreign cache file must not give a wrong answer)


def _named_die_check(finder: DieFinder, name: str, tag: int) -> Callable[[Die], bool]:
    def check(die: Die) -> bool:
        return die.tag == tag and finder.variable_name(die) == name

    return check


def _type_check(name: str, tags: frozenset[int]) -> Callable[[Die], bool]:
    def check(die: Die) -> bool:
        return die.tag in tags and die.name == name

    return check


class _DeclaredStruct(StructType):
    """A struct or union this unit only declares (`struct foo;`): its definition, wherever it is, is
    looked up when its size or members are first asked for (gdb resolves opaque types the same way)."""

    __slots__ = ("_resolve", "_definition", "_resolved")

    def __init__(self, kind: TypeKind, name: str, resolve: Callable[[], Type | None]) -> None:
        super().__init__(kind, name, None, [])
        self._resolve: Callable[[], Type | None] | None = resolve
        self._definition: StructType | None = None

    def definition(self) -> StructType | None:
        """The complete type of this name, or None if DWARF has none."""
        if self._resolve is not None:
            resolve, self._resolve = self._resolve, None
            found = resolve()
            if isinstance(found, StructType) and found.kind is self.kind and found.is_complete:
                self._definition = found
        return self._definition

    @property
    def size(self) -> int:
        d = self.definition()
        if d is None:
            raise IncompleteTypeError(f"No {self.kind.value} type named {self.name}.")
        return d.size

    @property
    def is_complete(self) -> bool:
        return self.definition() is not None

    def members(self) -> list[Member]:
        d = self.definition()
        return d.members() if d is not None else []

    def find_member(self, name: str) -> tuple[int, Member] | None:
        d = self.definition()
        return d.find_member(name) if d is not None else None


def _is_complete(t: Type) -> bool:
    """False for a flexible array or an incomplete struct (through typedefs and qualifiers)."""
    try:
        s = t.strip()
    except TypeLookupError:
        return False
    return s.is_complete and not (isinstance(s, ArrayType) and s.is_flexible)
