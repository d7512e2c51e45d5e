"""The ``memplug`` command line."""

from memplug.cli.app import app, main

__all__ = ["app", "main"]
