"""``memplug dataset``: validate, pack and locate datasets of simulated states (mounted by the
datasets plugin). Other plugins add commands to `dataset_app` through their ``register_commands`` hook (e.g. ``build``
and ``info`` for campaigns of MD runs).
"""

from __future__ import annotations

from pathlib import Path

import typer

dataset_app = typer.Typer(
    name="dataset",
    help="Build (simulate), validate and inspect datasets.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(dataset_app, name="dataset")


# --------------------------------------------------------------------------------------------
# validate, pack, path
# --------------------------------------------------------------------------------------------


@dataset_app.command("validate")
def validate_command(
    file: str = typer.Argument(
        ..., help="A dataset: netCDF file, directory of per-state files, or name."
    ),
) -> None:
    """Check a dataset against the schema; exit 2 with file, variable and problem if it fails."""
    from memplug.cli.app import console
    from memplug.data import load_dataset

    ds = load_dataset(file)
    console.print(f"ok: {file}: {ds.sizes['state']} states, schema {ds.attrs.get('schema')}")


@dataset_app.command("pack")
def pack_command(
    out: Path = typer.Argument(..., help="The combined netCDF file to write."),
    dataset: str = typer.Option(
        "default", "--dataset", "-d", help="Dataset name, file or directory of per-state files."
    ),
) -> None:
    """Write a dataset (e.g. the per-state files of the default one) as one netCDF file, atomically."""
    from memplug.cli.app import console
    from memplug.data import load_dataset, save_dataset

    ds = load_dataset(dataset)
    save_dataset(ds, out)
    console.print(f"wrote {out}: {ds.sizes['state']} states, {out.stat().st_size / 1e6:.2f} MB")


@dataset_app.command("path")
def path_command(name: str = typer.Argument("default", help="Registered dataset name.")) -> None:
    """Print where a registered dataset lives."""
    from memplug.data import dataset_path

    typer.echo(str(dataset_path(name)))
