"""Command groups of `ccal` that live outside cli.py (registered from cli.py)."""
