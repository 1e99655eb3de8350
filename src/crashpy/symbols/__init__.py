"""crashpy.symbols layer (see docs/architecture.md)."""
