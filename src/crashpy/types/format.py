"""gdb 10.2's C printing, as crash 8.0.6 shows it: types (`whatis`, `ptype`, `ptype /o`) and values (`p`,
`output`, the `struct` command's data), with crash's print settings (pretty structures, no `<repeats>`,
256 elements, symbolic pointers).

gdb's routines are followed closely (c-typeprint.c: c_print_type_1, the varspec prefix/suffix and
c_type_print_base_struct_union; valprint.c / c-valprint.c / cp-valprint.c: the value printers;
printcmd.c: print_scalar_formatted, print_address_symbolic) so that odd corners come out the same;
the code is written from what they do, not copied.

A gdb type carries its qualifiers as flags; here they are QualifiedType wrappers, peeled by `_peel`.
gdb 10 spells integer types with the compiler's names ("long unsigned int"), so the raw names are used.
"""

from __future__ import annotations

import bisect
import struct as _struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from crashpy.bits import MASK64
from crashpy.errors import CrashpyError
from crashpy.types.model import (
    QUALIFIER_KINDS,
    ArrayType,
    EnumType,
    FloatType,
    FuncDecl,
    FunctionType,
    IntType,
    PointerType,
    QualifiedType,
    StructType,
    Type,
    TypeKind,
    VarDecl,
)

if TYPE_CHECKING:
    from crashpy.program import Program

# ---------------------------------------------------------------------------------------------------------
# The gdb view of a model type


def _peel(t: Type) -> tuple[Type, frozenset[TypeKind]]:
    """(t without its qualifier wrappers, the qualifiers); declarations give their type."""
    quals: set[TypeKind] = set()
    for _ in range(64):
        if t.kind in QUALIFIER_KINDS:
            quals.add(t.kind)
            t = t.target
        elif isinstance(t, (VarDecl, FuncDecl)):
            t = t.type
        else:
            break
    return t, frozenset(quals)


def _requal(t: Type, quals: frozenset[TypeKind]) -> Type:
    for q in (TypeKind.RESTRICT, TypeKind.VOLATILE, TypeKind.CONST):
        if q in quals:
            t = QualifiedType(q, t)
    return t


def check_typedef(t: Type) -> Type:
    """gdb's check_typedef: every typedef resolved, the qualifiers met on the way kept."""
    quals: set[TypeKind] = set()
    for _ in range(256):
        base, q = _peel(t)
        quals |= q
        if base.kind is TypeKind.TYPEDEF:
            t = base.target
            continue
        return _requal(base, frozenset(quals)) if quals else base
    return t


def strip(t: Type) -> Type:
    """The type under all typedefs and qualifiers (gdb's check_typedef, qualifiers dropped)."""
    for _ in range(256):
        base, _q = _peel(t)
        if base.kind is TypeKind.TYPEDEF:
            t = base.target
            continue
        return base
    return t


def type_code(t: Type) -> TypeKind:
    return _peel(t)[0].kind


def type_name(t: Type) -> str | None:
    """gdb's TYPE_NAME: the tag of a struct/union/enum, the name of a typedef or base type; None for
    pointers, arrays and functions."""
    base = _peel(t)[0]
    if base.kind in (TypeKind.POINTER, TypeKind.ARRAY):
        return None
    if isinstance(base, IntType):
        return base._base_name(False)
    return base.name


def target_type(t: Type) -> Type:
    base = _peel(t)[0]
    if isinstance(base, ArrayType):
        return base.element
    if isinstance(base, FunctionType):
        return base.return_type
    return base.target


def is_unsigned(t: Type) -> bool:
    s = strip(t)
    if isinstance(s, IntType):
        return not s.signed or s.is_bool
    if isinstance(s, EnumType):
        return all(v >= 0 for v in s.enumerators.values())
    return s.kind is TypeKind.POINTER


def type_length(t: Type) -> int:
    """TYPE_LENGTH after check_typedef; 0 where there is none (void, functions: gdb says 1 for those)."""
    s = strip(t)
    if s.kind is TypeKind.VOID or s.kind is TypeKind.FUNCTION:
        return 1
    try:
        return s.size
    except Exception:  # noqa: BLE001 - incomplete types have length 0 in gdb
        return 0


# ---------------------------------------------------------------------------------------------------------
# Type printing (c-typeprint.c)


class _PrintOffsets:
    """gdb's print_offset_data for `ptype /o`."""

    indentation = 23

    def __init__(self) -> None:
        self.offset_bitpos = 0
        self.end_bitpos = 0

    def maybe_print_hole(self, out: list[str], bitpos: int, for_what: str) -> None:
        if 0 < self.end_bitpos < bitpos:
            hole = bitpos - self.end_bitpos
            hole_byte, hole_bit = divmod(hole, 8)
            if hole_bit > 0:
                out.append(f"/* XXX {hole_bit:2d}-bit {for_what}   */\n")
            if hole_byte > 0:
                out.append(f"/* XXX {hole_byte:2d}-byte {for_what}  */\n")

    def update(self, out: list[str], stype: StructType, m_bitpos: int, m_type: Type, bitsize: int | None) -> None:
        flen = type_length(m_type)
        if stype.kind is TypeKind.UNION:
            out.append(f"/*              {flen:>4} */")
            return
        bitpos = m_bitpos
        fieldsize_bit = flen * 8
        self.maybe_print_hole(out, bitpos, "hole")
        if bitsize is not None or self.offset_bitpos % 8 != 0:
            fieldsize_bit = bitsize or 0
            real = bitpos + self.offset_bitpos
            out.append(f"/* {real // 8:4d}:{real % 8:2d}")
        else:
            out.append(f"/* {(bitpos + self.offset_bitpos) // 8:4d}")
            out.append("   ")
        out.append(f"   |  {flen:4d} */")
        self.end_bitpos = bitpos + fieldsize_bit

    def finish(self, out: list[str], stype: StructType, level: int) -> None:
        size = type_length(stype)
        self.maybe_print_hole(out, size * 8, "padding")
        out.append("\n")
        out.append(" " * (level + 4 + self.indentation))
        out.append(f"/* total size (bytes): {size:>4} */\n")


class TypePrinter:
    """gdb's C type printer. `offsets` turns on `ptype /o`."""

    def __init__(self, offsets: bool = False) -> None:
        self.offsets = offsets

    def print_type(self, t: Type, varstring: str | None, show: int, level: int = 0) -> str:
        out: list[str] = []
        self._print_type_1(out, t, varstring, show, level, _PrintOffsets())
        return "".join(out)

    # c_print_type_1
    def _print_type_1(
        self, out: list[str], t: Type, varstring: str | None, show: int, level: int, podata: _PrintOffsets
    ) -> None:
        if show > 0:
            t = check_typedef(t)
        code = type_code(t)
        self._base_1(out, t, show, level, podata)
        if varstring or (
            (show > 0 or type_name(t) is None)
            and code in (TypeKind.POINTER, TypeKind.FUNCTION, TypeKind.ARRAY)
        ):
            out.append(" ")
        need_post_space = bool(varstring)
        self._varspec_prefix(out, t, show, False, need_post_space)
        if varstring is not None:
            out.append(varstring)
            self._varspec_suffix(out, t, show, False, "(" in varstring)

    @staticmethod
    def _modifier(out: list[str], t: Type, need_pre_space: bool, need_post_space: bool) -> None:
        quals = _peel(t)[1]
        did = False
        for q, word in ((TypeKind.CONST, "const"), (TypeKind.VOLATILE, "volatile"), (TypeKind.RESTRICT, "restrict")):
            if q in quals:
                if did or need_pre_space:
                    out.append(" ")
                out.append(word)
                did = True
        if did and need_post_space:
            out.append(" ")

    def _varspec_prefix(
        self, out: list[str], t: Type, show: int, passed_a_ptr: bool, need_post_space: bool
    ) -> None:
        if type_name(t) is not None and show <= 0:
            return
        base = _peel(t)[0]
        code = base.kind
        if code is TypeKind.POINTER:
            self._varspec_prefix(out, base.target, show, True, True)
            out.append("*")
            self._modifier(out, t, True, need_post_space)
        elif code is TypeKind.FUNCTION:
            assert isinstance(base, FunctionType)
            self._varspec_prefix(out, base.return_type, show, False, False)
            if passed_a_ptr:
                out.append("(")
        elif code is TypeKind.ARRAY:
            assert isinstance(base, ArrayType)
            self._varspec_prefix(out, base.element, show, False, False)
            if passed_a_ptr:
                out.append("(")
        elif code is TypeKind.TYPEDEF:
            self._varspec_prefix(out, base.target, show, passed_a_ptr, False)

    def _varspec_suffix(self, out: list[str], t: Type, show: int, passed_a_ptr: bool, demangled_args: bool) -> None:
        if type_name(t) is not None and show <= 0:
            return
        base = _peel(t)[0]
        code = base.kind
        if code is TypeKind.ARRAY:
            assert isinstance(base, ArrayType)
            if passed_a_ptr:
                out.append(")")
            out.append("[")
            if not base.is_flexible:
                out.append(str(base.length))
            out.append("]")
            self._varspec_suffix(out, base.element, show, False, False)
        elif code is TypeKind.POINTER:
            self._varspec_suffix(out, base.target, show, True, False)
        elif code is TypeKind.FUNCTION:
            assert isinstance(base, FunctionType)
            if passed_a_ptr:
                out.append(")")
            if not demangled_args:
                self._print_args(out, base)
            self._varspec_suffix(out, base.return_type, show, passed_a_ptr, False)
        elif code is TypeKind.TYPEDEF:
            self._varspec_suffix(out, base.target, show, passed_a_ptr, False)

    def _print_args(self, out: list[str], f: FunctionType) -> None:
        out.append("(")
        printed = False
        for p in f.params:
            if printed:
                out.append(", ")
            out.append(TypePrinter().print_type(p.type, "", -1, 0))
            printed = True
        if printed and f.variadic:
            out.append(", ...")
        elif not printed:
            out.append("void")
        out.append(")")

    def _base_1(self, out: list[str], t: Type, show: int, level: int, podata: _PrintOffsets) -> None:
        name = type_name(t)
        if show <= 0 and name is not None:
            self._modifier(out, t, False, True)
            code = type_code(t)
            if code is TypeKind.UNION:
                out.append("union ")
            elif code is TypeKind.STRUCT:
                out.append("struct ")
            elif code is TypeKind.ENUM:
                out.append("enum ")
            out.append(name)
            return
        t = check_typedef(t)
        base = _peel(t)[0]
        code = base.kind
        if code in (TypeKind.FUNCTION, TypeKind.ARRAY, TypeKind.POINTER):
            self._base_1(out, target_type(base), show, level, podata)
        elif code in (TypeKind.STRUCT, TypeKind.UNION):
            assert isinstance(base, StructType)
            self._struct_union(out, t, base, show, level, podata)
        elif code is TypeKind.ENUM:
            assert isinstance(base, EnumType)
            self._modifier(out, t, False, True)
            out.append("enum ")
            if base.name is not None:
                out.append(base.name)
                if show > 0:
                    out.append(" ")
            if show < 0:
                if base.name is None:
                    out.append("{...}")
            elif show > 0 or base.name is None:
                out.append("{")
                lastval = 0
                for i, (k, v) in enumerate(base.enumerators.items()):
                    if i:
                        out.append(", ")
                    out.append(k)
                    if lastval != v:
                        out.append(f" = {v}")
                        lastval = v
                    lastval += 1
                out.append("}")
        elif code is TypeKind.VOID:
            out.append("void")
        else:
            name = type_name(base)
            if name is not None:
                self._modifier(out, t, False, True)
                out.append(name)
            else:
                out.append(f"<invalid type code {code.value}>")

    def _struct_union(
        self, out: list[str], t: Type, st: StructType, show: int, level: int, podata: _PrintOffsets
    ) -> None:
        self._modifier(out, t, False, True)
        out.append("union " if st.kind is TypeKind.UNION else "struct ")
        if st.name is not None:
            out.append(st.name)
            if show > 0:
                out.append(" ")
        if show < 0:
            if st.name is None:
                out.append("{...}")
            return
        if not (show > 0 or st.name is None):
            return
        out.append("{\n")
        members = st.members() if st.is_complete else []
        if not members:
            text = "<incomplete type>" if not st.is_complete else "<no data fields>"
            out.append(" " * (level + 4) + text + "\n")
        local = _PrintOffsets()
        for m in members:
            if self.offsets:
                podata.update(out, st, m.bit_offset, m.type, m.bit_field_size)
            out.append(" " * (level + 4))
            newshow = show - 1
            mcode = type_code(m.type)
            if self.offsets and mcode in (TypeKind.STRUCT, TypeKind.UNION):
                newshow += 1
                local.offset_bitpos = podata.offset_bitpos + m.bit_offset
                local.end_bitpos = podata.end_bitpos - type_length(m.type) * 8
            elif not m.name:
                newshow = show  # crash's gdb patch: print the details of unnamed structs and unions
            self._print_type_1(out, m.type, m.name or "", newshow, level + 4, local)
            if m.bit_field_size is not None:
                out.append(f" : {m.bit_field_size}")
            out.append(";\n")
        if self.offsets:
            if show > 0:
                podata.finish(out, st, level)
            out.append(" " * _PrintOffsets.indentation)
            if level == 0:
                out.append("  ")
        out.append(" " * level + "}")


def type_to_string(t: Type, varstring: str | None = "", show: int = -1, level: int = 0) -> str:
    """gdb's type_print(type, varstring, stream, show)."""
    return TypePrinter().print_type(t, varstring, show, level)


def whatis_text(t: Type, show: int, offsets: bool = False) -> str:
    """What gdb's whatis (show -1) / ptype (show 1) print for type `t`, with the final newline."""
    head = ""
    if offsets and show > 0 and type_code(t) in (TypeKind.STRUCT, TypeKind.UNION):
        head = "/* offset    |  size */  "
    elif offsets and show > 0 and type_code(check_typedef(t)) in (TypeKind.STRUCT, TypeKind.UNION):
        head = ""
    return head + "type = " + TypePrinter(offsets and show > 0).print_type(t, "", show, 0) + "\n"


# ---------------------------------------------------------------------------------------------------------
# Symbolic addresses (printcmd.c: print_address_symbolic, minsyms.c: lookup_minimal_symbol_by_pc_section)

_SHF_ALLOC = 0x2
_SHF_EXECINSTR = 0x4


@dataclass(frozen=True)
class _Section:
    start: int
    end: int
    code: bool
    index: int


class AddressSymbolizer:
    """Finds `<symbol+offset>` for an address the way gdb does with vmlinux's minimal symbols."""

    def __init__(self, prog: Program) -> None:
        self.prog = prog
        secs: list[_Section] = []
        image = prog.image
        if image is not None:
            for i, s in enumerate(image.sections):
                if not s.flags & _SHF_ALLOC or s.size == 0 or s.addr < 0xFFFF800000000000:
                    continue
                start = (s.addr + prog.kaslr_offset) & MASK64
                secs.append(_Section(start, start + s.size, bool(s.flags & _SHF_EXECINSTR), i))
        secs.sort(key=lambda s: s.start)
        self._sections = secs
        self._starts = [s.start for s in secs]
        self._cache: dict[int, tuple[str, int] | None] = {}

    def section_of(self, addr: int) -> _Section | None:
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self._sections[i].end:
            return self._sections[i]
        return None

    def lookup(self, addr: int) -> tuple[str, int] | None:
        """(name, offset) gdb would print for `addr`, or None."""
        if addr in self._cache:
            return self._cache[addr]
        hit = self._lookup(addr)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[addr] = hit
        return hit

    def _candidates(self, pc: int) -> list[tuple[int, str, str, int]]:
        """Symbols at or below pc, nearest first; at one address in descending name order (gdb sorts equal
        addresses by name and looks at the last one first). At most a few hundred are returned."""
        table = self.prog.symbols
        pos = table.position(pc + 1) - 1
        out: list[tuple[int, str, str, int]] = []
        group: list[tuple[int, str, str, int]] = []
        while pos >= 0 and len(out) < 512:
            sym = table.by_position(pos)
            if sym is None:
                break
            if group and sym.address != group[0][0]:
                group.sort(key=lambda e: e[1].encode(), reverse=True)
                out.extend(group)
                group = []
                if len(out) >= 64:
                    break
            group.append((sym.address, sym.name, sym.type, sym.size))
            pos -= 1
        group.sort(key=lambda e: e[1].encode(), reverse=True)
        out.extend(group)
        return out

    def _lookup(self, pc: int) -> tuple[str, int] | None:
        if pc == 0 or not self._is_kvaddr(pc):
            return None
        sec = self.section_of(pc)
        if sec is None:
            return self._module_symbol(pc)
        cands = self._candidates(pc)
        best_zero: tuple[int, str, str, int] | None = None
        hi: tuple[int, str, str, int] | None = None
        for k, c in enumerate(cands):
            addr, _name, letter, size = c
            if letter in "aA":
                continue
            if self.section_of(addr) is not sec:
                continue
            if size == 0:
                if best_zero is None:
                    best_zero = c
                continue
            if k + 1 < len(cands):
                p = cands[k + 1]
                if size and pc >= addr + size and pc < p[0] + p[3]:
                    continue
            hi = c
            break
        if best_zero is not None and (hi is None or hi[3] == 0):
            hi = best_zero
        if hi is not None and hi[3] != 0 and pc >= hi[0] + hi[3]:
            hi = best_zero
        if hi is None:
            return None
        if hi[3] == 0 and not self.section_of(hi[0]).code:  # type: ignore[union-attr]
            return None
        return hi[1], pc - hi[0]

    def _module_symbol(self, pc: int) -> tuple[str, int] | None:
        """With no minimal symbol for `pc`, crash's gdb asks crash (gdb_lookup_module_symbol, patched
        into build_address_symbolic): value_search_module(), so `<__this_module+8>`."""
        from crashpy.symbols.crash_view import crash_symtab

        try:
            found = crash_symtab(self.prog).module_value_search(pc)
        except Exception:  # noqa: BLE001 - no module list readable: no name
            return None
        if found is None:
            return None
        return found[0].name, found[1]

    def _is_kvaddr(self, addr: int) -> bool:
        try:
            return bool(self.prog.is_kvaddr(addr))
        except Exception:  # noqa: BLE001 - no page tables: any upper-half address
            return addr >= 0xFFFF800000000000

    def symbolic(self, addr: int) -> str:
        """" <name+off>" (with its leading space) or ""."""
        hit = self.lookup(addr & MASK64)
        if hit is None:
            return ""
        name, off = hit
        return f" <{name}+{off}>" if off else f" <{name}>"


def symbolizer(prog: Program) -> AddressSymbolizer:
    return prog.cache("gdb_symbolizer", lambda: AddressSymbolizer(prog))  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------------------
# Value printing (valprint.c, c-valprint.c, cp-valprint.c, printcmd.c)


class GdbError(CrashpyError):
    """An error in gdb's words (`No symbol "foo" in current context.`)."""


class PartialOutput(GdbError):
    """Printing stopped with an error after `partial` had been written (gdb's output stays)."""

    def __init__(self, message: str, partial: str) -> None:
        super().__init__(message)
        self.partial = partial


class MemoryError_(GdbError):
    """A read that failed while printing; carries gdb's address."""

    def __init__(self, address: int) -> None:
        super().__init__(f"Cannot access memory at address 0x{address:x}")
        self.address = address


@dataclass(frozen=True)
class PrintOptions:
    """gdb's value_print_options as crash sets them."""

    format: str = ""  # the /x of p/x: x d u o t c a z s, or ""
    output_format: str = ""  # "x" when crash's radix is 16 (set radix, p -x)
    print_max: int = 256  # crash: *gdb_print_max = 256
    repeat_count_threshold: int = 0x7FFFFFFF  # crash: never <repeats N times>
    pretty_structs: bool = True
    pretty_arrays: bool = False
    symbol_print: bool = True
    unionprint: bool = True


ReadFn = Callable[[int, int], bytes]


class ValuePrinter:
    """Prints values from their bytes. `read(addr, size)` reads memory (for char * strings); it raises
    MemoryError_ (or any exception, taken as a failed read)."""

    def __init__(
        self,
        prog: Program | None,
        read: ReadFn | None = None,
        take_errors: Callable[[], list[str]] | None = None,
    ) -> None:
        self.prog = prog
        self._read = read
        self._take_errors = take_errors
        self._sym = symbolizer(prog) if prog is not None and prog.image is not None else None

    # -- entry points --------------------------------------------------------------------------------

    def value_print(self, t: Type, data: bytes, address: int | None, opts: PrintOptions) -> str:
        """gdb's print_formatted (size 0) of a value: what `print` shows after `$N = ` and `output` shows."""
        s = check_typedef(t)
        code = type_code(s)
        out: list[str] = []
        try:
            if code is TypeKind.FUNCTION and opts.format in ("a", "c"):
                raise GdbError("Value can't be converted to integer.")
            if opts.format in ("", "s") or code in (TypeKind.ARRAY, TypeKind.STRUCT, TypeKind.UNION):
                self._c_value_print(out, t, data, address, opts)
            else:
                self._scalar_formatted(out, t, data, 0, opts)
        except PartialOutput:
            raise
        except GdbError as e:
            raise PartialOutput(str(e), "".join(out)) from None
        return "".join(out)

    def _c_value_print(self, out: list[str], t: Type, data: bytes, address: int | None, opts: PrintOptions) -> None:
        s = check_typedef(t)
        if type_code(s) is TypeKind.POINTER:
            orig = _peel(t)[0]
            tgt_name = type_name(target_type(orig)) if orig.kind is TypeKind.POINTER else None
            if orig.kind is TypeKind.POINTER and tgt_name is not None and tgt_name in ("char", "wchar_t", "char16_t", "char32_t"):
                pass
            else:
                out.append("(" + type_to_string(t, "", -1) + ") ")
        self.common(out, t, data, 0, address, 0, opts)

    # -- common_val_print ----------------------------------------------------------------------------

    def common(
        self,
        out: list[str],
        t: Type,
        data: bytes,
        off: int,
        address: int | None,
        recurse: int,
        opts: PrintOptions,
        bitfield: tuple[int, int] | None = None,
    ) -> None:
        """Print the value of type `t` at data[off:] (`address` is where it lives, if anywhere).
        `bitfield` is (bit offset from data[off], bit size)."""
        s = check_typedef(t)
        base = _peel(s)[0]
        code = base.kind
        if code is TypeKind.ARRAY:
            assert isinstance(base, ArrayType)
            self._array(out, t, base, data, off, address, recurse, opts)
        elif code is TypeKind.POINTER:
            if opts.format and opts.format != "s":
                self._scalar_formatted(out, t, data, off, opts)
                return
            addr = int.from_bytes(data[off : off + 8], "little")
            self._unpacked_pointer(out, base, addr, opts)
        elif code in (TypeKind.STRUCT, TypeKind.UNION):
            assert isinstance(base, StructType)
            if code is TypeKind.UNION and recurse and not opts.unionprint:
                out.append("{...}")
            else:
                self._struct(out, base, data, off, address, recurse, opts)
        elif code is TypeKind.INT:
            assert isinstance(base, IntType)
            if base.is_bool:
                if opts.format or opts.output_format:
                    self._scalar_formatted(out, t, data, off, replace(opts, format=opts.format or opts.output_format), bitfield)
                else:
                    v = self._int(base, data, off, bitfield)
                    out.append("false" if v == 0 else "true" if v == 1 else str(v))
                return
            if opts.format or opts.output_format:
                self._scalar_formatted(out, t, data, off, replace(opts, format=opts.format or opts.output_format), bitfield)
            else:
                self._scalar_formatted(out, t, data, off, opts, bitfield)
                if _textual(t, opts.format):
                    out.append(" ")
                    out.append(char_literal(self._int(base, data, off, bitfield), is_unsigned(t)))
        elif code is TypeKind.ENUM:
            assert isinstance(base, EnumType)
            if opts.format:
                self._scalar_formatted(out, t, data, off, opts, bitfield)
            else:
                out.append(enum_text(base, self._int(base, data, off, bitfield)))
        elif code is TypeKind.FUNCTION:
            if opts.format in ("a", "c"):
                raise GdbError("Value can't be converted to integer.")
            if opts.format:
                self._scalar_formatted(out, t, data, off, opts)
            else:
                out.append("{" + type_to_string(t, "", -1) + "} ")
                self._address_demangle(out, address or 0)
        elif code is TypeKind.FLOAT:
            assert isinstance(base, FloatType)
            if opts.format:
                self._scalar_formatted(out, t, data, off, opts)
            else:
                out.append(_float_text(data[off : off + base.size]))
        elif code is TypeKind.VOID:
            out.append("void")
        else:
            out.append(f"<unhandled type {code.value}>")

    # -- integers ----------------------------------------------------------------------------------

    @staticmethod
    def _int(t: Type, data: bytes, off: int, bitfield: tuple[int, int] | None) -> int:
        s = strip(t)
        size = type_length(s)
        signed = not is_unsigned(s)
        if bitfield is None:
            return int.from_bytes(data[off : off + size], "little", signed=signed)
        bitpos, bitsize = bitfield
        nbytes = (bitpos + bitsize + 7) // 8
        raw = int.from_bytes(data[off : off + nbytes], "little")
        v = (raw >> bitpos) & ((1 << bitsize) - 1)
        if signed and bitsize and v >> (bitsize - 1):
            v -= 1 << bitsize
        return v

    def _scalar_formatted(
        self,
        out: list[str],
        t: Type,
        data: bytes,
        off: int,
        opts: PrintOptions,
        bitfield: tuple[int, int] | None = None,
    ) -> None:
        """print_scalar_formatted for the value's bytes (a bit-field's value packed into its type's length)."""
        fmt = opts.format
        if fmt == "s":
            self.common(out, t, data, off, None, 0, replace(opts, format=""), bitfield)
            return
        s = strip(t)
        length = type_length(s)
        if s.kind is TypeKind.POINTER:
            length = 8
        if s.kind is TypeKind.FLOAT and fmt in ("o", "x", "t", "z", "d", "u"):
            v = int(_float_value(data[off : off + length]))
            raw = v & ((1 << (8 * length)) - 1)
        elif bitfield is not None:
            v = self._int(s, data, off, bitfield)
            raw = v & ((1 << (8 * length)) - 1)
        else:
            raw = int.from_bytes(data[off : off + length], "little")
        unsigned = is_unsigned(s)
        bits = 8 * length
        signed_v = raw - (1 << bits) if bits and raw >> (bits - 1) else raw
        if fmt == "f" and s.kind is not TypeKind.FLOAT:
            fmt = ""  # gdb: an integer of a float's length would be shown as a float; kernel types never need it
        if fmt == "o":
            out.append("0" + (f"{raw:o}" if raw else ""))
        elif fmt == "d":
            out.append(str(signed_v))
        elif fmt == "u":
            out.append(str(raw))
        elif fmt == "":
            if s.kind is TypeKind.FLOAT:
                out.append(_float_text(data[off : off + length]))
            else:
                out.append(str(raw if unsigned else signed_v))
        elif fmt == "t":
            out.append(f"{raw:b}")
        elif fmt == "x":
            out.append(f"0x{raw:x}")
        elif fmt == "z":
            out.append(f"0x{raw:0{2 * length}x}")
        elif fmt == "c":
            v = raw if unsigned else signed_v
            c = v & 0xFF
            if not unsigned and c >= 0x80:
                c -= 0x100
            out.append(f"{c} {char_literal(c, unsigned)}")
        elif fmt == "a":
            v = raw if unsigned else signed_v
            a = v & MASK64
            out.append(f"0x{a:x}")
            out.append(self._symbolic(a))
        else:
            raise GdbError(f'Undefined output format "{fmt}".')

    # -- pointers ----------------------------------------------------------------------------------

    def _symbolic(self, addr: int) -> str:
        return self._sym.symbolic(addr) if self._sym is not None else ""

    def _address_demangle(self, out: list[str], addr: int) -> None:
        out.append(f"0x{addr:x}")
        out.append(self._symbolic(addr))

    def _unpacked_pointer(self, out: list[str], ptype: Type, addr: int, opts: PrintOptions) -> None:
        tgt = target_type(ptype)
        if type_code(check_typedef(tgt)) is TypeKind.FUNCTION:
            self._address_demangle(out, addr)
            return
        self._address_demangle(out, addr)
        if _textual(tgt, opts.format) and addr != 0:
            out.append(" ")
            out.append(self.read_string(addr, opts))

    def _errors(self) -> str:
        return "".join(self._take_errors()) if self._take_errors is not None else ""

    def read_string(self, addr: int, opts: PrintOptions, length: int = -1) -> str:
        """val_print_string for a char * (length -1: up to the NUL, at most print_max chars); text of
        errors the reads reported (take_errors) comes first, as those are printed while reading."""
        fetchlimit = opts.print_max if length == -1 else min(length, opts.print_max)
        buf = bytearray()
        err_addr: int | None = None
        cur = addr
        found_nul = False
        chunk = min(8, fetchlimit)
        while len(buf) < fetchlimit and not found_nul:
            n = min(chunk, fetchlimit - len(buf))
            got, failed = self._partial_read(cur, n)
            for b in got:
                buf.append(b)
                cur += 1
                if b == 0 and length == -1:
                    found_nul = True
                    failed = False
                    break
            if failed:
                err_addr = cur
                break
        force_ellipsis = False
        if length == -1 and not found_nul:
            try:
                peek = self._read_mem(cur, 1)
                if peek[0] != 0:
                    force_ellipsis = True
            except Exception:  # noqa: BLE001 - an unreadable next byte: no ellipsis
                pass
        elif length >= 0 and (err_addr is not None or length > len(buf)):
            force_ellipsis = True
        text = self._errors()
        if err_addr is None or buf:
            text += printstr(bytes(buf), force_ellipsis, opts)
        if err_addr is not None:
            text += f"<error: Cannot access memory at address 0x{err_addr:x}>"
        return text

    def _read_mem(self, addr: int, size: int) -> bytes:
        if self._read is None:
            raise MemoryError_(addr)
        return self._read(addr, size)

    def _partial_read(self, addr: int, size: int) -> tuple[bytes, bool]:
        try:
            return self._read_mem(addr, size), False
        except Exception:  # noqa: BLE001 - any failed read: byte by byte, as gdb does
            got = bytearray()
            for k in range(size):
                try:
                    got += self._read_mem(addr + k, 1)
                except Exception:  # noqa: BLE001
                    return bytes(got), True
            return bytes(got), False

    # -- arrays ------------------------------------------------------------------------------------

    def _array(
        self,
        out: list[str],
        t: Type,
        at: ArrayType,
        data: bytes,
        off: int,
        address: int | None,
        recurse: int,
        opts: PrintOptions,
    ) -> None:
        elt = at.element
        eltlen = type_length(elt)
        total = eltlen * at.length
        if total > 0 and eltlen > 0:
            n = at.length
            if _textual(elt, opts.format):
                out.append(printstr(data[off : off + n * eltlen], False, opts, width=eltlen))
                return
            out.append("{")
            self._array_elements(out, elt, eltlen, n, data, off, address, recurse, opts)
            out.append("}")
        else:
            # An array of no length (`char data[]`): printed as a pointer to its first element.
            addr = address or 0
            self._address_demangle(out, addr)
            if _textual(elt, opts.format) and addr != 0:
                out.append(" ")
                out.append(self.read_string(addr, opts))

    def _array_elements(
        self,
        out: list[str],
        elt: Type,
        eltlen: int,
        n: int,
        data: bytes,
        off: int,
        address: int | None,
        recurse: int,
        opts: PrintOptions,
    ) -> None:
        printed = 0
        i = 0
        while i < n and printed < opts.print_max:
            if i != 0:
                if opts.pretty_arrays:
                    out.append(",\n" + " " * (2 + 2 * recurse))
                else:
                    out.append(", ")
            elif opts.pretty_arrays:
                out.append("\n" + " " * (2 + 2 * recurse))
            reps = 1
            eoff = off + i * eltlen
            if opts.repeat_count_threshold < 0xFFFFFFFF and opts.repeat_count_threshold < n:
                chunk = data[eoff : eoff + eltlen]
                while i + reps < n and data[eoff + reps * eltlen : eoff + (reps + 1) * eltlen] == chunk:
                    reps += 1
            eaddr = address + i * eltlen if address is not None else None
            self.common(out, elt, data, eoff, eaddr, recurse + 1, opts)
            if reps > opts.repeat_count_threshold:
                out.append(f" <repeats {reps} times>")
                i += reps
                printed += opts.repeat_count_threshold
            else:
                i += 1
                printed += 1
        if i < n:
            out.append("...")
        if opts.pretty_arrays:
            out.append("\n" + " " * (2 * recurse))

    # -- structs -----------------------------------------------------------------------------------

    def _struct(
        self,
        out: list[str],
        st: StructType,
        data: bytes,
        off: int,
        address: int | None,
        recurse: int,
        opts: PrintOptions,
    ) -> None:
        if not st.is_complete:
            out.append("<incomplete type>")  # do_val_print: a stub type
            return
        out.append("{")
        members = st.members()
        if not members:
            out.append("<No data fields>")
            out.append("}")
            return
        seen = False
        for m in members:
            if seen:
                out.append(",")
                if not opts.pretty_structs:
                    out.append(" ")
            seen = True
            if opts.pretty_structs:
                out.append("\n" + " " * (2 + 2 * recurse))
            name = m.name or ""
            out.append(name)
            if name:
                out.append(" = ")
            moff = off + m.bit_offset // 8
            maddr = address + m.bit_offset // 8 if address is not None else None
            if m.bit_field_size is not None:
                self.common(out, m.type, data, moff, None, recurse + 1, opts, (m.bit_offset % 8, m.bit_field_size))
            else:
                self.common(out, m.type, data, moff, maddr, recurse + 1, opts)
        if opts.pretty_structs:
            out.append("\n" + " " * (2 * recurse))
        out.append("}")


def _textual(t: Type, fmt: str) -> bool:
    """c_textual_element_type: char-like one-byte integers (and wchar_t & co by name)."""
    if fmt not in ("", "s"):
        return False
    s = strip(t)
    if s.kind is not TypeKind.INT:
        return False
    it: Type | None = t
    for _ in range(64):
        if it is None:
            break
        n = type_name(it)
        if n in ("wchar_t", "char16_t", "char32_t"):
            return True
        b = _peel(it)[0]
        if b.kind is not TypeKind.TYPEDEF:
            break
        it = b.target
    assert isinstance(s, IntType)
    return s.size == 1 and not s.is_bool


def enum_text(e: EnumType, val: int) -> str:
    """generic_val_print_enum_1."""
    for k, v in e.enumerators.items():
        if v == val:
            return k
    if _is_flag_enum(e):
        parts: list[str] = []
        rest = val
        for k, v in e.enumerators.items():
            if v and rest & v:
                parts.append(k)
                rest &= ~v
        if rest:
            parts.append(f"unknown: 0x{rest & MASK64:x}")
        if not parts:
            return "0"
        return "(" + " | ".join(parts) + ")"
    return str(val)


def _is_flag_enum(e: EnumType) -> bool:
    """gdb 10's TYPE_FLAG_ENUM (dwarf2/read.c process_enumeration_scope): every value non-negative with
    at most one bit set, no two sharing a bit."""
    for v in e.enumerators.values():
        if v < 0:
            return False
        if bin(v).count("1") > 1:
            return False
    return True


_ESCAPES = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}


def _emit(out: list[str], c: int, quoter: str, need_escape: bool) -> bool:
    """print_wchar for one byte in the C locale; returns the new need_escape."""
    if c in _ESCAPES:
        out.append(_ESCAPES[c])
        return False
    ch = chr(c)
    if 0x20 <= c < 0x7F and (not need_escape or not ch.isdigit()):
        if ch == quoter or ch == "\\":
            out.append("\\")
        out.append(ch)
        return False
    out.append(f"\\{c & 0o777:03o}" if c <= 0o777 else f"\\x{c:x}")
    return True


def char_literal(v: int, unsigned: bool) -> str:
    """c_printchar: 'a', '\\000', '\\377'."""
    out = ["'"]
    _emit(out, v & 0xFF, "'", False)
    out.append("'")
    return "".join(out)


def printstr(s: bytes, force_ellipses: bool, opts: PrintOptions, width: int = 1) -> str:
    """generic_printstr for a C string of bytes (c_style_terminator), quote char '"'."""
    if width != 1:
        s = bytes(int.from_bytes(s[i : i + width], "little") & 0xFF for i in range(0, len(s) - width + 1, width))
    length = len(s)
    if not force_ellipses and length > 0 and s[length - 1] == 0:
        length -= 1
    if length == 0:
        return '""'
    # count_next_character: runs of equal characters, until print_max characters are taken.
    runs: list[tuple[int, int]] = []
    i = 0
    pos = 0
    while i < opts.print_max and pos < length:
        c = s[pos]
        n = 1
        while pos + n < length and s[pos + n] == c:
            n += 1
        runs.append((c, n))
        pos += n
        i += n
    finished = pos >= length
    out: list[str] = []
    state = "START"
    need_escape = False
    for c, n in runs:
        if n > opts.repeat_count_threshold:
            if state == "SINGLE":
                out.append('"')
            if state != "START":
                out.append(", ")
            out.append("'")
            need_escape = _emit(out, c, '"', need_escape)
            out.append("'")
            out.append(f" <repeats {n} times>")
            state = "REPEAT"
        else:
            if state != "SINGLE":
                if state != "START":
                    out.append(", ")
                out.append('"')
            for _ in range(n):
                need_escape = _emit(out, c, '"', need_escape)
            state = "SINGLE"
    if state == "SINGLE":
        out.append('"')
    if force_ellipses or not finished:
        out.append("...")
    return "".join(out)


def _float_value(b: bytes) -> float:
    if len(b) == 4:
        return float(_struct.unpack("<f", b)[0])
    if len(b) == 8:
        return float(_struct.unpack("<d", b)[0])
    return 0.0


def _float_text(b: bytes) -> str:
    v = _float_value(b)
    prec = 9 if len(b) == 4 else 17
    text = f"{v:.{prec}g}"
    return text


__all__ = [
    "AddressSymbolizer",
    "GdbError",
    "MemoryError_",
    "PartialOutput",
    "PointerType",
    "PrintOptions",
    "TypePrinter",
    "ValuePrinter",
    "char_literal",
    "check_typedef",
    "enum_text",
    "printstr",
    "strip",
    "symbolizer",
    "type_code",
    "type_length",
    "type_name",
    "type_to_string",
    "whatis_text",
]
