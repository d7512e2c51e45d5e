"""The kernels dataset: the paper's evolutionary-strategy experiments over a whole dataset.

``memplug kernels scan`` fits, on every selected state, the memory-kernel closures of the paper
(Eq. 6 with N_exp = 1…4 and Eq. 8, Newtonian; Eq. 6 with N_exp = 2 and Eq. 8 overdamped, Eq. 5)
to F_s^{AA} and F_s^{BB} at k_peak, caches M_mct per state, and assembles one netCDF file, the
*kernels dataset* (schema ``memplug-kernels/1``, `memplug.plugins.kernels.schema`).

- `plan`: experiments, states, T_mct sources, fit jobs;
- `mct_cache`: M_mct(t) and F_mct(t) once per state;
- `scan`: the resumable fan-out;
- `assemble`: fit results → the kernels dataset;
- `schema`: the validator and `load_kernels`;
- `figures`: paper Figs. 6, 7, S4-S7 with their CSV;
- `cli`: ``memplug kernels scan|validate|list|figures``.

The shipped file ``data/kernels.nc`` is the ``default`` kernels dataset.
"""

from __future__ import annotations

from pathlib import Path

from memplug.hookspecs import hookimpl
from memplug.plugins.kernels.schema import DATA, DEFAULT_FILE
from memplug.plugins.kernels.schema import load_kernels as _load


def load_kernels(path_or_name: str | Path = "default"):
    """The kernels dataset ``path_or_name`` (a file, or ``"default"``: the shipped one), validated.

    Returns an `xarray.Dataset` (loaded into memory); a missing or malformed file raises
    `memplug.errors.InputError` naming the file, the variable and the problem.
    """
    return _load(path_or_name)


@hookimpl
def register_commands(app):
    from memplug.plugins.kernels.cli import kernels_app

    app.add_typer(kernels_app, name="kernels")


__all__ = ["DATA", "DEFAULT_FILE", "load_kernels"]
