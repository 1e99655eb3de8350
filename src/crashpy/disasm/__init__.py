"""crashpy.disasm layer (see docs/architecture.md)."""
