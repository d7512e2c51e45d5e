"""Schema ``memplug-kernels/1`` of the kernels dataset, its validator and loader.

Dims: ``state`` (S), ``fit`` (K: one experiment = closure spec + dynamics [+ target, Lasso]),
``param`` (P: the largest parameter count; θ is NaN-padded per fit), ``t_common`` (n, log-spaced
times), ``species`` (A, B). Units are the dataset's reduced LJ units; M is in 1/time² (Newtonian)
or 1/time (overdamped fits, paper Eq. 5).

Coordinates: ``state``, ``fit`` (labels ``closure|dynamics[|target=mct][|lasso=λ]``), ``param``
(0…P-1), ``t_common``, ``species``; per fit ``fit_closure``, ``fit_dynamics``, ``fit_target``,
``fit_part`` (main, lasso, mct-recovery), ``fit_lasso`` (λ₁), ``fit_n_exp`` (N_exp of Eq. 6, 0
for other closures).

Variables (dims):

- per state (state): ``T``, ``rho``, ``k_peak``, ``tau_alpha``, ``potential``, ``status``,
  ``T_mct`` (memplug's own), ``T_over_Tmct``, ``T_mct_source``, ``T_mct_paper`` (Table I),
  ``T_over_Tmct_paper``, ``T_mct_paper_source``, ``mct_status``, ``mct_decays``;
- per state and time (state, t_common, species): ``F_data`` (the fitted MD data), ``M_mct``,
  ``F_mct`` (Newtonian MCT), ``M_inv``, ``M_inv_lo``, ``M_inv_hi``, ``M_inv_reliable`` (the
  model-free inversion; NaN / False when unavailable: attrs ``inverted_M`` says why);
- per fit (state, fit): ``done`` (the fit exists), ``loss`` (Eq. 7), ``r2`` and ``rmse`` (SI
  Eq. S1) over the fit window, ``r2_all``/``rmse_all`` over all target times, ``t_min`` (window
  start, NaN: none), ``n_points``, ``evaluations``, ``generations``, ``seed``, ``elapsed_s``
  (optimizer), ``wall_s``/``cpu_s`` (whole fit, serial runs; NaN otherwise), ``load_1min``,
  ``M_mct_distance``, ``stop_reason``, ``optimizer``, ``flags`` and ``undetermined`` (JSON);
- per parameter (state, fit, param): ``theta``, ``theta_lo``, ``theta_hi`` (NaN: pinned,
  undetermined or padding), ``pinned`` (1, 0; -1: padding or not computed); (fit, param):
  ``param_label`` ("" = padding);
- curves (state, fit, t_common, species): ``M_fit``, ``M_fit_lo``, ``M_fit_hi``, ``F_fit``,
  ``F_fit_lo``, ``F_fit_hi`` (M^{αα} and F^{αα}; NaN outside the fit's time span);
- channels (state, fit, species): ``amp_ratio``, ``area_ratio`` (second channel / first, channels
  ordered by τ; paper Fig. S7) with ``_lo``/``_hi``.

Where ``done`` is True, ``loss`` must be finite or +inf (a fit that never found a finite solve)
and θ finite wherever ``param_label`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from memplug.errors import InputError

SCHEMA = "memplug-kernels/1"
DATA = Path(__file__).parent / "data"
#: The shipped kernels dataset (``load_kernels("default")``).
DEFAULT_FILE = DATA / "kernels.nc"
SK, SKP, SKTS, SKS, STS = (
    ("state", "fit"), ("state", "fit", "param"), ("state", "fit", "t_common", "species"),
    ("state", "fit", "species"), ("state", "t_common", "species"),
)  # fmt: skip
#: Required variables and their dims.
VARIABLES: dict[str, tuple[str, ...]] = {
    **{name: ("state",) for name in (
        "T", "rho", "k_peak", "tau_alpha", "potential", "status", "T_mct", "T_over_Tmct",
        "T_mct_source", "T_mct_paper", "T_over_Tmct_paper", "T_mct_paper_source", "mct_status",
        "mct_decays")},
    **{name: STS for name in (
        "F_data", "M_mct", "F_mct", "M_inv", "M_inv_lo", "M_inv_hi", "M_inv_reliable")},
    **{name: SK for name in (
        "done", "loss", "r2", "rmse", "r2_all", "rmse_all", "t_min", "n_points", "evaluations",
        "generations", "seed", "elapsed_s", "wall_s", "cpu_s", "load_1min", "M_mct_distance",
        "stop_reason", "optimizer", "flags", "undetermined")},
    **{name: SKP for name in ("theta", "theta_lo", "theta_hi", "pinned")},
    "param_label": ("fit", "param"),
    **{name: SKTS for name in ("M_fit", "M_fit_lo", "M_fit_hi", "F_fit", "F_fit_lo", "F_fit_hi")},
    **{name: SKS for name in (
        "amp_ratio", "amp_ratio_lo", "amp_ratio_hi", "area_ratio", "area_ratio_lo", "area_ratio_hi")},
}  # fmt: skip
COORDS: dict[str, tuple[str, ...]] = {
    "state": ("state",), "fit": ("fit",), "param": ("param",), "t_common": ("t_common",),
    "species": ("species",), "fit_closure": ("fit",), "fit_dynamics": ("fit",),
    "fit_target": ("fit",), "fit_part": ("fit",), "fit_lasso": ("fit",), "fit_n_exp": ("fit",),
}  # fmt: skip
#: Variables that must be finite everywhere.
FINITE = ("T", "rho", "k_peak", "t_common")
REQUIRED_ATTRS = ("schema", "command", "dataset", "seed", "versions", "T_mct_source", "created")


def _fail(path: Any, name: str, problem: str) -> None:
    where = f"{path}: " if path is not None else ""
    raise InputError(f"{where}variable {name!r}: {problem}")


def validate_kernels(ds: xr.Dataset, path: str | os.PathLike | None = None) -> xr.Dataset:
    """Check ``ds`` against schema ``memplug-kernels/1``; return it unchanged.

    Raises `InputError` (one line: the file, the variable, the problem) on a wrong schema
    version, a missing variable or coordinate, wrong dims, non-finite values where they are
    required, or inconsistent fits."""
    where = f"{path}: " if path is not None else ""
    schema = ds.attrs.get("schema")
    if schema != SCHEMA:
        raise InputError(f"{where}attribute 'schema': expected {SCHEMA!r}, found {schema!r}")
    for name in REQUIRED_ATTRS:
        if name not in ds.attrs:
            raise InputError(f"{where}attribute {name!r}: missing")
    for name, dims in COORDS.items():
        if name not in ds.coords:
            _fail(path, name, "missing coordinate")
        if ds[name].dims != dims:
            _fail(path, name, f"expected dims {dims}, found {ds[name].dims}")
    for name, dims in VARIABLES.items():
        if name not in ds.data_vars:
            _fail(path, name, "missing variable")
        if ds[name].dims != dims:
            _fail(path, name, f"expected dims {dims}, found {ds[name].dims}")
    for name in FINITE:
        values = np.asarray(ds[name].values, float)
        if not np.all(np.isfinite(values)):
            i = int(np.argmax(~np.isfinite(values)))
            _fail(path, name, f"non-finite value at index {i} (expected finite everywhere)")
    t = np.asarray(ds["t_common"].values, float)
    if t.size < 2 or np.any(t <= 0) or np.any(np.diff(t) <= 0):
        _fail(path, "t_common", "expected positive, strictly increasing times")
    for name in ("state", "fit"):
        labels = [str(x) for x in ds[name].values]
        if len(set(labels)) != len(labels):
            _fail(path, name, "duplicate labels")
    done = np.asarray(ds["done"].values, bool)
    loss = np.asarray(ds["loss"].values, float)
    bad = done & ~(np.isfinite(loss) | (loss == np.inf))
    if bad.any():
        i, k = np.argwhere(bad)[0]
        _fail(
            path,
            "loss",
            f"NaN for a finished fit (state {ds['state'].values[i]}, fit {ds['fit'].values[k]})",
        )
    labelled = np.asarray([[bool(str(x)) for x in row] for row in ds["param_label"].values], bool)
    theta = np.asarray(ds["theta"].values, float)
    bad = done[:, :, None] & labelled[None, :, :] & ~np.isfinite(theta)
    if bad.any():
        i, k, p = np.argwhere(bad)[0]
        _fail(path, "theta", f"non-finite value for a finished fit (state {ds['state'].values[i]}, "
                             f"fit {ds['fit'].values[k]}, param {ds['param_label'].values[k, p]})")  # fmt: skip
    return ds


def resolve(path_or_name: str | os.PathLike) -> Path:
    """``"default"`` → the shipped file; anything else is a path."""
    if str(path_or_name) == "default":
        return DEFAULT_FILE
    return Path(path_or_name)


def load_kernels(path_or_name: str | os.PathLike = "default") -> xr.Dataset:
    """Open, load and validate a kernels dataset (``"default"``: the shipped one)."""
    path = resolve(path_or_name)
    if not path.exists():
        raise InputError(f"{path}: kernels dataset not found (expected a netCDF file or 'default')")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as f:
            ds = f.load()
    except Exception as exc:
        raise InputError(f"{path}: not a readable netCDF file ({type(exc).__name__})") from None
    return validate_kernels(ds, path)
