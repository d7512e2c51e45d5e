"""``memplug plugins`` and ``memplug closures``: what is installed."""

from __future__ import annotations

import typer
from rich.table import Table

from memplug.registry import KINDS


def register(app: typer.Typer) -> None:
    app.command("plugins")(plugins_command)
    app.command("closures")(closures_command)


def plugins_command(
    kind: str = typer.Option(None, "--kind", help=f"Only one kind: {', '.join(k[:-1] for k in KINDS)}."),
) -> None:
    """List every plugin, its distribution and version, and what it registers."""
    from memplug.cli.app import console
    from memplug.errors import InputError
    from memplug.registry import get_registry

    reg = get_registry()
    if kind is not None:
        kinds = [k for k in KINDS if k[:-1] == kind or k == kind]
        if not kinds:
            raise InputError(f"--kind {kind!r}; expected one of {', '.join(k[:-1] for k in KINDS)}")
        if kinds[0] == "closures":
            return closures_command()
    table = Table(title="memplug plugins")
    for col in ("plugin", "distribution", "version", "registers", "status"):
        table.add_column(col)
    for p in reg.plugins:
        what = "; ".join(f"{k}: {', '.join(v)}" for k, v in p.registered.items())
        status = "[green]ok[/]" if p.error is None else f"[red]failed: {p.error}[/]"
        table.add_row(p.name, p.distribution, p.version, what, status)
    console.print(table)


def closures_command() -> None:
    """Show each closure with its parameters and bounds (for a binary mixture)."""
    from memplug.cli.app import console
    from memplug.model import default_context
    from memplug.registry import get_registry

    reg = get_registry()
    ctx = default_context()
    table = Table(title="closures (parameters for a binary mixture)")
    for col in ("closure", "description", "options", "parameters (shape, bounds, transform)"):
        table.add_column(col)
    for name in reg.names("closures"):
        cls = reg.items["closures"][name]
        try:
            params = cls().parameters(ctx)
            ptxt = "\n".join(
                f"{p.name}{list(p.shape) if p.shape else ''} [{p.lower:g}, {p.upper:g}] {p.transform}"
                for p in params
            ) or "(none)"
        except Exception as exc:  # a closure that needs statics not in the default context
            ptxt = f"(needs statics: {exc})"
        opts = ", ".join(f"{k}={v!r}" for k, v in cls.options.items())
        table.add_row(name, cls.description, opts, ptxt)
    console.print(table)
