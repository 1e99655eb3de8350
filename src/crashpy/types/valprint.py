"""gdb 10.2's value printing, as crash 8.0.6 shows it: what `p` and `output` print and the `struct`
command's data, with crash's print settings (pretty structures, no `<repeats>`, 256 elements, symbolic
pointers).

gdb's routines are followed closely (valprint.c / c-valprint.c / cp-valprint.c: the value printers;
printcmd.c: print_scalar_formatted) so that odd corners come out the same; the code is written from
what they do, not copied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from crashpy.bits import MASK64
from crashpy.errors import CrashpyError
from crashpy.types.c_literals import char_literal, enum_text, float_text, float_value, is_textual, printstr
from crashpy.types.gdb_view import (
    check_typedef,
    is_unsigned,
    peel,
    strip,
    target_type,
    type_code,
    type_length,
    type_name,
)
from crashpy.types.model import (
    ArrayType,
    EnumType,
    FloatType,
    IntType,
    StructType,
    Type,
    TypeKind,
)
from crashpy.types.symbolic import symbolizer
from crashpy.types.typeprint import type_to_string

if TYPE_CHECKING:
    from crashpy.program import Program


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
        # a Program without a vmlinux has its symbols from kallsyms (debuginfo False); stand-ins have none
        with_symbols = prog is not None and (prog.image is not None or getattr(prog, "debuginfo", True) is False)
        self._sym = symbolizer(prog) if prog is not None and with_symbols else None

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
            orig = peel(t)[0]
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
        base = peel(s)[0]
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
                if is_textual(t, opts.format):
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
                out.append(float_text(data[off : off + base.size]))
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
            v = int(float_value(data[off : off + length]))
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
                out.append(float_text(data[off : off + length]))
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
        if is_textual(tgt, opts.format) and addr != 0:
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
            except CrashpyError:  # an unreadable next byte: no ellipsis
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
        except CrashpyError:  # any failed read: byte by byte, as gdb does
            got = bytearray()
            for k in range(size):
                try:
                    got += self._read_mem(addr + k, 1)
                except CrashpyError:
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
            if is_textual(elt, opts.format):
                out.append(printstr(data[off : off + n * eltlen], False, opts, width=eltlen))
                return
            out.append("{")
            self._array_elements(out, elt, eltlen, n, data, off, address, recurse, opts)
            out.append("}")
        else:
            # An array of no length (`char data[]`): printed as a pointer to its first element.
            addr = address or 0
            self._address_demangle(out, addr)
            if is_textual(elt, opts.format) and addr != 0:
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


__all__ = ["GdbError", "MemoryError_", "PartialOutput", "PrintOptions", "ReadFn", "ValuePrinter"]
