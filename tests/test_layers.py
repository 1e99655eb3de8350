"""The house's layers (docs/architecture.md): no module imports a layer above its own.

Every import statement of src/crashpy counts, those inside functions too; imports under
`if TYPE_CHECKING:` do not (they are for type hints only and never run).  A module's layer is the
first name under crashpy/ (a package or a top-level module).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "crashpy"

# Bottom to top.  A module may import its own layer and any layer listed before it.
LAYERS = [
    ["errors", "version", "progress", "bits", "diskcache"],
    ["dumpfile"],
    ["arch"],
    ["memory"],
    ["elf"],
    ["dwarf"],
    ["symbols"],
    ["disasm"],
    ["types"],
    ["object"],
    ["expr"],
    ["program", "loader", "module_btf"],
    ["helpers"],
    ["unwind"],
    ["analysis"],
    ["commands"],
    ["session", "jsonout"],
    ["api", "__init__"],
    ["cli", "__main__"],
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}

# Known crossings still to be removed (issue 11); the test fails when one is gone but still listed.
KNOWN: set[tuple[str, str]] = {
    ("symbols", "helpers"),
}
# Files still over 800 lines, to be split along their seams (issue 11).
KNOWN_LONG: set[str] = set()


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "crashpy":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            name = (
                test.id
                if isinstance(test, ast.Name)
                else test.attr
                if isinstance(test, ast.Attribute)
                else ""
            )
            if name == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.extend((alias.name, node.lineno) for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module and node.level == 0:
                found.append((node.module, node.lineno))

    Visitor().visit(ast.parse(path.read_text()))
    return found


def crossings() -> dict[tuple[str, str], list[str]]:
    """(module's layer, imported layer) -> where, for every import of a layer above the module's."""
    out: dict[tuple[str, str], list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mine = _layer(module)
        assert mine in RANK, f"{module}: its layer {mine!r} is not in LAYERS"
        for target, line in _imports(path):
            theirs = _layer(target)
            if theirs is None or theirs == mine:
                continue
            assert theirs in RANK, f"{target}: its layer {theirs!r} is not in LAYERS"
            if RANK[theirs] > RANK[mine]:
                out.setdefault((mine, theirs), []).append(
                    f"{path.relative_to(SRC.parent)}:{line} imports {target}"
                )
    return out


def test_no_layer_imports_a_higher_one() -> None:
    found = crossings()
    new = {k: v for k, v in found.items() if k not in KNOWN}
    assert not new, "\n".join(line for lines in new.values() for line in lines)
    gone = KNOWN - set(found)
    assert not gone, f"no longer crossed, remove from KNOWN: {sorted(gone)}"


def test_no_source_file_over_800_lines() -> None:
    long = {
        str(p.relative_to(SRC.parent)): n for p in SRC.rglob("*.py") if (n := p.read_text().count("\n")) > 800
    }
    assert not set(long) - KNOWN_LONG, long
    assert not KNOWN_LONG - set(long), (
        f"no longer long, remove from KNOWN_LONG: {sorted(KNOWN_LONG - set(long))}"
    )
