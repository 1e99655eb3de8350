"""crashpy.types layer (see docs/architecture.md)."""
