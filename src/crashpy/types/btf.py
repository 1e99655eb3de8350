"""A reader of BTF, the kernel's compact type information (the .BTF section of vmlinux, or the same
bytes found in a kernel's memory between __start_BTF and __stop_BTF).

Format (include/uapi/linux/btf.h, Documentation/bpf/btf.rst): a header, a type section of
variable-length records (12 bytes `name_off, info, size|type`, then kind-specific words), and a
string section. Type ids count records from 1 (0 is void). Split BTF (kernel modules) continues the
type ids and string offsets of a base BTF.

Opening scans the type section once, keeping only each record's word offset in an array; Type
objects are made on demand and cached. The name index is built on the first look-up by name. A
vmlinux's record offsets and name index are kept on disk (load_btf_from_elf), so that the next
session opens its BTF without scanning it.
"""

from __future__ import annotations

import array
import os
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import crashpy.diskcache as diskcache
from crashpy.elf.file import ElfFile
from crashpy.errors import CrashpyError
from crashpy.types.int_names import canonical_int_name
from crashpy.types.lookup import lookup_type, split_tag
from crashpy.types.model import (
    ArrayType,
    DataSec,
    EnumType,
    FloatType,
    FuncDecl,
    FunctionType,
    IntType,
    LazyType,
    Member,
    MemberLookup,
    Parameter,
    PointerType,
    QualifiedType,
    StructType,
    Type,
    TypedefType,
    TypeKind,
    TypeLookupError,
    VarDecl,
    VoidType,
    no_type_error,
)

BTF_MAGIC = 0xEB9F

KIND_UNKN = 0
KIND_INT = 1
KIND_PTR = 2
KIND_ARRAY = 3
KIND_STRUCT = 4
KIND_UNION = 5
KIND_ENUM = 6
KIND_FWD = 7
KIND_TYPEDEF = 8
KIND_VOLATILE = 9
KIND_CONST = 10
KIND_RESTRICT = 11
KIND_FUNC = 12
KIND_FUNC_PROTO = 13
KIND_VAR = 14
KIND_DATASEC = 15
KIND_FLOAT = 16
KIND_DECL_TAG = 17
KIND_TYPE_TAG = 18
KIND_ENUM64 = 19

# Record length in 32-bit words: 3 (struct btf_type) + a fixed part + vlen * a per-item part.
# FUNC keeps its linkage in vlen, so its per-item part is 0. Unknown kinds (20..31) stop the scan.
_FIXED_WORDS = (3, 4, 3, 6, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 3, 3, 4, 3, 3) + (0,) * 12
_VLEN_WORDS = (0, 0, 0, 0, 3, 3, 2, 0, 0, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 3) + (0,) * 12

_INT_SIGNED = 1
_INT_CHAR = 2
_INT_BOOL = 4

_QUALIFIER_KINDS = {
    KIND_CONST: TypeKind.CONST,
    KIND_VOLATILE: TypeKind.VOLATILE,
    KIND_RESTRICT: TypeKind.RESTRICT,
}
_MODIFIER_KINDS = (KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG)

_LONG_NAMES = ("long int", "long unsigned int", "long", "unsigned long")

# The BTF kinds each `find(kind=...)` name accepts, best first (a definition beats a forward declaration).
_FIND_KINDS: dict[str, tuple[int, ...]] = {
    "struct": (KIND_STRUCT, KIND_FWD),
    "union": (KIND_UNION, KIND_FWD),
    "enum": (KIND_ENUM, KIND_ENUM64),
    "typedef": (KIND_TYPEDEF,),
    "int": (KIND_INT,),
    "float": (KIND_FLOAT,),
    "func": (KIND_FUNC,),
    "var": (KIND_VAR,),
    "datasec": (KIND_DATASEC,),
}


class BTFFormatError(CrashpyError):
    """The bytes are not BTF, or are corrupt."""


SavedIndex = tuple[bytes, dict[bytes, int | list[int]]]
"""A BTF's record offsets (array "I" bytes) and name index, as BTF.saved_index() gives them."""


class BTF:
    """Kernel type information from a BTF blob (the .BTF section's bytes).

    `base` is the vmlinux BTF when `data` is a module's split BTF. `pointer_size` defaults to the size
    of `long`.
    """

    def __init__(
        self,
        data: bytes | bytearray | memoryview,
        base: BTF | None = None,
        pointer_size: int | None = None,
        index: SavedIndex | None = None,
    ) -> None:
        """`index`: the record offsets and name index saved from a BTF of the same bytes (saved_index())."""
        t0 = time.perf_counter()
        raw = memoryview(data)
        if len(raw) < 24:
            raise BTFFormatError("BTF: too short for a header")
        magic_bytes = bytes(raw[:2])
        if magic_bytes == b"\x9f\xeb":
            order = "<"
        elif magic_bytes == b"\xeb\x9f":
            order = ">"
        else:
            raise BTFFormatError(f"BTF: bad magic {magic_bytes.hex()}")
        self.byteorder = "little" if order == "<" else "big"
        version, self.flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
            order + "BBIIIII", raw, 2
        )
        if version != 1:
            raise BTFFormatError(f"BTF: unsupported version {version}")
        types_start = hdr_len + type_off
        strs_start = hdr_len + str_off
        if (
            hdr_len < 24
            or type_len % 4
            or types_start % 4
            or types_start + type_len > len(raw)
            or strs_start + str_len > len(raw)
        ):
            raise BTFFormatError("BTF: header describes sections beyond the data")
        self.base = base
        self._strings = bytes(raw[strs_start : strs_start + str_len])
        self._str_base: int = len(base._strings) + base._str_base if base is not None else 0
        words = array.array("I")
        if words.itemsize != 4:  # pragma: no cover - every CPython platform crashpy runs on
            words = array.array("L")
        words.frombytes(raw[types_start : types_start + type_len])
        if (order == "<") != (sys.byteorder == "little"):
            words.byteswap()
        self._words = words
        self._first_id = base.n_types if base is not None else 1
        if index is None:
            self._offsets = self._scan(words)
        else:
            offsets = array.array("I")
            offsets.frombytes(index[0])
            if not offsets or offsets[0] != 0 or offsets[-1] + 3 > len(words):
                raise BTFFormatError("BTF: a saved index that does not fit the type section")
            self._offsets = offsets
        self.n_types: int = self._first_id + len(self._offsets)
        """Type ids run from 0 (void) to n_types - 1, including a base's."""
        self._cache: list[Type | None] = [None] * len(self._offsets)
        self._void: VoidType = base._void if base is not None else VoidType()
        self._names: dict[bytes, int | list[int]] | None = None if index is None else index[1]
        # Answers by name, kept because a BTF never changes once read: a command asks for the same
        # few types and members once per task (a TypeLookupError is kept as its class and message).
        self._found: dict[tuple[str, str | None], Type | None] = {}
        self._spelled: dict[str, Type | tuple[type[TypeLookupError], str]] = {}
        self._offsets_of: dict[tuple[str, str], int | tuple[type[TypeLookupError], str]] = {}
        self._pointer_size = pointer_size
        self.index_seconds = time.perf_counter() - t0
        """How long opening (header, copy, record scan) took."""

    # -- the scan -----------------------------------------------------------------------------------

    @staticmethod
    def _scan(words: array.array[int]) -> array.array[int]:
        """The word offset of every type record, in type id order."""
        fixed = _FIXED_WORDS
        per = _VLEN_WORDS
        offsets = array.array("I")
        append = offsets.append
        n = len(words)
        i = 0
        while i < n:
            append(i)
            info = words[i + 1]
            kind = info >> 24 & 0x1F
            step = fixed[kind] + (info & 0xFFFF) * per[kind]
            if not step:
                raise BTFFormatError(f"BTF: unknown kind {kind} for type {len(offsets)}")
            i += step
        if i != n:
            raise BTFFormatError("BTF: last type record runs past the type section")
        return offsets

    # -- strings and raw records -------------------------------------------------------------------

    def string(self, offset: int) -> str:
        """The string at `offset` of the string section ("" for 0)."""
        if offset < self._str_base:
            assert self.base is not None
            return self.base.string(offset)
        off = offset - self._str_base
        s = self._strings
        end = s.find(b"\0", off)
        if off >= len(s) or end < 0:
            raise BTFFormatError(f"BTF: string offset {offset} out of range")
        return s[off:end].decode("utf-8", "replace")

    def _record(self, type_id: int) -> int:
        """Word offset of `type_id`'s record in this BTF (not a base's)."""
        local = type_id - self._first_id
        if local < 0 or local >= len(self._offsets):
            raise TypeLookupError(f"BTF type id {type_id} out of range")
        return self._offsets[local]

    def raw_kind(self, type_id: int) -> int:
        """The BTF_KIND_* of a type id, without materialising it (0 for void)."""
        if type_id < self._first_id:
            if self.base is not None:
                return self.base.raw_kind(type_id)
            return KIND_UNKN
        return self._words[self._record(type_id) + 1] >> 24 & 0x1F

    def _raw(self, type_id: int) -> tuple[BTF, int]:
        btf: BTF = self
        while type_id < btf._first_id and btf.base is not None:
            btf = btf.base
        return btf, btf._record(type_id)

    # -- materialising -----------------------------------------------------------------------------

    def by_id(self, type_id: int) -> Type:
        """The Type of `type_id` (0 is void)."""
        if type_id < self._first_id:
            if type_id == 0:
                return self._void
            if self.base is not None:
                return self.base.by_id(type_id)
        local = type_id - self._first_id
        if local < 0 or local >= len(self._cache):
            raise TypeLookupError(f"BTF type id {type_id} out of range")
        t = self._cache[local]
        if t is None:
            t = self._cache[local] = self._make(type_id, self._offsets[local])
        return t

    def _make(self, type_id: int, o: int) -> Type:
        w = self._words
        name_off = w[o]
        info = w[o + 1]
        kind = info >> 24 & 0x1F
        vlen = info & 0xFFFF
        kflag = info >> 31
        size_or_type = w[o + 2]
        name = self.string(name_off) if name_off else None
        if kind == KIND_PTR:
            return PointerType(LazyType(self, size_or_type), self.pointer_size)
        if kind in _QUALIFIER_KINDS:
            return QualifiedType(_QUALIFIER_KINDS[kind], LazyType(self, size_or_type))
        if kind == KIND_TYPEDEF:
            return TypedefType(name or "", LazyType(self, size_or_type))
        if kind in (KIND_STRUCT, KIND_UNION):
            tk = TypeKind.STRUCT if kind == KIND_STRUCT else TypeKind.UNION
            return StructType(
                tk, name, size_or_type, lambda: self._members(o, vlen, kflag, kind == KIND_UNION)
            )
        if kind == KIND_INT:
            enc = w[o + 3]
            encoding = enc >> 24 & 0x0F
            bits = enc & 0xFF
            nm = name or ""
            is_char = bool(encoding & _INT_CHAR) or (
                size_or_type == 1 and nm in ("char", "signed char", "unsigned char")
            )
            return IntType(
                nm,
                size_or_type,
                signed=bool(encoding & _INT_SIGNED),
                is_char=is_char,
                is_bool=bool(encoding & _INT_BOOL),
                bit_size=bits,
                bit_offset=enc >> 16 & 0xFF,
            )
        if kind == KIND_ARRAY:
            elem, _index_type, nelems = w[o + 3], w[o + 4], w[o + 5]
            return ArrayType(LazyType(self, elem), nelems, is_flexible=nelems == 0)
        if kind in (KIND_ENUM, KIND_ENUM64):
            return self._enum(name, o, kind, vlen, bool(kflag), size_or_type)
        if kind == KIND_FWD:
            return StructType(TypeKind.UNION if kflag else TypeKind.STRUCT, name, None, [])
        if kind == KIND_FUNC_PROTO:
            params: list[Parameter] = []
            variadic = False
            for j in range(vlen):
                p_name, p_type = w[o + 3 + 2 * j], w[o + 4 + 2 * j]
                if j == vlen - 1 and p_name == 0 and p_type == 0:
                    variadic = True
                    break
                params.append(Parameter(self.string(p_name) if p_name else None, LazyType(self, p_type)))
            return FunctionType(LazyType(self, size_or_type), params, variadic)
        if kind == KIND_FUNC:
            return FuncDecl(name or "", LazyType(self, size_or_type), vlen)
        if kind == KIND_VAR:
            return VarDecl(name or "", LazyType(self, size_or_type), w[o + 3])
        if kind == KIND_DATASEC:
            entries: list[tuple[Type | LazyType, int, int]] = [
                (LazyType(self, w[o + 3 + 3 * j]), w[o + 4 + 3 * j], w[o + 5 + 3 * j]) for j in range(vlen)
            ]
            return DataSec(name or "", size_or_type, entries)
        if kind == KIND_FLOAT:
            return FloatType(name or "", size_or_type)
        if kind in (KIND_TYPE_TAG, KIND_DECL_TAG):
            # Tags (btf_type_tag("rcu"), decl tags) are annotations gdb never shows: see through them.
            if size_or_type == type_id:
                raise BTFFormatError(f"BTF: type tag {type_id} refers to itself")
            return self.by_id(size_or_type)
        raise BTFFormatError(f"BTF: type {type_id} has unknown kind {kind}")

    def _members(self, o: int, vlen: int, kflag: int, is_union: bool) -> list[Member]:
        w = self._words
        members: list[Member] = []
        last = vlen - 1
        for j in range(vlen):
            mo = o + 3 + 3 * j
            m_name, m_type, m_off = w[mo], w[mo + 1], w[mo + 2]
            bit_field_size: int | None
            if kflag:
                bit_field_size = (m_off >> 24) or None
                bit_offset = m_off & 0xFFFFFF
            else:
                bit_offset = m_off
                bit_field_size, extra = self._legacy_bitfield(m_type)
                bit_offset += extra
            m_ref: Type | LazyType = LazyType(self, m_type)
            if (j != last or is_union) and m_type:
                # BTF spells `char x[]` and `char x[0]` alike; only the last member of a struct can be
                # a flexible array, so one elsewhere is a zero-length array (sk_buff's __cloned_offset[0]).
                btf, mo_t = self._raw(m_type)
                bw = btf._words
                if bw[mo_t + 1] >> 24 & 0x1F == KIND_ARRAY and bw[mo_t + 5] == 0:
                    m_ref = ArrayType(LazyType(btf, bw[mo_t + 3]), 0, is_flexible=False)
            members.append(Member(self.string(m_name) if m_name else None, m_ref, bit_offset, bit_field_size))
        return members

    def _legacy_bitfield(self, type_id: int) -> tuple[int | None, int]:
        """Before kind_flag, a bit-field's width was that of an INT narrower than its size."""
        for _ in range(32):
            if type_id == 0:
                return None, 0
            btf, o = self._raw(type_id)
            w = btf._words
            kind = w[o + 1] >> 24 & 0x1F
            if kind in _MODIFIER_KINDS:
                type_id = w[o + 2]
                continue
            if kind == KIND_INT:
                enc = w[o + 3]
                bits = enc & 0xFF
                if bits != w[o + 2] * 8:
                    return bits, enc >> 16 & 0xFF
            return None, 0
        return None, 0

    def _enum(self, name: str | None, o: int, kind: int, vlen: int, signed: bool, size: int) -> EnumType:
        w = self._words
        values: dict[str, int] = {}
        if kind == KIND_ENUM:
            for j in range(vlen):
                v = w[o + 4 + 2 * j]
                if signed and v & 0x80000000:
                    v -= 1 << 32
                values.setdefault(self.string(w[o + 3 + 2 * j]), v)
        else:
            for j in range(vlen):
                v = w[o + 4 + 3 * j] | w[o + 5 + 3 * j] << 32
                if signed and v & 1 << 63:
                    v -= 1 << 64
                values.setdefault(self.string(w[o + 3 + 3 * j]), v)
        return EnumType(name, size, signed, values, complete=vlen > 0)

    @property
    def pointer_size(self) -> int:
        """Bytes in a pointer: given, else the size of `long`, else 8."""
        if self._pointer_size is None:
            if self.base is not None:
                self._pointer_size = self.base.pointer_size
            else:
                self._pointer_size = 8
                # The base types come first in the kernel's BTF: a short scan, no name index needed.
                w = self._words
                for o in self._offsets:
                    if w[o + 1] >> 24 & 0x1F == KIND_INT and w[o] and self.string(w[o]) in _LONG_NAMES:
                        self._pointer_size = w[o + 2]
                        break
        return self._pointer_size

    # -- look-ups by name --------------------------------------------------------------------------

    def _name_index(self) -> dict[bytes, int | list[int]]:
        """Type ids by name (bytes; the string section's), built on the first look-up by name."""
        names = self._names
        if names is not None:
            return names
        names = {}
        w = self._words
        strings = self._strings
        find = strings.find
        str_base = self._str_base
        base = self.base
        tid = self._first_id - 1
        for o in self._offsets:
            tid += 1
            name_off = w[o]
            if not name_off:
                continue
            if name_off >= str_base:
                off = name_off - str_base
                name = strings[off : find(b"\0", off)]
            else:
                assert base is not None
                name = base.string(name_off).encode()
            prev = names.get(name)
            if prev is None:
                names[name] = tid
            elif isinstance(prev, int):
                names[name] = [prev, tid]
            else:
                prev.append(tid)
        # Integers are also found by gdb's spelling: "unsigned long" for "long unsigned int".
        for name in [n for n in names if b" " in n]:
            canon = canonical_int_name(name.decode()).encode()
            if canon != name and canon not in names:
                ids = names[name]
                ints = [i for i in ([ids] if isinstance(ids, int) else ids) if self.raw_kind(i) == KIND_INT]
                if ints:
                    names[canon] = ints if len(ints) > 1 else ints[0]
        self._names = names
        return names

    def saved_index(self) -> SavedIndex:
        """What BTF(data, index=...) needs to open the same bytes again without scanning them: the
        record offsets and the name index (built now if it was not)."""
        return self._offsets.tobytes(), self._name_index()

    def _find_ids(self, name: str, kinds: tuple[int, ...] | None) -> list[int]:
        """Ids named `name` of `kinds` (any if None), here and in the base, best kind first."""
        found: list[int] = []
        if self.base is not None:
            found.extend(self.base._find_ids(name, kinds))
        index = self._name_index()
        ids = index.get(name.encode())
        if ids is None and kinds == (KIND_INT,):
            ids = index.get(canonical_int_name(name).encode())
        if ids is not None:
            found.extend([ids] if isinstance(ids, int) else ids)
        if kinds is None:
            return [i for i in found if self.raw_kind(i) not in (KIND_DECL_TAG, KIND_TYPE_TAG)]
        ranked = [(kinds.index(k), i) for i in found if (k := self.raw_kind(i)) in kinds]
        ranked.sort()
        return [i for _, i in ranked]

    def _kinds_for(self, kind: str | None) -> tuple[int, ...] | None:
        if kind is None:
            return None
        try:
            return _FIND_KINDS[kind]
        except KeyError:
            raise ValueError(f"unknown type kind {kind!r}; one of {', '.join(_FIND_KINDS)}") from None

    def find_all(self, name: str, kind: str | None = None) -> list[Type]:
        """Every type called `name` of `kind` ("struct", "union", "enum", "typedef", "int", "float",
        "func", "var", "datasec", or None for any), definitions before forward declarations.
        "struct foo" / "union foo" / "enum foo" imply the kind."""
        tag, bare = split_tag(name)
        if tag is not None:
            if kind is not None and kind != tag:
                return []
            name, kind = bare, tag
        kinds = self._kinds_for(kind)
        out: list[Type] = []
        for tid in self._find_ids(name, kinds):
            if kind in ("struct", "union") and self.raw_kind(tid) == KIND_FWD:
                t = self.by_id(tid)
                if t.kind.value != kind:
                    continue
                out.append(t)
            else:
                out.append(self.by_id(tid))
        return out

    def find(self, name: str, kind: str | None = None) -> Type | None:
        """The type called `name` of `kind` (see find_all), a complete definition if there is one."""
        key = (name, kind)
        try:
            return self._found[key]
        except KeyError:
            pass
        t = self._find(name, kind)
        self._found[key] = t
        return t

    def _find(self, name: str, kind: str | None) -> Type | None:
        tag, bare = split_tag(name)
        if tag is not None:
            if kind is not None and kind != tag:
                return None
            name, kind = bare, tag
        kinds = self._kinds_for(kind)
        for tid in self._find_ids(name, kinds):
            t = self.by_id(tid)
            if kind in ("struct", "union") and t.kind.value != kind:
                continue  # a forward declaration of the other kind
            return t
        return None

    def type_names(self, kind: str | None = None) -> Iterator[str]:
        """Every type name (of `kind`), e.g. for completion."""
        kinds = self._kinds_for(kind)
        seen: set[str] = set()
        if self.base is not None:
            for n in self.base.type_names(kind):
                seen.add(n)
                yield n
        for raw_name, ids in self._name_index().items():
            n = raw_name.decode("utf-8", "replace")
            if n in seen:
                continue
            if kinds is None or any(
                self.raw_kind(i) in kinds for i in ([ids] if isinstance(ids, int) else ids)
            ):
                yield n

    def lookup_type(self, spelling: str) -> Type:
        """The type a C type name spells ("struct task_struct", "unsigned long", "char *"); a bare
        name may be a struct/union/enum tag as in crash ("task_struct"). Raises TypeLookupError."""
        hit = self._spelled.get(spelling)
        if hit is None:
            try:
                hit = lookup_type(self, spelling)
            except TypeLookupError as e:
                hit = (type(e), e.message)
            self._spelled[spelling] = hit
        if isinstance(hit, tuple):
            raise hit[0](hit[1])
        return hit

    def sizeof(self, spelling: str) -> int:
        """sizeof a type name ("task_struct", "struct page", "unsigned long", "pid_t", "void *")."""
        t = self.lookup_type(spelling)
        s = t.strip()
        if isinstance(s, StructType) and not s.is_complete:
            raise no_type_error(s.kind.value, s.name or "")
        return t.size

    def member(self, type_spelling: str, path: str) -> MemberLookup:
        """(bit offset, type) of `path` ("thread.sp") in a struct/union (see Type.member)."""
        return self._aggregate(type_spelling).member(path)

    def offsetof(self, type_spelling: str, path: str) -> int:
        """offsetof(type, path) in bytes: offsetof("task_struct", "thread.sp")."""
        key = (type_spelling, path)
        hit = self._offsets_of.get(key)
        if hit is None:
            try:
                hit = self._aggregate(type_spelling).offsetof(path)
            except TypeLookupError as e:
                hit = (type(e), e.message)
            self._offsets_of[key] = hit
        if isinstance(hit, tuple):
            raise hit[0](hit[1])
        return hit

    def _aggregate(self, type_spelling: str) -> Type:
        t = self.lookup_type(type_spelling)
        s = t.strip()
        if isinstance(s, StructType) and not s.is_complete:
            raise no_type_error(s.kind.value, s.name or "")
        return t

    def pointer_to(self, t: Type) -> PointerType:
        return PointerType(t, self.pointer_size)

    # -- iteration ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.n_types

    def types(self) -> Iterator[tuple[int, Type]]:
        """(id, Type) for every type record of this BTF (not the base's), tags skipped."""
        for local, o in enumerate(self._offsets):
            if self._words[o + 1] >> 24 & 0x1F in (KIND_DECL_TAG, KIND_TYPE_TAG):
                continue
            tid = self._first_id + local
            yield tid, self.by_id(tid)

    def __repr__(self) -> str:
        split = f" split from {self.base.n_types}" if self.base is not None else ""
        return f"<BTF {self.n_types} types{split}>"


# ---------------------------------------------------------------------------------------------------------
# Finding .BTF in an ELF file


_INDEX_VERSION = 1


def _index_file(path: str | os.PathLike[str]) -> Path | None:
    """Where the index of the BTF of the ELF file `path` is kept: keyed by the file's real path, size
    and modification time, in crashpy's disk cache (crashpy/diskcache.py)/btf-index."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return diskcache.entry("btf-index", f"{_INDEX_VERSION}:{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}")


def read_index(file: Path) -> SavedIndex | None:
    saved = diskcache.load(file)
    if (
        isinstance(saved, tuple)
        and len(saved) == 2
        and isinstance(saved[0], bytes)
        and isinstance(saved[1], dict)
    ):
        return saved
    return None


def write_index(file: Path, btf: BTF) -> None:
    diskcache.save(file, btf.saved_index())


def load_btf_from_elf(
    elf: str | os.PathLike[str] | ElfFile, base: BTF | None = None, *, disk_cache: bool = True
) -> BTF | None:
    """The BTF of a vmlinux (or, with `base`, of a kernel module .ko), given as a path or an open
    ElfFile; None if it has no .BTF section. ElfError when the file is no readable ELF file.
    A vmlinux's index is read from the disk cache when it is there, and put there when it is not
    (disk_cache=False does neither)."""
    if isinstance(elf, ElfFile):
        path = elf.path
        data = elf.section_data(".BTF")
    else:
        path = os.fspath(elf)
        with ElfFile(elf) as f:
            data = f.section_data(".BTF")
    if data is None:
        return None
    file = _index_file(path) if disk_cache and base is None else None
    if file is None:
        return BTF(data, base=base)
    return indexed_btf(data, file)


def indexed_btf(data: bytes | bytearray | memoryview, file: Path) -> BTF:
    """A kernel's BTF, its index read from `file` when it is there and fits, else scanned and saved."""
    saved = read_index(file)
    if saved is not None:
        try:
            return BTF(data, index=saved)
        except BTFFormatError:
            pass  # an index that does not fit: scan again and replace it
    btf = BTF(data)
    write_index(file, btf)
    return btf
