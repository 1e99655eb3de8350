"""C integer type names: the compiler's spellings (gcc's DWARF, pahole's BTF) and gdb's."""

from __future__ import annotations

# gcc's DWARF (and so pahole's BTF) spells integers "long unsigned int"; gdb 13 prints "unsigned long".
_GDB_INT_NAMES = {
    "short int": "short",
    "short unsigned int": "unsigned short",
    "long int": "long",
    "long unsigned int": "unsigned long",
    "long long int": "long long",
    "long long unsigned int": "unsigned long long",
}


def gdb_int_name(name: str) -> str:
    """gdb 13's spelling of an integer type the compiler named (`long unsigned int` -> `unsigned long`);
    other names unchanged."""
    return _GDB_INT_NAMES.get(name, name)


def canonical_int_name(name: str) -> str:
    """gdb's spelling of a C integer type name in any word order: `long unsigned int` -> `unsigned long`.

    Names that are not plain C integer spellings (`__int128 unsigned`, `_Bool`, typedef names) are
    returned unchanged.
    """
    words = name.split()
    if len(words) <= 1:
        if name == "unsigned":
            return "unsigned int"
        if name == "signed":
            return "int"
        return name
    if not set(words) <= {"unsigned", "signed", "short", "long", "int", "char"}:
        return name
    unsigned = "unsigned" in words
    signed = "signed" in words
    if unsigned and signed:
        return name
    longs = words.count("long")
    if "char" in words:
        if longs or "short" in words or "int" in words:
            return name
        return "unsigned char" if unsigned else "signed char" if signed else "char"
    if "short" in words:
        if longs:
            return name
        base = "short"
    elif longs == 1:
        base = "long"
    elif longs == 2:
        base = "long long"
    elif longs == 0:
        base = "int"
    else:
        return name
    return f"unsigned {base}" if unsigned else base


__all__ = ["canonical_int_name", "gdb_int_name"]
