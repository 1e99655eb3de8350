"""crashpy.types layer (see ARCHITECTURE.md)."""
