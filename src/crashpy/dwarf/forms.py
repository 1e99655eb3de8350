"""Attribute forms (DWARF 5, 7.5.6): LEB128 numbers, the size of each fixed-size form, how to skip the
variable-size ones, and the one decoder of a form's raw value (DWARF 2 to 5 and GNU extensions)."""

from __future__ import annotations

from typing import Any, Literal

from crashpy.dwarf.constants import (
    FORM_ADDR,
    FORM_ADDRX,
    FORM_ADDRX1,
    FORM_ADDRX2,
    FORM_ADDRX3,
    FORM_ADDRX4,
    FORM_BLOCK,
    FORM_BLOCK1,
    FORM_BLOCK2,
    FORM_BLOCK4,
    FORM_DATA1,
    FORM_DATA2,
    FORM_DATA4,
    FORM_DATA8,
    FORM_DATA16,
    FORM_EXPRLOC,
    FORM_FLAG,
    FORM_FLAG_PRESENT,
    FORM_GNU_ADDR_INDEX,
    FORM_GNU_REF_ALT,
    FORM_GNU_STR_INDEX,
    FORM_GNU_STRP_ALT,
    FORM_IMPLICIT_CONST,
    FORM_INDIRECT,
    FORM_LINE_STRP,
    FORM_LOCLISTX,
    FORM_REF1,
    FORM_REF2,
    FORM_REF4,
    FORM_REF8,
    FORM_REF_ADDR,
    FORM_REF_SIG8,
    FORM_REF_SUP4,
    FORM_REF_SUP8,
    FORM_REF_UDATA,
    FORM_RNGLISTX,
    FORM_SDATA,
    FORM_SEC_OFFSET,
    FORM_STRING,
    FORM_STRP,
    FORM_STRP_SUP,
    FORM_STRX,
    FORM_STRX1,
    FORM_STRX2,
    FORM_STRX3,
    FORM_STRX4,
    FORM_UDATA,
)
from crashpy.dwarf.errors import DwarfFormatError

ByteOrder = Literal["little", "big"]

# Forms whose value is a reference to another DIE in the same unit (offset from the unit's start).
UNIT_REF_FORMS = frozenset({FORM_REF1, FORM_REF2, FORM_REF4, FORM_REF8, FORM_REF_UDATA})
# Forms whose value is another DIE anywhere (a bound that is a variable: a VLA).
REF_FORMS = UNIT_REF_FORMS | {FORM_REF_ADDR, FORM_REF_SIG8, FORM_REF_SUP4, FORM_REF_SUP8, FORM_GNU_REF_ALT}
STRX_FORMS = frozenset({FORM_STRX, FORM_STRX1, FORM_STRX2, FORM_STRX3, FORM_STRX4, FORM_GNU_STR_INDEX})
ADDRX_FORMS = frozenset({FORM_ADDRX, FORM_ADDRX1, FORM_ADDRX2, FORM_ADDRX3, FORM_ADDRX4, FORM_GNU_ADDR_INDEX})
CONSTANT_FORMS = frozenset({FORM_DATA1, FORM_DATA2, FORM_DATA4, FORM_DATA8, FORM_UDATA, FORM_SDATA})
# The byte size of each constant form (for sign extension by the reader of the value).
DATA_SIZES = {FORM_DATA1: 1, FORM_DATA2: 2, FORM_DATA4: 4, FORM_DATA8: 8}

# How a skipping plan treats variable-size forms (fixed-size ones are a non-negative byte count).
SKIP_ULEB = -1
SKIP_CSTRING = -2
SKIP_BLOCK1 = -3
SKIP_BLOCK2 = -4
SKIP_BLOCK4 = -5
SKIP_BLOCK = -6
SKIP_INDIRECT = -7

VARIABLE_SKIPS = {
    FORM_UDATA: SKIP_ULEB,
    FORM_SDATA: SKIP_ULEB,  # the same bytes
    FORM_REF_UDATA: SKIP_ULEB,
    FORM_STRX: SKIP_ULEB,
    FORM_ADDRX: SKIP_ULEB,
    FORM_LOCLISTX: SKIP_ULEB,
    FORM_RNGLISTX: SKIP_ULEB,
    FORM_GNU_ADDR_INDEX: SKIP_ULEB,
    FORM_GNU_STR_INDEX: SKIP_ULEB,
    FORM_STRING: SKIP_CSTRING,
    FORM_BLOCK1: SKIP_BLOCK1,
    FORM_BLOCK2: SKIP_BLOCK2,
    FORM_BLOCK4: SKIP_BLOCK4,
    FORM_BLOCK: SKIP_BLOCK,
    FORM_EXPRLOC: SKIP_BLOCK,
    FORM_INDIRECT: SKIP_INDIRECT,
}

_ULEB_VALUE_FORMS = frozenset(
    {FORM_UDATA, FORM_REF_UDATA, FORM_LOCLISTX, FORM_RNGLISTX} | STRX_FORMS | ADDRX_FORMS
) - {FORM_STRX1, FORM_STRX2, FORM_STRX3, FORM_STRX4, FORM_ADDRX1, FORM_ADDRX2, FORM_ADDRX3, FORM_ADDRX4}


def read_uleb(data: bytes, p: int) -> tuple[int, int]:
    """(value, position after it) of the ULEB128 at `p`."""
    b = data[p]
    if b < 0x80:
        return b, p + 1
    value = b & 0x7F
    shift = 7
    p += 1
    while True:
        b = data[p]
        p += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, p
        shift += 7


def read_sleb(data: bytes, p: int) -> tuple[int, int]:
    """(value, position after it) of the SLEB128 at `p`."""
    value = 0
    shift = 0
    while True:
        b = data[p]
        p += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            if b & 0x40:
                value -= 1 << shift
            return value, p


def uleb_bytes(value: int) -> bytes:
    """The ULEB128 encoding of `value` (>= 0)."""
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


_FORM_SIZES_CACHE: dict[tuple[int, int, int], dict[int, int]] = {}


def fixed_form_sizes(address_size: int, offset_size: int, version: int) -> dict[int, int]:
    """{form: byte size} of every fixed-size form in a unit of this shape (one dict per shape)."""
    key = (address_size, offset_size, version)
    sizes = _FORM_SIZES_CACHE.get(key)
    if sizes is None:
        sizes = _FORM_SIZES_CACHE[key] = {
            FORM_ADDR: address_size,
            FORM_DATA1: 1,
            FORM_DATA2: 2,
            FORM_DATA4: 4,
            FORM_DATA8: 8,
            FORM_DATA16: 16,
            FORM_FLAG: 1,
            FORM_FLAG_PRESENT: 0,
            FORM_IMPLICIT_CONST: 0,
            FORM_REF1: 1,
            FORM_REF2: 2,
            FORM_REF4: 4,
            FORM_REF8: 8,
            FORM_REF_SIG8: 8,
            FORM_REF_ADDR: address_size if version == 2 else offset_size,
            FORM_REF_SUP4: 4,
            FORM_REF_SUP8: 8,
            FORM_SEC_OFFSET: offset_size,
            FORM_STRP: offset_size,
            FORM_LINE_STRP: offset_size,
            FORM_STRP_SUP: offset_size,
            FORM_GNU_REF_ALT: offset_size,
            FORM_GNU_STRP_ALT: offset_size,
            FORM_STRX1: 1,
            FORM_STRX2: 2,
            FORM_STRX3: 3,
            FORM_STRX4: 4,
            FORM_ADDRX1: 1,
            FORM_ADDRX2: 2,
            FORM_ADDRX3: 3,
            FORM_ADDRX4: 4,
        }
    return sizes


def read_form(
    data: bytes, p: int, form: int, sizes: dict[int, int], byteorder: ByteOrder, implicit: int = 0
) -> tuple[int, Any, int]:
    """(form, raw value, position after it) of the attribute value of `form` at `p`; the form is the
    real one after DW_FORM_indirect. Raw: unit references unit-relative, strp/line_strp offsets,
    strx/addrx/loclistx/rnglistx indexes, a type signature for ref_sig8 (the caller resolves them);
    strings as str, blocks and expressions as bytes, flags as bool, other constants as int."""
    while form == FORM_INDIRECT:
        form, p = read_uleb(data, p)
    value: Any
    size = sizes.get(form)
    if size is not None:
        if form == FORM_FLAG:
            return form, data[p] != 0, p + 1
        if form == FORM_FLAG_PRESENT:
            return form, True, p
        if form == FORM_IMPLICIT_CONST:
            return form, implicit, p
        if p + size > len(data):
            raise IndexError(f"form {form:#x} runs past the end of its data")
        return form, int.from_bytes(data[p : p + size], byteorder), p + size
    if form in _ULEB_VALUE_FORMS:
        value, p = read_uleb(data, p)
        return form, value, p
    if form == FORM_SDATA:
        value, p = read_sleb(data, p)
        return form, value, p
    if form == FORM_STRING:
        end = data.index(b"\0", p)
        return form, bytes(data[p:end]).decode("utf-8", "replace"), end + 1
    if form in (FORM_EXPRLOC, FORM_BLOCK):
        n, p = read_uleb(data, p)
    elif form in (FORM_BLOCK1, FORM_BLOCK2, FORM_BLOCK4):
        width = {FORM_BLOCK1: 1, FORM_BLOCK2: 2, FORM_BLOCK4: 4}[form]
        n = int.from_bytes(data[p : p + width], byteorder)
        p += width
    else:
        raise DwarfFormatError(f"unknown DWARF form {form:#x}")
    if p + n > len(data):
        raise IndexError(f"a block of {n} bytes runs past the end of its data")
    return form, bytes(data[p : p + n]), p + n
