"""The Type model and the BTF reader: a synthetic BTF blob built here, and the real Debian 6.1 vmlinux
(skipped when absent) checked against gdb 13 reading its DWARF."""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from crashpy.elf import ElfError, ElfFile
from crashpy.types.btf import BTF, BTFFormatError, load_btf_from_elf
from crashpy.types.int_names import canonical_int_name
from crashpy.types.lookup import iter_members_recursive
from crashpy.types.model import (
    ArrayType,
    EnumType,
    FuncDecl,
    FunctionType,
    IncompleteTypeError,
    IntType,
    Member,
    PointerType,
    StructType,
    Type,
    TypeKind,
    TypeLookupError,
    VarDecl,
)
from tests.kernel_facts import kernel_paths

# ---------------------------------------------------------------------------------------------------------
# A tiny BTF encoder (format: include/uapi/linux/btf.h)


class BTFBuilder:
    """Appends BTF type records; each add_* returns the new type id. `base` makes split BTF."""

    def __init__(self, base: BTFBuilder | None = None, order: str = "<") -> None:
        self.order = order
        self.base = base
        self.records: list[bytes] = []
        self.strings = bytearray(b"\0") if base is None else bytearray()
        self.string_offsets: dict[str, int] = {} if base is None else dict(base.string_offsets)
        self.first_id = 1 if base is None else base.next_id

    @property
    def str_base(self) -> int:
        return 0 if self.base is None else self.base.str_base + len(self.base.strings)

    @property
    def next_id(self) -> int:
        return self.first_id + len(self.records)

    def s(self, name: str | None) -> int:
        if not name:
            return 0
        if name not in self.string_offsets:
            self.string_offsets[name] = self.str_base + len(self.strings)
            self.strings += name.encode() + b"\0"
        return self.string_offsets[name]

    def _add(
        self, name: str | None, kind: int, vlen: int, size_or_type: int, extra: bytes = b"", kflag: int = 0
    ) -> int:
        info = kflag << 31 | kind << 24 | vlen
        self.records.append(struct.pack(self.order + "III", self.s(name), info, size_or_type) + extra)
        return self.next_id - 1

    def _u32(self, *values: int) -> bytes:
        return struct.pack(self.order + f"{len(values)}I", *[v & 0xFFFFFFFF for v in values])

    def int_(
        self,
        name: str,
        size: int,
        signed: bool = False,
        char: bool = False,
        bool_: bool = False,
        bits: int | None = None,
        bit_off: int = 0,
    ) -> int:
        enc = (1 if signed else 0) | (2 if char else 0) | (4 if bool_ else 0)
        nbits = size * 8 if bits is None else bits
        return self._add(name, 1, 0, size, self._u32(enc << 24 | bit_off << 16 | nbits))

    def ptr(self, target: int) -> int:
        return self._add(None, 2, 0, target)

    def array(self, elem: int, n: int, index_type: int = 0) -> int:
        return self._add(None, 3, 0, 0, self._u32(elem, index_type, n))

    def struct(
        self,
        name: str | None,
        size: int,
        members: list[tuple[str | None, int, int, int]],
        union: bool = False,
        kflag: int = 1,
    ) -> int:
        """members: (name, type, bit offset, bit-field size)."""
        extra = b"".join(
            self._u32(self.s(n), t, (bf << 24 | off) if kflag else off) for n, t, off, bf in members
        )
        return self._add(name, 5 if union else 4, len(members), size, extra, kflag)

    def enum(self, name: str | None, size: int, values: list[tuple[str, int]], signed: bool = False) -> int:
        extra = b"".join(self._u32(self.s(n), v) for n, v in values)
        return self._add(name, 6, len(values), size, extra, int(signed))

    def enum64(self, name: str | None, size: int, values: list[tuple[str, int]], signed: bool = False) -> int:
        extra = b"".join(self._u32(self.s(n), v & 0xFFFFFFFF, (v >> 32) & 0xFFFFFFFF) for n, v in values)
        return self._add(name, 19, len(values), size, extra, int(signed))

    def fwd(self, name: str, union: bool = False) -> int:
        return self._add(name, 7, 0, 0, kflag=int(union))

    def typedef(self, name: str, target: int) -> int:
        return self._add(name, 8, 0, target)

    def volatile(self, target: int) -> int:
        return self._add(None, 9, 0, target)

    def const(self, target: int) -> int:
        return self._add(None, 10, 0, target)

    def restrict(self, target: int) -> int:
        return self._add(None, 11, 0, target)

    def func(self, name: str, proto: int, linkage: int = 1) -> int:
        return self._add(name, 12, linkage, proto)

    def func_proto(self, ret: int, params: list[tuple[str | None, int]], variadic: bool = False) -> int:
        items = params + ([(None, 0)] if variadic else [])
        extra = b"".join(self._u32(self.s(n), t) for n, t in items)
        return self._add(None, 13, len(items), ret, extra)

    def var(self, name: str, type_id: int, linkage: int = 1) -> int:
        return self._add(name, 14, 0, type_id, self._u32(linkage))

    def datasec(self, name: str, size: int, vars: list[tuple[int, int, int]]) -> int:
        extra = b"".join(self._u32(*v) for v in vars)
        return self._add(name, 15, len(vars), size, extra)

    def float_(self, name: str, size: int) -> int:
        return self._add(name, 16, 0, size)

    def decl_tag(self, name: str, target: int, component: int = -1) -> int:
        return self._add(name, 17, 0, target, self._u32(component))

    def type_tag(self, name: str, target: int) -> int:
        return self._add(name, 18, 0, target)

    def build(self) -> bytes:
        types = b"".join(self.records)
        strings = bytes(self.strings)
        header = struct.pack(
            self.order + "HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings)
        )
        return header + types + strings


def build_sample() -> tuple[bytes, dict[str, int]]:
    """A BTF with the shapes the kernel uses; returns the blob and the ids by a short name."""
    b = BTFBuilder()
    ids: dict[str, int] = {}
    ids["ulong"] = b.int_("long unsigned int", 8)
    ids["int"] = b.int_("int", 4, signed=True)
    ids["char"] = b.int_("char", 1, signed=True)
    ids["uint"] = b.int_("unsigned int", 4)
    ids["bool"] = b.int_("_Bool", 1, bool_=True)
    ids["long"] = b.int_("long int", 8, signed=True)
    ids["u128"] = b.int_("__int128 unsigned", 16)
    # struct list_head { struct list_head *next, *prev; }: the pointer comes before the struct.
    ids["lh_ptr"] = b.ptr(b.next_id + 1)
    ids["list_head"] = b.struct(
        "list_head", 16, [("next", ids["lh_ptr"], 0, 0), ("prev", ids["lh_ptr"], 64, 0)]
    )
    ids["char16"] = b.array(ids["char"], 16, ids["int"])
    ids["char0"] = b.array(ids["char"], 0, ids["int"])
    ids["const_char"] = b.const(ids["char"])
    ids["const_char_p"] = b.ptr(ids["const_char"])
    ids["char_p"] = b.ptr(ids["char"])
    ids["char_p_const"] = b.const(ids["char_p"])
    ids["cv_int"] = b.const(b.volatile(ids["int"]))
    ids["restrict_char_p"] = b.restrict(ids["char_p"])
    ids["fp_proto"] = b.func_proto(0, [("x", ids["int"])])
    ids["fp"] = b.ptr(ids["fp_proto"])
    ids["printf_proto"] = b.func_proto(ids["int"], [("fmt", ids["const_char_p"])], variadic=True)
    ids["printk"] = b.func("_printk", ids["printf_proto"])
    ids["void_proto"] = b.func_proto(ids["int"], [])
    ids["int4"] = b.array(ids["int"], 4, ids["int"])
    ids["int4_p"] = b.ptr(ids["int4"])
    ids["char_p3"] = b.array(ids["char_p"], 3, ids["int"])
    # Declarators gdb 13 was seen to print for the same C (gcc -g, `whatis`).
    ids["char_p_const3"] = b.array(ids["char_p_const"], 3, ids["int"])
    ids["const_fp_void"] = b.const(b.ptr(ids["void_proto"]))
    ids["ccp_const_p"] = b.ptr(b.const(ids["const_char_p"]))
    ids["fp_ret_arr"] = b.ptr(b.func_proto(b.ptr(b.array(ids["int"], 3, ids["int"])), [(None, ids["int"])]))
    ids["fp_arr2"] = b.array(b.ptr(ids["void_proto"]), 2, ids["int"])
    ids["fp_p"] = b.ptr(ids["fp"])
    ids["char_p3_p"] = b.ptr(ids["char_p3"])
    ids["atomic"] = b.struct(None, 4, [("counter", ids["int"], 0, 0)])
    ids["atomic_t"] = b.typedef("atomic_t", ids["atomic"])
    ids["pid_t"] = b.typedef("pid_t", ids["int"])
    ids["incomplete"] = b.fwd("incomplete")
    ids["incomplete_p"] = b.ptr(ids["incomplete"])
    ids["fwd_union"] = b.fwd("fu", union=True)
    ids["state"] = b.enum("state", 4, [("RUNNING", 0), ("SLEEPING", 1), ("DEAD", 16)])
    ids["senum"] = b.enum("senum", 4, [("NEG", -1), ("POS", 2)], signed=True)
    ids["big"] = b.enum64("big", 8, [("SMALL", 1), ("HUGE", 0xFFFFF << 32)])
    ids["enum_fwd"] = b.enum("efwd", 4, [])
    ids["anon_enum"] = b.enum(None, 4, [("X", 0), ("Y", 5), ("Z", 6)])
    ids["user_int"] = b.type_tag("user", ids["int"])
    ids["user_int_p"] = b.ptr(ids["user_int"])
    ids["double"] = b.float_("double", 8)
    # struct thread { unsigned long sp; unsigned long regs[2]; }
    ids["ulong2"] = b.array(ids["ulong"], 2, ids["int"])
    ids["thread"] = b.struct("thread", 24, [("sp", ids["ulong"], 0, 0), ("regs", ids["ulong2"], 64, 0)])
    ids["thread2"] = b.array(ids["thread"], 2, ids["int"])
    # struct task: named and anonymous members, bit-fields, an anonymous union holding an anonymous
    # struct, nested structs, and a flexible array last.
    ids["inner"] = b.struct(None, 8, [("a", ids["int"], 0, 0), ("b", ids["int"], 32, 0)])
    ids["anon_union"] = b.struct(
        None,
        8,
        [("u_flags", ids["uint"], 0, 0), ("u_long", ids["ulong"], 0, 0), (None, ids["inner"], 0, 0)],
        union=True,
    )
    ids["task"] = b.struct(
        "task",
        160,
        [
            ("state", ids["uint"], 0, 0),
            ("bf1", ids["uint"], 32, 3),
            ("bf2", ids["uint"], 35, 5),
            ("flag", ids["bool"], 40, 0),
            (None, ids["anon_union"], 64, 0),
            ("tasks", ids["list_head"], 128, 0),
            ("comm", ids["char16"], 256, 0),
            ("mm", ids["incomplete_p"], 384, 0),
            ("fn", ids["fp"], 448, 0),
            ("usage", ids["atomic_t"], 512, 0),
            ("pid", ids["pid_t"], 544, 0),
            ("thread", ids["thread"], 576, 0),
            ("ctl", ids["char_p_const"], 768, 0),
            ("kind", ids["anon_enum"], 832, 8),
            ("marker", ids["char0"], 840, 0),
            ("threads", ids["thread2"], 896, 0),
            ("data", ids["char0"], 1280, 0),
        ],
    )
    ids["task_t"] = b.typedef("task_t", ids["task"])
    ids["const_task"] = b.const(ids["task"])
    ids["percpu_var"] = b.var("runqueues", ids["task"])
    ids["datasec"] = b.datasec(".data..percpu", 4096, [(ids["percpu_var"], 64, 160)])
    ids["decl_tag"] = b.decl_tag("kfunc", ids["printk"])
    # A struct with the same name as a forward declaration made earlier.
    ids["incomplete_def"] = b.struct("incomplete", 8, [("x", ids["long"], 0, 0)])
    # Legacy (kind_flag 0) bit-fields: the width sits in an INT of nr_bits < size * 8.
    ids["int3"] = b.int_("int", 4, signed=True, bits=3)
    ids["legacy"] = b.struct("legacy", 4, [("a", ids["int3"], 0, 0), ("b", ids["int"], 0, 0)], kflag=0)
    return b.build(), ids


@pytest.fixture(scope="module")
def sample() -> tuple[BTF, dict[str, int]]:
    data, ids = build_sample()
    return BTF(data), ids


# ---------------------------------------------------------------------------------------------------------
# Synthetic BTF: the model


def test_header_and_scan(sample: tuple[BTF, dict[str, int]]) -> None:
    btf, ids = sample
    assert len(btf) == max(ids.values()) + 1
    assert btf.by_id(0).kind is TypeKind.VOID
    assert btf.pointer_size == 8
    assert btf.index_seconds >= 0


def test_recursive_struct_resolves_lazily(sample: tuple[BTF, dict[str, int]]) -> None:
    btf, ids = sample
    lh = btf.find("list_head", "struct")
    assert isinstance(lh, StructType)
    assert lh is btf.by_id(ids["list_head"])  # cached: one object per id
    nxt = lh.members()[0]
    assert nxt.name == "next"
    assert nxt.type.type_name() == "struct list_head *"
    assert nxt.type.target is lh
    assert lh.member("prev") == (64, nxt.type)
    assert "list_head" in repr(lh) and "size=16" in repr(lh)
    assert str(nxt.type) == "struct list_head *"
    assert len({lh, nxt.type, nxt.type.target}) == 2  # hashing by identity, no recursion


def test_int_names_and_encodings(sample: tuple[BTF, dict[str, int]]) -> None:
    btf, ids = sample
    ulong = btf.by_id(ids["ulong"])
    assert isinstance(ulong, IntType)
    assert ulong.name == "long unsigned int"
    assert ulong.type_name() == "unsigned long"
    assert ulong.type_name(raw_int_names=True) == "long unsigned int"
    assert not ulong.signed and ulong.size == 8
    char = btf.by_id(ids["char"])
    assert isinstance(char, IntType) and char.is_char and char.signed
    b = btf.by_id(ids["bool"])
    assert isinstance(b, IntType) and b.is_bool and b.type_name() == "_Bool"
    assert btf.by_id(ids["u128"]).type_name() == "__int128 unsigned"
    assert btf.find("unsigned long", "int") is ulong
    assert btf.find("long unsigned int", "int") is ulong
    assert btf.lookup_type("unsigned long") is ulong
    assert btf.lookup_type("long") is btf.by_id(ids["long"])
    assert btf.sizeof("unsigned long") == 8
    assert btf.find("double", "float") is btf.by_id(ids["double"])
    assert btf.sizeof("double") == 8


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("long unsigned int", "unsigned long"),
        ("unsigned long int", "unsigned long"),
        ("long long unsigned int", "unsigned long long"),
        ("short int", "short"),
        ("short unsigned int", "unsigned short"),
        ("long int", "long"),
        ("signed char", "signed char"),
        ("unsigned", "unsigned int"),
        ("int", "int"),
        ("__int128 unsigned", "__int128 unsigned"),
        ("pid_t", "pid_t"),
    ],
)
def test_canonical_int_name(spelling: str, canonical: str) -> None:
    assert canonical_int_name(spelling) == canonical


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("char16", "char [16]"),
        ("const_char_p", "const char *"),
        ("char_p_const", "char * const"),
        ("cv_int", "const volatile int"),
        ("restrict_char_p", "char * restrict"),
        ("fp", "void (*)(int)"),
        ("fp_proto", "void (int)"),
        ("printf_proto", "int (const char *, ...)"),
        ("printk", "int (const char *, ...)"),
        ("void_proto", "int (void)"),
        ("int4_p", "int (*)[4]"),
        ("char_p3", "char *[3]"),
        ("char_p_const3", "char * const[3]"),
        ("const_fp_void", "int (* const)(void)"),
        ("ccp_const_p", "const char * const *"),
        ("fp_ret_arr", "int (*(*)(int))[3]"),
        ("fp_arr2", "int (*[2])(void)"),
        ("fp_p", "void (**)(int)"),
        ("char_p3_p", "char *(*)[3]"),
        ("incomplete_p", "struct incomplete *"),
        ("atomic_t", "atomic_t"),
        ("atomic", "struct {...}"),
        ("anon_union", "union {...}"),
        ("state", "enum state"),
        ("anon_enum", "enum {...}"),
        ("fwd_union", "union fu"),
        ("user_int_p", "int *"),  # type tags are invisible, as in gdb
        ("const_task", "const struct task"),
        ("percpu_var", "struct task"),
    ],
)
def test_type_names_like_gdb(sample: tuple[BTF, dict[str, int]], key: str, name: str) -> None:
    btf, ids = sample
    assert btf.by_id(ids[key]).type_name() == name


def test_declarations_like_gdb_ptype(sample: tuple[BTF, dict[str, int]]) -> None:
    btf, _ = sample
    task = btf.find("task", "struct")
    assert task is not None
    decls = {m.name: m.declaration() for m in task.members() if m.name}
    assert decls["comm"] == "char comm[16]"
    assert decls["fn"] == "void (*fn)(int)"
    assert decls["ctl"] == "char * const ctl"
    assert decls["bf1"] == "unsigned int bf1 : 3"
    assert decls["mm"] == "struct incomplete *mm"
    assert decls["marker"] == "char marker[0]"  # zero-length array mid-struct
    assert decls["data"] == "char data[]"  # flexible array member, last
    assert decls["threads"] == "struct thread threads[2]"
    kind = task.lookup_member("kind").type
    assert isinstance(kind, EnumType)
    assert kind.definition() == "enum {X, Y = 5, Z}"


def test_members_offsets_and_anonymous_union(sample: tuple[BTF, dict[str, int]]) -> None:
    btf, ids = sample
    task = btf.by_id(ids["task"])
    assert task.size == 160
    assert [m.name for m in task.members()][:5] == ["state", "bf1", "bf2", "flag", None]
    # Members of the anonymous union, and of the anonymous struct inside it, are found as in C.
    assert task.member("u_flags") == (64, btf.by_id(ids["uint"]))
    assert task.member("u_long").bit_offset == 64
    assert task.member("b").bit_offset == 96
    assert btf.offsetof("task", "b") == 12
    assert btf.offsetof("struct task", "tasks") == 16
    assert btf.offsetof("task", "tasks.prev") == 24
    assert btf.offsetof("task", "comm") == 32
    assert btf.offsetof("task", "thread.sp") == 72
    assert btf.offsetof("task", "thread.regs[1]") == 88
    assert btf.offsetof("task", "threads[1].regs[1]") == 112 + 24 + 16
    assert task.lookup_member("threads[1]").type is btf.by_id(ids["thread"])
    assert btf.offsetof("task", "usage.counter") == 64  # through a typedef'd anonymous struct
    assert btf.offsetof("task_t", "pid") == 68  # a typedef of the struct
    assert task.member("pid").type.type_name() == "pid_t"
    assert task.member("pid").type.strip() is btf.by_id(ids["int"])
    assert btf.member("task", "comm").type.type_name() == "char [16]"
    assert task.has_member("tasks.next") and not task.has_member("tasks.nope")
    flat = {m.name: off for off, m in iter_members_recursive(task)}
    assert (flat["u_flags"], flat["b"], flat["tasks"]) == (64, 96, 128) and None not in flat


def test_bit_fields(sample: tuple[BTF, dict[str, int]]) -> None:
    btf, ids = sample
    task = btf.by_id(ids["task"])
    bf2 = task.lookup_member("bf2")
    assert (bf2.bit_offset, bf2.bit_field_size, bf2.type.type_name()) == (35, 5, "unsigned int")
    assert task.lookup_member("state").bit_field_size is None
    with pytest.raises(TypeLookupError, match="bit-field"):
        btf.offsetof("task", "bf2")
    legacy = btf.find("legacy", "struct")
    assert legacy is not None
    a, b = legacy.members()
    assert (a.bit_field_size, b.bit_field_size) == (3, None)


def test_enums(sample: tuple[BTF, dict[str, int]]) -> None:
    btf, _ = sample
    state = btf.find("state", "enum")
    assert isinstance(state, EnumType) and state.is_complete and not state.signed
    assert state.enumerators == {"RUNNING": 0, "SLEEPING": 1, "DEAD": 16}
    assert state.value_name(16) == "DEAD"
    assert state.definition() == "enum state {RUNNING, SLEEPING, DEAD = 16}"
    senum = btf.find("enum senum")
    assert isinstance(senum, EnumType) and senum.signed and senum.enumerators["NEG"] == -1
    big = btf.find("big", "enum")
    assert isinstance(big, EnumType) and big.size == 8 and big.enumerators["HUGE"] == 0xFFFFF << 32
    efwd = btf.find("efwd", "enum")
    assert efwd is not None and not efwd.is_complete


def test_functions(sample: tuple[BTF, dict[str, int]]) -> None:
    btf, ids = sample
    printk = btf.find("_printk", "func")
    assert isinstance(printk, FuncDecl) and printk.linkage == 1
    proto = printk.type
    assert isinstance(proto, FunctionType) and proto.variadic
    assert [(p.name, p.type.type_name()) for p in proto.params] == [("fmt", "const char *")]
    assert proto.return_type.type_name() == "int"
    fp = btf.by_id(ids["fp"])
    assert isinstance(fp, PointerType)
    target = fp.target
    assert isinstance(target, FunctionType) and target.return_type.kind is TypeKind.VOID
    with pytest.raises(IncompleteTypeError):
        _ = target.size


def test_forward_declarations(sample: tuple[BTF, dict[str, int]]) -> None:
    btf, ids = sample
    fwd = btf.by_id(ids["incomplete"])
    assert isinstance(fwd, StructType) and not fwd.is_complete and fwd.kind is TypeKind.STRUCT
    assert not fwd.has_size()
    # find() prefers the definition; find_all() lists the declaration after it.
    definition = btf.find("incomplete", "struct")
    assert definition is btf.by_id(ids["incomplete_def"]) and definition.size == 8
    assert btf.find_all("incomplete", "struct") == [definition, fwd]
    fu = btf.find("fu", "union")
    assert fu is not None and fu.kind is TypeKind.UNION and not fu.is_complete
    assert btf.find("fu", "struct") is None
    with pytest.raises(TypeLookupError, match=r"^No union type named fu\.$"):
        btf.sizeof("union fu")


def test_typedefs_and_qualifiers(sample: tuple[BTF, dict[str, int]]) -> None:
    btf, ids = sample
    atomic_t = btf.find("atomic_t", "typedef")
    assert atomic_t is not None and atomic_t.kind is TypeKind.TYPEDEF
    assert atomic_t.size == 4 and atomic_t.strip() is btf.by_id(ids["atomic"])
    assert atomic_t.resolve() is atomic_t.strip()
    cv = btf.by_id(ids["cv_int"])
    assert cv.qualifiers() == {TypeKind.CONST, TypeKind.VOLATILE}
    assert cv.unqualified() is btf.by_id(ids["int"]) and cv.size == 4
    const_task = btf.by_id(ids["const_task"])
    assert const_task.member("comm").bit_offset == 256  # members through qualifiers
    assert btf.sizeof("pid_t") == 4


def test_arrays(sample: tuple[BTF, dict[str, int]]) -> None:
    btf, ids = sample
    a = btf.by_id(ids["char16"])
    assert isinstance(a, ArrayType) and a.length == 16 and a.size == 16 and a.element.type_name() == "char"
    flex = btf.by_id(ids["task"]).member("data").type
    assert isinstance(flex, ArrayType) and flex.length == 0 and flex.is_flexible and flex.size == 0


def test_vars_and_datasec(sample: tuple[BTF, dict[str, int]]) -> None:
    btf, ids = sample
    var = btf.find("runqueues", "var")
    assert isinstance(var, VarDecl) and var.type is btf.by_id(ids["task"]) and var.size == 160
    sec = btf.find(".data..percpu", "datasec")
    assert sec is not None and sec.kind is TypeKind.DATASEC
    from crashpy.types.model import DataSec

    assert isinstance(sec, DataSec)
    assert [(v.var.name, v.offset, v.size) for v in sec.variables()] == [("runqueues", 64, 160)]


def test_lookup_type_spellings(sample: tuple[BTF, dict[str, int]]) -> None:
    btf, ids = sample
    assert btf.lookup_type("struct list_head") is btf.by_id(ids["list_head"])
    assert btf.lookup_type("list_head") is btf.by_id(ids["list_head"])
    assert btf.lookup_type("struct list_head *").type_name() == "struct list_head *"
    assert btf.lookup_type("char *[3]").type_name() == "char *[3]"
    assert btf.lookup_type("const char *").type_name() == "const char *"
    assert btf.lookup_type("void *").size == 8
    assert btf.sizeof("struct list_head *") == 8
    assert btf.sizeof("int [4]") == 16
    assert btf.find("struct list_head") is btf.by_id(ids["list_head"])
    assert btf.find("struct list_head", "union") is None
    assert btf.find("nope") is None
    assert "list_head" in set(btf.type_names("struct"))
    with pytest.raises(ValueError):
        btf.find("list_head", "structure")


def test_errors_in_gdb_words(sample: tuple[BTF, dict[str, int]]) -> None:
    btf, _ = sample
    with pytest.raises(TypeLookupError) as e:
        btf.sizeof("struct nosuch")
    assert str(e.value) == "No struct type named nosuch."
    assert isinstance(e.value, KeyError)
    with pytest.raises(KeyError, match=r"^No struct type named incomplete_only\.$"):
        btf.offsetof("struct incomplete_only", "x")
    with pytest.raises(TypeLookupError, match=r'^No symbol "nosuch" in current context\.$'):
        btf.sizeof("nosuch")
    with pytest.raises(TypeLookupError, match=r"^There is no member named nosuch\.$"):
        btf.offsetof("task", "nosuch")
    with pytest.raises(TypeLookupError, match=r"^There is no member named nope\.$"):
        btf.offsetof("task", "thread.nope")
    with pytest.raises(TypeLookupError, match="not a structure"):
        btf.offsetof("task", "state.x")
    with pytest.raises(TypeLookupError, match="not a structure"):
        btf.lookup_type("int").members()
    with pytest.raises(TypeLookupError):
        btf.by_id(10_000)


def test_answers_by_name_are_kept(sample: tuple[BTF, dict[str, int]]) -> None:
    """find, lookup_type and offsetof answer a repeated question from what they kept, errors included."""
    btf, _ = sample
    assert btf.lookup_type("struct list_head *") is btf.lookup_type("struct list_head *")
    assert btf.find("list_head", "struct") is btf.find("list_head", "struct")
    assert btf.offsetof("task", "thread.sp") == btf.offsetof("task", "thread.sp")
    for _ in range(2):
        with pytest.raises(TypeLookupError, match=r"^There is no member named nosuch\.$"):
            btf.offsetof("task", "nosuch")
        with pytest.raises(IncompleteTypeError):
            btf.sizeof("void")
        with pytest.raises(TypeLookupError, match=r"^No struct type named nosuch\.$"):
            btf.lookup_type("struct nosuch")


def test_program_has_member_only_answers_missing_members(sample: tuple[BTF, dict[str, int]]) -> None:
    """Program.has_member is False for a missing type or member; any other failure is raised."""
    from crashpy.errors import CommandError
    from crashpy.program import Program

    btf, _ = sample
    prog = Program.__new__(Program)
    prog.__dict__["_btf"] = btf
    assert prog.has_member("task", "thread.sp")
    assert not prog.has_member("task", "nosuch")
    assert not prog.has_member("struct nosuch", "x")
    prog.__dict__["_btf"] = None  # a vmlinux without .BTF
    with pytest.raises(CommandError, match="no type information"):
        prog.has_member("task", "thread.sp")


def test_every_type_materialises(sample: tuple[BTF, dict[str, int]]) -> None:
    btf, _ = sample
    for _tid, t in btf.types():
        assert isinstance(t, Type)
        t.type_name()
        repr(t)
        if isinstance(t, StructType) and t.is_complete:
            for m in t.members():
                assert isinstance(m, Member)
                m.type.type_name()


def test_split_btf() -> None:
    base_builder = BTFBuilder()
    int_id = base_builder.int_("int", 4, signed=True)
    s_id = base_builder.struct("base_s", 4, [("x", int_id, 0, 0)])
    split_builder = BTFBuilder(base=base_builder)
    p_id = split_builder.ptr(s_id)
    m_id = split_builder.struct("mod_s", 16, [("base", p_id, 0, 0), ("y", int_id, 64, 0)])
    base = BTF(base_builder.build())
    mod = BTF(split_builder.build(), base=base)
    assert len(mod) == m_id + 1 and p_id == len(base)
    mod_s = mod.find("mod_s", "struct")
    assert mod_s is mod.by_id(m_id)
    assert mod_s.member("base").type.type_name() == "struct base_s *"
    assert mod_s.member("base").type.target is base.by_id(s_id)
    assert mod.find("base_s", "struct") is base.by_id(s_id)
    assert mod.offsetof("mod_s", "y") == 8


def test_big_endian_btf() -> None:
    b = BTFBuilder(order=">")
    i = b.int_("int", 4, signed=True)
    b.struct("s", 8, [("a", i, 0, 0), ("b", i, 32, 0)])
    b.enum("e", 4, [("M", -2)], signed=True)
    btf = BTF(b.build())
    assert btf.byteorder == "big"
    assert btf.offsetof("s", "b") == 4
    e = btf.find("e", "enum")
    assert isinstance(e, EnumType) and e.enumerators == {"M": -2}


def test_corrupt_btf() -> None:
    with pytest.raises(BTFFormatError):
        BTF(b"\0" * 24)
    with pytest.raises(BTFFormatError):
        BTF(b"\x9f\xeb")
    data, _ = build_sample()
    with pytest.raises(BTFFormatError):
        BTF(data[:-200])  # sections run past the data
    truncated = bytearray(data)
    struct.pack_into("<I", truncated, 12, struct.unpack_from("<I", data, 12)[0] - 4)  # type_len 4 short
    with pytest.raises(BTFFormatError):
        BTF(bytes(truncated))


def _write_elf(path: Path, sections: dict[str, bytes]) -> None:
    """A minimal ELF64 little-endian file holding `sections` (PROGBITS) and .shstrtab."""
    names = b"\0" + b"".join(n.encode() + b"\0" for n in sections) + b".shstrtab\0"
    body = bytearray(b"\0" * 64)
    headers = [struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    name_off = 1
    for name, data in sections.items():
        headers.append(struct.pack("<IIQQQQIIQQ", name_off, 1, 2, 0, len(body), len(data), 0, 0, 1, 0))
        body += data
        name_off += len(name) + 1
    headers.append(struct.pack("<IIQQQQIIQQ", name_off, 3, 0, 0, len(body), len(names), 0, 0, 1, 0))
    body += names
    shoff = len(body)
    body += b"".join(headers)
    ident = b"\x7fELF\x02\x01\x01" + b"\0" * 9
    struct.pack_into(
        "<16sHHIQQQIHHHHHH",
        body,
        0,
        ident,
        2,
        62,
        1,
        0,
        0,
        shoff,
        0,
        64,
        0,
        0,
        64,
        len(headers),
        len(headers) - 1,
    )
    path.write_bytes(bytes(body))


def test_load_btf_from_elf(tmp_path: Path) -> None:
    data, ids = build_sample()
    elf = tmp_path / "vmlinux"
    _write_elf(elf, {".text": b"\x90" * 16, ".BTF": data})
    btf = load_btf_from_elf(elf)
    assert btf is not None and btf.offsetof("task", "comm") == 32
    no_btf = tmp_path / "nobtf"
    _write_elf(no_btf, {".text": b"\x90"})
    assert load_btf_from_elf(no_btf) is None
    with ElfFile(elf) as f:
        assert f.section_data(".text") == b"\x90" * 16
        assert load_btf_from_elf(f) is not None  # an open file too
    not_elf = tmp_path / "notelf"
    not_elf.write_bytes(b"hello" * 20)
    with pytest.raises(ElfError, match="not an ELF file"):
        load_btf_from_elf(not_elf)


def test_btf_index_kept_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A vmlinux's record offsets and name index are saved on the first load and used on the next; an
    index that does not fit the section is replaced."""
    monkeypatch.setenv("CRASHPY_CACHE", str(tmp_path / "cache"))
    data, _ids = build_sample()
    elf = tmp_path / "vmlinux"
    _write_elf(elf, {".BTF": data})
    first = load_btf_from_elf(elf)
    saved = list((tmp_path / "cache" / "btf-index").iterdir())
    assert first is not None and len(saved) == 1
    again = load_btf_from_elf(elf)
    assert again is not None and again._names is not None  # the name index came from the disk
    for btf in (first, again):
        assert btf.offsetof("task", "comm") == 32
        assert btf.lookup_type("struct list_head *").type_name() == "struct list_head *"
    assert again.saved_index() == first.saved_index()
    saved[0].write_bytes(marshal.dumps((b"\xff" * 8, {})))  # offsets beyond the type section
    replaced = load_btf_from_elf(elf)
    assert replaced is not None and replaced.offsetof("task", "comm") == 32
    assert marshal.loads(saved[0].read_bytes()) == first.saved_index()
    saved[0].write_bytes(b"not marshal")
    assert load_btf_from_elf(elf, disk_cache=False) is not None
    assert saved[0].read_bytes() == b"not marshal"  # disk_cache=False neither reads nor writes


# ---------------------------------------------------------------------------------------------------------
# The real Debian 6.1 kernel, against gdb 13 reading its DWARF


def _cache_root() -> Path:
    return Path(os.environ.get("CRASHPY_CACHE") or Path.home() / ".cache" / "crashpy")


VMLINUX = kernel_paths().vmlinux  # the kernel the test dumps are built from (tools/vmcores.py)


@pytest.fixture(scope="module")
def kernel_btf() -> BTF:
    if not VMLINUX.exists():
        pytest.skip(f"no {VMLINUX}")
    btf = load_btf_from_elf(VMLINUX)
    assert btf is not None
    return btf


def test_real_index(kernel_btf: BTF) -> None:
    """A fresh load of the vmlinux's BTF and its name index (how fast: benchmarks/timings.py; the
    target is 0.3 s for the whole index)."""
    btf = load_btf_from_elf(VMLINUX)
    assert btf is not None
    assert len(btf) > 90_000
    task = btf.find("task_struct", "struct")  # builds the name index
    assert task is not None


# Sizes (path None) and member offsets crashpy reads dumps with, each checked against gdb 13 on the
# debug vmlinux (`p sizeof(struct T)`, `p &((struct T *)0)->m`).
LAYOUTS = [
    ("task_struct", None),
    ("task_struct", "tasks"),
    ("task_struct", "comm"),
    ("task_struct", "pid"),
    ("task_struct", "thread.sp"),
    ("new_utsname", None),
    ("new_utsname", "nodename"),
    ("new_utsname", "release"),
    ("new_utsname", "machine"),
    ("printk_ringbuffer", None),
    ("printk_ringbuffer", "desc_ring.infos"),
    ("printk_ringbuffer", "text_data_ring.data"),
    ("printk_ringbuffer", "fail"),
    ("prb_desc_ring", None),
    ("prb_desc_ring", "last_finalized_id"),
    ("printk_info", None),
    ("printk_info", "caller_id"),
    ("printk_info", "dev_info.device"),
    ("timekeeper", "xtime_sec"),
    ("timekeeper", "tkr_raw"),
    ("timekeeper", "offs_real"),
    ("timekeeper", "raw_sec"),
]
# struct new_utsname is user ABI (uname(2) copies it out as it is): the same in every kernel.
UTSNAME_ABI = {
    ("new_utsname", None): 390,
    ("new_utsname", "nodename"): 65,
    ("new_utsname", "release"): 130,
    ("new_utsname", "machine"): 260,
}


def _layout_label(struct_name: str, path: str | None) -> str:
    return f"sizeof {struct_name}" if path is None else f"offset {struct_name} {path}"


@pytest.mark.parametrize(("struct_name", "path"), LAYOUTS)
def test_real_recorded_layouts(
    kernel_btf: BTF, gdb_answers: dict[str, str], struct_name: str, path: str | None
) -> None:
    expected = _gdb_value(gdb_answers[_layout_label(struct_name, path)])
    assert UTSNAME_ABI.get((struct_name, path), expected) == expected
    if path is None:
        assert kernel_btf.sizeof(struct_name) == expected
    else:
        assert kernel_btf.offsetof(struct_name, path) == expected


def test_real_bit_fields_and_names(kernel_btf: BTF, gdb_answers: dict[str, str]) -> None:
    info = kernel_btf.find("printk_info", "struct")
    assert info is not None
    level = info.lookup_member("level")
    # gdb's `ptype /o struct printk_info` line for it: "/* off: bit | size */    u8 level : bits;"
    members = _ptype_tree(gdb_answers["ptype printk_info"])["children"]
    (gdb_level,) = [n for n in members if n["text"].startswith("u8 level :")]
    bits = int(gdb_level["text"].rstrip(";").rsplit(":", 1)[1])
    assert (level.bit_offset, level.bit_field_size, level.declaration()) == (
        int(gdb_level["off"]) * 8 + int(gdb_level["bit"] or 0),
        bits,
        f"u8 level : {bits}",
    )
    task = kernel_btf.find("task_struct", "struct")
    assert task is not None
    assert task.member("comm").type.type_name() == "char [16]"
    assert task.member("tasks").type.type_name() == "struct list_head"
    assert task.member("mm").type.type_name() == "struct mm_struct *"
    assert task.member("sched_class").type.type_name() == "const struct sched_class *"
    assert task.member("stack").type.type_name() == "void *"
    assert task.member("__state").type.type_name() == "unsigned int"
    assert kernel_btf.sizeof("unsigned long") == 8


# -- live comparison with gdb (its answers are cached on disk: gdb needs ~30 s on this vmlinux) --

GDB_STRUCTS = [
    "task_struct", "mm_struct", "page", "timekeeper", "printk_ringbuffer", "prb_desc_ring", "printk_info",
    "new_utsname", "file", "inode", "sk_buff", "super_block", "module", "kmem_cache", "rq", "net_device",
    "dentry", "vm_area_struct", "pt_regs", "irq_desc", "file_operations", "sched_class", "tk_read_base",
]  # fmt: skip
GDB_WHATIS = [
    "init_task.comm",
    "((struct task_struct *)0)->tasks",
    "((struct task_struct *)0)->mm",
    "((struct task_struct *)0)->sched_class",
    "((struct task_struct *)0)->thread.sp",
    "((struct file_operations *)0)->read",
    "((struct file_operations *)0)->poll",
    "((struct mm_struct *)0)->pgd",
    "((struct printk_info *)0)->dev_info",
]
GDB_OFFSETS = [
    ("task_struct", "tasks"),
    ("task_struct", "comm"),
    ("task_struct", "pid"),
    ("task_struct", "thread.sp"),
    ("task_struct", "se.vruntime"),
    ("mm_struct", "mmap_base"),
    ("timekeeper", "tkr_mono.xtime_nsec"),
]


def _gdb_commands() -> list[tuple[str, str]]:
    cmds: list[tuple[str, str]] = []
    for s in GDB_STRUCTS:
        cmds.append((f"sizeof {s}", f"p sizeof(struct {s})"))
        cmds.append((f"ptype {s}", f"ptype /o struct {s}"))
    for expr in GDB_WHATIS:
        cmds.append((f"whatis {expr}", f"whatis {expr}"))
    for s, path in GDB_OFFSETS:
        cmds.append((f"offset {s} {path}", f"p/d (unsigned long)&((struct {s} *)0)->{path}"))
    for s, path in LAYOUTS:
        cmd = f"p sizeof(struct {s})" if path is None else f"p/d (unsigned long)&((struct {s} *)0)->{path}"
        if (_layout_label(s, path), cmd) not in cmds:
            cmds.append((_layout_label(s, path), cmd))
    return cmds


@pytest.fixture(scope="module")
def gdb_answers(kernel_btf: BTF) -> dict[str, str]:
    """gdb 13's answer to each of _gdb_commands() on the debug vmlinux, from one gdb run cached on disk."""
    gdb = shutil.which("gdb")
    if gdb is None:
        pytest.skip("no gdb")
    cmds = _gdb_commands()
    st = VMLINUX.stat()
    version = subprocess.run([gdb, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    key = hashlib.sha256(
        json.dumps(["plain", str(VMLINUX), st.st_size, st.st_mtime_ns, version, cmds]).encode()
    ).hexdigest()
    cache = _cache_root() / "oracle-runs" / f"gdb-types-{key[:24]}.json"
    if cache.exists():
        answers: dict[str, str] = json.loads(cache.read_text())
        return answers
    argv = [gdb, "-nx", "-batch"]
    for label, cmd in cmds:
        argv += ["-ex", f"echo @@@ {label}\\n", "-ex", cmd]
    out = subprocess.run(argv + [str(VMLINUX)], capture_output=True, text=True, timeout=600).stdout
    answers = {}
    current: str | None = None
    for line in out.splitlines():
        if line.startswith("@@@ "):
            current = line[4:]
            answers[current] = ""
        elif current is not None:
            answers[current] += line + "\n"
    assert len(answers) == len(cmds), "gdb did not answer every command"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(answers))
    return answers


def _gdb_value(text: str) -> int:
    m = re.search(r"\$\d+ = (\d+)", text)
    assert m, text
    return int(m.group(1))


@pytest.mark.parametrize("struct_name", GDB_STRUCTS)
def test_real_sizeof_matches_gdb(kernel_btf: BTF, gdb_answers: dict[str, str], struct_name: str) -> None:
    assert kernel_btf.sizeof(struct_name) == _gdb_value(gdb_answers[f"sizeof {struct_name}"])


@pytest.mark.parametrize(("struct_name", "path"), GDB_OFFSETS)
def test_real_offsetof_matches_gdb(
    kernel_btf: BTF, gdb_answers: dict[str, str], struct_name: str, path: str
) -> None:
    assert kernel_btf.offsetof(struct_name, path) == _gdb_value(gdb_answers[f"offset {struct_name} {path}"])


@pytest.mark.parametrize("expr", GDB_WHATIS)
def test_real_whatis_matches_gdb(kernel_btf: BTF, gdb_answers: dict[str, str], expr: str) -> None:
    expected = gdb_answers[f"whatis {expr}"].strip()
    m = re.match(r"\(\(struct (\w+) \*\)0\)->(.+)$", expr)
    if m:
        t = kernel_btf.member(m.group(1), m.group(2)).type
    else:
        assert expr == "init_task.comm"  # BTF of 6.1 has no type for global variables: see via the struct
        t = kernel_btf.member("task_struct", "comm").type
    assert f"type = {t.type_name()}" == expected


_PTYPE_LINE = re.compile(r"^/\*\s*(?:(\d+)(?::\s*(\d+))?\s*\|)?\s*(\d+) \*/\s*(.*)$")


def _ptype_tree(text: str) -> dict[str, Any]:
    """ptype /o output as nested dicts: {"off", "bit", "size", "text", "name", "children"}."""
    root: dict[str, Any] = {"children": []}
    stack = [root]
    for line in text.splitlines():
        if "type = struct" in line or "type = union" in line:
            continue
        m = _PTYPE_LINE.match(line)
        if m:
            off, bit, size, text_ = m.groups()
            node: dict[str, Any] = {"off": off, "bit": bit, "size": size, "text": text_, "children": []}
            stack[-1]["children"].append(node)
            if text_.endswith("{"):
                stack.append(node)
        elif line.strip().startswith("}") and len(stack) > 1:
            stack.pop()["name"] = line.strip()[1:].rstrip(";").strip() or None
    return root


def _member_decl(m: Member) -> str:
    t = m.type.unqualified()
    if isinstance(t, EnumType) and t.name is None:  # ptype spells anonymous enums out
        text = t.definition() + (f" {m.name}" if m.name else "")
        quals = m.type.qualifiers()
        if quals:
            text = " ".join(q.value for q in (TypeKind.CONST, TypeKind.VOLATILE) if q in quals) + " " + text
        if m.bit_field_size is not None:
            text += f" : {m.bit_field_size}"
        return text
    return m.declaration()


def _compare_ptype(btf: BTF, top: Type, node: dict[str, Any], path: list[str], problems: list[str]) -> int:
    checked = 0
    for child in node["children"]:
        if child["text"].endswith("{"):
            inner = path + ([child["name"]] if child.get("name") else [])
            checked += _compare_ptype(btf, top, child, inner, problems)
            continue
        decl = child["text"].rstrip(";")
        found: Member | None = None
        for word in reversed(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", decl)):
            try:
                found = top.lookup_member(".".join([*path, word]))
                break
            except TypeLookupError:
                continue
        checked += 1
        if found is None:
            problems.append(f"{'.'.join(path)}: no member for {decl!r}")
            continue
        mine = _member_decl(found)
        if mine != decl:
            problems.append(f"{'.'.join(path)}: gdb {decl!r}, crashpy {mine!r}")
        if child["off"] is not None and found.bit_offset != int(child["off"]) * 8 + int(child["bit"] or 0):
            problems.append(
                f"{decl!r}: gdb offset {child['off']}:{child['bit']}, crashpy bit {found.bit_offset}"
            )
        if found.bit_field_size is None and found.type.size != int(child["size"]):
            problems.append(f"{decl!r}: gdb size {child['size']}, crashpy {found.type.size}")
    return checked


# gdb reads `u8 extended_state_area[0]` from DWARF; BTF cannot tell it from a flexible array member
# (the last member of struct xregs_state), so crashpy says `[]`.
KNOWN_BTF_LIMITS = {
    "thread.fpu.__fpstate.regs.xsave: gdb 'u8 extended_state_area[0]', crashpy 'u8 extended_state_area[]'"
}


@pytest.mark.parametrize("struct_name", GDB_STRUCTS)
def test_real_ptype_members_match_gdb(kernel_btf: BTF, gdb_answers: dict[str, str], struct_name: str) -> None:
    """Every member gdb's `ptype /o` shows, nested ones included: declaration, offset and size."""
    top = kernel_btf.find(struct_name, "struct")
    assert top is not None
    problems: list[str] = []
    checked = _compare_ptype(kernel_btf, top, _ptype_tree(gdb_answers[f"ptype {struct_name}"]), [], problems)
    assert checked > 0
    assert [p for p in problems if p not in KNOWN_BTF_LIMITS] == []
