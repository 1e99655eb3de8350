"""crash's cutting of a printed struct (symbols.c: parse_for_member, parse_for_member_extended): the lines
of chosen members taken out of gdb's `output` of a whole structure, as `struct name.member addr` prints
them."""

from __future__ import annotations

from dataclasses import dataclass


def leading_blanks(s: str) -> int:
    """The blanks and tabs a line starts with."""
    return len(s) - len(s.lstrip(" \t"))


def parse_for_member(lines: list[str], member: str) -> str:
    """crash's parse_for_member(PARSE_FOR_DATA): the lines of one member in a printed struct."""
    out: list[str] = []
    lookfor1 = f"  {member} "
    lookfor2 = f"  {member}["
    indent = 0
    array = False
    on = 0
    embed = 0
    pos = 0
    while True:
        while pos < len(lines):
            buf = lines[pos]
            pos += 1
            lead = leading_blanks(buf)
            if (embed and lead == embed) or ("}}" in buf and embed == lead - 2):
                embed = 0
            if not on and not embed and "= {" in buf and lookfor1 not in buf:
                embed = lead
            if embed:
                continue
            if lookfor1 in buf or lookfor2 in buf:
                on += 1
                if "= {" in buf:
                    indent = lead
                if "[" in buf:
                    array = True
            if on:
                if (indent and on > 1 and lead == indent and "}" not in buf) or buf[:1] == "}":
                    break
                if indent and on > 1 and indent == lead - 2 and "}}" in buf:
                    out.append(buf)
                    break
                if not indent:
                    k = buf.find(", \n")
                    if k >= 0:
                        buf = buf[:k] + "\n"
                    out.append(buf)
                    break
                if "}" in buf and lead == indent:
                    k = buf.find("}, \n")
                    if k >= 0:
                        buf = buf[:k] + "}\n"
                    out.append(buf)
                    break
                out.append(buf)
                on += 1
        if array:
            on = 0
            array = False
            continue
        break
    return "".join(out)


@dataclass
class _Elem:
    field_name: str = ""
    value: str = ""
    is_array_root: bool = False
    parent: _Elem | None = None
    inner: _Elem | None = None
    next: _Elem | None = None


def _is_right_brace(b: str) -> int:
    i = 0
    while i < len(b) and b[i] == " ":
        i += 1
    r = 0
    if i < len(b) and b[i] == "}":
        i += 1
        r = 1
        if i < len(b) and b[i] == "}":
            r = 2
            i += 1
    if i < len(b) and b[i] == ",":
        i += 1
    return r if i == len(b) else 0


def _find_node(s: _Elem | None, n: str) -> _Elem | None:
    if n == "" or s is None:
        return s
    p = n.find(".")
    if p < 0:
        p = len(n)
    b = 0
    while b < p and n[b] != "[":
        b += 1
    t = s
    cur: _Elem | None = s
    while cur is not None:
        if cur.field_name == "":
            cur = cur.next
            continue
        if b != len(cur.field_name) or cur.field_name != n[:b]:
            cur = cur.next
            continue
        if cur.is_array_root and (b >= len(n) or n[b] != "[") and p < len(n):
            return None
        if b < len(n) and n[b] == "[":
            j = b + 1
            while j < len(n) and n[j].isdigit():
                j += 1
            if not (cur.is_array_root and j < len(n) and n[j] == "]" and j != b + 1):
                return None
            i = int(n[b + 1 : j])
            cur = cur.inner
            while cur is not None and i:
                cur = cur.next
                i -= 1
            if i or cur is None:
                return None
        if p >= len(n):
            return cur
        return _find_node(cur.inner, n[p + 1 :])
    cur = t
    found: _Elem | None = None
    while cur is not None:
        if cur.field_name:
            cur = cur.next
            continue
        found = _find_node(cur.inner, n)
        if found is not None:
            break
        cur = cur.next
    return found


def _dump_node(out: list[str], p: _Elem | None, f: str | None, level: int, is_array: int) -> None:
    if p is None:
        return

    def put(m: int, text: str) -> None:
        out.append(" " * (2 + 2 * (m * is_array + level)))
        out.append(text)

    while True:
        if p.inner is not None:
            if p.field_name:
                put(1, f"{f if f else p.field_name} = {'{{' if p.inner.is_array_root else '{'}\n")
            else:
                if f:
                    put(1, f"{f} = ")
                put(1, f"{'{{' if p.inner.is_array_root else '{'}\n")
            _dump_node(out, p.inner, None, is_array + level + 1, int(p.inner.is_array_root))
            comma = "," if p.next is not None and not p.next.is_array_root else ""
            put(1, f"{'}}' if p.inner.is_array_root else '}'}{comma}\n")
        else:
            tail = ",\n" if p.next is not None else "\n"
            put(1, f"{f if f else p.field_name} = {p.value}{tail}")
        if level:
            nxt = p.next
            if nxt is not None and nxt.is_array_root:
                put(0, "}, {\n")
            if nxt is None:
                break
            p = nxt
        else:
            break


def parse_for_member_extended(lines: list[str], member: str) -> str | None:
    """crash's parse_for_member_extended(): a nested member (`se.avg`, `pids[1].node`) of a printed struct;
    None when it is not there."""
    root = _Elem()
    current: _Elem | None = root

    def alloc_inner() -> None:
        nonlocal current
        assert current is not None
        e = _Elem(parent=current)
        current.inner = e
        current = e

    def alloc_next() -> None:
        nonlocal current
        assert current is not None
        e = _Elem(parent=current.parent)
        current.next = e
        current = e

    alloc_inner()
    for raw in lines:
        buf = raw.rstrip("\n")
        buf = buf.rstrip("".join(chr(c) for c in range(33)))
        trailing_comma = buf.endswith(",")
        if trailing_comma:
            buf = buf[:-1]
        braces = _is_right_brace(buf)
        if braces:
            while braces and current is not None:
                current = current.parent
                braces -= 1
            assert current is not None
            if current.parent is root or trailing_comma:
                alloc_next()
            continue
        p1 = len(buf) - len(buf.lstrip(" "))
        p = buf.find(" = ")
        s_e = buf[p + 3 :] if p >= 0 else buf[p1:]
        if current is not None and p >= 0:
            current.field_name = buf[p1:p]
        if p >= 0 and (not s_e.startswith("{") or (s_e.startswith("{") and buf.endswith("}"))):
            assert current is not None
            current.value = s_e
            if trailing_comma:
                alloc_next()
        elif s_e.startswith("{"):
            alloc_inner()
            if s_e[1:2] == "{":
                assert current is not None and current.parent is not None
                current.parent.is_array_root = True
                alloc_inner()
        elif "}, {" in s_e:
            assert current is not None and current.parent is not None
            current = current.parent
            alloc_next()
            alloc_inner()
        elif buf.startswith("struct "):
            q = buf.find(" {")
            assert current is not None
            current.field_name = buf[7:q] if q >= 0 else buf[7:]
            alloc_inner()
    out: list[str] = []
    i = root.inner
    while i is not None:
        node = _find_node(i.inner, member)
        if node is not None:
            _dump_node(out, node, member, 0, 0)
            return "".join(out)
        i = i.next
    return None


__all__ = ["leading_blanks", "parse_for_member", "parse_for_member_extended"]
