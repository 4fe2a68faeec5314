"""Tidings: a self-hosted newsletter platform for publishers."""

__version__ = "0.1.0"
