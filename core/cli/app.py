"""The ``memplug`` Typer application.

The core mounts ``memplug plugins`` and the ``memplug dataset`` group (modules
``memplug.cli.<name>``, each exposing ``register(app)``); every other command comes from a plugin's
``register_commands`` hook, the built-in ones included (``solve``: closures; ``plot``: datasets;
``run``, ``compare``, ``experiment``: fitting). Every `memplug.InputError` becomes
one clear message on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from memplug.errors import InputError

app = typer.Typer(
    name="memplug",
    help="Memory-equation dynamics of supercooled liquids with pluggable memory-kernel closures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

console = Console()
err_console = Console(stderr=True)

# Core sub-command modules, each with ``register(app)``; the rest come from plugins.
COMMAND_MODULES = ("memplug.cli.plugins",)

_registered = False


def build_app() -> typer.Typer:
    global _registered
    if not _registered:
        for name in COMMAND_MODULES:
            importlib.import_module(name).register(app)
        from memplug.registry import get_registry

        get_registry().commands(app)
        _registered = True
    return app


def fail(message: str) -> None:
    """Print one clear error line and exit with code 2."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``memplug`` script."""
    try:
        build_app()(args=argv, standalone_mode=True)
    except InputError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise SystemExit(130) from None


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
