"""Inverted memory kernels on disk: schema ``memplug-memory/1`` (netCDF, h5netcdf, atomic writes).

dims
    ``state`` (one per inverted state), ``node`` (nodes of M), ``species``, ``lag`` (data lags).
data variables
    ``t_M(state, node)``: node times; ``M``, ``M_lo``, ``M_hi(state, node, species)``: the memory and
    its band (M ∓ 2 posterior standard deviations); ``reliable(state, node, species)``;
    ``lam``, ``omega2``, ``omega2_given``, ``omega2_err``, ``residual``, ``sigma(state, species)``;
    inputs ``time(state, lag)``, ``F(state, lag, species)`` and the reproduction ``F_fit``.
    Arrays of states with fewer nodes or lags are padded with NaN (``reliable``: False).
attrs
    ``schema``, ``dynamics``, ``rule``, ``dataset``, ``options`` (JSON) and ``versions`` (JSON,
    `memplug.provenance.versions`), ``description``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from memplug.errors import InputError

SCHEMA = "memplug-memory/1"


def _pad(a: np.ndarray, n: int, axis: int, fill) -> np.ndarray:
    width = [(0, 0)] * a.ndim
    width[axis] = (0, n - a.shape[axis])
    return np.pad(a, width, constant_values=fill)


def to_dataset(
    results: list[tuple[str, Any]],
    *,
    dataset: str | None = None,
    options: dict[str, Any] | None = None,
    species: tuple[str, ...] | None = None,
):
    """One xarray Dataset of ``[(state id, InvertedMemory), ...]`` in the schema above."""
    import xarray as xr

    from memplug.provenance import versions

    if not results:
        raise InputError("no inverted states to write")
    invs = [inv for _, inv in results]
    dyn = {inv.dynamics for inv in invs}
    if len(dyn) != 1:
        raise InputError(
            f"states inverted with different dynamics ({', '.join(sorted(dyn))}) in one file"
        )
    s = invs[0].M.shape[1]
    n = max(inv.t_M.size for inv in invs)
    n_t = max(inv.t.size for inv in invs)

    def per_node(key, fill=np.nan):
        return np.stack([_pad(getattr(inv, key), n, 0, fill) for inv in invs])

    def per_lag(key):
        return np.stack([_pad(getattr(inv, key), n_t, 0, np.nan) for inv in invs])

    def per_species(key):
        return np.stack([np.asarray(getattr(inv, key), float) for inv in invs])

    names = species or tuple("ABCDEFGH"[:s])
    ds = xr.Dataset(
        {
            "t_M": (("state", "node"), np.stack([_pad(inv.t_M, n, 0, np.nan) for inv in invs])),
            "M": (("state", "node", "species"), per_node("M")),
            "M_lo": (("state", "node", "species"), per_node("M_lo")),
            "M_hi": (("state", "node", "species"), per_node("M_hi")),
            "reliable": (("state", "node", "species"), per_node("reliable", False).astype(bool)),
            "time": (("state", "lag"), np.stack([_pad(inv.t, n_t, 0, np.nan) for inv in invs])),
            "F": (("state", "lag", "species"), per_lag("F")),
            "F_fit": (("state", "lag", "species"), per_lag("F_fit")),
            **{
                k: (("state", "species"), per_species(k))
                for k in ("lam", "omega2", "omega2_given", "omega2_err", "residual", "sigma")
            },
        },
        coords={"state": [sid for sid, _ in results], "species": list(names)},
        attrs={
            "schema": SCHEMA,
            "dynamics": invs[0].dynamics,
            "rule": ",".join(sorted({inv.rule for inv in invs})),
            "dataset": dataset or "",
            "options": json.dumps(options or {}, sort_keys=True),
            "versions": json.dumps(versions("scipy", "h5netcdf"), sort_keys=True),
            "description": "model-free memory kernels from the regularised inversion of the memory "
            "equation (memplug.plugins.inversion)",
        },
    )
    ds["t_M"].attrs["description"] = (
        "node times; M is linear in ln t between nodes, constant before"
    )
    ds["M"].attrs["description"] = (
        "memory kernel M^{aa}(t_M) (1/time^2 Newtonian, 1/time overdamped)"
    )
    ds["reliable"].attrs["description"] = (
        "nodes the data resolve (see memplug.plugins.inversion.invert)"
    )
    return ds


def write_memory(path: str | os.PathLike, ds) -> Path:
    """Write a ``memplug-memory/1`` dataset atomically; returns the path."""
    from memplug.io import atomic_write_netcdf

    return atomic_write_netcdf(path, ds)


def read_memory(path: str | os.PathLike, state: str | None = None) -> dict[str, Any]:
    """One state of a ``memplug-memory/1`` file: ``t_M (n,)``, ``M (n, s)``, ``dynamics``,
    ``omega2 (s,)``, ``species``, ``state``, ``reliable (n, s)``. ``state`` is required when the
    file holds more than one. InputError names the file and what is wrong."""
    import xarray as xr

    p = Path(path)
    if not p.is_file():
        raise InputError(
            f"memory file {str(p)!r}: not found (write one with 'memplug kernel invert --out')"
        )
    try:
        with xr.open_dataset(p, engine="h5netcdf") as raw:
            ds = raw.load()
    except (OSError, ValueError) as exc:
        raise InputError(f"memory file {str(p)!r}: not a readable netCDF file ({exc})") from None
    if ds.attrs.get("schema") != SCHEMA:
        raise InputError(
            f"memory file {str(p)!r}: schema {ds.attrs.get('schema')!r}; expected {SCHEMA!r}"
        )
    states = [str(v) for v in ds["state"].values]
    if state is None:
        if len(states) != 1:
            shown = ", ".join(states[:6]) + (" ..." if len(states) > 6 else "")
            raise InputError(
                f"memory file {str(p)!r} holds {len(states)} states; choose one with state=ID ({shown})"
            )
        state = states[0]
    if state not in states:
        raise InputError(
            f"memory file {str(p)!r}: no state {state!r}; states: {', '.join(states[:6])}"
        )
    one = ds.sel(state=state)
    t_M = np.asarray(one["t_M"].values, float)
    keep = np.isfinite(t_M)
    M = np.asarray(one["M"].values, float)[keep]
    if keep.sum() < 2 or not np.all(np.isfinite(M)) or np.any(np.diff(t_M[keep]) <= 0):
        raise InputError(
            f"memory file {str(p)!r}, state {state!r}: expected increasing t_M and finite M"
        )
    return {
        "t_M": t_M[keep],
        "M": M,
        "reliable": np.asarray(one["reliable"].values, bool)[keep],
        "dynamics": str(ds.attrs.get("dynamics", "")),
        "omega2": np.asarray(one["omega2"].values, float),
        "species": tuple(str(v) for v in ds["species"].values),
        "state": state,
    }
