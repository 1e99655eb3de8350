"""The version of crashpy (the bottom layer: anything may import it)."""

__version__ = "0.1.0"
