"""gdb 10.2's C type printer, as crash 8.0.6 shows it: `whatis`, `ptype` and `ptype /o` text.

gdb's routines are followed closely (c-typeprint.c: c_print_type_1, the varspec prefix/suffix and
c_type_print_base_struct_union, print_offset_data) so that odd corners come out the same; the code is
written from what they do, not copied.
"""

from __future__ import annotations

from crashpy.types.gdb_view import check_typedef, peel, target_type, type_code, type_length, type_name
from crashpy.types.model import (
    ArrayType,
    EnumType,
    FunctionType,
    StructType,
    Type,
    TypeKind,
)


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
        quals = peel(t)[1]
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
        base = peel(t)[0]
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
        base = peel(t)[0]
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
        base = peel(t)[0]
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


__all__ = ["TypePrinter", "type_to_string", "whatis_text"]
