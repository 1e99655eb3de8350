"""crashpy.expr layer (see ARCHITECTURE.md)."""
