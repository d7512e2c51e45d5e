"""Errors that reach the user: each names what was wrong and what was expected.

The CLI turns an `InputError` into one clear message and exit code 2, never a traceback.
"""

from __future__ import annotations


class MemplugError(Exception):
    """Base class of memplug's own errors."""


class InputError(MemplugError, ValueError):
    """Bad input from the user: a file, a field, an option or a name.

    The message should name the file (or option), the field and what was expected.
    """

    exit_code = 2
