"""Entities, enums, state machines and the error tree. Pure Python, no I/O."""
