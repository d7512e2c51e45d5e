"""Running the ``memplug`` command line inside a test (not a test module)."""

from __future__ import annotations

from memplug.cli import main


def exit_code(*args: object) -> int:
    """Run ``memplug ARGS...`` in this process and return its exit code (0 on a normal return)."""
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
